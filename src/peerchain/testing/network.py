"""SimNetwork: seeded message delivery between simulated nodes.

Before the global stabilization time (`heal_at`) the network may drop messages (`loss`)
and partitions cut links between groups; from `heal_at` on nothing is lost and every
message arrives within `delay + jitter + reorder_delay` (the bound the partial synchrony
model calls Delta). At any time messages may be duplicated and reordered: each copy gets
its own random delay, and with probability `reorder` an extra hold-back.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from peerchain.testing.clock import SimClock


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    """Link behaviour; times in seconds, probabilities per message."""

    delay: float = 0.05
    jitter: float = 0.0
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_delay: float = 0.2
    partition: tuple[frozenset[int], ...] = ()
    heal_at: float = 0.0


Deliver = Callable[[int, int, object], None]


class SimNetwork:
    """Carries messages from node to node on a SimClock; `deliver(dst, src, message)`
    is called on arrival."""

    def __init__(
        self, clock: SimClock, rng: random.Random, config: NetworkConfig, deliver: Deliver
    ) -> None:
        self.clock = clock
        self.config = config
        self._rng = rng
        self._deliver = deliver
        self._group = {node: i for i, group in enumerate(config.partition) for node in group}
        self.sent = 0
        self.dropped = 0
        # Sees every message as it is sent (a peer on the path, for Byzantine scenarios).
        self.tap: Callable[[int, int, object], None] | None = None

    def _cut(self, src: int, dst: int) -> bool:
        return self._group.get(src, -1) != self._group.get(dst, -1)

    def send(self, src: int, dst: int, message: object) -> None:
        """Send `message` from node `src` to node `dst`."""
        config, rng = self.config, self._rng
        self.sent += 1
        if self.tap is not None:
            self.tap(src, dst, message)
        now = self.clock.now
        if now < config.heal_at and (
            (self._group and self._cut(src, dst)) or rng.random() < config.loss
        ):
            self.dropped += 1
            return
        copies = 2 if config.duplicate and rng.random() < config.duplicate else 1
        for _ in range(copies):
            delay = config.delay + config.jitter * rng.random()
            if config.reorder and rng.random() < config.reorder:
                delay += config.reorder_delay * rng.random()
            self.clock.call_at(now + delay, self._deliver, dst, src, message)
