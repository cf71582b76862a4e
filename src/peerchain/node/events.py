"""In-process publish/subscribe for chain events (new heads, logs, pending transactions)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class EventHub:
    """Delivers each published value to the callbacks subscribed to its kind.

    A failing subscriber is logged and skipped; it never stops the publisher.
    """

    def __init__(self) -> None:
        self._subscribers: dict[str, dict[int, Callable[[Any], None]]] = {}
        self._next_id = 0

    def subscribe(self, kind: str, callback: Callable[[Any], None]) -> Callable[[], None]:
        """Register `callback` for `kind`; return a function that removes it."""
        self._next_id += 1
        token = self._next_id
        self._subscribers.setdefault(kind, {})[token] = callback

        def unsubscribe() -> None:
            self._subscribers.get(kind, {}).pop(token, None)

        return unsubscribe

    def publish(self, kind: str, value: Any) -> None:
        for callback in list(self._subscribers.get(kind, {}).values()):
            try:
                callback(value)
            except Exception:
                log.exception("subscriber of %s failed", kind)

    def count(self, kind: str) -> int:
        return len(self._subscribers.get(kind, {}))
