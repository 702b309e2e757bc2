"""The event-time clock of a worker that reads many partitions: a low watermark.

A worker consumes several topic partitions, and after a restart or under load they
do not advance together: port events may run days of event time ahead of the
customs events still going through the fan-out. Judging stalls and expiring closed
visits by the *highest* event time seen would expire a visit whose late events are
still in flight. The low watermark is the event time every active input has
reached: the minimum over inputs of the highest event time each has delivered.

An input that has delivered nothing for ``idle_after`` (wall clock) is left out,
so a quiet partition does not hold the clock back forever; when every input is
idle, the watermark is the highest event time seen. An input just assigned holds
the clock until it delivers or falls idle: after a restart its backlog may be far
behind. The watermark never goes backwards.
"""

from __future__ import annotations

from collections.abc import Hashable

__all__ = ["LowWatermark"]


class LowWatermark:
    __slots__ = ("_floor", "_idle_after", "_latest", "_seen", "_value")

    def __init__(self, idle_after_ms: int) -> None:
        self._idle_after = idle_after_ms
        self._latest: dict[Hashable, int | None] = {}  # input -> highest event time
        self._seen: dict[Hashable, int] = {}  # input -> wall time of its last record
        self._floor: int | None = None
        self._value: int | None = None

    def assign(self, sources: list[Hashable], wall_ms: int) -> None:
        """Inputs now ours: each holds the clock until it delivers or falls idle."""
        for source in sources:
            self._latest.setdefault(source, None)
            self._seen[source] = wall_ms

    def observe(self, source: Hashable, event_ms: int, wall_ms: int) -> None:
        """``source`` delivered an event of time ``event_ms`` at ``wall_ms``."""
        latest = self._latest.get(source)
        if latest is None or event_ms > latest:
            self._latest[source] = event_ms
        self._seen[source] = wall_ms

    def forget(self, source: Hashable) -> None:
        """The input is no longer ours (partition revoked)."""
        self._latest.pop(source, None)
        self._seen.pop(source, None)

    def floor(self, event_ms: int | None) -> None:
        """A time known to be reached (e.g. the newest event in recovered state): used
        once every input is idle, never to overtake a lagging active one."""
        if event_ms is not None and (self._floor is None or event_ms > self._floor):
            self._floor = event_ms

    def value(self, wall_ms: int) -> int | None:
        active = [t for s, t in self._latest.items() if wall_ms - self._seen[s] < self._idle_after]
        if None in active:  # an input not heard from yet: it may be far behind
            return self._value
        if active:
            candidate: int | None = min(t for t in active if t is not None)
        else:
            known = [t for t in self._latest.values() if t is not None]
            if self._floor is not None:
                known.append(self._floor)
            candidate = max(known) if known else None
        if candidate is not None and (self._value is None or candidate > self._value):
            self._value = candidate
        return self._value
