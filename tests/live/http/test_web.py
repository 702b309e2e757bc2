"""The worker's HTTP endpoints, served by aiohttp over the worker's real lookups.

The lookups read a real publisher (yards, boards, the visits table, the recent
window) fed through the core, without faust or a broker; the endpoints on a live
worker are exercised by the demo's end-to-end test."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from factories import CONTAINER, OTHER_CONTAINER, ROUTES, T0, at
from jsonschema import Draft202012Validator
from prometheus_client import Counter
from webcore import Core

from vasscm.dcsa.subscriptions import (
    Subscription,
    new_subscription,
    with_new_secret,
)
from vasscm.live.http.server import DASHBOARD, build_web

IMPORT = ROUTES["cai-lan-import"]
OPENAPI = yaml.safe_load((DASHBOARD.parent / "openapi.yaml").read_text())


@pytest.fixture
async def core() -> Core:
    c = Core()
    # Released, still in the yard; and another discharged long ago, never released,
    # that left without release on day 2 (an EXIT_WITHOUT_RELEASE alert).
    await c.add(CONTAINER, [IMPORT.arrive(T0), IMPORT.event("ELIGIBLE", at(hours=2))])
    await c.add(
        OTHER_CONTAINER,
        [
            IMPORT.arrive(T0, container_no=OTHER_CONTAINER),
            IMPORT.leave(at(days=2), container_no=OTHER_CONTAINER),
        ],
    )
    await c.add("MSCU7654329", [IMPORT.arrive(at(hours=1), container_no="MSCU7654329")])
    return c


@pytest.fixture
async def client(core: Core) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    async with TestClient(TestServer(build_web(core.lookups))) as c:
        yield c


def conforms(path: str, status: int, body: Any) -> None:
    """The body matches the response schema openapi.yaml gives for this path."""
    operation = OPENAPI["paths"][path]["get"]
    media = operation["responses"][str(status)]["content"]["application/json"]
    # References (#/components/...) resolve against this root, as in the document.
    schema = {**media["schema"], "components": OPENAPI["components"]}
    errors = sorted(Draft202012Validator(schema).iter_errors(body), key=str)
    assert [] == [e.message for e in errors]


async def test_healthz_answers_while_not_ready(client: TestClient, core: Core) -> None:  # type: ignore[type-arg]
    """Liveness is the process serving; readiness waits for partitions."""
    assert 200 == (await client.get("/healthz")).status
    response = await client.get("/readyz")
    assert 503 == response.status
    conforms("/readyz", 503, await response.json())
    core.readiness.assigned = True
    assert 200 == (await client.get("/readyz")).status


async def test_metrics_are_served_from_the_private_registry(
    client: TestClient,  # type: ignore[type-arg]
    core: Core,
) -> None:
    """/metrics is the Prometheus text format of the worker's own registry."""
    Counter("vasscm_probe", "a test counter", registry=core.lookups.registry).inc(3)
    response = await client.get("/metrics")
    assert 200 == response.status
    assert response.content_type.startswith("text/plain")
    assert "vasscm_probe_total 3.0" in await response.text()


@pytest.mark.parametrize("prefix", ["", "/api"])
async def test_container_lookup_returns_visits_with_their_timeline(
    client: TestClient,  # type: ignore[type-arg]
    prefix: str,
) -> None:
    """Lower case input is normalised; the visit is the core's view with its events."""
    response = await client.get(f"{prefix}/containers/{CONTAINER.lower()}")
    assert 200 == response.status
    body = await response.json()
    conforms("/api/containers/{container_no}", 200, body)
    assert CONTAINER == body["container_no"]
    assert "RELEASED" == body["visit"]["stage"]
    assert "2025-03-03T10:00:00.000Z" == body["visit"]["stage_since"]
    assert ["DISCHARGED", "ELIGIBLE"] == [e["type"] for e in body["visit"]["timeline"]]


async def test_unknown_container_is_a_clean_404(client: TestClient) -> None:  # type: ignore[type-arg]
    """A valid number this worker holds nothing for."""
    response = await client.get("/api/containers/TGHU1234567")
    assert 404 == response.status
    body = await response.json()
    conforms("/api/containers/{container_no}", 404, body)
    assert {"error": "not found", "container_no": "TGHU1234567"} == body


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
    response = await client.get(f"/api/containers/{raw}")
    assert 400 == response.status
    conforms("/api/containers/{container_no}", 400, await response.json())
    text = await response.text()
    assert "invalid container_no" in text
    assert problem in text
    assert "<script" not in text
    assert "3054384" not in text
    assert "nonsense" not in text


