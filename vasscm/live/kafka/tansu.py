"""A faust transport tuned for Tansu, the embedded broker (``broker_flavour=tansu``).

Tansu 0.6 holds a fetch request until its maximum wait runs out even when records
arrive meanwhile, and faust fixes that wait at 1.5 s for worker consumers: every
hop through a topic would add up to 1.5 s. This transport lowers it to 50 ms.
Apache Kafka answers a waiting fetch as soon as data arrives and needs none of it.

Tansu 0.6 also answers ListOffsets with the base offset of a partition's last batch
+ 1, not the offset after its last record. faust's table recovery reads a changelog up
to that "highwater" and stops: the records after the first of the last batch were
not applied (a state lost after a restart). This transport's highwaters are the true
ends: the last batch is read whole, in one fetch, from the reported end - 1, and its
last offset + 1 is the end (as the tests' ``log_ends`` does). So producers may batch
on Tansu as on Kafka.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from aiokafka import TopicPartition
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as driver

from vasscm.errors import VasscmError
from vasscm.live.delivery import Consumer, transport

__all__ = ["SCHEME", "Transport"]

SCHEME: Final = "tansu"
FETCH_MAX_WAIT_MS: Final = 50
_END_READ_TIMEOUT: Final = 20.0  # seconds to read the last batches before giving up


class EndsUnknown(VasscmError, RuntimeError):
    """The true end of a partition could not be read."""


async def true_ends(make_client: Callable[[], Any], reported: Mapping[Any, int]) -> dict[Any, int]:
    """Each partition's end, one past its last record, from Tansu's ``reported`` ends
    (the last batch's base offset + 1), read with a client of ``make_client`` (an
    aiokafka consumer of no group, not started), made only when needed and stopped here."""
    ends = dict(reported)
    pending = {TopicPartition(tp.topic, tp.partition): tp for tp, end in ends.items() if end}
    if not pending:
        return ends
    client = make_client()
    await client.start()
    try:
        client.assign(list(pending))
        for tp in pending:
            client.seek(tp, ends[pending[tp]] - 1)
        deadline = time.monotonic() + _END_READ_TIMEOUT
        while pending:
            if time.monotonic() > deadline:
                raise EndsUnknown(f"could not read the last batch of {sorted(pending)}")
            fetched = await client.getmany(*pending, timeout_ms=200)
            for tp, records in fetched.items():
                if records and tp in pending:
                    ends[pending.pop(tp)] = records[-1].offset + 1
    finally:
        await client.stop()
    return ends


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # not a faust setting
        return consumer

    async def _highwaters(self, partitions: list[Any]) -> Mapping[Any, int]:
        reported = await super()._highwaters(partitions)
        return await true_ends(self._end_reader, reported)

    def _end_reader(self) -> Any:
        client = self._create_client_consumer(self.transport)  # the app's broker settings
        client._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return client


class _Consumer(Consumer):
    def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(transport.Transport):  # with its producer
    Consumer = _Consumer


TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
