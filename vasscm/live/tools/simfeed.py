"""Publish the simulated port (vasscm.simulate.port_feed) to the broker on a simulated
clock: port time runs ``speed`` times faster than wall time.

Each line goes to its type's topic with its key, as ``vasscm produce`` routes it, and
with the Kafka timestamp of the moment the port's systems received it in port time:
the processor takes ``received_at`` from that timestamp, so reporting delays and late
reports are judged in port time too. The first ``warmup`` of port time is published
as fast as the broker takes it, so the yard is full from the first screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer

from vasscm.live.kafka.clients import start_producer
from vasscm.live.tools.produce import route
from vasscm.simulate import LogSpec, port_feed

__all__ = ["FeedStats", "publish_feed"]


@dataclass
class FeedStats:
    sent: int = 0
    port_time: datetime | None = None  # the simulated clock when the feed stopped


async def publish_feed(
    bootstrap: str,
    spec: LogSpec,
    *,
    seed: int = 7,
    speed: float = 3600.0,
    warmup: timedelta = timedelta(0),
    stop: asyncio.Event | None = None,
    max_events: int | None = None,
    on_progress: Callable[[FeedStats], None] | None = None,
    client_options: dict[str, Any] | None = None,
) -> FeedStats:
    """Publish until ``stop`` is set or ``max_events`` are sent."""
    stats = FeedStats()
    stop = stop or asyncio.Event()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=10,
        acks="all",
        enable_idempotence=False,
        **(client_options or {}),  # TLS / SASL (vasscm.live.kafka.auth)
    )
    await start_producer(producer, bootstrap)
    began = time.monotonic()
    origin = spec.start + warmup  # port time at the wall-clock start

    def port_now() -> datetime:
        return origin + timedelta(seconds=(time.monotonic() - began) * speed)

    try:
        pending = []
        for received, line in port_feed(spec, seed=seed):
            while received > port_now():
                if pending:  # what is due is out before we wait
                    await asyncio.gather(*pending)
                    pending.clear()
                wait = (received - port_now()).total_seconds() / speed
                with contextlib.suppress(TimeoutError):  # the wait is the pacing
                    await asyncio.wait_for(stop.wait(), timeout=min(max(wait, 0.001), 0.5))
                if stop.is_set():
                    return stats
            if stop.is_set():
                return stats
            topic, key, stamp = route(line)
            pending.append(await producer.send(topic, line, key=key, timestamp_ms=stamp))
            stats.sent += 1
            stats.port_time = received
            if len(pending) >= 1000:
                await asyncio.gather(*pending)
                pending.clear()
                if on_progress is not None:
                    on_progress(stats)
            if max_events is not None and stats.sent >= max_events:
                break
        await asyncio.gather(*pending)
    finally:
        stats.port_time = port_now() if stats.port_time is None else stats.port_time
        await producer.stop()
    return stats
