"""The producer buffer's flush, which faust's consumer awaits before committing offsets."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faust.transport.producer import ProducerBuffer

from vasscm.live.transport import _Buffer


class _SlowChannel:
    """Hands a message to the "client" only after ``delay`` (as aiokafka does while a
    partition's previous one-record batch is still being sent)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.handed: list[int] = []

    async def publish_message(self, fut: Any, wait: bool = False) -> None:
        await asyncio.sleep(self.delay)
        self.handed.append(fut.n)


async def _flushed(buffer: ProducerBuffer, channel: _SlowChannel, n: int) -> list[int]:
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))  # type: ignore[assignment]
    await buffer.start()
    try:
        for i in range(n):
            buffer.put(SimpleNamespace(n=i, message=SimpleNamespace(channel=channel)))  # type: ignore[arg-type]
        await buffer.flush()
        return list(channel.handed)
    finally:
        await asyncio.sleep(channel.delay * (n + 1))  # let the rest go before stopping
        await buffer.stop()


def test_flush_waits_for_every_message_put_before_it() -> None:
    channel = _SlowChannel(0.15)
    assert list(range(3)) == asyncio.run(_flushed(_Buffer(), channel, 3))


def test_faust_flush_returns_early() -> None:
    """The faust-streaming defect the buffer above works around: flush returned with
    messages not yet handed to the client, and faust committed offsets after it."""
    channel = _SlowChannel(0.15)
    assert len(asyncio.run(_flushed(ProducerBuffer(), channel, 3))) < 3
