"""Forecasts in the live worker (contract 8.2): learned from ``vasscm.clearances``,
shown on ``container-state``, the lookup API, the late list and the metrics.

    vasscm.clearances ──every partition, no group──▶ RecordLearner ─▶ Forecaster
    the worker's boards (its open visits) ──each forecast_refresh──▶ curves, late list

- **What it learns.** Every worker reads every partition of ``vasscm.clearances`` from
  the beginning, outside any consumer group (:class:`ClearanceFeed`), so each learns
  from all workers' completed visits, as the contract asks. It applies the consumer
  rule as replay's pass does (:class:`~vasscm.replay_forecasts.RecordLearner`), so one
  worker that has read every record learns exactly what replay learns. Nothing is
  stored: the topic is the durable copy, read again after a restart (what the window
  needs is what the topic's retention keeps).
- **The curves** are rebuilt every ``forecast_refresh`` (:meth:`Forecasts.sweep`) from
  what was learned and the open visits on the worker's boards, censored at the
  worker's clock, in chunks that yield to the event loop. The same sweep forecasts
  every open visit once, for the late list (:mod:`vasscm.late`) and its gauge.
- **A forecast** is made when asked (a lookup, a ``container-state`` record) from the
  latest curves at the worker's clock at that moment. Once a worker has read every
  record and swept at a clock, its forecasts are replay's at that clock (tested).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from datetime import datetime
from itertools import islice
from typing import Any, Final

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vasscm.board import Board, Entry
from vasscm.durations import from_ms, to_ms
from vasscm.events import VisitForecast, VisitState
from vasscm.forecast import Curves, Forecast, Forecaster, Key, Observation
from vasscm.late import Late, late
from vasscm.live.http.metrics import LabelCap
from vasscm.live.restarts import Restarting
from vasscm.replay_forecasts import RecordLearner
from vasscm.topics import CLEARANCES
from vasscm.tracking import Policy

__all__ = ["ClearanceFeed", "Forecasts", "LateCollector", "as_model", "observation_of_view"]

log = logging.getLogger(__name__)
_CHUNK: Final = 2000  # open visits between two yields to the event loop


def observation_of_view(view: VisitState) -> Observation | None:
    """An open visit's view as the forecaster sees it (None: not arrived, or exited)."""
    if view.arrived_at is None or view.exited_at is not None:
        return None
    released = None
    if view.waiting_on == "owner" and view.eligible_at is not None:
        released = to_ms(view.eligible_at)
    return Observation(
        view.site, str(view.direction), str(view.channel), to_ms(view.arrived_at), released
    )


class Forecasts:
    """A worker's forecaster: ``boards`` gives its boards of open visits, ``now`` its
    clock in epoch ms (the stall clock)."""

    def __init__(
        self,
        forecaster: Forecaster,
        boards: Callable[[], Iterable[Board]],
        now: Callable[[], int],
        policy: Policy,
    ) -> None:
        self.forecaster = forecaster
        self.learner = RecordLearner(forecaster)
        self.boards = boards
        self.now = now
        self.policy = policy
        self.curves: Curves | None = None
        self.as_of: int | None = None  # the clock the curves were built at
        self.late: list[Late] = []  # of the last sweep
        self.read = 0  # clearance records learned from
        self._wake = asyncio.Event()

    # --- learning ----------------------------------------------------------------

    def learn(self, value: bytes | None) -> None:
        """One ``vasscm.clearances`` record (a tombstone teaches nothing)."""
        if value is None:
            return
        try:
            self.learner.read(orjson.loads(value))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("forecasts: a clearance record could not be read (%s)", exc)
            return
        self.read += 1

    # --- the sweep ---------------------------------------------------------------

    def _open(self) -> Iterator[tuple[str, Observation, Entry]]:
        for board in list(self.boards()):
            yield from board.observations()

    async def sweep(self) -> None:
        """Rebuild the curves at the worker's clock, then forecast every open visit
        once for the late list (yielding to the event loop every few thousand)."""
        as_of = self.now()
        forecaster = self.forecaster
        forecaster.advance(as_of)
        self.learner.prune()
        extra: dict[Key, list[list[int]]] = {}
        visits = self._open()
        while chunk := list(islice(visits, _CHUNK)):
            forecaster.tally((obs for _, obs, _ in chunk), as_of, extra)
            await asyncio.sleep(0)
        curves = Curves(forecaster, extra)
        found: list[Late] = []
        visits = self._open()
        while chunk := list(islice(visits, _CHUNK)):
            for container_no, obs, entry in chunk:
                one = late(
                    container_no, obs, entry, forecaster.forecast(obs, as_of, curves), self.policy
                )
                if one is not None:
                    found.append(one)
            await asyncio.sleep(0)
        self.curves, self.as_of, self.late = curves, as_of, found

    def soon(self) -> None:
        """Sweep now rather than at the next turn: the clearances were read to their
        end, or partitions were assigned (their open visits are on the boards)."""
        self._wake.set()

    async def run(self, every: float) -> None:
        """Sweep every ``every`` seconds (the first at once, another whenever
        :meth:`soon` is called), while the worker runs."""
        while True:
            self._wake.clear()
            try:
                await self.sweep()
            except Exception:  # a bad sweep must not end the forecasts for good
                log.exception("forecasts: the sweep failed; tried again next time")
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), every)

    # --- forecasts -----------------------------------------------------------------

    def forecast(self, obs: Observation | None, now: int | None = None) -> Forecast | None:
        """``obs``'s forecast at ``now`` (default: the worker's clock) from the latest
        curves; None before the first sweep, or when nothing was learned."""
        if obs is None or self.curves is None:
            return None
        return self.forecaster.forecast(obs, self.now() if now is None else now, self.curves)

    def attach(self, view: VisitState) -> VisitState:
        """``view`` with its forecast (contract 8.2; null when none)."""
        made = self.forecast(observation_of_view(view))
        if made is None and view.forecast is None:
            return view
        return view.model_copy(update={"forecast": as_model(made)})


