"""The live pipeline: faust agents around the tracking core, wired together.

    customs-events ──fan-out──▶ container-events ─┐ (+ marks: how far each customs
                        │  (other workers'        │    partition is fanned out)
                        │   partitions)           │
                        └── in-process ───────────┤ (this worker's partitions)
    port-events ──────────────────────────────────┤
    scan-events ──────────────────────────────────┼─▶ track ─▶ clearances, alerts,
    stall-checks ◀── timer (deadline index) ──────┘     ▲      container-state
                                                  visits table (+ dead-letter)

Every container's events meet on one partition: port and scan events arrive keyed
by ``container_no``; customs events are fanned out per container
(vasscm.live.stream.fanout): handed to this worker's tracker when it owns the
container's partition, else re-keyed onto the repartition topic for the worker that does.
The tracker (vasscm.live.stream.tracker) holds each record until everything received before
it on the partition's other inputs is read, then applies it in received order
through the partition's yard (vasscm.yard, the step replay runs too), and
vasscm.live.stream.publisher stores and publishes what the step did.

The once-a-second stall timer does not judge containers itself: it sends a tick per
container that fell due to ``stall-checks``, and the tracker runs the check on it like
any other record, in its turn among the records held for arrival order.

Crash safety: the states a step changes wait in the open batch, written once per
container when it closes; outputs wait in the outbox until the state change they
report is on the broker; offsets are committed only up to the first record not yet
taken, held or handled, after the batch is closed and everything the processing
produced is on the broker (vasscm.live.delivery).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from vasscm.arrival import ArrivalOrder
from vasscm.dcsa import dcsa_key
from vasscm.durations import to_ms
from vasscm.live.dcsa_out.webhooks import Webhooks
from vasscm.live.delivery import Checkpoint, VisitsTable
from vasscm.live.http.gauges import StateCollector
from vasscm.live.http.lookups import Lookups
from vasscm.live.http.metrics import build_metrics
from vasscm.live.kafka import hooks, tansu
from vasscm.live.kafka.auth import aiokafka_options
from vasscm.live.kafka.layout import Layout
from vasscm.live.stream.fanout import FanOut
from vasscm.live.stream.forecasts import ClearanceFeed, Forecasts, LateCollector
from vasscm.live.stream.intake import Intake, wall_ms
from vasscm.live.stream.publisher import Publisher
from vasscm.live.stream.readiness import PROBE_EVERY, Readiness
from vasscm.live.stream.tracker import Tracker, partition_for
from vasscm.live.stream.watchdog import Watchdog
from vasscm.partitions import Rebuild
from vasscm.settings import Settings, bootstrap_servers
from vasscm.sites import load_registry
from vasscm.topics import (
    CONTAINER_EVENTS,
    CUSTOMS_EVENTS,
    DCSA_EVENTS,
    DCSA_SUBSCRIPTIONS,
    PORT_EVENTS,
    SCAN_EVENTS,
    STALL_CHECKS,
    TOPIC_BY_NAME,
    VESSEL_EVENTS,
)

__all__ = ["Pipeline", "partition_for"]

_RAW = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}


@dataclass
class Pipeline:
    """The agents, table and timers of one worker, bound to one faust app."""

    app: faust.App
    settings: Settings
    layout: Layout

    def __post_init__(self) -> None:
        app, settings, n = self.app, self.settings, self.layout.partitions
        self._generation = 0  # assignments revoked so far
        self.partitions = n
        self.sites = load_registry(settings.sites_file)  # read once: fan-out, DCSA out, web
        layout = self.layout
        hops = layout.hops  # read by the fan-out alone: any partition count
        topics = {
            name: self._topic(name, n)
            for name in TOPIC_BY_NAME
            if name not in hops and name != DCSA_SUBSCRIPTIONS
        }
        customs = self._topic(CUSTOMS_EVENTS, layout.customs_partitions)
        vessels = self._topic(VESSEL_EVENTS, layout.vessel_partitions)
        dcsa = self._topic(DCSA_EVENTS, layout.dcsa_partitions)
        subscriptions = self._topic(
            DCSA_SUBSCRIPTIONS, TOPIC_BY_NAME[DCSA_SUBSCRIPTIONS].partitions
        )
        # Each with the contract's settings, before anything reads them.
        self._declared = [customs, vessels, dcsa, subscriptions, *topics.values()]
        self._topics_declared = asyncio.Event()
        self._dcsa = dcsa
        self.visits: VisitsTable = app.tables.add(
            VisitsTable(
                app,
                name="visits",
                default=None,
                beacon=app.tables.beacon,
                partitions=n,
                key_type=str,
                # The core's compact JSON (ContainerState.to_json) as raw bytes: the
                # same on the changelog, in RocksDB and in memory.
                value_type=bytes,
                help="container_no -> the container's recent visits "
                "(vasscm.tracking.ContainerState)",
            )
        )
        self.registry = CollectorRegistry()  # private: only this worker's own metrics
        self.metrics = build_metrics(self.registry, max_sites=settings.metrics_max_sites)
        self.intake = Intake(app, self.metrics, settings.max_event_bytes)
        self.arrival = ArrivalOrder(
            hop_partitions=self.layout.hop_partitions,
            grace_ms=int(settings.arrival_grace.total_seconds() * 1000),
        )
        self.publisher = Publisher(self.intake, self.visits, settings.policy())
        self.readiness = Readiness(app, declared=self._topics_declared.is_set)
        self.tracker = Tracker(
            app,
            self.intake,
            self.publisher,
            self.arrival,
            partitions=n,
            event_clock=settings.stall_clock == "event",
            ready=lambda: self.readiness.assigned,
            hops=hops,
        )
        self.fan_out = FanOut(
            app,
            self.intake,
            self.tracker,
            n,
            hops,
            sites=self.sites,
            dcsa_site=settings.dcsa_site,
        )
        self.lookups = Lookups(
            self.registry,
            self.intake,
            self.publisher,
            self.arrival,
            self.readiness,
            now=self.tracker.now,
            highwater=self._highwater,
            clock_known=self.tracker.clock_known,
            paused=self.tracker.paused_count,
        )
        self.registry.register(StateCollector(self.lookups.snapshot, self.metrics.site))
        self.watchdog = Watchdog(
            self.arrival,
            self.publisher.outbox,
            lambda: hooks.existing_consumer(app),
            lambda: self.intake.tally["events"],
            lambda: hooks.existing_producer(app),
            lambda: self.readiness.assigned,
            self.fan_out.where,
        )
        # Contract 8.2: learned from every partition of the clearances, swept over
        # this worker's boards (vasscm.live.stream.forecasts).
        self.forecasts = Forecasts(
            settings.forecaster(),
            self.publisher.boards,
            lambda: to_ms(self.tracker.now()),
            self.publisher.policy,
        )
        self.publisher.forecasts = self.forecasts
        self._forecast_refresh = settings.forecast_refresh.total_seconds()
        self.registry.register(LateCollector(self.forecasts, self.metrics.site))
        client: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers(settings.broker),
            **aiokafka_options(settings),
        }
        if settings.broker_flavour == "tansu":
            client["fetch_max_wait_ms"] = tansu.FETCH_MAX_WAIT_MS
        self.dcsa_out = Webhooks(settings, client, self.sites, self.registry)
        self.clearance_feed = ClearanceFeed(client, self.forecasts)
        tracked = app.topic(
            PORT_EVENTS,
            SCAN_EVENTS,
            CONTAINER_EVENTS,
            STALL_CHECKS,
            partitions=n,
            internal=True,
            **_RAW,
        )
        app.agent(customs, name="vasscm.fan-out")(self.fan_out.agent)
        app.agent(vessels, name="vasscm.vessel-fan-out")(self.fan_out.agent)
        app.agent(dcsa, name="vasscm.dcsa-in")(self.fan_out.dcsa_agent)
        app.agent(tracked, name="vasscm.track")(self.tracker.agent)
        app.timer(interval=settings.stall_check_interval.total_seconds())(self._each_second)
        app.timer(interval=settings.mark_interval.total_seconds())(self._marks)
        app.timer(interval=PROBE_EVERY)(self.readiness.probe)
        app.task(self._start)
        app.task(self._start_dcsa_out)
        app.task(self._start_forecasts)
        app.on_partitions_revoked.connect(self._on_revoked)
        app.on_rebalance_complete.connect(self._on_rebalance_complete)

    async def dcsa_inbox(self, docs: list[bytes]) -> None:
        """DCSA documents posted to the worker, onto vasscm.dcsa-events as they came
        (keyed by container, else by event), acknowledged by the broker."""
        acks = []
        for raw in docs:
            acks.append(await self._dcsa.send(key=dcsa_key(raw), value=raw))
        await asyncio.gather(*acks)

    def _highwater(self, tp: Any) -> int | None:
        consumer = hooks.existing_consumer(self.app)  # a scrape must not create one
        try:
            return None if consumer is None else consumer.highwater(tp)
        except Exception:  # consumer not started, or the partition just revoked
            return None

    def _topic(self, name: str, partitions: int) -> faust.TopicT:
        spec = TOPIC_BY_NAME[name]
        config = {"cleanup.policy": spec.cleanup_policy, "retention.ms": str(spec.retention_ms)}
        return self.app.topic(name, partitions=partitions, internal=True, config=config, **_RAW)

    def wire(self) -> None:
        """Make the worker's one checkpoint (the commit order, asking the tracker what
        it still owes) and hand it to the consumer and the producer, the one place
        either is bound; then check that the app is wired as the shell needs
        (vasscm.live.kafka.hooks)."""
        checkpoint = Checkpoint(self.tracker.owed, self.publisher.batch)
        self.app.consumer.checkpoint = checkpoint
        self.app.producer.checkpoint = checkpoint
        hooks.check_wiring(self.app, self.visits, checkpoint=checkpoint)

    async def _start(self) -> None:
        """Wired as it must be, topics declared, then the outbox's sender runs."""
        try:
            self.wire()
        except hooks.HookMissing as exc:
            self.app.log.critical("%s", exc)  # type: ignore[attr-defined]
            await self.app.crash(exc)
            return
        self.publisher.outbox.bind(self.app.producer)
        for topic in self._declared:
            await topic.maybe_declare()
        self._topics_declared.set()
        await self.publisher.outbox.run()

    async def _start_dcsa_out(self) -> None:
        """DCSA out (vasscm.live.dcsa_out.webhooks), once its topics exist."""
        await self._topics_declared.wait()
        await self.dcsa_out.run()

    async def _start_forecasts(self) -> None:
        """Learning from the clearances, and the sweeps, once the topics exist."""
        await self._topics_declared.wait()
        await asyncio.gather(self.clearance_feed.run(), self.forecasts.run(self._forecast_refresh))

    async def _each_second(self) -> None:
        self.lookups.sample()
        consumer = hooks.existing_consumer(self.app)
        if consumer is not None and self.readiness.assigned:
            consumer.read_again_untaken()  # vasscm.live.delivery.consumer
        try:
            standing = self.watchdog.check(wall_ms(), time.monotonic())
        except Exception:  # a diagnostic never stops the worker
            self.app.log.exception("the watchdog failed")  # type: ignore[attr-defined]
        else:
            if standing is not None:
                self.app.log.warning("%s", standing)  # type: ignore[attr-defined]
        if self.readiness.assigned:
            await self.tracker.stall_timer()

    async def _marks(self) -> None:
        if self.readiness.assigned:
            await self.fan_out.send_marks()

    def _on_revoked(self, sender: Any = None, revoked: Any = (), **kwargs: Any) -> None:
        self.readiness.assigned = False
        # Written now, while the partitions are ours (their records are committed
        # only after this; written later, they could follow the next owner's).
        self.publisher.batch.close()
        self._generation += 1  # a rebuild under way is for an assignment now gone
        self.publisher.resent.clear()  # the next assignment may bring another worker's state
        self.intake.forget(revoked)
        self.fan_out.revoked(revoked)
        self.tracker.revoked(revoked)
        for tp in revoked:
            if tp.topic == CONTAINER_EVENTS:
                self.publisher.yards.pop(tp.partition, None)

    async def _on_rebalance_complete(self, sender: Any = None, **kwargs: Any) -> None:
        """Tables are recovered: rebuild the yard of each assigned partition."""
        assigned = {
            tp.partition
            for tp in self.app.assignor.assigned_actives()
            if tp.topic == CONTAINER_EVENTS
        }
        started, generation = time.monotonic(), self._generation
        self.visits.open_partitions(assigned)
        policy = self.publisher.policy
        rebuild = Rebuild(assigned, lambda c: partition_for(c, self.partitions), policy)
        # (calls are stored under keys that name their partition: vasscm.tracking.calls)
        for count, (container_no, data) in enumerate(self.visits.items(), 1):
            rebuild.add(container_no, data)
            if count % 2000 == 0:
                await asyncio.sleep(0)  # heartbeats and probes go on during a long rebuild
        if generation != self._generation:  # revoked meanwhile: the next rebuild counts
            return
        self.publisher.yards = {
            p: self.publisher.new_yard(
                rebuild.boards[p], rebuild.indexes[p], rebuild.calls[p], rebuild.naming[p]
            )
            for p in assigned
        }
        self.arrival.floor(rebuild.newest)
        self.tracker.local = frozenset(assigned)  # their copies are handed over in-process
        self.forecasts.soon()  # the boards' open visits are evidence (contract 8.2)
        self.readiness.assigned = True
        self.readiness.assignments += 1
        self.app.log.info(  # type: ignore[attr-defined]
            "deadline index rebuilt for partitions %s: %d containers in %.2fs",
            sorted(assigned),
            rebuild.containers,
            time.monotonic() - started,
        )
