"""Whether a worker is ready: partitions assigned, tables recovered, broker answering."""

from __future__ import annotations

import asyncio
from typing import Final

import faust

__all__ = ["PROBE_EVERY", "Readiness"]

PROBE_EVERY: Final = 2.0  # seconds between broker probes
_PROBE_TIMEOUT: Final = 3.0


class Readiness:
    def __init__(self, app: faust.App) -> None:
        self.app = app
        self.assigned = False  # partitions assigned and tables recovered
        self.assignments = 0  # times partitions were assigned and rebuilt since start
        self.broker_ok = True  # the last probe of the broker was answered in time

    @property
    def ready(self) -> bool:
        return self.assigned and self.broker_ok

    @property
    def not_ready_because(self) -> str | None:
        if not self.broker_ok:
            return f"the broker did not answer within {_PROBE_TIMEOUT:g} s"
        if not self.assigned:
            return "partitions not assigned (or tables still recovering)"
        return None

    async def probe(self) -> None:
        """Ask the broker for its metadata: a hung or unreachable broker makes the
        worker not ready, though its partitions stay assigned."""
        producer = self.app.producer
        client = producer.kafka_client() if hasattr(producer, "kafka_client") else None
        if client is None:  # producer not started yet
            return
        try:
            await asyncio.wait_for(client.fetch_all_metadata(), timeout=_PROBE_TIMEOUT)
        except Exception:  # timeout, connection refused, ... : all mean "not reachable"
            if self.broker_ok:
                self.app.log.warning("broker unreachable: not ready")  # type: ignore[attr-defined]
            self.broker_ok = False
        else:
            if not self.broker_ok:
                self.app.log.info("broker reachable again")  # type: ignore[attr-defined]
            self.broker_ok = True
