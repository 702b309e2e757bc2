"""What the web server and the metrics read from a worker: read-only views over its
table, boards, recent outputs and consumer positions (vasscm.live.http.server.Lookup)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from vasscm.arrival import ArrivalOrder
from vasscm.board import merge_stats, stage_rows, stalled_rows, waiting_rows
from vasscm.durations import from_ms, to_ms
from vasscm.events import VisitState, format_ts
from vasscm.late import late_rows
from vasscm.live.http.gauges import Snapshot
from vasscm.live.stream.intake import Intake, wall_ms
from vasscm.live.stream.publisher import Publisher
from vasscm.live.stream.readiness import Readiness
from vasscm.tracking import timelines

__all__ = ["Lookups"]


class Lookups:
    """Reads only: ``now`` is the clock stalls are judged by, ``highwater`` a
    partition's end as the consumer last heard it (None when unknown)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        intake: Intake,
        publisher: Publisher,
        arrival: ArrivalOrder,
        readiness: Readiness,
        *,
        now: Callable[[], datetime],
        highwater: Callable[[Any], int | None],
        clock_known: Callable[[], bool] = lambda: True,
        paused: Callable[[], int] = lambda: 0,
    ) -> None:
        self.registry = registry
        self.intake = intake
        self.publisher = publisher
        self.arrival = arrival
        self.readiness = readiness
        self.now = now
        self.clock_known = clock_known
        self.highwater = highwater
        self.paused = paused  # input partitions the tracker paused (arrival order)
        self._samples: deque[tuple[float, int, int]] = deque(maxlen=11)  # ~10 s of tallies

    @property
    def ready(self) -> bool:
        return self.readiness.ready

    @property
    def not_ready_because(self) -> str | None:
        return self.readiness.not_ready_because

    @property
    def assignments(self) -> int:
        return self.readiness.assignments

    def sample(self) -> None:
        """Once a second (the stall timer): the tallies behind the rates shown."""
        tally = self.intake.tally
        self._samples.append((time.monotonic(), tally["events"], tally["rejected"]))

    def visits_of(self, container_no: str) -> list[tuple[VisitState, list[dict[str, Any]]]]:
        """The container's visits held here with their events (empty when unknown); an
        open visit with its forecast (contract 8.2)."""
        state = self.publisher.load(container_no)
        if state is None:
            return []
        held = list(timelines(state))
        forecasts = self.publisher.forecasts
        if forecasts is not None and held:
            view, events = held[-1]
            held[-1] = (forecasts.attach(view), events)
        return held

    def late(self, limit: int, **where: str | None) -> dict[str, Any]:
        """Open visits whose median forecast lies past their target, at the last sweep
        (vasscm.late); ``where``: site, direction."""
        forecasts = self.publisher.forecasts
        entries = [] if forecasts is None else forecasts.late
        out = late_rows(entries, limit, **where)
        as_of = None if forecasts is None else forecasts.as_of
        out["as_of"] = None if as_of is None else format_ts(from_ms(as_of))
        return out

    def overview(self) -> dict[str, Any]:
        """Containers per site and stage, and the pipeline's health."""
        snap = self.snapshot()
        events_rate = rejected_rate = 0.0
        if len(self._samples) >= 2:
            (t0, e0, r0), (t1, e1, r1) = self._samples[0], self._samples[-1]
            if t1 > t0:
                events_rate, rejected_rate = (e1 - e0) / (t1 - t0), (r1 - r0) / (t1 - t0)
        tally = self.intake.tally
        return {
            # null until the event clock has a time: a made-up one (the start of the
            # accepted range) misleads a person, and a client that dates events by it
            "now": format_ts(from_ms(snap.now_ms)) if self.clock_known() else None,
            "ready": snap.ready,
            "stages": stage_rows(snap.groups, snap.now_ms),
            "waiting": waiting_rows(snap.groups),
            "health": {
                "events_per_second": round(events_rate, 1),
                "rejected_per_second": round(rejected_rate, 2),
                "lag_records": sum(snap.lag.values()),
                "partitions": snap.partitions,
                "events_total": tally["events"],
                "rejected_total": tally["rejected"],
                "held_records": snap.held,
            },
        }

    def stalled(self, limit: int, **where: str | None) -> dict[str, Any]:
        """Stalled open visits, oldest in its stage first; ``where``: site, direction,
        stage (vasscm.board.stalled_rows)."""
        now = to_ms(self.now())
        return stalled_rows(self.publisher.boards(), now, self.publisher.policy, limit, **where)

    def releases(self, hours: float) -> dict[str, Any]:
        return self.publisher.recent.releases(self.now(), timedelta(hours=hours))

    def alerts(self, limit: int, **where: str | None) -> list[dict[str, Any]]:
        """The latest alerts published here, newest first; ``where``: site, direction,
        severity, status."""
        wanted = {k: v for k, v in where.items() if v is not None}
        newest = (
            a
            for a in reversed(list(self.publisher.recent.alerts))
            if all(getattr(a, k) == v for k, v in wanted.items())
        )
        return [a.model_dump(mode="json") for _, a in zip(range(limit), newest, strict=False)]

    def snapshot(self) -> Snapshot:
        """Current state for the gauges: this worker's partitions only."""
        now_ms = to_ms(self.now())
        policy = self.publisher.policy
        groups = merge_stats(b.stats(now_ms, policy) for b in self.publisher.boards())
        lag: dict[str, int] = {}
        for tp, offset in list(self.intake.positions.items()):
            highwater = self.highwater(tp)
            if highwater is not None:
                lag[tp.topic] = lag.get(tp.topic, 0) + max(0, highwater - offset - 1)
        return Snapshot(
            now_ms,
            groups,
            lag,
            partitions=len(self.publisher.yards),
            ready=self.ready,
            held=self.arrival.held(),
            oldest_wait_s=self.arrival.oldest_wait(wall_ms()) / 1000,
            outbox=self.publisher.outbox.pending,
            paused=self.paused(),
        )
