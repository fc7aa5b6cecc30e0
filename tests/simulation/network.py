"""The simulated network: seeded delays, drops, reordering, partitions and heals.

Every authority has a direct link to every other (gossipsub's mesh over a handful of
authorities is a full mesh). A message is judged when it is sent: dropped (at the current
drop rate), cut by a partition, or given a delay, so messages overtake one another
whenever their delays cross. It is lost if its receiver is down when it arrives.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

from .scheduler import Scheduler


class Peer(Protocol):
    index: int

    @property
    def up(self) -> bool: ...

    def receive(self, sender: int, message: Any) -> None: ...


@dataclass
class LinkModel:
    """How the links behave now; the fault schedule changes it over a run."""

    min_delay_ms: int = 5
    max_delay_ms: int = 150
    drop_rate: float = 0.0
    straggler_rate: float = 0.0
    """Share of messages held back by up to ``straggler_ms`` more: reordering beyond jitter."""
    straggler_ms: int = 0


DeliveryHook = Callable[[int, int, Any], None]


class Network:
    def __init__(self, scheduler: Scheduler, rng: random.Random, links: LinkModel) -> None:
        self._scheduler = scheduler
        self._rng = rng
        self.links = links
        self.peers: list[Peer] = []
        self._side: dict[int, int] = {}
        """node -> partition side; nodes not in it (byzantine ones) reach every side."""
        self.on_deliver: list[DeliveryHook] = []
        self.sent = 0
        self.dropped = 0

    def partition(self, sides: Sequence[Sequence[int]]) -> None:
        self._side = {node: number for number, side in enumerate(sides) for node in side}

    def heal(self) -> None:
        self._side = {}

    @property
    def partitioned(self) -> bool:
        return bool(self._side)

    def connected(self, a: int, b: int) -> bool:
        side_a, side_b = self._side.get(a), self._side.get(b)
        return side_a is None or side_b is None or side_a == side_b

    def send(self, sender: int, receiver: int, message: Any) -> None:
        self.sent += 1
        links, rng = self.links, self._rng
        if not self.connected(sender, receiver) or (links.drop_rate and rng.random() < links.drop_rate):
            self.dropped += 1
            return
        delay = rng.randint(links.min_delay_ms, links.max_delay_ms)
        if links.straggler_rate and rng.random() < links.straggler_rate:
            delay += rng.randint(0, links.straggler_ms)
        self._scheduler.after(delay, lambda: self._deliver(sender, receiver, message))

    def broadcast(self, sender: int, message: Any, to: Sequence[int] | None = None) -> None:
        for peer in self.peers:
            if peer.index != sender and (to is None or peer.index in to):
                self.send(sender, peer.index, message)

    def _deliver(self, sender: int, receiver: int, message: Any) -> None:
        peer = self.peers[receiver]
        if not peer.up:
            self.dropped += 1
            return
        for hook in self.on_deliver:
            hook(sender, receiver, message)
        peer.receive(sender, message)
