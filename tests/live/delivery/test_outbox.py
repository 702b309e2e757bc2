"""The outbox: outputs leave only after the changelog write behind them, in order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faust.exceptions import ProducerSendError
from livekit import acknowledging

from vasscm.live.delivery import Outbox

Sent = list[tuple[str, bytes, bytes | None]]


def test_outputs_wait_for_the_state_change_and_keep_their_order() -> None:
    async def run() -> None:
        sent: Sent = []
        clearances, state = "clearances", "state"
        outbox = Outbox(acknowledging(sent))
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
        sent: Sent = []
        outbox = Outbox(acknowledging(sent))
        sender = asyncio.ensure_future(outbox.run())
        failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        failed.set_exception(RuntimeError("broker said no"))
        outbox.put(failed, [("clearances", b"A", b"r1")])
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
        sent: Sent = []
        outbox = Outbox(acknowledging(sent))
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        outbox.put(done, [("alerts", b"A", b"a1")])
        await asyncio.wait_for(outbox.drain(), timeout=5)
        assert sent == [("alerts", b"A", b"a1")]

    asyncio.run(run())


def test_the_agent_waits_while_too_many_outputs_wait() -> None:
    async def run() -> None:
        sent: Sent = []
        outbox = Outbox(acknowledging(sent))
        sender = asyncio.ensure_future(outbox.run())
        await asyncio.sleep(0)
        gate: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        for n in range(3):
            outbox.put(gate, [("state", str(n).encode(), b"v")])
        waiting = asyncio.ensure_future(outbox.room(limit=1))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiting.done()  # three wait, one is allowed
        gate.set_result(None)
        await asyncio.wait_for(waiting, timeout=5)
        assert outbox.pending <= 1
        sender.cancel()

    asyncio.run(run())


def test_an_output_the_broker_refuses_stops_every_later_commit() -> None:
    """An output handed over and then not acknowledged fails the next drain: its
    record's offset must not be committed (read again after a restart, re-sent)."""

    async def run() -> None:
        refused: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def send(topic: str, key: bytes, value: bytes | None) -> asyncio.Future[None]:
            return refused

        outbox = Outbox(send)
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        outbox.put(done, [("clearances", b"A", b"r1")])
        await asyncio.wait_for(outbox.drain(), timeout=5)  # handed over: fine so far
        refused.set_exception(RuntimeError("not leader"))
        await asyncio.sleep(0)
        with pytest.raises(ProducerSendError, match="not leader"):
            await outbox.drain()

    asyncio.run(run())
