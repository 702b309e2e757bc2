"""The worker's HTTP endpoints: metrics, health, the operator dashboard and its JSON API.

Our own aiohttp application rather than faust's web stack: faust starts its web
server only after table recovery, and a liveness probe must answer while a large
state is being recovered. Handlers only translate HTTP to the pipeline's read-only
views and back; ``openapi.yaml`` beside this module documents every route (a test
holds the two together).

- ``GET /`` — the dashboard (``dashboard/``: plain HTML, CSS and a small script,
  no build step, nothing from a CDN; a strict Content-Security-Policy).
- ``GET /metrics`` — Prometheus text format (prometheus-client's aiohttp handler).
- ``GET /healthz`` — liveness; ``GET /readyz`` — 200 when partitions are assigned,
  tables recovered, the output topics declared and the broker answering, else 503 with
  the reason; ``assignments`` counts the assignments since start.
- ``GET /containers/{container_no}`` (also under ``/api/``) — the container's visits
  with their events; 400 for a malformed number (never echoed), 404 when unknown.
- ``GET /api/overview``, ``/api/stalled``, ``/api/releases``, ``/api/alerts`` (the last
  two filtered by ``site``, ``direction``, and ``stage`` or ``severity``/``status``).
- ``GET /api/sites`` — the site registry (names, kind, time zone); ``GET /api/texts``
  — the dashboard's texts in ``?lang=`` or the browser's language (vasscm.language).
- ``POST /dcsa/events`` — DCSA Track & Trace events (one object or an array, 2.2 or
  3.0), put on ``vasscm.dcsa-events`` as they came; 202 with those that the adapter
  will dead-letter and why (vasscm.dcsa), 400 for a body that is not JSON objects.
- ``POST /dcsa/subscriptions`` — a DCSA webhook subscription (``callbackUrl``, a
  Base64 ``secret``, filters): 201 with its id; ``GET`` lists them with this worker's
  delivery state, ``GET``/``DELETE /dcsa/subscriptions/{id}``, ``PUT
  /dcsa/subscriptions/{id}/secret`` a new secret (vasscm.live.dcsa_out.webhooks).

With a token (``VASSCM_WEB_TOKEN``), every route but ``/healthz`` wants
``Authorization: Bearer <token>``; a browser opens ``/?token=<token>`` once and gets
an HttpOnly, SameSite=Strict cookie instead (then the URL loses the token).
"""

from __future__ import annotations

import asyncio
import hmac
import re
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, Final, Protocol

import orjson
from aiohttp import web
from mode import Service
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

from vasscm.dcsa import read_dcsa
from vasscm.dcsa.subscriptions import Subscription, SubscriptionError
from vasscm.events import (
    SITE_PATTERN,
    AlertStatus,
    Direction,
    Rejection,
    Severity,
    Stage,
    VisitState,
    parse_container_no,
)
from vasscm.language import DEFAULT_LANGUAGE, LANGUAGES, negotiate, texts
from vasscm.sites import DEFAULT_TZ, Registry, load_registry

__all__ = ["DASHBOARD", "Inbox", "Lookup", "WebServer", "build_web"]

#: Puts raw DCSA documents on vasscm.dcsa-events; returns once they are on the broker.
Inbox = Callable[[list[bytes]], Awaitable[None]]


class Subscriptions(Protocol):
    """DCSA webhook subscriptions (vasscm.live.dcsa_out.webhooks.Webhooks)."""

    connected: asyncio.Event

    async def add(self, body: Any) -> Subscription: ...

    async def remove(self, sub_id: str) -> bool: ...

    async def new_secret(self, sub_id: str, body: Any) -> bool: ...

    def statuses(self) -> Iterable[tuple[Subscription, dict[str, Any] | None]]: ...


_DCSA_BATCH: Final = 1000  # documents one POST may carry

