"""The worker's HTTP endpoints: metrics, health, the operator dashboard and its JSON API.

Our own aiohttp application rather than faust's web stack: faust starts its web
server only after table recovery, and a liveness probe must answer while a large
state is being recovered. Handlers only translate HTTP to the pipeline's read-only
views and back; ``openapi.yaml`` beside this module documents every route (a test
holds the two together).

- ``GET /`` — the dashboard (``dashboard/``: plain HTML, CSS and a small script,
  no build step, nothing from a CDN; a strict Content-Security-Policy).
- ``GET /metrics`` — Prometheus text format (prometheus-client's aiohttp handler).
- ``GET /healthz`` — liveness; ``GET /readyz`` — 200 when partitions are assigned and
  tables recovered, else 503; ``assignments`` counts the assignments since start.
- ``GET /containers/{container_no}`` (also under ``/api/``) — the container's visits
  with their events; 400 for a malformed number (never echoed), 404 when unknown.
- ``GET /api/overview``, ``/api/stalled``, ``/api/releases``, ``/api/alerts``.

With a token (``VASSCM_WEB_TOKEN``), every route but ``/healthz`` wants
``Authorization: Bearer <token>``; a browser opens ``/?token=<token>`` once and gets
an HttpOnly, SameSite=Strict cookie instead (then the URL loses the token).
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any, Final, Protocol

import orjson
from aiohttp import web
from mode import Service
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

from vasscm.events import VisitState, parse_container_no

__all__ = ["DASHBOARD", "Lookup", "WebServer", "build_web"]

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

    def stalled(self, limit: int) -> list[dict[str, Any]]: ...

    def releases(self, hours: float) -> dict[str, Any]: ...

    def alerts(self, limit: int) -> list[dict[str, Any]]: ...


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(body, option=orjson.OPT_NAIVE_UTC),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


class _BadQuery(ValueError):
    pass


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


def build_web(lookup: Lookup, token: str | None = None) -> web.Application:
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
        return _json({"stalled": lookup.stalled(limit)})

    async def releases(request: web.Request) -> web.Response:
        return _json(lookup.releases(_number(request, "hours", 6, 0.1, 168)))

    async def alerts(request: web.Request) -> web.Response:
        limit = int(_number(request, "limit", 50, 1, 200))
        return _json({"alerts": lookup.alerts(limit)})

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
    app.router.add_get("/api/releases", releases)
    app.router.add_get("/api/alerts", alerts)
    return app


class WebServer(Service):
    """Serves :func:`build_web` for the worker's whole life, on the host and port of
    faust's settings (read at start, after the command line has set them)."""

    def __init__(self, lookup: Lookup, conf: Any, token: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lookup, self.conf, self._token = lookup, conf, token
        self._runner: web.AppRunner | None = None

    async def on_start(self) -> None:
        host, port = self.conf.web_bind, self.conf.web_port
        self._runner = web.AppRunner(build_web(self.lookup, self._token), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        guarded = "bearer token required" if self._token else "no token"
        self.log.info("web server on http://%s:%s (%s)", host, port, guarded)

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
