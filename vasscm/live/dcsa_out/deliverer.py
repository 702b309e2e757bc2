"""One subscription's deliveries: its consumer group on ``vasscm.dcsa-out``, signed
POSTs, retries and pauses (the whole of DCSA out: vasscm.live.dcsa_out.webhooks)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Final

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from prometheus_client import CollectorRegistry, Counter, Gauge

from vasscm.dcsa.milestones import MILESTONE_CODES
from vasscm.dcsa.subscriptions import (
    API_VERSION,
    Subscription,
    matches,
    sign,
)
from vasscm.settings import Settings
from vasscm.topics import DCSA_OUT

__all__ = ["STATES", "DcsaMetrics", "Deliverer"]

log = logging.getLogger(__name__)
_FIRST_RETRY: Final = 0.5
_A_WEEK_MS: Final = 7 * 24 * 3600 * 1000
STATES: Final = ("active", "retrying", "paused")
_ESTIMATE: Final = b'"eventClassifierCode":"EST"'  # as orjson writes it


class DcsaMetrics:
    """DCSA out's metrics (labels: codes, outcomes and states; never a subscription)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.milestones = Counter(
            "vasscm_dcsa_milestones",
            "Customs milestones put on vasscm.dcsa-out, by DCSA equipmentEventTypeCode",
            ["code"],
            registry=registry,
        )
        self.estimates = Counter(
            "vasscm_dcsa_estimates",
            "Estimated exits (EST) put on vasscm.dcsa-out, by DCSA equipmentEventTypeCode: "
            "a visit's first, and each whose median moved by more than VASSCM_DCSA_EST_MOVE",
            ["code"],
            registry=registry,
        )
        self.deliveries = Counter(
            "vasscm_dcsa_deliveries",
            "Webhook POSTs to DCSA subscribers, by outcome (delivered: 2xx; failed: "
            "anything else, tried again)",
            ["outcome"],
            registry=registry,
        )
        self.delivered = Counter(
            "vasscm_dcsa_events_delivered",
            "DCSA events subscribers acknowledged (an event sent again after a crash counts again)",
            registry=registry,
        )
        self.subscriptions = Gauge(
            "vasscm_dcsa_subscriptions",
            "This worker's webhook subscriptions by delivery state: active, retrying "
            "(failing, tried again with backoff), paused (failing longer than "
            "VASSCM_WEBHOOK_PAUSE_AFTER)",
            ["state"],
            registry=registry,
        )
        self.pending = Gauge(
            "vasscm_dcsa_pending_events",
            "Events of vasscm.dcsa-out after what this worker's subscriptions have had "
            "acknowledged, summed over them",
            registry=registry,
        )
        for code in MILESTONE_CODES:
            self.milestones.labels(code)
        for code in ("GTOT", "LOAD"):
            self.estimates.labels(code)
        for outcome in ("delivered", "failed"):
            self.deliveries.labels(outcome)
        for state in STATES:
            self.subscriptions.labels(state)


class Deliverer:
    """Delivers one subscription's events, for as long as it exists."""

    def __init__(
        self,
        sub: Subscription,
        settings: Settings,
        client: dict[str, Any],
        session: aiohttp.ClientSession,
        metrics: DcsaMetrics,
    ) -> None:
        self.sub, self.settings, self.client = sub, settings, client
        self.session, self.metrics = session, metrics
        self.state = "active"
        self.failing_since: float | None = None  # wall clock, for people
        self._failing_mono: float | None = None
        self.last_error: str | None = None
        self.delivered = 0
        self.pending = 0
        self._at: dict[TopicPartition, int] = {}  # the next offset to deliver
        self.task: asyncio.Task[None] | None = None

    def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "failingSince": self.failing_since,
            "lastError": self.last_error,
            "delivered": self.delivered,
            "pending": self.pending,
        }

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            DCSA_OUT,
            group_id=f"vasscm-dcsa-{self.sub.subscriptionID}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # A delivery is tried until the subscriber answers, hours if need be,
            # without polling meanwhile: that is no failed consumer (the group's
            # liveness is the heartbeat, which aiokafka sends in the background).
            max_poll_interval_ms=_A_WEEK_MS,
            **self.client,
        )
        await consumer.start()
        try:
            while True:
                batch = await consumer.getmany(
                    timeout_ms=1000, max_records=self.settings.webhook_batch
                )
                if not batch:
                    self._behind(consumer, {})
                    continue
                sub = self.sub
                docs = [
                    r.value
                    for records in batch.values()
                    for r in records
                    if r.value is not None
                    and r.timestamp >= sub.created_ms
                    # an estimate only to those that ask (vasscm.dcsa.subscriptions)
                    and (
                        matches(sub, orjson.loads(r.value))
                        if sub.filtered or _ESTIMATE in r.value
                        else True
                    )
                ]
                if docs:
                    await self._deliver(b"[" + b",".join(docs) + b"]", len(docs))
                done = {tp: records[-1].offset + 1 for tp, records in batch.items()}
                try:
                    await consumer.commit(done)
                except (CommitFailedError, KafkaError) as exc:  # the next owner sends again
                    log.info(
                        "DCSA subscription %s: not committed (%s)", self.sub.subscriptionID, exc
                    )
                self._behind(consumer, done)
        finally:
            await consumer.stop()

    def _behind(self, consumer: Any, done: dict[TopicPartition, int]) -> None:
        self._at.update(done)
        pending = 0
        for tp in consumer.assignment():
            end, at = consumer.highwater(tp), self._at.get(tp)
            if end is not None and at is not None:
                pending += max(0, end - at)
        self.pending = pending

    async def _deliver(self, body: bytes, count: int) -> None:
        """POST until the subscriber takes it (at least once: never given up). Each try
        is signed with the secret in force then (PUT .../secret replaces it)."""
        delay = _FIRST_RETRY
        while True:
            sub = self.sub
            headers = {
                "Content-Type": "application/json",
                "Notification-Signature": sign(sub.key, body),
                "Subscription-ID": sub.subscriptionID,
                "API-Version": API_VERSION,
            }
            error = await self._post(sub.callbackUrl, body, headers)
            if error is None:
                self.metrics.deliveries.labels("delivered").inc()
                self.metrics.delivered.inc(count)
                self.delivered += count
                if self.state != "active":
                    log.info("DCSA subscription %s delivers again", self.sub.subscriptionID)
                self.state, self.failing_since, self._failing_mono = "active", None, None
                self.last_error = None
                return
            self.metrics.deliveries.labels("failed").inc()
            now = time.monotonic()
            if self._failing_mono is None:
                self._failing_mono, self.failing_since = now, time.time()
                log.warning(
                    "DCSA subscription %s: delivery failed (%s); trying again",
                    self.sub.subscriptionID,
                    error,
                )
            self.last_error = error
            failing = now - self._failing_mono
            if failing >= self.settings.webhook_pause_after.total_seconds():
                if self.state != "paused":
                    log.warning(
                        "DCSA subscription %s paused: failing for %.0f s (%s)",
                        self.sub.subscriptionID,
                        failing,
                        error,
                    )
                self.state = "paused"
                wait = self.settings.webhook_paused_retry.total_seconds()
            else:
                self.state = "retrying"
                wait = delay
                delay = min(delay * 2, self.settings.webhook_retry_max.total_seconds())
            await asyncio.sleep(wait)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> str | None:
        """None when the subscriber answered 2xx, else what went wrong."""
        timeout = aiohttp.ClientTimeout(total=self.settings.webhook_timeout.total_seconds())
        try:
            async with self.session.post(
                url, data=body, headers=headers, timeout=timeout
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"[:300]
