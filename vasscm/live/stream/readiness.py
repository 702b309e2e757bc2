"""Whether a worker is ready: partitions assigned, tables recovered, its output topics
declared, broker answering.

The topics count because faust says a worker is ready before the pipeline declares
the topics it writes (its first task, once recovery is done): until then the first
record the tracker rejects waits on the dead-letter topic's metadata, and a worker
said ready could not yet write what it exists to write.

The broker counts as answering while its last answer to a metadata probe is recent
(within ``PROBE_EVERY + PROBE_TIMEOUT``), not while the last probe has not failed:
a probe that never returns (a request to a stopped broker whose cancellation the
client swallows, waiting out its own request timeout of minutes) would otherwise
keep a hung broker "ready" for as long as it hangs. The timer only starts probes;
it never waits on one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Final

__all__ = ["PROBE_EVERY", "PROBE_TIMEOUT", "Readiness"]

PROBE_EVERY: Final = 2.0  # seconds between broker probes
PROBE_TIMEOUT: Final = 3.0  # seconds a probe may take
_ABANDON: Final = 30.0  # a probe still running after this is left, and another started
_STALE: Final = PROBE_EVERY + PROBE_TIMEOUT


class Readiness:
    def __init__(
        self,
        app: Any,
        clock: Callable[[], float] = time.monotonic,
        declared: Callable[[], bool] = lambda: True,
    ) -> None:
        """``declared``: whether the output topics exist (the pipeline's, once declared)."""
        self.app = app
        self.declared = declared
        self.assigned = False  # partitions assigned and tables recovered
        self.assignments = 0  # times partitions were assigned and rebuilt since start
        self._clock = clock
        self._answered = clock()  # the last answer, or the first question
        self._probe: asyncio.Future[Any] | None = None
        self._probe_started = 0.0
        self._abandoned: set[asyncio.Future[Any]] = set()
        self._said_ok = True

    @property
    def broker_ok(self) -> bool:
        return self._clock() - self._answered <= _STALE

    @property
    def ready(self) -> bool:
        return self.assigned and self.broker_ok and self.declared()

    @property
    def not_ready_because(self) -> str | None:
        if not self.broker_ok:
            return f"the broker has not answered for {self._clock() - self._answered:.0f} s"
        if not self.assigned:
            return "partitions not assigned (or tables still recovering)"
        if not self.declared():
            return "output topics not declared yet"
        return None

    async def probe(self) -> None:
        """The timer's call: start a probe of the broker unless one is running, and
        say when the broker stops or starts answering. Returns at once."""
        now = self._clock()
        client = self._client()
        if client is None or self._probe is None:
            # Nothing asked yet (no producer, or this is the first probe): the broker
            # cannot have failed to answer, however long the worker took to start.
            self._answered = now
        self._tell()
        if client is None:
            return
        if self._probe is not None and not self._probe.done():
            if now - self._probe_started < _ABANDON:
                return
            self._probe.cancel()  # may not take: keep it referenced until it ends
            self._abandoned.add(self._probe)
            self._probe.add_done_callback(self._abandoned.discard)
        self._probe_started = now
        self._probe = asyncio.ensure_future(self._ask(client))

    async def _ask(self, client: Any) -> None:
        try:
            await asyncio.wait_for(client.fetch_all_metadata(), timeout=PROBE_TIMEOUT)
        except Exception:  # timeout, connection refused, ... : all mean "no answer"
            return
        self._answered = self._clock()

    def _client(self) -> Any:
        producer = self.app.producer
        return producer.kafka_client() if hasattr(producer, "kafka_client") else None

    def _tell(self) -> None:
        ok = self.broker_ok
        if ok != self._said_ok:
            log = self.app.log
            if ok:
                log.info("broker reachable again")
            else:
                log.warning("broker unreachable: not ready")
            self._said_ok = ok
