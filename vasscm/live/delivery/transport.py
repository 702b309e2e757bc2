"""The faust transport of every worker (URL scheme ``vasscm://``): vasscm's consumer
and producer (vasscm.live.delivery), registered with faust."""

from __future__ import annotations

from typing import Final

from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as driver

from vasscm.live.delivery.consumer import Consumer
from vasscm.live.delivery.producer import Producer

__all__ = ["SCHEME", "Transport"]

SCHEME: Final = "vasscm"


class Transport(driver.Transport):
    Consumer = Consumer
    Producer = Producer


TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
