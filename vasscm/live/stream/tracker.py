"""The tracker agent: one container's records -> arrival order -> the core step.

It reads, per partition, the port and scan events, the repartition topic (customs
events fanned out by another worker, the fan-out's marks, misrouted port events
forwarded) and the stall checks, and takes the copies this worker's own fan-out hands
over (:meth:`Tracker.hand_over`). A record is parsed and checked when taken, then
held until every input of its partition has delivered what was received before it
(vasscm.arrival), and applied in received order through the partition's
:class:`~vasscm.yard.Yard`. The outputs a step produces wait in the outbox until its
table write is on the broker.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

import faust
from aiokafka.partitioner import murmur2
from faust.types.tuples import TP

from vasscm.arrival import ArrivalOrder, Held
from vasscm.durations import from_ms, to_ms
from vasscm.events import (
    EARLIEST,
    ContainerEvent,
    InputEvent,
    RejectCode,
    Rejection,
    StallCheck,
    container_of,
    dump_json,
    parse_container_no,
)
from vasscm.live.stream import marks
from vasscm.live.stream.intake import Intake, received, wall_ms
from vasscm.live.stream.publisher import Publisher
from vasscm.topics import CONTAINER_EVENTS, PORT_EVENTS, SCAN_EVENTS, STALL_CHECKS

__all__ = ["Origin", "Tracker", "partition_for"]

_HOLD_LIMIT: Final = 5000  # records held on a partition before its inputs ahead pause
_NO_TIME_YET: Final = to_ms(EARLIEST)


@functools.lru_cache(maxsize=1 << 16)
def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default (murmur2) partitioner gives ``key`` (remembered:
    aiokafka's murmur2 is Python, ~8 µs a key, asked for at every record)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


class Origin(NamedTuple):
    """Where a held record came from: what its dead letter and metrics name."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    timestamp: float | None
    tp: Any
    # A customs copy handed over in-process (:meth:`Tracker.hand_over`): its origin
    # is the customs record, and its outcome counts as the repartition topic's.
    via: str | None = None


