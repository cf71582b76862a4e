"""Logs and polling filters: eth_getLogs and the eth_*Filter* methods.

`FilterManager` keeps the installed filters and what each has seen since its last
poll. It is fed by `NodeView.subscribe` (new heads, logs of new blocks, pending
transactions), hopped onto the event loop by `on_loop`. A filter nobody polls for
`timeout` seconds is dropped, as geth drops it, so forgotten filters cannot pile up.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from peerchain.core.blocks import Header, Log
from peerchain.core.transactions import Transaction
from peerchain.node.view import BlockTag, LogFilter, NodeView
from peerchain.rpc import shapes
from peerchain.rpc.dispatch import CallContext, Method, Params
from peerchain.rpc.encoding import FilterSpec, InvalidValue, parse_filter
from peerchain.rpc.errors import LIMIT_EXCEEDED, RpcError, invalid_params, server_error
from peerchain.rpc.eth import block_timestamp

FilterKind = Literal["logs", "blocks", "pending"]


def log_matches(
    log: Log, addresses: tuple[bytes, ...], topics: tuple[tuple[bytes, ...] | None, ...]
) -> bool:
    """Whether a log passes an address list (empty: any) and topic positions (None: any)."""
    if addresses and log.address not in addresses:
        return False
    if len(topics) > len(log.topics):
        return False
    return all(
        wanted is None or got in wanted for wanted, got in zip(topics, log.topics, strict=False)
    )


def format_logs(view: NodeView, logs: Iterable[Log]) -> list[shapes.JsonObject]:
    """Logs as JSON objects with their block timestamp, each block looked up once."""
    timestamps: dict[bytes, int | None] = {}
    result = []
    for log in logs:
        if log.block_hash not in timestamps:
            timestamps[log.block_hash] = block_timestamp(view, log.block_hash)
        result.append(shapes.format_log(log, timestamps[log.block_hash]))
    return result


def on_loop(callback: Callable[[Any], None]) -> Callable[[Any], None]:
    """Wrap `callback` so that calling it from any thread runs it on the current loop."""
    loop = asyncio.get_running_loop()

    def deliver(item: Any) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(callback, item)

    return deliver


def _block_number(view: NodeView, selector: BlockTag | int) -> int:
    if isinstance(selector, int):
        return selector
    return view.resolve_block("latest" if selector == "pending" else selector).number


def resolve_log_filter(view: NodeView, spec: FilterSpec, max_range: int) -> LogFilter:
    """Turn criteria into a concrete block range; -32602 for a bad range, -32005 over
    `max_range` blocks, -32000 for an unknown blockHash."""
    if spec.block_hash is not None:
        block = view.get_block(spec.block_hash)
        if block is None:
            raise server_error("unknown block")
        return LogFilter(block.number, block.number, spec.addresses, spec.topics, spec.block_hash)
    head = view.block_number()
    first = _block_number(view, spec.from_block)
    last = _block_number(view, spec.to_block)
    if first > last:
        raise invalid_params("invalid block range params")
    if last > head:
        raise invalid_params("block range extends beyond current head block")
    if last - first + 1 > max_range:
        raise RpcError(
            LIMIT_EXCEEDED,
            f"block range too large: {last - first + 1} blocks requested, "
            f"at most {max_range} allowed; query a smaller range",
        )
    return LogFilter(first, last, spec.addresses, spec.topics)


@dataclass(slots=True)
class _Filter:
    kind: FilterKind
    spec: FilterSpec | None
    last_poll: float
    items: deque[Any] = field(default_factory=deque)


class FilterManager:
    """Installed polling filters and their unread items."""

    def __init__(
        self,
        *,
        timeout: float = 300.0,
        max_filters: int = 10_000,
        max_buffered: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self.max_filters = max_filters
        self.max_buffered = max_buffered
        self._clock = clock
        self._filters: dict[str, _Filter] = {}

    def __len__(self) -> int:
        return len(self._filters)

    def install(self, kind: FilterKind, spec: FilterSpec | None = None) -> str:
        self.expire()
        if len(self._filters) >= self.max_filters:
            raise RpcError(LIMIT_EXCEEDED, f"too many filters: limit {self.max_filters}")
        filter_id = shapes.quantity(secrets.randbits(128) | 1 << 127)
        self._filters[filter_id] = _Filter(
            kind, spec, self._clock(), deque(maxlen=self.max_buffered)
        )
        return filter_id

    def uninstall(self, filter_id: str) -> bool:
        return self._filters.pop(filter_id.lower(), None) is not None

    def poll(self, filter_id: str) -> tuple[FilterKind, list[Any]]:
        """The kind of a filter and what it saw since the last poll; -32000 if unknown."""
        self.expire()
        found = self._get(filter_id)
        found.last_poll = self._clock()
        items = list(found.items)
        found.items.clear()
        return found.kind, items

    def log_spec(self, filter_id: str) -> FilterSpec:
        """The criteria of a log filter (which counts as a poll); -32000 if unknown."""
        self.expire()
        found = self._get(filter_id)
        if found.spec is None:
            raise server_error("filter not found")
        found.last_poll = self._clock()
        return found.spec

    def expire(self) -> None:
        """Drop filters not polled within `timeout`."""
        deadline = self._clock() - self.timeout
        for filter_id in [i for i, f in self._filters.items() if f.last_poll < deadline]:
            del self._filters[filter_id]

    def _get(self, filter_id: str) -> _Filter:
        found = self._filters.get(filter_id.lower())
        if found is None:
            raise server_error("filter not found")
        return found

    # --- feeds ------------------------------------------------------------------------
    def on_header(self, header: Header) -> None:
        self._feed("blocks", lambda f: [header.hash])

    def on_pending(self, tx: Transaction) -> None:
        self._feed("pending", lambda f: [tx.hash])

    def on_logs(self, logs: list[Log]) -> None:
        def matching(f: _Filter) -> list[Log]:
            spec = f.spec
            assert spec is not None
            return [log for log in logs if _spec_accepts(spec, log)]

        self._feed("logs", matching)

    def _feed(self, kind: FilterKind, select: Callable[[_Filter], list[Any]]) -> None:
        if not self._filters:
            return
        self.expire()
        for f in self._filters.values():
            if f.kind == kind:
                f.items.extend(select(f))

    def attach(self, view: NodeView) -> Callable[[], None]:
        """Subscribe to `view`'s events (from inside the event loop); return a detacher."""
        detachers = [
            view.subscribe("newHeads", on_loop(self.on_header)),
            view.subscribe("logs", on_loop(self.on_logs)),
            view.subscribe("newPendingTransactions", on_loop(self.on_pending)),
        ]

        def detach() -> None:
            for d in detachers:
                d()

        return detach


