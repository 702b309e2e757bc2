"""DCSA out in the worker: subscriptions, the milestones feed, signed deliveries.

    container-state ──feed (vasscm.live.dcsa_out.feed)──▶ dcsa-out ──▶ one deliverer per
                                                                 subscription ──▶ POST
    dcsa-subscriptions (compacted, 1 partition) ──▶ every worker's book

- Subscriptions live on ``vasscm.dcsa-subscriptions``: every worker reads it from the
  beginning and on, so any worker answers ``GET /dcsa/subscriptions`` and delivers.
- Each subscription's deliverer is a consumer group of its own on
  ``vasscm.dcsa-out`` (``vasscm-dcsa-<id>``): the workers share its partitions, and
  its offsets are committed only after the callback answered 2xx, so every event is
  delivered at least once, in order per container, whatever the subscriber's
  outages. A subscriber's slowness holds back nobody else: neither the tracker (a
  group apart) nor the other subscriptions.
- A failing delivery is tried again after 0.5 s, 1 s, 2 s ... up to
  ``webhook_retry_max``; after ``webhook_pause_after`` of failures the subscriber
  is paused: tried once per ``webhook_paused_retry`` until a delivery succeeds.
  ``vasscm_dcsa_subscriptions{state}`` counts them (active, retrying, paused).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from prometheus_client import CollectorRegistry

from vasscm.dcsa.subscriptions import Subscription
from vasscm.live.dcsa_out.deliverer import STATES, DcsaMetrics, Deliverer
from vasscm.live.dcsa_out.feed import Feed
from vasscm.live.dcsa_out.subscription_book import SubscriptionBook
from vasscm.live.restarts import Restarting
from vasscm.settings import Settings
from vasscm.sites import Registry

__all__ = ["Webhooks"]

log = logging.getLogger(__name__)


class Webhooks:
    """Everything DCSA out runs in a worker (:meth:`run`, started once its topics
    are declared), and what the web routes ask of it."""

    def __init__(
        self,
        settings: Settings,
        client: dict[str, Any],
        sites: Registry,
        registry: CollectorRegistry,
    ) -> None:
        self.settings, self.client, self.sites = settings, client, sites
        self.metrics = DcsaMetrics(registry)
        self.book = SubscriptionBook(client)
        self.deliverers: dict[str, Deliverer] = {}
        self.connected = asyncio.Event()
        self.feed: Feed | None = None
        for state in STATES:
            self.metrics.subscriptions.labels(state).set_function(
                lambda state=state: sum(d.state == state for d in self.deliverers.values())
            )
        self.metrics.pending.set_function(lambda: sum(d.pending for d in self.deliverers.values()))

    async def add(self, body: Any) -> Subscription:
        return await self.book.add(body)

    async def remove(self, sub_id: str) -> bool:
        return await self.book.remove(sub_id)

    async def new_secret(self, sub_id: str, body: Any) -> bool:
        return await self.book.new_secret(sub_id, body)

    def statuses(self) -> Iterable[tuple[Subscription, dict[str, Any] | None]]:
        for sub_id, sub in sorted(self.book.subs.items()):
            deliverer = self.deliverers.get(sub_id)
            yield sub, None if deliverer is None else deliverer.status()

    async def run(self) -> None:
        tasks: list[asyncio.Task[None]] = []
        async with aiohttp.ClientSession() as session:
            try:
                tasks.append(
                    asyncio.create_task(
                        _logged("subscriptions", lambda: self.book.run(self.connected))
                    )
                )
                if self.settings.dcsa_out == "on":
                    tasks.append(self._start_feed())
                while True:
                    await self.book.changed.wait()
                    self.book.changed.clear()
                    self._follow(session, tasks)
            finally:
                for d in self.deliverers.values():
                    if d.task is not None:
                        d.task.cancel()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(
                    *tasks,
                    *(d.task for d in self.deliverers.values() if d.task),
                    return_exceptions=True,
                )

    def _start_feed(self) -> asyncio.Task[None]:
        self.feed = Feed(
            self.client,
            self.sites,
            lambda code: self.metrics.milestones.labels(code).inc(),
            est_move_ms=int(self.settings.dcsa_est_move.total_seconds() * 1000),
            estimated=lambda code: self.metrics.estimates.labels(code).inc(),
        )
        return asyncio.create_task(_logged("milestones feed", self.feed.run))

    def _follow(self, session: aiohttp.ClientSession, tasks: list[asyncio.Task[None]]) -> None:
        """A deliverer per subscription; the feed once there is one (auto)."""
        subs = self.book.subs
        if self.settings.dcsa_out == "off":
            return
        if subs and self.feed is None:
            log.info("DCSA out: milestones feed started (vasscm.container-state to dcsa-out)")
            tasks.append(self._start_feed())
        for sub_id in [s for s in self.deliverers if s not in subs]:
            gone = self.deliverers.pop(sub_id)
            if gone.task is not None:
                gone.task.cancel()
            log.info("DCSA subscription %s ended", sub_id)
        for sub_id, sub in subs.items():
            if sub_id in self.deliverers:
                self.deliverers[sub_id].sub = sub  # its secret may have been replaced
            else:
                d = self.deliverers[sub_id] = Deliverer(
                    sub, self.settings, self.client, session, self.metrics
                )
                d.task = asyncio.create_task(_logged(f"subscription {sub_id}", d.run))
                # The host only: a callback's path or query may carry the subscriber's
                # own credentials.
                host = urlsplit(sub.callbackUrl).netloc
                log.info("DCSA subscription %s: delivering to %s", sub_id, host)


def _logged(what: str, run: Callable[[], Awaitable[None]]) -> Coroutine[Any, Any, None]:
    """``run()``, started again 5 s after a failure (a broker away for a while must not
    end DCSA out for the worker's life)."""
    return Restarting(f"DCSA out: {what}", run, log).run()
