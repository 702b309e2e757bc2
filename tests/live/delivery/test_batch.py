"""The batch: each container's state written once, outputs behind the writes, reads
through it (vasscm.live.delivery.batch), with the real outbox."""

from __future__ import annotations

import asyncio
from typing import Any

from livekit import acknowledging

from vasscm.live.delivery import Batch, Outbox

Sent = list[tuple[str, bytes, bytes | None]]


class _Table(dict[str, bytes]):
    """The visits table as the batch writes it: store and changelog, one future each."""

    def __init__(self) -> None:
        super().__init__()
        self.last_write: dict[int | None, asyncio.Future[Any]] = {}
        self.writes: list[tuple[int, str, bytes | None]] = []

    def write(self, partition: int, key: str, value: bytes | None) -> asyncio.Future[Any]:
        self.writes.append((partition, key, value))
        if value is None:
            self.pop(key, None)
        else:
            self[key] = value
        fut = self.last_write[partition] = asyncio.get_running_loop().create_future()
        return fut


def _batch(table: _Table, sent: Sent, **kwargs: Any) -> Batch:
    return Batch(
        table, Outbox(acknowledging(sent)), lambda s: s.encode(), lambda v: v.encode(), **kwargs
    )


def test_each_container_is_written_once_and_outputs_wait_for_the_writes() -> None:
    async def run() -> None:
        table, sent = _Table(), []
        batch = _batch(table, sent)
        sender = asyncio.ensure_future(batch.outbox.run())
        for n in range(3):  # three events of A, one of B, on two partitions
            batch.put_state(1, "A", f"a{n}")
            batch.send(1, ("clearances", b"A", f"r{n}".encode()))
            batch.view(1, "state", b"A", f"view-a{n}")
            batch.done()
        batch.put_state(2, "B", "b0")
        batch.view(2, "state", b"B", "view-b0")
        batch.done()
        assert "a2" == batch.state("A")  # reads go through the batch
        assert Batch.missing(batch.state("C"))
        assert {} == dict(table)
        assert [] == table.writes
        batch.close()
        assert [(1, "A", b"a2"), (2, "B", b"b0")] == table.writes
        assert Batch.missing(batch.state("A"))  # the table has it now
        for _ in range(5):
            await asyncio.sleep(0)
        assert [] == sent  # the writes are not acknowledged yet
        table.last_write[1].set_result(None)
        table.last_write[2].set_result(None)
        await asyncio.wait_for(batch.outbox.drain(), timeout=5)
        assert [
            ("clearances", b"A", b"r0"),
            ("clearances", b"A", b"r1"),
            ("clearances", b"A", b"r2"),
            ("state", b"A", b"view-a2"),  # the latest view only
            ("state", b"B", b"view-b0"),
        ] == sent
        sender.cancel()

    asyncio.run(run())


def test_a_deleted_container_reads_as_none_and_is_written_as_a_tombstone() -> None:
    async def run() -> None:
        table, sent = _Table(), []
        table["A"] = b"old"
        batch = _batch(table, sent)
        batch.put_state(0, "A", None)
        batch.view(0, "state", b"A", None)
        batch.done()
        assert batch.state("A") is None
        batch.close()
        assert [(0, "A", None)] == table.writes
        assert "A" not in table
        table.last_write[0].set_result(None)
        await batch.outbox.drain()
        assert [("state", b"A", None)] == sent

    asyncio.run(run())


def test_it_closes_when_full_and_when_idle() -> None:
    async def run() -> None:
        table, sent = _Table(), []
        batch = _batch(table, sent, max_records=2, idle=0.01, max_age=10.0)
        batch.put_state(0, "A", "a")
        batch.done()
        batch.put_state(0, "B", "b")
        batch.done()  # full
        assert 1 == batch.closed
        assert 2 == len(table.writes)
        batch.put_state(0, "C", "c")
        batch.done()
        assert 1 == batch.closed
        deadline = asyncio.get_running_loop().time() + 5
        while batch.closed < 2 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.005)
        assert 2 == batch.closed  # the idle timer closed it
        assert ["A", "B", "C"] == [key for _, key, _ in table.writes]

    asyncio.run(run())


def test_it_closes_when_old_however_busy() -> None:
    async def run() -> None:
        table, sent = _Table(), []
        batch = _batch(table, sent, max_records=10_000, idle=0.05, max_age=0.1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        n = 0
        while batch.closed == 0 and loop.time() - started < 5:
            batch.put_state(0, f"K{n}", "v")  # a record every 10 ms: never idle
            batch.done()
            n += 1
            await asyncio.sleep(0.01)
        assert 1 == batch.closed
        assert loop.time() - started < 1.0  # by max_age, not the test's deadline

    asyncio.run(run())
