"""A faust transport tuned for Tansu, the embedded broker (``broker_flavour=tansu``).

Tansu 0.6 holds a fetch request until its maximum wait runs out even when records
arrive meanwhile, and faust fixes that wait at 1.5 s for worker consumers: every
hop through a topic would add up to 1.5 s. This transport lowers it to 50 ms.
Apache Kafka answers a waiting fetch as soon as data arrives and needs none of it.
"""

from __future__ import annotations

from typing import Any, Final

from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as driver

from vasscm.live.delivery import Consumer, transport

__all__ = ["SCHEME", "Transport"]

SCHEME: Final = "tansu"
_FETCH_MAX_WAIT_MS: Final = 50


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = _FETCH_MAX_WAIT_MS  # not a faust setting
        return consumer


class _Consumer(Consumer):
    def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(transport.Transport):  # with its producer
    Consumer = _Consumer


TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
