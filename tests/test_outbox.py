"""The outbox: outputs leave only after the changelog write behind them, in order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faust.exceptions import ProducerSendError

from vasscm.live.delivery import Outbox


class _Topic:
    def __init__(self, name: str, sent: list[tuple[str, bytes, bytes | None]]) -> None:
        self.name, self.sent = name, sent

    async def send(self, *, key: bytes, value: bytes | None) -> None:
        self.sent.append((self.name, key, value))


def test_outputs_wait_for_the_state_change_and_keep_their_order() -> None:
    async def run() -> None:
        sent: list[tuple[str, bytes, bytes | None]] = []
        clearances, state = _Topic("clearances", sent), _Topic("state", sent)
        outbox = Outbox()
        sender = asyncio.ensure_future(outbox.run())
        write1: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        write2: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        outbox.put(write1, [(clearances, b"A", b"r1"), (state, b"A", b"s1")])
        outbox.put(write2, [(state, b"B", None)])
        outbox.put(None, [])  # nothing to send: nothing to wait for
        draining = asyncio.ensure_future(outbox.drain())
        for _ in range(5):
            await asyncio.sleep(0)
        assert sent == []  # the changelog write is not acknowledged yet
        assert not draining.done()
        write2.set_result(None)  # a later write alone releases nothing: order holds
        for _ in range(5):
            await asyncio.sleep(0)
        assert sent == []
        write1.set_result(None)
        await asyncio.wait_for(draining, timeout=5)
        assert sent == [("clearances", b"A", b"r1"), ("state", b"A", b"s1"), ("state", b"B", None)]
        assert outbox.pending == 0
        sender.cancel()

    asyncio.run(run())


def test_a_failed_write_sends_nothing_and_fails_every_later_drain() -> None:
    async def run() -> None:
        sent: list[tuple[str, bytes, bytes | None]] = []
        outbox = Outbox()
        sender = asyncio.ensure_future(outbox.run())
        failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        failed.set_exception(RuntimeError("broker said no"))
        outbox.put(failed, [(_Topic("clearances", sent), b"A", b"r1")])
        with pytest.raises(ProducerSendError, match="broker said no"):
            await asyncio.wait_for(outbox.drain(), timeout=5)
        assert sent == []
        with pytest.raises(ProducerSendError):  # no commit again in this process
            await outbox.drain()
        sender.cancel()

    asyncio.run(run())


def test_without_its_sender_the_drain_sends_them_itself() -> None:
    """At shutdown the sender task is gone; the last flush still hands outputs over."""

    async def run() -> None:
        sent: list[tuple[str, bytes, bytes | None]] = []
        outbox = Outbox()
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        outbox.put(done, [(_Topic("alerts", sent), b"A", b"a1")])
        await asyncio.wait_for(outbox.drain(), timeout=5)
        assert sent == [("alerts", b"A", b"a1")]

    asyncio.run(run())


def test_the_agent_waits_while_too_many_outputs_wait() -> None:
    async def run() -> None:
        sent: list[tuple[str, bytes, bytes | None]] = []
        outbox = Outbox()
        sender = asyncio.ensure_future(outbox.run())
        await asyncio.sleep(0)
        gate: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        for n in range(3):
            outbox.put(gate, [(_Topic("state", sent), str(n).encode(), b"v")])
        waiting = asyncio.ensure_future(outbox.room(limit=1))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiting.done()  # three wait, one is allowed
        gate.set_result(None)
        await asyncio.wait_for(waiting, timeout=5)
        assert outbox.pending <= 1
        sender.cancel()

    asyncio.run(run())
