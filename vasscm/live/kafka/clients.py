"""The command-line tools' Kafka clients: started, or one clear error.

aiokafka logs every failed connection attempt and raises an error naming its
internals; a tool that cannot reach the broker says so once, as a VasscmError,
and leaves nothing unclosed behind it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.errors import (  # type: ignore[import-untyped]
    KafkaConnectionError,
    KafkaError,
)

from vasscm.errors import VasscmError

__all__ = ["start_consumer", "start_producer"]


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


async def start_producer(producer: AIOKafkaProducer, bootstrap: str) -> None:
    """Start ``producer``; if the broker cannot be reached, stop it and raise."""
    await _start(producer, bootstrap)


async def start_consumer(consumer: AIOKafkaConsumer, bootstrap: str) -> None:
    """Start ``consumer``; if the broker cannot be reached, stop it and raise."""
    await _start(consumer, bootstrap)


async def _start(client: AIOKafkaProducer | AIOKafkaConsumer, bootstrap: str) -> None:
    try:
        with _quiet("aiokafka"):
            await client.start()
    except (KafkaError, OSError) as exc:
        await client.stop()
        reason = "no answer" if isinstance(exc, KafkaConnectionError) else repr(exc)
        raise VasscmError(
            f"cannot reach the broker at {bootstrap} ({reason}): is it running? "
            "(vasscm broker starts one; --broker or VASSCM_BROKER names it)"
        ) from None