def _spec_accepts(spec: FilterSpec, log: Log) -> bool:
    if spec.block_hash is not None and log.block_hash != spec.block_hash:
        return False
    if isinstance(spec.from_block, int) and log.block_number < spec.from_block:
        return False
    if isinstance(spec.to_block, int) and log.block_number > spec.to_block:
        return False
    return log_matches(log, spec.addresses, spec.topics)


def _filter_id(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidValue("filter id must be a string")
    return value


def filter_methods(view: NodeView, manager: FilterManager, max_log_range: int) -> dict[str, Method]:
    """eth_getLogs and the polling filter methods over `manager`."""

    async def get_logs(p: Params, ctx: CallContext) -> list[shapes.JsonObject]:
        log_filter = resolve_log_filter(view, p.required(0, parse_filter), max_log_range)
        return format_logs(view, await view.get_logs(log_filter))

    def new_filter(p: Params, ctx: CallContext) -> str:
        return manager.install("logs", p.required(0, parse_filter))

    def new_block_filter(p: Params, ctx: CallContext) -> str:
        return manager.install("blocks")

    def new_pending_filter(p: Params, ctx: CallContext) -> str:
        return manager.install("pending")

    def get_filter_changes(p: Params, ctx: CallContext) -> list[Any]:
        kind, items = manager.poll(p.required(0, _filter_id))
        if kind == "logs":
            return format_logs(view, items)
        return [shapes.data(h) for h in items]

    async def get_filter_logs(p: Params, ctx: CallContext) -> list[shapes.JsonObject]:
        spec = manager.log_spec(p.required(0, _filter_id))
        log_filter = resolve_log_filter(view, spec, max_log_range)
        return format_logs(view, await view.get_logs(log_filter))

    def uninstall_filter(p: Params, ctx: CallContext) -> bool:
        return manager.uninstall(p.required(0, _filter_id))

    return {
        "getLogs": Method(get_logs, 1),
        "newFilter": Method(new_filter, 1),
        "newBlockFilter": Method(new_block_filter),
        "newPendingTransactionFilter": Method(new_pending_filter),
        "getFilterChanges": Method(get_filter_changes, 1),
        "getFilterLogs": Method(get_filter_logs, 1),
        "uninstallFilter": Method(uninstall_filter, 1),
    }
