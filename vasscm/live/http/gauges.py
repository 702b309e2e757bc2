"""Gauges over a worker's current state, computed at each scrape (contract section 5).

Containers per stage, the oldest in each stage, stalled counts, consumer lag and the
arrival-order wait are read from a :class:`Snapshot` the worker builds from its
boards when Prometheus scrapes (vasscm.live.http.lookups), so they are right after a
restart or a rebalance without bookkeeping of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vasscm.board import GroupStats
from vasscm.events import WAITING_ON, Direction, Stage

if TYPE_CHECKING:
    from vasscm.live.http.metrics import LabelCap

__all__ = ["Snapshot", "StateCollector"]

_UNKNOWN: Final = "unknown"
_DIRECTIONS: Final = (*(d.value for d in Direction), _UNKNOWN)
_OPEN_STAGES: Final = tuple(s.value for s in Stage if s is not Stage.EXITED)


@dataclass(frozen=True)
class Snapshot:
    """What the collector reads at scrape time (the pipeline builds it)."""

    now_ms: int
    groups: list[GroupStats]
    lag: dict[str, int] = field(default_factory=dict)  # topic -> records behind
    partitions: int = 0
    ready: bool = False
    held: int = 0  # records waiting for their turn in arrival order (vasscm.arrival)
    oldest_wait_s: float = 0.0
    outbox: int = 0  # outputs waiting for the state change they report to be written
    paused: int = 0  # input partitions paused while their partition holds many records


class StateCollector(Collector):
    """Gauges over current state, computed from a snapshot at each scrape."""

    def __init__(self, snapshot: Callable[[], Snapshot], sites: LabelCap) -> None:
        self._snapshot = snapshot
        self._sites = sites

    def describe(self) -> Iterable[Metric]:
        return list(self._families([], 0))

    def collect(self) -> Iterable[Metric]:
        snap = self._snapshot()
        yield from self._families(snap.groups, snap.now_ms)
        lag = GaugeMetricFamily(
            "vasscm_consumer_lag_records",
            "Records on this worker's input partitions not yet processed",
            labels=("topic",),
        )
        for topic, behind in sorted(snap.lag.items()):
            lag.add_metric((topic,), behind)
        yield lag
        yield GaugeMetricFamily(
            "vasscm_assigned_partitions",
            "Partitions of the tracker this worker owns",
            value=snap.partitions,
        )
        yield GaugeMetricFamily(
            "vasscm_ready", "1 when the worker is ready, as /readyz says", value=snap.ready
        )
        yield GaugeMetricFamily(
            "vasscm_arrival_held_records",
            "Records read and waiting for everything received before them to be read",
            value=snap.held,
        )
        yield GaugeMetricFamily(
            "vasscm_arrival_oldest_wait_seconds",
            "How long the longest-waiting of those records has waited",
            value=snap.oldest_wait_s,
        )
        yield GaugeMetricFamily(
            "vasscm_arrival_paused_partitions",
            "Input partitions paused because their tracker partition holds many records",
            value=snap.paused,
        )
        yield GaugeMetricFamily(
            "vasscm_outbox_waiting_records",
            "Outputs waiting for the state change they report to be on the broker",
            value=snap.outbox,
        )

    def _families(self, groups: list[GroupStats], now_ms: int) -> Iterator[Metric]:
        labels = ("site", "direction", "stage")
        count = GaugeMetricFamily(
            "vasscm_containers", "Open visits now in each stage", labels=labels
        )
        oldest = GaugeMetricFamily(
            "vasscm_stage_oldest_seconds",
            "Age in its stage of the oldest container in each stage (0 when none)",
            labels=labels,
        )
        stalled = GaugeMetricFamily(
            "vasscm_stalled_containers",
            "Open visits older in their stage than its stall threshold",
            labels=labels,
        )
        by_key: dict[tuple[str, str, str], list[float]] = {}
        for g in groups:
            key = (self._sites(g.group.site), g.group.direction, g.group.stage)
            age = 0.0 if g.oldest_since_ms is None else max(0, now_ms - g.oldest_since_ms) / 1000
            prior = by_key.get(key)
            if prior is None:
                by_key[key] = [g.containers, age, g.stalled]
            else:  # several sites capped into "other"
                prior[0] += g.containers
                prior[1] = max(prior[1], age)
                prior[2] += g.stalled
        # Every stage of every site seen, zeros included: a stage that empties reads
        # 0 rather than vanishing, and the series count does not follow the traffic.
        for site in self._sites.seen:
            for direction in _DIRECTIONS:
                for stage in _OPEN_STAGES:
                    by_key.setdefault((site, direction, stage), [0, 0.0, 0])
        for key in sorted(by_key):
            n, age, s = by_key[key]
            count.add_metric(key, n)
            oldest.add_metric(key, age)
            stalled.add_metric(key, s)
        yield count
        yield oldest
        yield stalled
        yield self._waiting(groups)

    def _waiting(self, groups: list[GroupStats]) -> Metric:
        """Contract 8.1: arrived open visits by the party they wait on."""
        waiting = GaugeMetricFamily(
            "vasscm_waiting_containers",
            "Open visits that have arrived, by the party they wait on now: declarant "
            "(no channel yet), scan, customs, owner (released, not exited)",
            labels=("site", "direction", "waiting_on"),
        )
        by_key: dict[tuple[str, str, str], int] = {}
        for g in groups:
            if g.group.waiting_on:  # "" before arrival: counted by stage, not here
                key = (self._sites(g.group.site), g.group.direction, g.group.waiting_on)
                by_key[key] = by_key.get(key, 0) + g.containers
        for site in self._sites.seen:  # zeros included, as for the stages
            for direction in _DIRECTIONS:
                for party in WAITING_ON:
                    by_key.setdefault((site, direction, party), 0)
        for key in sorted(by_key):
            waiting.add_metric(key, by_key[key])
        return waiting
