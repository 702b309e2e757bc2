"""Arrival order across a worker's inputs (contract 7.3): judge in the order received.

A container's customs events reach the tracker through a hop (customs-events ->
fan-out -> container-events) that its port and scan events do not take. A worker
behind a backlog reads a port partition much faster than the hop delivers, so it
would judge a ``GATE_OUT`` before the ``ELIGIBLE`` received hours earlier, and page
for a release it simply has not read yet. :class:`ArrivalOrder` holds every record
taken on a partition until each input the partition listens to has delivered
everything received before it, then releases them in received order: the order
``vasscm replay`` reads a log in.

What an input has delivered
    A *local* input (port or scan events of the partition) has delivered everything
    up to the ``received_at`` of the last record taken from it in order. A *customs*
    partition (or a vessel-events partition: the hop's inputs, numbered customs
    first) reports the same through the fan-out, as marks written to every
    partition of the repartition topic after the records it fanned out (so a mark is
    read after the records it covers). Timestamps that go backwards in a partition
    make their record late: it is released at once, in the order it was read.

Idle inputs
    An input with nothing left to read holds nothing back, whatever the record
    timestamps say (recorded logs carry timestamps years old). A local input is idle
    when the worker's own consumer has taken every record its last fetch response
    reported: one consumer fetches the port, scan and repartition topics together,
    so a record produced before one it took is fetched by then. A customs partition
    may be read by another worker: its mark says when that worker found it idle,
    and it holds back no record read at least ``grace`` before that moment (time
    for a customs event produced earlier to be fetched there). So an idle customs
    partition delays judgement by ``grace`` plus a mark's trip, not forever.

The event clock
    With ``stall_clock=event``, "now" is the newest ``occurred_at`` among records
    released with no earlier-received record still held anywhere in the worker:
    never ahead of what replay's clock was at the same point of the log, so a stall
    or an expiry is not judged before the events that would prevent it are read.

Pure Python, no clock and no I/O: the caller passes wall times in.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import count
from typing import Any, Final

__all__ = ["NEVER", "ArrivalOrder", "Held", "Mark"]

NEVER: Final = -(2**62)  # received time of an input that has delivered nothing yet


@dataclass(slots=True)
class Held:
    """A record waiting for its turn."""

    received: int  # received_at, epoch ms
    occurred: int  # occurred_at, epoch ms (for the event clock)
    seq: int  # order taken, across the worker: ties in received time keep it
    taken: int  # wall ms when taken
    source_partition: int  # the partition it is held for
    source: Hashable  # the input it came from (its topic partition)
    offset: int
    item: Any

    def __lt__(self, other: Held) -> bool:
        return (self.received, self.seq) < (other.received, other.seq)


@dataclass(slots=True, frozen=True)
class Mark:
    """What one customs partition has delivered: everything received up to ``upto``;
    ``idle_at`` (wall ms) when it had nothing left to read at that moment."""

    upto: int
    idle_at: int | None = None


@dataclass(slots=True)
class _Partition:
    local: dict[Hashable, int]  # local input -> received time delivered up to
    marks: dict[int, Mark] = field(default_factory=dict)  # customs partition -> mark
    heap: list[Held] = field(default_factory=list)
    # Offsets held and not yet applied, per input (a heap: a record read again
    # after a seek comes after later ones): the least is as far as the input's
    # offsets may be committed.
    offsets: dict[Hashable, list[int]] = field(default_factory=dict)
    # Offsets applied, not yet popped from ``offsets``: counted, as an offset read
    # twice (before a seek and again after it) is held twice.
    released: dict[Hashable, Counter[int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Hop:
    """A customs or vessel partition (its index among the hop inputs), as a blocker."""

    c: int


def _upto(received: int) -> str:
    return "nothing yet" if received == NEVER else f"up to {received} ms"


class ArrivalOrder:
    """Per partition, a merge of its inputs by received time; one event clock."""

    def __init__(self, *, hop_partitions: int, grace_ms: int) -> None:
        self.hop_partitions = hop_partitions  # customs partitions, then vessel partitions
        self.grace = grace_ms
        self._parts: dict[int, _Partition] = {}
        self._seq = count()
        # The event clock: released (received, occurred) not yet counted, and the
        # received times of everything still held (lazily pruned).
        self._uncounted: list[tuple[int, int]] = []
        self._held_times: list[tuple[int, int]] = []  # (received, seq)
        self._gone: set[int] = set()  # seqs released, still in _held_times
        self._clock: int | None = None

    # --- partitions -----------------------------------------------------------------

    def assign(self, partition: int, local: Iterable[Hashable]) -> None:
        """The partition is ours, with these local inputs (a fresh start)."""
        self.revoke(partition)
        self._parts[partition] = _Partition(local=dict.fromkeys(local, NEVER))

    def ensure(self, partition: int, local: Iterable[Hashable]) -> None:
        """The partition is ours: assigned now unless it already is."""
        if partition not in self._parts:
            self.assign(partition, local)

    def revoke(self, partition: int) -> None:
        """The partition is no longer ours: what it held is dropped (not committed, so
        its next owner reads it again)."""
        part = self._parts.pop(partition, None)
        if part is not None:
            for held in part.heap:
                self._gone.add(held.seq)

    # --- input ----------------------------------------------------------------------

    def delivered(self, partition: int, source: Hashable, received: int) -> None:
        """A local input delivered a record received at ``received`` (held or not)."""
        part = self._parts.get(partition)
        if part is not None and source in part.local and received > part.local[source]:
            part.local[source] = received

    def mark(self, partition: int, customs_partition: int, mark: Mark) -> None:
        """A customs partition's progress, read on ``partition``: never backwards."""
        part = self._parts.get(partition)
        if part is None:
            return
        known = part.marks.get(customs_partition)
        if known is None or mark.upto >= known.upto:
            part.marks[customs_partition] = mark
        elif mark.idle_at is not None:  # an older position, but idle now: keep both
            part.marks[customs_partition] = Mark(known.upto, mark.idle_at)

    def hold(
        self,
        partition: int,
        source: Hashable,
        offset: int,
        *,
        received: int,
        occurred: int,
        wall: int,
        item: Any,
    ) -> None:
        """Hold a record taken from ``source`` until its turn (one read out of order,
        before a seek or past a hole, too: it is applied, and read again later as a
        duplicate; only records in order move an input's progress)."""
        part = self._parts.get(partition)
        if part is None:
            return
        held = Held(received, occurred, next(self._seq), wall, partition, source, offset, item)
        heapq.heappush(part.heap, held)
        heapq.heappush(part.offsets.setdefault(source, []), offset)
        heapq.heappush(self._held_times, (received, held.seq))

    def release(self, partition: int, caught_up: Callable[[Hashable], bool]) -> list[Held]:
        """The records whose turn has come, in received order. ``caught_up(source)``
        says whether a local input has nothing left to read now."""
        part = self._parts.get(partition)
        if part is None or not part.heap:
            return []
        idle = {s for s in part.local if caught_up(s)}.__contains__
        out: list[Held] = []
        while part.heap and next(self._blockers(part, part.heap[0], idle), None) is None:
            out.append(heapq.heappop(part.heap))
        return out

    def settled(self, held: Held) -> None:
        """A released record has been applied: its offset may be committed, and its
        time counts for the clock."""
        part = self._parts.get(held.source_partition)
        if part is not None:
            part.released.setdefault(held.source, Counter())[held.offset] += 1
        self._gone.add(held.seq)
        heapq.heappush(self._uncounted, (held.received, held.occurred))

    def ahead(self, partition: int) -> list[Hashable]:
        """Local inputs of the partition that have delivered past its oldest held
        record: pausing them holds nothing back."""
        part = self._parts.get(partition)
        if part is None or not part.heap:
            return []
        first = part.heap[0].received
        return [s for s, upto in part.local.items() if upto > first]

    def holding_back(self, partition: int, paused: Iterable[Hashable]) -> set[Hashable]:
        """Of the ``paused`` local inputs, those no longer past the partition's oldest
        held record (releases have caught up with them): paused, they would hold it
        back for ever, since a paused input delivers nothing."""
        ahead = set(self.ahead(partition))
        return {source for source in paused if source not in ahead}

    def waiting_on(
        self,
        partition: int,
        wall: int,
        caught_up: Callable[[Hashable], bool],
        hop: Callable[[int], str] | None = None,
    ) -> list[str]:
        """What holds back the oldest record of ``partition``, in words (for a log
        line when records wait long): :meth:`_blockers`, each input that has not
        delivered as far as its received time and is not idle, and each customs or
        vessel partition with no mark, or a mark behind it and no idle moment late
        enough (``hop``, given, says more of one: where it is read). Empty: it may go
        now."""
        part = self._parts.get(partition)
        if part is None or not part.heap:
            return []
        reasons = []
        for source, mark in self._blockers(part, part.heap[0], caught_up):
            if not isinstance(source, _Hop):
                reasons.append(f"{source} delivered {_upto(mark)}, not idle")
                continue
            if mark is None:
                said = f"hop input {source.c}: no mark read yet"
            else:
                idle = "not idle" if mark.idle_at is None else f"idle {wall - mark.idle_at} ms ago"
                said = f"hop input {source.c}: marked {_upto(mark.upto)}, {idle}"
            reasons.append(said if hop is None else f"{said} ({hop(source.c)})")
        return reasons

    def oldest(self, partition: int) -> Held | None:
        """The record of ``partition`` that goes next (None: it holds none)."""
        part = self._parts.get(partition)
        return part.heap[0] if part is not None and part.heap else None

    def partitions(self) -> list[int]:
        """The partitions this worker holds records for, or may."""
        return list(self._parts)

    def _blockers(
        self, part: _Partition, held: Held, idle: Callable[[Hashable], bool]
    ) -> Iterator[tuple[Hashable, Any]]:
        """What ``held`` waits on, one by one: (a local input, how far it delivered)
        for each not ``idle`` that has not delivered as far as its received time;
        (:class:`_Hop`, its mark or None) for each customs or vessel partition with no
        mark, or a mark behind it and not seen idle since the record was taken (plus
        the grace). None: it may go."""
        for source, upto in part.local.items():
            if upto < held.received and not idle(source):
                yield source, upto
        seen_by = held.taken + self.grace  # an idle customs partition, seen idle since
        for c in range(self.hop_partitions):
            mark = part.marks.get(c)
            if mark is None or (
                mark.upto < held.received and (mark.idle_at is None or mark.idle_at < seen_by)
            ):
                yield _Hop(c), mark

    # --- what may be committed, and the clock ----------------------------------------

    def first_held(self, partition: int, source: Hashable) -> int | None:
        """The lowest offset of ``source`` still held: commits stop before it."""
        part = self._parts.get(partition)
        if part is None:
            return None
        offsets = part.offsets.get(source)
        if not offsets:
            return None
        released = part.released.get(source)
        while offsets and released and released[offsets[0]] > 0:
            released[heapq.heappop(offsets)] -= 1
        return offsets[0] if offsets else None

    def first_held_anywhere(self, source: Hashable) -> int | None:
        """The lowest offset of ``source`` still held on any partition (a customs
        partition's records are held on the partitions their copies went to)."""
        offsets = [self.first_held(p, source) for p in list(self._parts)]
        return min((o for o in offsets if o is not None), default=None)

    def first_held_by_source(self, partition: int) -> dict[Hashable, int]:
        """Per input, the lowest offset the partition still holds."""
        part = self._parts.get(partition)
        if part is None:
            return {}
        firsts = {source: self.first_held(partition, source) for source in list(part.offsets)}
        return {source: offset for source, offset in firsts.items() if offset is not None}

    def held(self, partition: int | None = None) -> int:
        """How many records wait (on one partition, or on all)."""
        if partition is not None:  # asked at every record taken: no generator
            part = self._parts.get(partition)
            return 0 if part is None else len(part.heap)
        return sum(len(p.heap) for p in self._parts.values())

    def oldest_wait(self, wall: int) -> int:
        """Wall ms the longest-waiting record has waited (0 when none waits)."""
        taken = [h.taken for p in self._parts.values() for h in p.heap]
        return wall - min(taken) if taken else 0

    def clock(self) -> int | None:
        """The newest occurred_at released with nothing received earlier still held."""
        times, gone = self._held_times, self._gone
        while times and times[0][1] in gone:
            gone.discard(heapq.heappop(times)[1])
        first_held = times[0][0] if times else None
        uncounted = self._uncounted
        while uncounted and (first_held is None or uncounted[0][0] <= first_held):
            _, occurred = heapq.heappop(uncounted)
            if self._clock is None or occurred > self._clock:
                self._clock = occurred
        return self._clock

    def floor(self, occurred: int | None) -> None:
        """A time the worker's state has reached (recovered after a restart)."""
        if occurred is not None and (self._clock is None or occurred > self._clock):
            self._clock = occurred
