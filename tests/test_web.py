"""The worker's HTTP endpoints, served by aiohttp over the tracking core's views."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp.test_utils import TestClient, TestServer
from factories import CONTAINER, ROUTES, T0, at, run_events
from prometheus_client import CollectorRegistry, Counter

from vasscm.events import VisitState
from vasscm.live.web import build_web
from vasscm.tracking import visit_views

IMPORT = ROUTES["cai-lan-import"]


@dataclass
class Core:
    """A Lookup over real core states (what the pipeline reads from its table)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    ready: bool = False
    visits: dict[str, list[VisitState]] = field(default_factory=dict)

    def visits_of(self, container_no: str) -> list[VisitState] | None:
        return self.visits.get(container_no)


@pytest.fixture
def core() -> Core:
    run = run_events([IMPORT.arrive(T0), IMPORT.event("ELIGIBLE", at(hours=2))])
    assert run.state is not None
    return Core(visits={CONTAINER: list(visit_views(run.state))})


@pytest.fixture
async def client(core: Core) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    async with TestClient(TestServer(build_web(core))) as c:
        yield c


async def test_healthz_answers_while_not_ready(client: TestClient, core: Core) -> None:  # type: ignore[type-arg]
    """Liveness is the process serving; readiness waits for partitions."""
    assert 200 == (await client.get("/healthz")).status
    assert 503 == (await client.get("/readyz")).status
    core.ready = True
    assert 200 == (await client.get("/readyz")).status


async def test_metrics_are_served_from_the_private_registry(
    client: TestClient,  # type: ignore[type-arg]
    core: Core,
) -> None:
    """/metrics is the Prometheus text format of the worker's own registry."""
    Counter("vasscm_probe", "a test counter", registry=core.registry).inc(3)
    response = await client.get("/metrics")
    assert 200 == response.status
    assert response.content_type.startswith("text/plain")
    assert "vasscm_probe_total 3.0" in await response.text()


async def test_container_lookup_returns_the_current_visit(client: TestClient) -> None:  # type: ignore[type-arg]
    """Lower case input is normalised; the visit is the core's view, as JSON."""
    response = await client.get(f"/containers/{CONTAINER.lower()}")
    assert 200 == response.status
    body = await response.json()
    assert CONTAINER == body["container_no"]
    assert "RELEASED" == body["visit"]["stage"]
    assert "2025-03-03T10:00:00.000Z" == body["visit"]["stage_since"]


async def test_unknown_container_is_a_clean_404(client: TestClient) -> None:  # type: ignore[type-arg]
    """A valid number this worker holds nothing for."""
    response = await client.get("/containers/MSCU1234566")
    assert 404 == response.status
    assert {"error": "not found", "container_no": "MSCU1234566"} == await response.json()


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("CSQU3054384", "last digit should be 3"),
        ("nonsense", "must be 11 characters"),
        ("%3Cscript%3Ealert(1)%3C%2Fscript%3E", "must be 11 characters"),
    ],
)
async def test_malformed_number_is_a_400_that_does_not_echo_it(
    client: TestClient,  # type: ignore[type-arg]
    raw: str,
    problem: str,
) -> None:
    """A wrong check digit or garbage: 400, a reason, and never the input itself."""
    response = await client.get(f"/containers/{raw}")
    assert 400 == response.status
    text = await response.text()
    assert "invalid container_no" in text
    assert problem in text
    assert "<script" not in text
    assert "3054384" not in text
    assert "nonsense" not in text
