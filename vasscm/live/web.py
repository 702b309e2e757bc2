"""The worker's HTTP endpoints: metrics, health, readiness and the container lookup.

Our own aiohttp application rather than faust's web stack: faust starts its web
server only after table recovery, and a liveness probe must answer while a large
state is being recovered. The handlers only translate HTTP to the pipeline's
read-only views and back.

- ``GET /metrics`` — Prometheus text format (prometheus-client's aiohttp handler).
- ``GET /healthz`` — liveness: the process serves requests.
- ``GET /readyz`` — 200 when partitions are assigned and tables recovered, else 503.
- ``GET /containers/{container_no}`` — the container's current visit and the visits
  this worker holds; 400 for a malformed number, 404 when unknown here.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson
from aiohttp import web
from mode import Service
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

from vasscm.events import VisitState, parse_container_no

__all__ = ["Lookup", "WebServer", "build_web"]


class Lookup(Protocol):
    """What the handlers read from the pipeline."""

    registry: CollectorRegistry

    @property
    def ready(self) -> bool: ...

    def visits_of(self, container_no: str) -> list[VisitState] | None:
        """The container's visits held here (oldest first), None when unknown."""


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(body, option=orjson.OPT_NAIVE_UTC),
        status=status,
        content_type="application/json",
    )


def build_web(lookup: Lookup) -> web.Application:
    async def healthz(request: web.Request) -> web.Response:
        return _json({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        if lookup.ready:
            return _json({"status": "ready"})
        return _json({"status": "not ready", "detail": "partitions not assigned yet"}, 503)

    async def container(request: web.Request) -> web.Response:
        raw = request.match_info["container_no"]
        try:
            container_no = parse_container_no(raw)
        except ValueError as exc:
            # The problem without the input: a lookup answer may be shown in a page.
            detail = str(exc).replace(repr(raw), "the number")
            return _json({"error": "invalid container_no", "detail": detail}, 400)
        visits = lookup.visits_of(container_no)
        if not visits:
            return _json({"error": "not found", "container_no": container_no}, 404)
        dumped = [v.model_dump(mode="json") for v in visits]
        return _json({"container_no": container_no, "visit": dumped[-1], "visits": dumped})

    app = web.Application()
    app.router.add_get("/metrics", make_aiohttp_handler(lookup.registry))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/containers/{container_no}", container)
    return app


class WebServer(Service):
    """Serves :func:`build_web` for the worker's whole life, on the host and port of
    faust's settings (read at start, after the command line has set them)."""

    def __init__(self, lookup: Lookup, conf: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lookup, self.conf = lookup, conf
        self._runner: web.AppRunner | None = None

    async def on_start(self) -> None:
        host, port = self.conf.web_bind, self.conf.web_port
        self._runner = web.AppRunner(build_web(self.lookup), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.log.info("web server on http://%s:%s", host, port)

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
