"""The DCSA webhook subscriptions as every worker knows them: read from
``vasscm.dcsa-subscriptions`` (one partition, compacted: the latest per id, a record
without value deleting it) from its beginning and on, so that any worker answers for
them and delivers to them; written there by ``POST``/``DELETE /dcsa/subscriptions``
on any worker."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from vasscm.dcsa.subscriptions import (
    Subscription,
    new_subscription,
    stored,
    with_new_secret,
)
from vasscm.topics import DCSA_SUBSCRIPTIONS

__all__ = ["SubscriptionBook", "producer_options"]

log = logging.getLogger(__name__)


class SubscriptionBook:
    """The subscriptions, as every worker reads them from vasscm.dcsa-subscriptions."""

    def __init__(self, client: dict[str, Any]) -> None:
        self.client = client
        self.subs: dict[str, Subscription] = {}
        self.changed = asyncio.Event()
        self.producer: AIOKafkaProducer | None = None

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        sub_id = key.decode(errors="replace")
        if value is None:
            self.subs.pop(sub_id, None)
        else:
            try:
                self.subs[sub_id] = Subscription.model_validate_json(value)
            except ValueError:  # not one of ours: says so, changes nothing
                log.warning("vasscm.dcsa-subscriptions: record %r is not a subscription", sub_id)
                return
        self.changed.set()

    async def run(self, ready: asyncio.Event) -> None:
        """Read the topic from its beginning, on and on; ``ready`` once the producer
        that :meth:`add` and :meth:`remove` use is started."""
        producer = self.producer = AIOKafkaProducer(acks="all", **producer_options(self.client))
        consumer = AIOKafkaConsumer(enable_auto_commit=False, **self.client)
        await producer.start()
        try:
            await consumer.start()
            tp = TopicPartition(DCSA_SUBSCRIPTIONS, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            ready.set()
            while True:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    for r in records:
                        self._apply(r.key, r.value)
        finally:
            self.producer = None
            await consumer.stop()
            await producer.stop()

    async def add(self, body: Any) -> Subscription:
        """A new subscription from a POST body (SubscriptionError when it is not one),
        once it is on the broker."""
        sub = new_subscription(body)
        await self._put(sub)
        return sub

    async def remove(self, sub_id: str) -> bool:
        if sub_id not in self.subs:
            return False
        await self._send(sub_id, None)
        self._apply(sub_id.encode(), None)
        return True

    async def new_secret(self, sub_id: str, body: Any) -> bool:
        """Replaces a subscription's secret (T&T 2.2's PUT .../secret body); False when
        there is no such subscription, SubscriptionError when the body is wrong."""
        sub = self.subs.get(sub_id)
        if sub is None:
            return False
        await self._put(with_new_secret(sub, body))
        return True

    async def _put(self, sub: Subscription) -> None:
        """On the broker, then known here at once (the topic tells the other workers)."""
        value = stored(sub)
        await self._send(sub.subscriptionID, value)
        self._apply(sub.subscriptionID.encode(), value)

    async def _send(self, sub_id: str, value: bytes | None) -> None:
        if self.producer is None:
            raise RuntimeError("not connected to the broker yet")
        await self.producer.send_and_wait(DCSA_SUBSCRIPTIONS, value=value, key=sub_id.encode())


def producer_options(client: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in client.items() if k != "fetch_max_wait_ms"}