def _dt(ms: int | None) -> datetime | None:
    return None if ms is None else from_ms(ms)


def as_model(made: Forecast | None) -> VisitForecast | None:
    """A forecast as the contract's model (its values checked where they were made)."""
    if made is None:
        return None
    return VisitForecast.model_construct(
        release_p50=_dt(made.release_p50),
        release_p90=_dt(made.release_p90),
        exit_p50=_dt(made.exit_p50),
        exit_p90=_dt(made.exit_p90),
        basis=made.basis,
        as_of=from_ms(made.as_of),
    )


class LateCollector(Collector):
    """``vasscm_forecast_late_containers{site,direction,of}`` from the last sweep, and
    what the forecasts rest on."""

    def __init__(self, forecasts: Forecasts, sites: LabelCap) -> None:
        self.forecasts = forecasts
        self.sites = sites

    def describe(self) -> Iterable[Metric]:
        return list(self._families([]))

    def collect(self) -> Iterable[Metric]:
        return list(self._families(self.forecasts.late))

    def _families(self, entries: list[Late]) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "vasscm_forecast_late_containers",
            "Open visits whose median forecast lies past their target (of=release: the "
            "release past arrival + the AWAITING_RELEASE stall threshold; of=exit: the "
            "exit past release + the RELEASED threshold), at the last sweep",
            labels=("site", "direction", "of"),
        )
        counts: dict[tuple[str, str, str], int] = {}
        for e in entries:
            key = (self.sites(e.site), e.direction, e.of)
            counts[key] = counts.get(key, 0) + 1
        # zeros for every site seen, as the stage gauges: a series never vanishes
        for site in self.sites.seen:
            for direction in ("import", "export", "unknown"):
                for of in ("release", "exit"):
                    counts.setdefault((site, direction, of), 0)
        for key in sorted(counts):
            family.add_metric(key, counts[key])
        yield family
        yield GaugeMetricFamily(
            "vasscm_forecast_learned_visits",
            "Completed visits in the forecasts' window this worker learned from",
            value=len(self.forecasts.learner),
        )
        read = CounterMetricFamily(
            "vasscm_forecast_clearance_records_read",
            "vasscm.clearances records the forecasts have read (every partition, all workers')",
        )
        read.add_metric((), self.forecasts.read)
        yield read


class ClearanceFeed:
    """Reads every partition of ``vasscm.clearances`` into :meth:`Forecasts.learn`,
    from the beginning, without a consumer group (every worker reads everything).

    A broker away when the feed starts, or lost while it reads, is logged and the feed
    starts again a few seconds later where it had read to (``restarting``; it once
    ended the worker: the consumer's start raised through faust's task and crashed
    the app).
    """

    def __init__(
        self, client: dict[str, Any], forecasts: Forecasts, *, retry_after: float = 5.0
    ) -> None:
        self.client = client
        self.forecasts = forecasts
        self._next: dict[TopicPartition, int] = {}  # the next offset to read, by partition
        self.restarting = Restarting(
            f"forecasts: reading {CLEARANCES}", self._read, log, retry_after=retry_after
        )

    async def run(self) -> None:
        await self.restarting.run()

    async def _read(self) -> None:
        # Learning a second late costs nothing; polling the broker often costs the
        # tracker beside it (measured: p99 exit-to-clearance +25 % with the tracker's wait)
        options = {**self.client, "fetch_max_wait_ms": 1000}
        consumer = AIOKafkaConsumer(enable_auto_commit=False, group_id=None, **options)
        try:
            await consumer.start()
            partitions = None
            while not partitions:  # the worker declares the topic as it starts
                partitions = consumer.partitions_for_topic(CLEARANCES)
                if not partitions:
                    await consumer.topics()  # refreshes the metadata
                    await asyncio.sleep(0.5)
            assigned = [TopicPartition(CLEARANCES, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            fresh = [tp for tp in assigned if tp not in self._next]
            if fresh:
                await consumer.seek_to_beginning(*fresh)
            for tp in assigned:
                if tp in self._next:
                    consumer.seek(tp, self._next[tp])
            caught_up = False
            while True:
                batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
                for tp, records in batch.items():
                    for r in records:
                        self.forecasts.learn(r.value)
                    if records:
                        self._next[tp] = records[-1].offset + 1
                if not batch and not caught_up:  # read to the end once: sweep with it
                    caught_up = True
                    self.forecasts.soon()
        finally:
            await consumer.stop()