async def test_overview_counts_containers_per_site_direction_and_stage(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    """Two in the yard: one RELEASED, one AWAITING_RELEASE for 71 h (stalled after 48)."""
    body = await (await client.get("/api/overview")).json()
    conforms("/api/overview", 200, body)
    got = {(r["stage"], r["containers"], r["stalled"]) for r in body["stages"]}
    assert {("RELEASED", 1, 0), ("AWAITING_RELEASE", 1, 1)} == got


async def test_overview_tells_no_time_before_the_event_clock_has_one(core: Core) -> None:
    """Before any record is applied an event clock has no time: ``now`` is null, not the
    start of the accepted range (a client dating its events by it, the demo test once,
    made visits of the year 2000 that expired at the next event)."""
    core.lookups.clock_known = lambda: False
    async with TestClient(TestServer(build_web(core.lookups))) as c:
        body = await (await c.get("/api/overview")).json()
    conforms("/api/overview", 200, body)
    assert body["now"] is None


async def test_stalled_list_is_sorted_oldest_first(client: TestClient) -> None:  # type: ignore[type-arg]
    body = await (await client.get("/api/stalled?limit=10")).json()
    conforms("/api/stalled", 200, body)
    [stalled] = body["stalled"]
    assert ("MSCU7654329", "AWAITING_RELEASE") == (stalled["container_no"], stalled["stage"])
    assert 71 * 3600 == stalled["age_seconds"]


async def test_releases_and_alerts_of_the_recent_window(client: TestClient) -> None:  # type: ignore[type-arg]
    """The exit without release has no release segment; its alert is listed."""
    releases = await (await client.get("/api/releases?hours=72")).json()
    conforms("/api/releases", 200, releases)
    assert [] == releases["groups"]  # the only exit had no release
    alerts = await (await client.get("/api/alerts")).json()
    conforms("/api/alerts", 200, alerts)
    assert "EXIT_WITHOUT_RELEASE" in {a["kind"] for a in alerts["alerts"]}


async def test_the_stalled_list_counts_all_and_filters(core: Core) -> None:
    """``total`` counts every stalled visit that matches, whatever the limit;
    ``by_stage`` counts per stage; site, direction and stage narrow the list."""
    for i, no in enumerate(["TGHU1234567", "TGHU1234572", "TGHU1234588"]):
        await core.add(no, [ROUTES["mong-cai-export"].arrive(at(hours=i), container_no=no)])
    async with TestClient(TestServer(build_web(core.lookups))) as c:
        every = await (await c.get("/api/stalled?limit=2")).json()
        conforms("/api/stalled", 200, every)
        assert (len(every["stalled"]), every["total"]) == (2, 4)
        assert every["by_stage"] == {"AWAITING_RELEASE": 4}
        border = await (await c.get("/api/stalled?site=mong-cai&direction=export")).json()
        assert (border["total"], {s["site"] for s in border["stalled"]}) == (3, {"mong-cai"})
        none = await (await c.get("/api/stalled?stage=HELD")).json()
        assert (none["total"], none["by_stage"]) == (0, {"AWAITING_RELEASE": 4})
        imports = await (await c.get("/api/alerts?site=cai-lan&severity=critical")).json()
        assert {a["kind"] for a in imports["alerts"]} == {"EXIT_WITHOUT_RELEASE"}
        assert (await (await c.get("/api/alerts?site=mong-cai")).json())["alerts"] == []


async def test_sites_and_texts_for_the_page(client: TestClient) -> None:  # type: ignore[type-arg]
    """The registry by code; the texts in ?lang=, else the browser's language."""
    sites = await (await client.get("/api/sites")).json()
    conforms("/api/sites", 200, sites)
    assert sites["sites"]["cai-lan"]["name"]["vi"] == "Cảng Cái Lân"
    vi = await (await client.get("/api/texts?lang=vi")).json()
    conforms("/api/texts", 200, vi)
    assert vi["texts"]["Containers per stage"] == "Container theo trạng thái"
    browser = await client.get("/api/texts", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert ((await browser.json())["lang"], (await browser.json())["texts"]) == ("en", {})
    assert (await (await client.get("/api/texts")).json())["lang"] == "vi"  # the default


@pytest.mark.parametrize(
    "query",
    [
        "/api/stalled?limit=0",
        "/api/stalled?limit=x",
        "/api/releases?hours=1000",
        "/api/stalled?stage=GONE",
        "/api/stalled?site=Cai%20Lan",
        "/api/alerts?severity=loud",
        "/api/texts?lang=fr",
    ],
)
async def test_bad_query_parameters_are_a_400(client: TestClient, query: str) -> None:  # type: ignore[type-arg]
    response = await client.get(query)
    assert 400 == response.status
    conforms(query.split("?")[0], 400, await response.json())


async def test_dashboard_is_served_with_a_strict_content_security_policy(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    """No inline script may run, nothing loads from another origin."""
    response = await client.get("/")
    assert 200 == response.status
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert '<script src="/static/app.js"' in await response.text()
    assert 200 == (await client.get("/static/app.js")).status
    assert 200 == (await client.get("/static/style.css")).status


class Book:
    """DCSA subscriptions kept in memory, as the worker's Webhooks answers the routes."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.connected.set()
        self.subs: dict[str, Subscription] = {}

    async def add(self, body: Any) -> Subscription:
        sub = new_subscription(body)
        self.subs[sub.subscriptionID] = sub
        return sub

    async def remove(self, sub_id: str) -> bool:
        return self.subs.pop(sub_id, None) is not None

    async def new_secret(self, sub_id: str, body: Any) -> bool:
        if sub_id not in self.subs:
            return False
        self.subs[sub_id] = with_new_secret(self.subs[sub_id], body)
        return True

    def statuses(self) -> Iterable[tuple[Subscription, dict[str, Any] | None]]:
        return [(s, None) for s in self.subs.values()]


async def test_subscriptions_are_made_listed_and_deleted_over_http(core: Core) -> None:
    book = Book()
    async with TestClient(TestServer(build_web(core.lookups, subscriptions=book))) as c:
        secret = base64.b64encode(b"0123456789abcdef").decode()
        made = await c.post(
            "/dcsa/subscriptions", json={"callbackUrl": "http://h/x", "secret": secret}
        )
        assert made.status == 201
        sub = await made.json()
        assert "secret" not in sub
        assert sub["callbackUrl"] == "http://h/x"
        listed = await (await c.get("/dcsa/subscriptions")).json()
        assert [s["subscriptionID"] for s in listed] == [sub["subscriptionID"]]
        one = await c.get(f"/dcsa/subscriptions/{sub['subscriptionID']}")
        assert one.status == 200
        assert "secret" not in await one.json()
        bad = await c.post("/dcsa/subscriptions", json={"callbackUrl": "http://h/x", "secret": "?"})
        assert bad.status == 400
        assert (await bad.json())["field"] == "secret"
        assert (await c.post("/dcsa/subscriptions", data=b"{nope")).status == 400
        path = f"/dcsa/subscriptions/{sub['subscriptionID']}/secret"
        other = base64.b64encode(b"fedcba9876543210").decode()
        assert (await c.put(path, json={"secret": other})).status == 204
        assert book.subs[sub["subscriptionID"]].key == b"fedcba9876543210"
        refused = await c.put(path, json={"secret": "short"})
        assert refused.status == 400
        assert (await refused.json())["field"] == "secret"
        assert (
            await c.put("/dcsa/subscriptions/nope/secret", json={"secret": other})
        ).status == 404
        assert (await c.delete(f"/dcsa/subscriptions/{sub['subscriptionID']}")).status == 204
        assert (await c.delete(f"/dcsa/subscriptions/{sub['subscriptionID']}")).status == 404
        assert await (await c.get("/dcsa/subscriptions")).json() == []
        book.connected.clear()  # starting: not on the broker yet
        later = await c.post(
            "/dcsa/subscriptions", json={"callbackUrl": "http://h/", "secret": secret}
        )
        assert later.status == 503
        assert later.headers["Retry-After"] == "1"


def test_openapi_documents_exactly_the_routes_served(core: Core) -> None:
    """Every route is in openapi.yaml, with its method, and every documented one is
    served (POST /dcsa/events where the worker has an inbox for DCSA events, the DCSA
    subscriptions where it has DCSA out)."""

    async def inbox(docs: list[bytes]) -> None:
        return None

    app = build_web(core.lookups, inbox=inbox, subscriptions=Book())
    served = {
        (r.resource.canonical, r.method.lower())
        for r in app.router.routes()
        if r.resource is not None
        and r.method in ("GET", "POST", "PUT", "DELETE")
        and not r.resource.canonical.startswith("/static")
    }
    documented = {(path, method) for path, ops in OPENAPI["paths"].items() for method in ops}
    assert served == documented


def test_dashboard_script_writes_no_html() -> None:
    """Values reach the page through textContent only: no innerHTML, no document.write."""
    script = (DASHBOARD / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script


# --- bearer token ----------------------------------------------------------------------------

TOKEN = "s3cret-token-0123456789"


@pytest.fixture
async def guarded(core: Core) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    async with TestClient(TestServer(build_web(core.lookups, TOKEN))) as c:
        yield c


@pytest.mark.parametrize(
    "path", ["/", "/readyz", "/metrics", "/api/overview", "/api/containers/CSQU3054383"]
)
async def test_a_token_guards_every_endpoint_but_healthz(guarded: TestClient, path: str) -> None:  # type: ignore[type-arg]
    """No token or a wrong one: 401 naming the scheme; the right one: served."""
    assert 200 == (await guarded.get("/healthz")).status
    refused = await guarded.get(path)
    assert 401 == refused.status
    assert "Bearer" in refused.headers["WWW-Authenticate"]
    wrong = await guarded.get(path, headers={"Authorization": "Bearer not-it"})
    assert 401 == wrong.status
    assert "not-it" not in await wrong.text()
    ok = await guarded.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status in (200, 503)  # /readyz answers 503 here: not ready, but allowed


async def test_the_dashboard_trades_the_token_for_a_strict_cookie(guarded: TestClient) -> None:  # type: ignore[type-arg]
    """/?token=... sets an HttpOnly, SameSite=Strict cookie and drops the token from the
    address; the page's own requests then pass with the cookie alone."""
    response = await guarded.get(f"/?token={TOKEN}", allow_redirects=False)
    assert 303 == response.status
    assert "/" == response.headers["Location"]
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert 200 == (await guarded.get("/api/overview")).status  # the client kept the cookie
    guarded.session.cookie_jar.clear()
    assert 401 == (await guarded.get("/?token=wrong", allow_redirects=False)).status
    assert 401 == (await guarded.get("/api/overview")).status
