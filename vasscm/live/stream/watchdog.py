"""Says in the worker's log what holds it up, when work has waited long.

A worker that stops moving with work in hand (records held for arrival order that
never go, outputs that are never sent, a commit whose flush never ends, partitions
behind with nothing taken) shows it on the gauges, but not why. Once a second the
pipeline asks :class:`Watchdog`; when one of these has lasted ``after`` seconds it
writes one warning saying what waits and on what (the inputs the oldest held record
waits for and how far the consumer has read each, the producer buffer's counts, the
step a commit's flush is at), and again at most every ``every`` seconds while it
lasts.
A worker far behind a backlog says so too, as its records wait on the inputs behind:
that is what the lines name. It changes nothing: it is what an operator, or a failed
test, reads first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from faust.types.tuples import TP

from vasscm.arrival import ArrivalOrder
from vasscm.live.delivery.outbox import Outbox
from vasscm.topics import CONTAINER_EVENTS, PORT_EVENTS, SCAN_EVENTS

__all__ = ["Watchdog"]

_AFTER: Final = 30.0  # seconds standing still before it is said
_EVERY: Final = 30.0  # seconds between two warnings while it lasts


class Watchdog:
    def __init__(
        self,
        arrival: ArrivalOrder,
        outbox: Outbox,
        consumer: Callable[[], Any],
        taken: Callable[[], int],
        producer: Callable[[], Any] = lambda: None,
        ready: Callable[[], bool] = lambda: True,
        hop: Callable[[int], str] | None = None,
        *,
        after: float = _AFTER,
        every: float = _EVERY,
    ) -> None:
        self.arrival = arrival
        self.outbox = outbox
        self.consumer = consumer  # the app's consumer, or None before it exists
        self.taken = taken  # records taken so far
        self.producer = producer  # the app's producer, or None before it exists
        self.ready = ready  # False while the partitions' yards are rebuilt
        self.hop = hop  # a hop input (customs, vessel, DCSA partition) as read here
        self.after, self.every = after, every
        self._moved: dict[str, tuple[int, float]] = {}  # what -> (count, since)
        self._said = float("-inf")

    def check(self, wall_ms: int, now: float) -> str | None:
        """The warning to write now (None: nothing is held up, or it was said less
        than ``every`` seconds ago). ``now``: monotonic seconds."""
        consumer = self.consumer()
        lines = self._held(wall_ms, consumer) + self._outbox(now) + self._commit(now, consumer)
        if consumer is not None:
            lines += self._untaken(now, consumer)
        if not lines or now - self._said < self.every:
            return None
        self._said = now
        return "the worker is held up:\n  " + "\n  ".join(lines)

    def _held(self, wall_ms: int, consumer: Any) -> list[str]:
        lines = []
        caught_up = consumer.caught_up if consumer is not None else (lambda _tp: False)
        for p in sorted(self.arrival.partitions()):
            oldest = self.arrival.oldest(p)
            if oldest is None or wall_ms - oldest.taken < self.after * 1000:
                continue
            if not self.ready():
                reasons = ["the partitions' state being rebuilt (nothing goes until then)"]
            else:
                reasons = self.arrival.waiting_on(p, wall_ms, caught_up, self.hop) or [
                    "nothing: it goes at the next record or mark read on the partition"
                ]
            lines.append(
                f"partition {p}: {self.arrival.held(p)} records held, the oldest "
                f"(received {oldest.received} ms, from {oldest.source}) for "
                f"{(wall_ms - oldest.taken) // 1000} s, waiting on: " + "; ".join(reasons)
            )
            if consumer is not None and hasattr(consumer, "where"):
                for topic in (PORT_EVENTS, SCAN_EVENTS, CONTAINER_EVENTS):
                    lines.append("  " + consumer.where(TP(topic, p)))
        return lines

    def _outbox(self, now: float) -> list[str]:
        pending = self.outbox.pending
        if not pending:
            self._moved.pop("outbox", None)  # idle: a later wait starts counting then
            return []
        if not self._still("outbox", self.outbox.sent, now):
            return []
        since = now - self._moved["outbox"][1]
        lines = [f"outbox: {pending} records waiting, none sent for {since:.0f} s"]
        producer = self.producer()
        if producer is not None and hasattr(producer, "where"):
            lines.append("  " + producer.where())
        return lines

    def _commit(self, now: float, consumer: Any) -> list[str]:
        """A commit whose flush (vasscm.live.delivery.checkpoint) has not ended."""
        flushing = getattr(getattr(consumer, "checkpoint", None), "flushing", None)
        if flushing is None or now - flushing[0] < self.after:
            return []
        return [f"a commit has flushed for {now - flushing[0]:.0f} s, at step {flushing[1]}"]

    def _untaken(self, now: float, consumer: Any) -> list[str]:
        behind = consumer.behind() if hasattr(consumer, "behind") else []
        if not behind:
            self._moved.pop("taken", None)  # nothing to take: a later wait starts then
            return []
        if not self._still("taken", self.taken(), now):
            return []
        since = now - self._moved["taken"][1]
        return [f"no record taken for {since:.0f} s, with partitions behind:"] + [
            "  " + consumer.where(tp) for tp in behind
        ]

    def _still(self, what: str, count: int, now: float) -> bool:
        """Whether ``count`` has not moved for ``after`` seconds."""
        last = self._moved.get(what)
        if last is None or last[0] != count:
            self._moved[what] = (count, now)
            return False
        return now - last[1] >= self.after
