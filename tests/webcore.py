"""The worker's real lookups over its real publisher and yards, fed through the core
without faust or a broker: what the web tests read is what a worker would show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from factories import at
from prometheus_client import CollectorRegistry

from vasscm.arrival import ArrivalOrder
from vasscm.durations import to_ms
from vasscm.events import MAX_EVENT_BYTES
from vasscm.forecast import Forecaster
from vasscm.live.http.lookups import Lookups
from vasscm.live.http.metrics import build_metrics
from vasscm.live.stream.forecasts import Forecasts
from vasscm.live.stream.intake import Intake
from vasscm.live.stream.publisher import Publisher
from vasscm.live.stream.readiness import Readiness
from vasscm.live.stream.tracker import Origin, partition_for
from vasscm.topics import CLEARANCES, PORT_EVENTS
from vasscm.tracking import DEFAULT_POLICY

NOW = at(days=3)


class Table(dict[str, bytes]):
    """The visits table as the publisher uses it, without faust."""

    def __init__(self) -> None:
        super().__init__()
        self.last_write: dict[int | None, Any] = {}

    def write(self, partition: int, key: str, value: bytes | None) -> None:
        if value is None:
            self.pop(key, None)
        else:
            self[key] = value


@dataclass
class Core:
    """The worker's real lookups over its real publisher and yards, without faust: what
    the handlers read is what a worker would show for the same events."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    readiness: Readiness = field(default_factory=lambda: Readiness(app=None))  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        self.intake = Intake(None, build_metrics(self.registry), MAX_EVENT_BYTES)  # type: ignore[arg-type]
        self.publisher = Publisher(self.intake, Table(), DEFAULT_POLICY)  # type: ignore[arg-type]
        self.lookups = Lookups(
            self.registry,
            self.intake,
            self.publisher,
            ArrivalOrder(hop_partitions=1, grace_ms=0),
            self.readiness,
            now=lambda: NOW,
            highwater=lambda tp: None,
        )
        # Contract 8.2: nothing learned until forecast() is called
        self.forecasts = Forecasts(
            Forecaster(), self.publisher.boards, lambda: to_ms(NOW), DEFAULT_POLICY
        )
        self.publisher.forecasts = self.forecasts

    async def forecast(self) -> int:
        """Learn from the clearance records the steps so far put out (as the worker's
        feed reads them off the topic), then sweep; how many were learned."""
        self.publisher.batch.close()
        for _, sends in list(self.publisher.outbox._items):
            for topic, _key, value in sends:
                if topic == CLEARANCES:
                    self.forecasts.learn(value)
        await self.forecasts.sweep()
        return self.forecasts.read

    async def add(self, container_no: str, events: list[Any]) -> None:
        """Apply the container's events as the tracker does, in order, each judged at
        the latest event time so far (the event clock)."""
        now = None
        origin = Origin(PORT_EVENTS, partition_for(container_no, 8), 0, None, None, None)
        for event in events:
            now = event.occurred_at if now is None else max(now, event.occurred_at)
            self.publisher.event(event, event.occurred_at, origin, now)
