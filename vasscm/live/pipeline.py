"""The live pipeline: faust agents around the tracking core.

    customs-events ──fan-out──▶ container-events ─┐
    port-events ──────────────────────────────────┼─▶ track ─▶ clearances, alerts,
    scan-events ──────────────────────────────────┤     ▲      container-state
    stall-checks ◀── timer (deadline index) ──────┘     │      (+ dead-letter)
                                                  visits table

Every container's events meet on one partition: port and scan events arrive keyed
by ``container_no``; customs events are fanned out and re-keyed. A port or scan
record that a producer's partitioner put on another partition than ours would is
forwarded to ``container-events`` rather than tracked in the wrong place.

Table writes must happen inside stream iteration (faust's RocksDB store finds the
partition from the current event), so the once-a-second stall timer does not touch
the table: it sends a tick per container that fell due to ``stall-checks``, and
the tracker runs :func:`vasscm.tracking.check` on it like any other record.

Processing is at least once: a redelivered record finds its ``event_id`` in the
container's state and changes nothing, but what the state says went out is sent
again (same revisions, same content), once per container after each (re)assignment:
a crash can lose a record's outputs after its state change was saved. The reverse
cannot happen: outputs wait in the outbox (vasscm.live.outbox) until the state change
they report is on the broker. And offsets are committed only up to the first record
not processed, after everything the processing produced is on the broker
(vasscm.live.transport).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import faust
from aiokafka.partitioner import murmur2
from prometheus_client import CollectorRegistry

from vasscm.board import Board, merge_stats, stage_rows, stalled_rows
from vasscm.deadlines import DeadlineIndex
from vasscm.durations import from_ms, to_ms
from vasscm.events import (
    EARLIEST,
    ContainerEvent,
    RejectCode,
    Rejection,
    StallCheck,
    VisitState,
    container_of,
    dead_letter,
    dump_json,
    fan_out,
    format_ts,
    parse_container_no,
    parse_event,
)
from vasscm.live.metrics import Snapshot, StateCollector, build_metrics
from vasscm.live.outbox import Outbox, Send, VisitsTable
from vasscm.partitions import Rebuild
from vasscm.recent import Recent
from vasscm.settings import Settings
from vasscm.topics import (
    ALERTS,
    CLEARANCES,
    CONTAINER_EVENTS,
    CONTAINER_STATE,
    CUSTOMS_EVENTS,
    DEAD_LETTER,
    PORT_EVENTS,
    SCAN_EVENTS,
    STALL_CHECKS,
    TOPIC_BY_NAME,
)
from vasscm.tracking import (
    ContainerState,
    Effects,
    apply,
    check,
    current_view,
    next_deadline,
    published_records,
    resend,
    timelines,
)
from vasscm.watermark import LowWatermark

__all__ = ["Pipeline", "partition_for"]


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default (murmur2) partitioner gives ``key``."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


@dataclass
class Pipeline:
    """The agents, table and timer of one worker, bound to one faust app."""

    app: faust.App
    settings: Settings

    def __post_init__(self) -> None:
        app, settings = self.app, self.settings
        self.policy = settings.policy()
        self.partitions = settings.partitions
        self.indexes: dict[int, DeadlineIndex] = {}
        self.boards: dict[int, Board] = {}  # open visits per partition, for the gauges
        self.positions: dict[Any, int] = {}  # input TP -> offset of the last record taken
        self.registry = CollectorRegistry()  # private: only this worker's own metrics
        self.metrics = build_metrics(self.registry, max_sites=settings.metrics_max_sites)
        self.registry.register(StateCollector(self.snapshot, self.metrics.site))
        self.recent = Recent()  # the dashboard's window of recent clearances and alerts
        self.tally = {"events": 0, "rejected": 0}
        self._samples: deque[tuple[float, int, int]] = deque(maxlen=11)  # ~10 s of tallies
        self.clock = LowWatermark(int(settings.watermark_idle.total_seconds() * 1000))
        self.assigned = False  # partitions assigned and tables recovered
        self.resent: set[str] = set()  # containers whose outputs _resend sent again
        self.broker_ok = True  # the last probe of the broker was answered in time
        raw = {
            "key_type": bytes,
            "value_type": bytes,
            "key_serializer": "raw",
            "value_serializer": "raw",
        }

        def topic(name: str, **extra: Any) -> faust.TopicT:
            spec = TOPIC_BY_NAME[name]
            config = {"cleanup.policy": spec.cleanup_policy, "retention.ms": str(spec.retention_ms)}
            return app.topic(
                name, partitions=self.partitions, internal=True, config=config, **raw, **extra
            )

        self.customs_in = topic(CUSTOMS_EVENTS)
        self.container_in = app.topic(
            PORT_EVENTS,
            SCAN_EVENTS,
            CONTAINER_EVENTS,
            STALL_CHECKS,
            partitions=self.partitions,
            internal=True,
            **raw,
        )
        self.container_events = topic(CONTAINER_EVENTS)
        self.stall_checks = topic(STALL_CHECKS)
        outputs = (CLEARANCES, ALERTS, CONTAINER_STATE, DEAD_LETTER)
        self.outputs = {name: topic(name) for name in outputs}
        # Created at start-up with the contract's settings (the agents' subscription
        # would otherwise leave input topics to broker defaults).
        self._declared = [
            *self.outputs.values(),
            self.container_events,
            self.stall_checks,
            topic(PORT_EVENTS),
            topic(SCAN_EVENTS),
        ]
        self.visits: VisitsTable = app.tables.add(
            VisitsTable(
                app,
                name="visits",
                default=None,
                beacon=app.tables.beacon,
                partitions=self.partitions,
                key_type=str,
                # The core's compact JSON (ContainerState.to_json) as raw bytes: the
                # same on the changelog, in RocksDB and in memory.
                value_type=bytes,
                help="container_no -> the container's recent visits "
                "(vasscm.tracking.ContainerState)",
            )
        )
        self.outbox = Outbox()  # outputs wait there for their state change to be written
        app.agent(self.customs_in, name="vasscm.fan-out")(self.fan_out)
        app.agent(self.container_in, name="vasscm.track")(self.track)
        app.timer(interval=settings.stall_check_interval.total_seconds())(self.stall_timer)
        app.timer(interval=_PROBE_EVERY)(self.probe_broker)
        app.task(self._send_outputs)
        app.on_partitions_revoked.connect(self._on_revoked)
        app.on_rebalance_complete.connect(self._on_rebalance_complete)
        app.task(self._declare_topics, on_leader=False)

    async def _send_outputs(self) -> None:
        hooks = getattr(self.app.producer, "before_flush", None)
        if hooks is not None:  # vasscm's transport: drained before each commit
            hooks.append(self.outbox.drain)
        await self.outbox.run()

    # --- readiness ----------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.assigned and self.broker_ok

    @property
    def not_ready_because(self) -> str | None:
        if not self.broker_ok:
            return f"the broker did not answer within {_PROBE_TIMEOUT:g} s"
        if not self.assigned:
            return "partitions not assigned (or tables still recovering)"
        return None

    async def probe_broker(self) -> None:
        """Ask the broker for its metadata: a hung or unreachable broker makes the
        worker not ready, though its partitions stay assigned."""
        client = getattr(getattr(self.app.producer, "_producer", None), "client", None)
        if client is None:  # producer not started yet
            return
        try:
            await asyncio.wait_for(client.fetch_all_metadata(), timeout=_PROBE_TIMEOUT)
        except Exception:  # timeout, connection refused, ... : all mean "not reachable"
            if self.broker_ok:
                self.app.log.warning("broker unreachable: not ready")  # type: ignore[attr-defined]
            self.broker_ok = False
        else:
            if not self.broker_ok:
                self.app.log.info("broker reachable again")  # type: ignore[attr-defined]
            self.broker_ok = True

    # --- clocks -------------------------------------------------------------------

    def now(self) -> datetime:
        """What stalls are judged by: the wall clock, or the event-time watermark."""
        if self.settings.stall_clock == "event":
            return from_ms(self.clock.value(_wall_ms()) or _NO_TIME_YET)
        return datetime.now(tz=UTC)

    def _observe(self, message: Any, event: ContainerEvent) -> None:
        self.clock.observe(message.tp, to_ms(event.occurred_at), _wall_ms())

    # --- agents -------------------------------------------------------------------

    async def fan_out(self, stream: faust.StreamT[bytes]) -> None:
        """Customs declarations -> one event per container, keyed by container_no."""
        async for event in stream.events():
            async with self._poison_guard(event):
                await self._fan_out_one(event)
            self._done(event.message)

    async def _fan_out_one(self, event: faust.EventT[bytes]) -> None:
        message = event.message
        self._took(message)
        parsed = await self._parse(event.value, message)
        if parsed is None:
            return
        self.metrics.event(message.topic, parsed.type, "accepted")
        self._observe(message, parsed)
        received = _received(message)
        for container_no, one in fan_out(parsed):
            stamped = one.model_copy(update={"received_at": received})
            await self.container_events.send(
                key=container_no.encode(), value=dump_json(stamped, exclude_none=True)
            )

    async def track(self, stream: faust.StreamT[bytes]) -> None:
        """One container's record -> the core -> table, outputs, deadline index."""
        async for event in stream.events():
            async with self._poison_guard(event):
                await self._track_one(event)
            self._done(event.message)
            await self.outbox.room()

    async def _track_one(self, event: faust.EventT[bytes]) -> None:
        message = event.message
        if message.topic == STALL_CHECKS:
            await self._stall_check(event.key.decode(), message.partition)
            return
        self._took(message)
        internal = message.topic == CONTAINER_EVENTS
        parsed = await self._parse(event.value, message, trusted=internal)
        if parsed is None:
            return
        if internal or await self._on_our_partition(parsed, message, event.value):
            # Our repartition topic carries the received_at stamped on the way in.
            received = parsed.received_at if internal else _received(message)
            await self._apply(parsed, received, message)

    def _done(self, message: Any) -> None:
        """Tell the consumer the record is done: offsets are committed up to the first
        record not done (vasscm.live.transport.Consumer.processed)."""
        processed = getattr(self.app.consumer, "processed", None)
        if processed is not None:
            processed(message.tp, message.offset)

    @contextlib.asynccontextmanager
    async def _poison_guard(self, event: faust.EventT[bytes]) -> AsyncIterator[None]:
        """A record that makes the code fail goes to the dead-letter topic; the agent
        goes on (a crash would restart it on the same record, forever)."""
        try:
            yield
        except Exception as exc:
            self.app.log.exception("record %s failed", event.message.tp)  # type: ignore[attr-defined]
            reason = f"processing failed: {type(exc).__name__}: {exc}"[:500]
            await self._dead_letter(
                event.value or b"",
                Rejection(code=RejectCode.INTERNAL, reason=reason),
                event.message,
            )

    async def _apply(self, parsed: ContainerEvent, received: datetime | None, message: Any) -> None:
        container_no = container_of(parsed)
        self._observe(message, parsed)
        before = self.visits.get(container_no)
        # The container's own event proves its clock has reached occurred_at,
        # whatever the other inputs say (and right after a restart they say nothing).
        now = max(self.now(), parsed.occurred_at)
        state, effects = apply(
            None if before is None else ContainerState.from_json(before),
            parsed,
            container_no=container_no,
            now=now,
            received_at=received,
            policy=self.policy,
        )
        if effects.rejection is not None:  # stale, or dated in the future
            await self._dead_letter(dump_json(parsed), effects.rejection, message)
            return
        if effects.outcome == "duplicate":
            self.metrics.event(message.topic, parsed.type, "duplicate")
            self._resend(container_no, state, now, message.partition)
            return
        self.metrics.event(message.topic, parsed.type, "accepted")
        if received is not None:
            delay = (received - parsed.occurred_at).total_seconds()
            self.metrics.report_delay.labels(parsed.type).observe(max(0.0, delay))
        self.visits[container_no] = state.to_json()
        self._publish(container_no, state, effects, message.partition, before)
        self._schedule(container_no, state, message.partition)

    def _load(self, container_no: str) -> ContainerState | None:
        data = self.visits.get(container_no)
        return None if data is None else ContainerState.from_json(data)

    async def _stall_check(self, container_no: str, partition: int) -> None:
        before = self.visits.get(container_no)
        if before is None:
            return
        state = ContainerState.from_json(before)
        now = self.now()
        kept, effects = check(state, now=now, policy=self.policy)
        if kept is None:
            del self.visits[container_no]
            self.indexes.get(partition, DeadlineIndex()).discard(container_no)
        else:
            self.visits[container_no] = kept.to_json()
            self._schedule(container_no, kept, partition)
        if kept is None or not kept.events:  # no visit held any more
            self._board(partition).remove(container_no)
            tombstone = (self.outputs[CONTAINER_STATE], container_no.encode(), None)
            self.outbox.put(self.visits.last_write.get(partition), [tombstone])
        elif effects.alerts or effects.records:
            self._publish(container_no, kept, effects, partition, before)
        else:  # nothing new: perhaps a tick delivered again after a crash
            self._resend(container_no, kept, now, partition)

    def _resend(
        self, container_no: str, state: ContainerState, now: datetime, partition: int
    ) -> None:
        """Send again what the state says went out, once per container and assignment.

        A record delivered again after a crash finds its state change saved (the
        changelog write can reach the broker before the outputs), while what it
        produced may have been lost with the worker. Only what an earlier worker (or
        assignment) sent can be lost so: what this one sends is flushed before its
        offsets are committed. Once the container's picture is sent again, its later
        duplicates have nothing to add. Not counted in the metrics a second time.
        """
        if container_no in self.resent:
            return
        self.resent.add(container_no)
        effects = resend(state, now=now, policy=self.policy)
        self._publish(container_no, state, effects, partition, None, count=False)

    def _publish(
        self,
        container_no: str,
        state: ContainerState,
        effects: Effects,
        partition: int,
        before: bytes | None,
        *,
        count: bool = True,
    ) -> None:
        key = container_no.encode()
        previous = {}
        if (
            count
            and before is not None
            and any(r.revision > 1 or r.supersedes for r in effects.records)
        ):
            # A revision: the metrics withdraw what the record it replaces counted.
            previous = published_records(ContainerState.from_json(before), self.policy)
        sends: list[Send] = []
        for record in effects.records:
            if count:
                ids = (record.visit_id, *record.supersedes)
                prior = next((previous[i] for i in ids if i in previous), None)
                self.metrics.clearance(record, prior)
                self.recent.record(record)
            sends.append((self.outputs[CLEARANCES], key, dump_json(record)))
        for alert in effects.alerts:
            if count:
                self.metrics.alert(alert)
                self.recent.alert(alert)
            sends.append((self.outputs[ALERTS], key, dump_json(alert)))
        view = current_view(state)
        self._board(partition).put(container_no, view)
        if view is not None:
            sends.append((self.outputs[CONTAINER_STATE], key, dump_json(view)))
        # After the state change (this one, or for a resend the one it repeats).
        self.outbox.put(self.visits.last_write.get(partition), sends)

    # --- read-only views (web, metrics) -----------------------------------------------

    def _board(self, partition: int) -> Board:
        return self.boards.setdefault(partition, Board())

    def visits_of(self, container_no: str) -> list[tuple[VisitState, list[dict[str, Any]]]]:
        """The container's visits held here with their events (empty when unknown)."""
        state = self._load(container_no)
        return [] if state is None else list(timelines(state))

    def overview(self) -> dict[str, Any]:
        """Containers per site and stage, and the pipeline's health."""
        snap = self.snapshot()
        events_rate = rejected_rate = 0.0
        if len(self._samples) >= 2:
            (t0, e0, r0), (t1, e1, r1) = self._samples[0], self._samples[-1]
            if t1 > t0:
                events_rate, rejected_rate = (e1 - e0) / (t1 - t0), (r1 - r0) / (t1 - t0)
        return {
            "now": format_ts(from_ms(snap.now_ms)),
            "ready": snap.ready,
            "stages": stage_rows(snap.groups, snap.now_ms),
            "health": {
                "events_per_second": round(events_rate, 1),
                "rejected_per_second": round(rejected_rate, 2),
                "lag_records": sum(snap.lag.values()),
                "partitions": snap.partitions,
                "events_total": self.tally["events"],
                "rejected_total": self.tally["rejected"],
            },
        }

    def stalled(self, limit: int) -> list[dict[str, Any]]:
        """Stalled open visits, oldest in its stage first."""
        boards = list(self.boards.values())
        return stalled_rows(boards, to_ms(self.now()), self.policy, limit)

    def releases(self, hours: float) -> dict[str, Any]:
        return self.recent.releases(self.now(), timedelta(hours=hours))

    def alerts(self, limit: int) -> list[dict[str, Any]]:
        """The latest alerts published here, newest first."""
        newest = list(self.recent.alerts)[::-1][:limit]
        return [a.model_dump(mode="json") for a in newest]

    def snapshot(self) -> Snapshot:
        """Current state for the gauges: this worker's partitions only."""
        now_ms = to_ms(self.now())
        groups = merge_stats(b.stats(now_ms, self.policy) for b in list(self.boards.values()))
        lag: dict[str, int] = {}
        consumer = self.app._consumer  # not the property: a scrape must not create one
        for tp, offset in list(self.positions.items()):
            try:
                highwater = consumer.highwater(tp) if consumer is not None else None
            except Exception:  # consumer not started, or the partition just revoked
                highwater = None
            if highwater is not None:
                lag[tp.topic] = lag.get(tp.topic, 0) + max(0, highwater - offset - 1)
        return Snapshot(now_ms, groups, lag, partitions=len(self.boards), ready=self.ready)

    def _took(self, message: Any) -> None:
        """Bookkeeping of a record taken from an input: position and delay."""
        self.positions[message.tp] = message.offset
        self.tally["events"] += 1
        if message.timestamp is not None:
            delay = max(0.0, time.time() - message.timestamp)
            self.metrics.processing_delay.labels(message.topic).observe(delay)

    # --- input checks ---------------------------------------------------------------

    async def _parse(
        self, value: bytes | None, message: Any, *, trusted: bool = False
    ) -> ContainerEvent | None:
        # Our own repartition topic carries any type; the input topics only their own.
        topic = None if trusted else message.topic
        parsed = parse_event(value or b"", topic=topic, max_bytes=self.settings.max_event_bytes)
        if isinstance(parsed, Rejection):
            await self._dead_letter(value or b"", parsed, message)
            return None
        return parsed

    async def _on_our_partition(self, parsed: ContainerEvent, message: Any, raw: bytes) -> bool:
        """Check the record's key; forward it when it sits on a partition not ours."""
        container_no = container_of(parsed)
        key = (message.key or b"").decode("utf-8", "replace")
        try:
            key_no = parse_container_no(key)
        except ValueError:
            key_no = None
        if key_no != container_no:
            await self._dead_letter(
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
        if message.partition != partition_for(container_no, self.partitions):
            stamped = parsed.model_copy(update={"received_at": _received(message)})
            await self.container_events.send(
                key=container_no.encode(), value=dump_json(stamped, exclude_none=True)
            )
            return False
        return True

    async def _dead_letter(self, raw: bytes, rejection: Rejection, message: Any) -> None:
        self.metrics.rejection(message.topic, rejection)
        self.tally["rejected"] += 1
        letter = dead_letter(
            raw,
            rejection,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            received_at=_received(message),
        )
        await self.outputs[DEAD_LETTER].send(key=message.key, value=dump_json(letter))

    # --- deadlines ------------------------------------------------------------------

    def _schedule(self, container_no: str, state: ContainerState, partition: int) -> None:
        due = next_deadline(state, self.policy)
        index = self.indexes.setdefault(partition, DeadlineIndex())
        index.schedule(container_no, None if due is None else to_ms(due))

    async def stall_timer(self) -> None:
        """Once a second: a tick for each container whose deadline has passed."""
        self._samples.append((time.monotonic(), self.tally["events"], self.tally["rejected"]))
        if not self.assigned:
            return
        now = to_ms(self.now())
        for index in list(self.indexes.values()):
            for container_no in index.pop_due(now):
                tick = StallCheck(requested_at=datetime.fromtimestamp(now / 1000, tz=UTC))
                await self.stall_checks.send(key=container_no.encode(), value=dump_json(tick))

    def _on_revoked(self, sender: Any = None, revoked: Any = (), **kwargs: Any) -> None:
        self.assigned = False
        self.resent.clear()  # the next assignment may bring another worker's state
        for tp in revoked:
            self.clock.forget(tp)
            self.positions.pop(tp, None)
            if tp.topic == CONTAINER_EVENTS:
                self.indexes.pop(tp.partition, None)
                self.boards.pop(tp.partition, None)

    async def _on_rebalance_complete(self, sender: Any = None, **kwargs: Any) -> None:
        """Tables are recovered: rebuild the deadline index of each assigned partition."""
        assigned = {
            tp.partition
            for tp in self.app.assignor.assigned_actives()
            if tp.topic == CONTAINER_EVENTS
        }
        started = time.monotonic()
        # faust's RocksDB store opens a partition's database on first use, and only
        # iterates the open ones: after a restart with nothing new to recover, none is.
        open_partition = getattr(self.visits.data, "_db_for_partition", None)
        if open_partition is not None:
            for p in assigned:
                open_partition(p)
        rebuild = Rebuild(assigned, lambda c: partition_for(c, self.partitions), self.policy)
        for n, (container_no, data) in enumerate(self.visits.items(), 1):
            rebuild.add(container_no, data)
            if n % 2000 == 0:
                await asyncio.sleep(0)  # heartbeats and probes go on during a long rebuild
        self.indexes, self.boards = rebuild.indexes, rebuild.boards
        newest = rebuild.newest
        self.clock.floor(newest)
        inputs = {CUSTOMS_EVENTS, PORT_EVENTS, SCAN_EVENTS, CONTAINER_EVENTS}
        self.clock.assign(
            [tp for tp in self.app.assignor.assigned_actives() if tp.topic in inputs], _wall_ms()
        )
        self.assigned = True
        self.app.log.info(  # type: ignore[attr-defined]
            "deadline index rebuilt for partitions %s: %d containers in %.2fs",
            sorted(assigned),
            rebuild.containers,
            time.monotonic() - started,
        )

    async def _declare_topics(self) -> None:
        for topic in self._declared:
            await topic.maybe_declare()


_NO_TIME_YET: Final = to_ms(EARLIEST)  # before any valid event
_PROBE_EVERY: Final = 2.0  # seconds between broker probes
_PROBE_TIMEOUT: Final = 3.0


def _wall_ms() -> int:
    return int(time.time() * 1000)


def _received(message: Any) -> datetime:
    """The Kafka record timestamp: the only received_at the processor trusts."""
    stamp = message.timestamp
    if stamp is None:
        return datetime.now(tz=UTC)
    return datetime.fromtimestamp(stamp, tz=UTC)