DASHBOARD: Final = Path(__file__).parent / "dashboard"
# Everything the page loads comes from here; no inline script can run.
_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class Lookup(Protocol):
    """What the handlers read from the pipeline."""

    registry: CollectorRegistry

    @property
    def ready(self) -> bool: ...

    @property
    def not_ready_because(self) -> str | None: ...

    @property
    def assignments(self) -> int:
        """Times partitions were assigned and tables recovered since the worker started."""

    def visits_of(self, container_no: str) -> list[tuple[VisitState, list[dict[str, Any]]]]:
        """The container's visits held here (oldest first) with their events."""

    def overview(self) -> dict[str, Any]: ...

    def stalled(self, limit: int, **where: str | None) -> dict[str, Any]: ...

    def late(self, limit: int, **where: str | None) -> dict[str, Any]: ...

    def releases(self, hours: float) -> dict[str, Any]: ...

    def alerts(self, limit: int, **where: str | None) -> list[dict[str, Any]]: ...


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(body, option=orjson.OPT_NAIVE_UTC),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


class _BadQuery(ValueError):
    pass


class _BadBody(ValueError):
    pass


async def _body(request: web.Request) -> Any:
    """The request's JSON body; a body that is not JSON is a 400 (the middleware)."""
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise _BadBody(f"the body is not JSON: {exc}") from None


def _number(request: web.Request, name: str, default: float, low: float, high: float) -> float:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise _BadQuery(f"{name} must be a number between {low:g} and {high:g}") from None
    if not low <= value <= high:
        raise _BadQuery(f"{name} must be a number between {low:g} and {high:g}")
    return value


_CHOICES: Final = {
    "direction": frozenset(d.value for d in Direction),
    "stage": frozenset(s.value for s in Stage),
    "severity": frozenset(s.value for s in Severity),
    "status": frozenset(s.value for s in AlertStatus),
}


def _filters(request: web.Request, *names: str) -> dict[str, str | None]:
    """The filter parameters given (site, direction, ...), each checked."""
    found: dict[str, str | None] = {}
    for name in names:
        raw = request.query.get(name) or None
        if raw is not None:
            allowed = _CHOICES.get(name)
            if name == "site" and not re.match(SITE_PATTERN, raw):
                raise _BadQuery("site must be a site code like cai-lan")
            if allowed is not None and raw not in allowed:
                raise _BadQuery(f"{name} must be one of {', '.join(sorted(allowed))}")
        found[name] = raw
    return found


_COOKIE: Final = "vasscm_token"
_OPEN: Final = frozenset({"/healthz"})