class Tracker:
    def __init__(
        self,
        app: faust.App,
        intake: Intake,
        publisher: Publisher,
        arrival: ArrivalOrder,
        *,
        partitions: int,
        event_clock: bool,
        ready: Callable[[], bool],
        hops: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.intake = intake
        self.publisher = publisher
        self.arrival = arrival
        self.partitions = partitions
        self.event_clock = event_clock
        self.ready = ready  # partitions assigned and their yards rebuilt
        self.hops = frozenset(hops)  # the fan-out's input topics (customs, vessel, DCSA)
        # Partitions of the repartition topic this worker owns, their yards rebuilt:
        # the fan-out hands their copies over in-process (:meth:`hand_over`).
        self.local: frozenset[int] = frozenset()
        # Per hop input partition, the lowest offset of a record whose handed-over copy
        # was dropped with its partition: commits of it stop there (see revoked()).
        self._dropped: dict[Any, int] = {}
        self._paused: dict[int, set[Any]] = {}

    # --- clocks -------------------------------------------------------------------

    def clock_known(self) -> bool:
        """Whether :meth:`now` tells a time (an event clock has one once a record is
        applied; before that, now() is the start of the accepted range)."""
        return not self.event_clock or self.arrival.clock() is not None

    def now(self) -> datetime:
        """What stalls are judged by: the wall clock, or the event clock of arrival order."""
        if self.event_clock:
            return from_ms(self.arrival.clock() or _NO_TIME_YET)
        return datetime.now(tz=UTC)

    # --- the agent ------------------------------------------------------------------

    async def agent(self, stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            in_order = self.intake.take(message)
            with self.intake.busy(message):
                async with self.intake.poison_guard(event):
                    await self._one(event, in_order)
                await self._release(message.partition)
            if stream.channel.empty():  # nothing more to take now: out it goes
                self.publisher.batch.close()
            await self.publisher.outbox.room()

    async def _one(self, event: faust.EventT[bytes], in_order: bool) -> None:
        """Take one record. Only a record read in order (vasscm.live.delivery.consumer) moves
        its input's progress: one read before a seek or past a hole says nothing of
        the records before it, which are still to come."""
        message = event.message
        topic, p = message.topic, message.partition
        self._ours(p)
        if topic == STALL_CHECKS:
            if self.ready():  # else the yard being rebuilt schedules its deadlines anew
                await self._release(p)  # everything whose turn has come, first
                self.publisher.stall_check(event.key.decode(), p, self.now())
            return
        if topic == CONTAINER_EVENTS and message.key == marks.MARK_KEY:
            # Read too: the lag gauge counts no mark as a record not yet processed.
            self.intake.positions[message.tp] = message.offset
            if in_order:  # a mark covers the records before it: they must have been read
                for customs_partition, mark in marks.decode(event.value).items():
                    self.arrival.mark(p, customs_partition, mark)
            return
        self.intake.took(message)
        internal = topic == CONTAINER_EVENTS
        stamp = received(message)
        if in_order and not internal:
            self.arrival.delivered(p, message.tp, to_ms(stamp))
        parsed = await self.intake.parse(event.value, message, trusted=internal)
        if parsed is None:
            return
        if not internal and not await self._on_our_partition(parsed, message, event.value):
            return
        # Our repartition topic carries the received_at stamped on the way in.
        at = (parsed.received_at or stamp) if internal else stamp
        origin = Origin(topic, p, message.offset, message.key, message.timestamp, message.tp)
        self._hold(p, parsed, at, origin)

    def _hold(self, p: int, event: InputEvent, at: datetime, origin: Origin) -> None:
        """Hold ``event`` on partition ``p`` until its turn (its input's offsets are
        committed only up to it till then); inputs far ahead of it pause."""
        self.arrival.hold(
            p,
            origin.tp,
            origin.offset,
            received=to_ms(at),
            occurred=to_ms(event.occurred_at),
            wall=wall_ms(),
            item=(event, at, origin),
        )
        self._pause_if_ahead(p)

    async def _release(self, p: int) -> None:
        """Apply, in received order, the held records of ``p`` whose turn has come;
        none while the partitions' yards are being rebuilt (records may flow before
        that is done, and a step applied meanwhile would miss the rebuilt board)."""
        if not self.ready():
            return
        wall = wall_ms()
        consumer = self.app.consumer
        released = self.arrival.release(p, consumer.caught_up)
        for held in released:
            await self._apply_held(held, wall)
        self._resume_if_drained(p)

    async def _apply_held(self, held: Held, wall: int) -> None:
        parsed, at, origin = held.item
        try:
            self.intake.metrics.arrival_wait.observe(max(0, wall - held.taken) / 1000)
            now = max(self.now(), parsed.occurred_at)  # its own event proves its clock
            self.publisher.event(parsed, at, origin, now, held.source_partition)
        except Exception as exc:
            await self.intake.failed(dump_json(parsed), exc, origin)
        finally:
            self.arrival.settled(held)

    def hand_over(self, p: int, copy: InputEvent, at: datetime, message: Any) -> bool:
        """Take a copy the fan-out made of the hop record ``message`` for partition
        ``p``, if this worker owns ``p`` now (:attr:`local`; False: send it on the
        repartition topic). Asked and held at once, with no await between, so a
        revocation cannot come in between. Held as if read from the repartition
        topic, without the trip through the broker (no record written, read and
        parsed again). Its turn comes as a topic copy's does: the fan-out's marks
        on ``p`` say how far each hop input is handed over, here or on the topic,
        and a mark is made only after the copies it covers are held. Until ``p``'s
        copy is applied, the hop record's offset is not committed (:meth:`owed`)."""
        if p not in self.local:
            return False
        self._ours(p)
        origin = Origin(
            message.topic,
            message.partition,
            message.offset,
            message.key,
            message.timestamp,
            message.tp,
            via=CONTAINER_EVENTS,
        )
        self._hold(p, copy, at, origin)
        return True

    def _ours(self, p: int) -> None:
        """Partition ``p`` is ours, its local inputs its port and scan events."""
        self.arrival.ensure(p, [TP(PORT_EVENTS, p), TP(SCAN_EVENTS, p)])

    # --- flow: a partition's inputs far ahead of the others wait -----------------------

    def paused_count(self) -> int:
        """Input partitions paused now (for the gauges)."""
        return sum(len(tps) for tps in self._paused.values())

    def _pause_if_ahead(self, p: int) -> None:
        if self.arrival.held(p) <= _HOLD_LIMIT:
            return
        ahead = set(self.arrival.ahead(p)) - self._paused.get(p, set())
        if ahead:
            self.app.consumer.pause_partitions(ahead)
            self._paused.setdefault(p, set()).update(ahead)

    def _resume_if_drained(self, p: int) -> None:
        """Resume the paused inputs of ``p`` once it holds few records, and at once any
        that is no longer past its oldest held record: that one now holds the others
        back, and paused it would never deliver what they wait for (a deadlock seen
        after kill -9, when the records it had fetched were dropped by the pause and
        are to be read again)."""
        paused = self._paused.get(p)
        if not paused:
            return
        if self.arrival.held(p) <= _HOLD_LIMIT // 2:
            self.app.consumer.resume_partitions(paused)
            self._paused.pop(p, None)
            return
        behind = self.arrival.holding_back(p, paused)
        if behind:
            self.app.consumer.resume_partitions(behind)
            paused -= behind

    # --- input checks ---------------------------------------------------------------

    async def _on_our_partition(self, parsed: ContainerEvent, message: Any, raw: bytes) -> bool:
        """Check the record's key; forward it when it sits on a partition not ours."""
        container_no = container_of(parsed)
        key = (message.key or b"").decode("utf-8", "replace")
        try:
            key_no = parse_container_no(key)
        except ValueError:
            key_no = None
        if key_no != container_no:
            await self.intake.dead_letter(
                raw,
                Rejection(
                    code=RejectCode.WRONG_KEY,
                    field="key",
                    event_id=parsed.event_id,
                    type=parsed.type,
                    reason=f"record key {key[:40]!r} must be the container number {container_no} "
                    "(all of a container's events must share a partition)",
                ),
                message,
            )
            return False
        owner = partition_for(container_no, self.partitions)
        if message.partition != owner:
            stamped = parsed.model_copy(update={"received_at": received(message)})
            value = dump_json(stamped, exclude_none=True)
            await self.app.producer.send_watched(
                CONTAINER_EVENTS, container_no.encode(), value, owner
            )
            return False
        return True

    # --- deadlines and partitions ------------------------------------------------------

    async def stall_timer(self) -> None:
        """Once a second: a tick for each container whose deadline has passed."""
        now = to_ms(self.now())
        for container_no in self.publisher.due(now):
            tick = StallCheck(requested_at=from_ms(now))
            key = container_no.encode()
            partition = partition_for(container_no, self.partitions)
            await self.app.producer.send_watched(STALL_CHECKS, key, dump_json(tick), partition)

    def revoked(self, tps: Any) -> None:
        """Partitions gone: what they held is dropped, to be read again. A copy
        handed over from a hop input is read again only with its hop record, so
        that input's commits stop before the first one dropped, as long as the input
        is still ours (faust revokes every partition at a rebalance, hop inputs with
        the rest; this holds whatever the order)."""
        tps = list(tps)
        for tp in tps:
            if tp.topic == CONTAINER_EVENTS:
                for source, offset in self.arrival.first_held_by_source(tp.partition).items():
                    if source.topic in self.hops:
                        self._dropped[source] = min(offset, self._dropped.get(source, offset))
                self.arrival.revoke(tp.partition)
                self._paused.pop(tp.partition, None)
        self.local = self.local - {tp.partition for tp in tps if tp.topic == CONTAINER_EVENTS}
        for tp in tps:
            if tp.topic in self.hops:
                self._dropped.pop(tp, None)

    def owed(self, tp: Any) -> int | None:
        """The lowest offset of ``tp`` not yet done with: held (for a hop input, its
        copies held on any partition), or being handled."""
        if tp.topic in self.hops:
            owed = [self.arrival.first_held_anywhere(tp), self._dropped.get(tp)]
        else:
            owed = [self.arrival.first_held(tp.partition, tp)]
        owed.append(self.intake.busy_offset(tp))
        return min((o for o in owed if o is not None), default=None)
