"""The fan-out agents, the hop to the tracker partitions: a customs declaration -> one
event per container, with the received time of the original record; a vessel call's
event -> one copy for every partition (the containers naming the voyage may be on
any); a DCSA Track & Trace event -> the contract event it maps to (vasscm.dcsa),
routed as either; and the marks that tell each tracker partition how far each hop
input has been fanned out (vasscm.live.stream.marks, vasscm.arrival). The hop inputs
are numbered customs partitions first, then vessel, then DCSA partitions.

A copy for a partition this worker's tracker owns is handed over in-process
(:meth:`~vasscm.live.stream.tracker.Tracker.hand_over`); only the copies for other
workers' partitions go on the repartition topic, keyed by ``container_no``. With one
worker that is none: each customs event is read and parsed once, and nothing is
written for it (it was 0.64 records written and read again per input event). The
marks still go on the topic, after the copies they cover, wherever those went."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

import faust
from faust.types.tuples import TP

from vasscm.arrival import NEVER, Mark
from vasscm.dcsa import read_dcsa
from vasscm.durations import to_ms
from vasscm.events import VESSEL_MODELS, InputEvent, Rejection, dump_json, fan_out
from vasscm.live.kafka import hooks
from vasscm.live.stream import marks
from vasscm.live.stream.intake import Intake, received, wall_ms
from vasscm.live.stream.tracker import Tracker, partition_for
from vasscm.sites import Registry
from vasscm.topics import CONTAINER_EVENTS

__all__ = ["FanOut"]

_IDLE_REFRESH_MS: Final = 1000


class FanOut:
    def __init__(
        self,
        app: faust.App,
        intake: Intake,
        tracker: Tracker,
        partitions: int,
        hops: dict[str, int],
        *,
        sites: Registry | None = None,
        dcsa_site: str | None = None,
    ):
        self.app = app
        self.intake = intake
        self.tracker = tracker  # takes the copies of the partitions it owns
        self.partitions = partitions  # of the repartition topic: a mark goes to each
        self.hops = hops  # hop topic -> the number of its partition 0 among the inputs
        self.sites = sites  # whose UN/LOCODEs name the sites of DCSA events
        self.dcsa_site = dcsa_site  # the site of DCSA events whose location is not ours
        self.progress: dict[Any, int] = {}  # hop TP -> received ms fanned out up to
        self._last_shape: dict[int, tuple[int, bool]] = {}
        self._last_sent = 0
        self._last_taken = -1

    async def agent(self, stream: faust.StreamT[bytes]) -> None:
        """Customs declarations, and vessel calls' events."""
        await self._consume(stream, self._native)

    async def dcsa_agent(self, stream: faust.StreamT[bytes]) -> None:
        """DCSA Track & Trace events (vasscm.dcsa)."""
        await self._consume(stream, self._dcsa)

    async def _consume(
        self,
        stream: faust.StreamT[bytes],
        handle: Callable[[faust.EventT[bytes]], Awaitable[None]],
    ) -> None:
        async for event in stream.events():
            message = event.message
            in_order = self.intake.take(message)
            with self.intake.busy(message):
                async with self.intake.poison_guard(event):
                    await handle(event)
            stamp = to_ms(received(message))
            if in_order and stamp > self.progress.get(message.tp, NEVER):
                self.progress[message.tp] = stamp  # after its copies are handed over

    async def _native(self, event: faust.EventT[bytes]) -> None:
        message = event.message
        self.intake.took(message)
        parsed = await self.intake.parse(event.value, message)
        if parsed is None:
            return
        self.intake.metrics.event(message.topic, parsed.type, "accepted")
        await self._route(parsed, message)

    async def _dcsa(self, event: faust.EventT[bytes]) -> None:
        message = event.message
        self.intake.took(message)
        raw = event.value or b""
        mapped = read_dcsa(
            raw, default_site=self.dcsa_site, sites=self.sites, max_bytes=self.intake.max_bytes
        )
        if isinstance(mapped, Rejection):
            await self.intake.dead_letter(raw, mapped, message)
            return
        self.intake.metrics.event(message.topic, mapped.type, "accepted")
        await self._route(mapped, message)

    async def _route(self, parsed: InputEvent, message: Any) -> None:
        """To each partition it concerns, with the original record's received time: a
        vessel call's event to every partition, any other once per container. A
        partition this worker's tracker owns takes its copy in-process
        (:meth:`Tracker.hand_over`); any other's goes on the repartition topic."""
        stamp = received(message)
        send = self.app.producer.send_watched
        hand_over = self.tracker.hand_over  # asks at each copy: a send may await a revocation
        if isinstance(parsed, VESSEL_MODELS):
            key, value = parsed.voyage.encode(), b""
            for partition in range(self.partitions):
                if hand_over(partition, parsed, stamp, message):
                    continue
                if not value:
                    copy = parsed.model_copy(update={"received_at": stamp})
                    value = dump_json(copy, exclude_none=True)
                await send(CONTAINER_EVENTS, key, value, partition)
            return
        for container_no, one in fan_out(parsed):
            # the default partitioner's choice, without its murmur2 per record
            partition = partition_for(container_no, self.partitions)
            if hand_over(partition, one, stamp, message):
                continue
            copy = one.model_copy(update={"received_at": stamp})
            value = dump_json(copy, exclude_none=True)
            await send(CONTAINER_EVENTS, container_no.encode(), value, partition)

    def _hop(self, tp: Any) -> int | None:
        """The hop input a partition of ours is (vasscm.arrival: marks are by it)."""
        first = self.hops.get(tp.topic)
        return None if first is None else first + int(tp.partition)

    async def send_marks(self) -> None:
        """Every partition of the repartition topic hears how far each customs and
        vessel partition of this worker is fanned out, and which of them are idle."""
        consumer = self.app.consumer
        wall = wall_ms()
        ours = [(tp, hop) for tp in consumer.assignment() if (hop := self._hop(tp)) is not None]
        if not ours:
            return
        state = {
            hop: Mark(self.progress.get(tp, NEVER), wall if consumer.caught_up(tp) else None)
            for tp, hop in ours
        }
        # Sent at every interval while this worker reads records (a record may wait
        # on an idle customs partition's mark); when all is quiet, when a position
        # moves or an input goes idle or busy, and every _IDLE_REFRESH_MS.
        shape = {c: (m.upto, m.idle_at is None) for c, m in state.items()}
        taken = self.intake.tally["events"]
        quiet = shape == self._last_shape and taken == self._last_taken
        if quiet and wall - self._last_sent < _IDLE_REFRESH_MS:
            return
        self._last_shape, self._last_sent, self._last_taken = shape, wall, taken
        value = marks.encode(state, wall)
        send = self.app.producer.send_watched  # in order after the copies it covers
        for partition in range(self.partitions):
            await send(CONTAINER_EVENTS, marks.MARK_KEY, value, partition)

    def where(self, hop: int) -> str:
        """Hop input ``hop`` as this worker reads it, in words (the watchdog's): its
        topic partition, how far the consumer has read it, what it has fanned out and
        the mark it would send now; or that another worker reads it."""
        firsts = sorted(((first, topic) for topic, first in self.hops.items()), reverse=True)
        first, topic = next(((f, t) for f, t in firsts if f <= hop), (0, ""))
        tp = TP(topic, hop - first)
        consumer = hooks.existing_consumer(self.app)  # app.consumer would make one
        try:
            ours = consumer is not None and tp in consumer.assignment()
        except Exception:  # not started
            ours = False
        if not ours:
            return f"{topic}[{tp.partition}]: not read by this worker"
        where = consumer.where(tp) if hasattr(consumer, "where") else f"{topic}[{tp.partition}]"
        progress = self.progress.get(tp, NEVER)
        fanned = "nothing" if progress == NEVER else f"up to {progress} ms"
        idle = "idle" if consumer.caught_up(tp) else "not idle"
        ago = wall_ms() - self._last_sent
        return f"{where}; fanned out {fanned}, {idle}; marks last sent {ago} ms ago"

    def revoked(self, tps: Any) -> None:
        for tp in tps:
            self.progress.pop(tp, None)