def _token_middleware(token: str) -> Any:
    expected = token.encode()

    def matches(candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(candidate.encode(), expected)

    @web.middleware
    async def require_token(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path in _OPEN:
            response: web.StreamResponse = await handler(request)
            return response
        header = request.headers.get("Authorization", "")
        bearer = header[7:] if header[:7].lower() == "bearer " else None
        if matches(bearer) or matches(request.cookies.get(_COOKIE)):
            response = await handler(request)
            return response
        if request.path == "/" and matches(request.query.get("token")):
            found = web.HTTPSeeOther("/")  # the token leaves the address bar and history
            found.set_cookie(_COOKIE, token, httponly=True, samesite="Strict", path="/")
            raise found
        return web.json_response(
            {"error": "unauthorized", "detail": "a bearer token is required"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="vasscm"'},
        )

    return require_token


def build_web(
    lookup: Lookup,
    token: str | None = None,
    *,
    sites: Registry | None = None,
    language: str = DEFAULT_LANGUAGE,
    inbox: Inbox | None = None,
    dcsa_site: str | None = None,
    subscriptions: Subscriptions | None = None,
) -> web.Application:
    """The routes over ``lookup``; ``sites`` names the sites on the dashboard, which
    speaks ``language`` to a browser that asks for neither of vasscm's languages.
    With ``inbox``, ``POST /dcsa/events`` takes DCSA events (``dcsa_site``: the site of
    those whose location the registry does not know)."""
    registry = sites if sites is not None else load_registry()

    async def dcsa_events(request: web.Request) -> web.Response:
        assert inbox is not None
        body = await _body(request)
        docs = body if isinstance(body, list) else [body]
        if not docs or len(docs) > _DCSA_BATCH or not all(isinstance(d, dict) for d in docs):
            detail = f"expected a DCSA event object or an array of 1..{_DCSA_BATCH} of them"
            return _json({"error": "bad request", "detail": detail}, 400)
        raws = [orjson.dumps(doc) for doc in docs]
        refused = []
        for index, raw in enumerate(raws):
            mapped = read_dcsa(raw, default_site=dcsa_site, sites=registry)
            if isinstance(mapped, Rejection):
                refused.append({"index": index, "field": mapped.field, "reason": mapped.reason})
        await inbox(raws)  # all of them: what cannot be mapped is dead-lettered there
        return _json({"received": len(raws), "dead_lettered": refused}, 202)

    def described(sub: Subscription, status: dict[str, Any] | None) -> dict[str, Any]:
        # This worker's share of the deliveries (the workers split the partitions).
        return {**sub.public(), "vasscmDelivery": status}

    async def subscribe(request: web.Request) -> web.Response:
        assert subscriptions is not None
        body = await _body(request)
        if not subscriptions.connected.is_set():
            unavailable = _json(
                {"error": "unavailable", "detail": "not connected to the broker yet"}, 503
            )
            unavailable.headers["Retry-After"] = "1"
            return unavailable
        try:
            sub = await subscriptions.add(body)
        except SubscriptionError as exc:
            return _json({"error": "bad request", "field": exc.field, "detail": str(exc)}, 400)
        return _json(sub.public(), 201)

    async def subscription_list(request: web.Request) -> web.Response:
        assert subscriptions is not None
        return _json([described(sub, status) for sub, status in subscriptions.statuses()])

    async def subscription(request: web.Request) -> web.Response:
        assert subscriptions is not None
        sub_id = request.match_info["subscription_id"]
        for sub, status in subscriptions.statuses():
            if sub.subscriptionID == sub_id:
                if request.method == "DELETE":
                    await subscriptions.remove(sub_id)
                    return web.Response(status=204)
                return _json(described(sub, status))
        return _json({"error": "not found", "detail": "no subscription with this id"}, 404)

    async def secret(request: web.Request) -> web.Response:
        assert subscriptions is not None
        body = await _body(request)
        try:
            found = await subscriptions.new_secret(request.match_info["subscription_id"], body)
        except SubscriptionError as exc:
            return _json({"error": "bad request", "field": exc.field, "detail": str(exc)}, 400)
        if not found:
            return _json({"error": "not found", "detail": "no subscription with this id"}, 404)
        return web.Response(status=204)

    async def healthz(request: web.Request) -> web.Response:
        return _json({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        if lookup.ready:
            return _json({"status": "ready", "assignments": lookup.assignments})
        why = lookup.not_ready_because or "not ready"
        return _json({"status": "not ready", "detail": why, "assignments": lookup.assignments}, 503)

    async def container(request: web.Request) -> web.Response:
        raw = request.match_info["container_no"]
        try:
            container_no = parse_container_no(raw)
        except ValueError as exc:
            # The problem without the input: a lookup answer may be shown in a page.
            detail = str(exc).replace(repr(raw), "the number")
            return _json({"error": "invalid container_no", "detail": detail}, 400)
        held = lookup.visits_of(container_no)
        if not held:
            return _json({"error": "not found", "container_no": container_no}, 404)
        visits = [{**v.model_dump(mode="json"), "timeline": events} for v, events in held]
        return _json({"container_no": container_no, "visit": visits[-1], "visits": visits})

    async def overview(request: web.Request) -> web.Response:
        return _json(lookup.overview())

    async def stalled(request: web.Request) -> web.Response:
        limit = int(_number(request, "limit", 100, 1, 1000))
        return _json(lookup.stalled(limit, **_filters(request, "site", "direction", "stage")))

    async def late(request: web.Request) -> web.Response:
        limit = int(_number(request, "limit", 100, 1, 1000))
        return _json(lookup.late(limit, **_filters(request, "site", "direction")))

    async def releases(request: web.Request) -> web.Response:
        return _json(lookup.releases(_number(request, "hours", 6, 0.1, 168)))

    async def alerts(request: web.Request) -> web.Response:
        limit = int(_number(request, "limit", 50, 1, 200))
        where = _filters(request, "site", "direction", "severity", "status")
        return _json({"alerts": lookup.alerts(limit, **where)})

    async def site_registry(request: web.Request) -> web.Response:
        return _json(
            {
                "default_tz": DEFAULT_TZ,
                "sites": {
                    code: {"name": site.names, "kind": site.kind, "branch": site.branches,
                           "tz": site.tz}
                    for code, site in sorted(registry.sites.items())
                },
            }
        )  # fmt: skip

    async def catalog(request: web.Request) -> web.Response:
        asked = request.query.get("lang")
        if asked is not None and asked not in LANGUAGES:
            raise _BadQuery(f"lang must be one of {', '.join(LANGUAGES)}")
        accepted = request.headers.get("Accept-Language", "").split(",")
        chosen = asked or negotiate(accepted, default=language)
        return _json({"lang": chosen, "languages": list(LANGUAGES), "texts": texts(chosen)})

    async def index(request: web.Request) -> web.FileResponse:
        return web.FileResponse(
            DASHBOARD / "index.html",
            headers={"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff"},
        )

    @web.middleware
    async def bad_query(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except _BadQuery as exc:
            return _json({"error": "bad query", "detail": str(exc)}, 400)
        except _BadBody as exc:
            return _json({"error": "bad request", "detail": str(exc)}, 400)
        return response

    middlewares = [bad_query] if token is None else [_token_middleware(token), bad_query]
    app = web.Application(middlewares=middlewares)
    app.router.add_get("/", index)
    app.router.add_static("/static/", DASHBOARD, show_index=False)
    app.router.add_get("/metrics", make_aiohttp_handler(lookup.registry))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/containers/{container_no}", container)
    app.router.add_get("/api/containers/{container_no}", container)
    app.router.add_get("/api/overview", overview)
    app.router.add_get("/api/stalled", stalled)
    app.router.add_get("/api/late", late)
    app.router.add_get("/api/releases", releases)
    app.router.add_get("/api/alerts", alerts)
    app.router.add_get("/api/sites", site_registry)
    app.router.add_get("/api/texts", catalog)
    if inbox is not None:
        app.router.add_post("/dcsa/events", dcsa_events)
    if subscriptions is not None:
        app.router.add_post("/dcsa/subscriptions", subscribe)
        app.router.add_get("/dcsa/subscriptions", subscription_list)
        app.router.add_get("/dcsa/subscriptions/{subscription_id}", subscription)
        app.router.add_delete("/dcsa/subscriptions/{subscription_id}", subscription)
        app.router.add_put("/dcsa/subscriptions/{subscription_id}/secret", secret)
    return app


class WebServer(Service):
    """Serves :func:`build_web` for the worker's whole life, on the host and port of
    faust's settings (read at start, after the command line has set them)."""

    def __init__(
        self,
        lookup: Lookup,
        conf: Any,
        token: str | None = None,
        *,
        sites: Registry | None = None,
        language: str = DEFAULT_LANGUAGE,
        inbox: Inbox | None = None,
        dcsa_site: str | None = None,
        subscriptions: Subscriptions | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lookup, self.conf, self._token = lookup, conf, token
        self._sites, self._language = sites, language
        self._inbox, self._dcsa_site = inbox, dcsa_site
        self._subscriptions = subscriptions
        self._runner: web.AppRunner | None = None

    async def on_start(self) -> None:
        host, port = self.conf.web_bind, self.conf.web_port
        app = build_web(
            self.lookup,
            self._token,
            sites=self._sites,
            language=self._language,
            inbox=self._inbox,
            dcsa_site=self._dcsa_site,
            subscriptions=self._subscriptions,
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        guarded = "bearer token required" if self._token else "no token"
        self.log.info("web server on http://%s:%s (%s)", host, port, guarded)

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
