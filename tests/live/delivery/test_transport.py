"""The producer buffer's flush, which faust's consumer awaits before committing offsets."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaProducer
from faust.exceptions import ProducerSendError
from faust.transport.producer import ProducerBuffer
from faust.types import TP

from vasscm.live.delivery import SCHEME, Buffer, Checkpoint
from vasscm.live.delivery.checkpoint import NO_BATCH
from vasscm.live.kafka import tansu
from vasscm.live.tools.broker import EmbeddedBroker


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
    assert list(range(3)) == asyncio.run(_flushed(Buffer(), channel, 3))


def test_faust_flush_returns_early() -> None:
    """The faust-streaming defect the buffer above works around: flush returned with
    messages not yet handed to the client, and faust committed offsets after it."""
    channel = _SlowChannel(0.15)
    assert len(asyncio.run(_flushed(ProducerBuffer(), channel, 3))) < 3


# --- the producer's flush, on a real broker -------------------------------------------


async def _in_flight(producer: Any, topic: str) -> asyncio.Future[Any]:
    """Send one message through faust's producer while the broker is frozen and return
    its future once the client's sender has taken its batch (no longer queued)."""
    fut: asyncio.Future[Any] = await producer.send(topic, b"k", b"v", None, None, None)
    accumulator = producer._producer._message_accumulator
    deadline = time.monotonic() + 10
    while any(accumulator._batches.values()):
        assert time.monotonic() < deadline, "the sender never took the batch"
        await asyncio.sleep(0.01)
    return fut


@pytest.mark.broker
def test_flush_waits_until_the_broker_has_every_message(own_broker: EmbeddedBroker) -> None:
    """What commit-after-flush rests on: a batch the client's sender has taken (in
    flight, the broker frozen) holds the flush until the broker acknowledges it."""

    async def run() -> None:
        url = own_broker.url.replace("kafka://", f"{SCHEME}://")
        app = faust.App("flush-test", broker=url, autodiscover=False, web_enabled=False)
        producer = app.producer
        await producer.start()
        try:
            await producer.send_and_wait("flush-b", b"k", b"first", None, None, None)
            own_broker.pause()
            try:
                fut = await _in_flight(producer, "flush-b")
                flushing = asyncio.ensure_future(producer.flush())
                done, _ = await asyncio.wait({flushing}, timeout=1.0)
                # (said with the message's fate: a failed send also ends the flush)
                fate = fut.exception() if fut.done() else "still in flight"
                assert not done, f"flush returned while the broker held the message: {fate!r}"
            finally:
                own_broker.resume()
            await asyncio.wait_for(flushing, timeout=30)
            assert fut.done()
            assert fut.exception() is None
        finally:
            await producer.stop()

    asyncio.run(run())


# --- commits follow what the agents finished, not faust's acknowledgements ----------


async def _consumer() -> tuple[Any, list[tuple[TP, int]]]:
    app = faust.App("commit-test", broker=f"{SCHEME}://127.0.0.1:9", autodiscover=False)
    app.topics.add(app.topic("vasscm.port-events"))  # as an agent subscribes
    await app.topics._update_indices()  # a stream topic: acknowledgements enabled
    consumer = app.consumer
    seeks: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:
        seeks.append((tp, offset))

    consumer.seek = seek
    consumer.checkpoint = NO_BATCH  # wired: the tracker owes nothing
    return consumer, seeks


TP5 = TP("vasscm.port-events", 5)


def test_offsets_are_committed_up_to_the_first_record_not_processed() -> None:
    async def run() -> None:
        consumer, seeks = await _consumer()
        consumer._done[TP5] = 3  # committed: 3
        for offset in (3, 4):
            consumer.processed(TP5, offset)
        assert consumer._new_offset(TP5) == 5
        # faust acknowledged 5 and 6 (say 5 was dropped from a queue, then counted
        # read): its own rule would commit 7 over the unprocessed record 5.
        consumer._acked[TP5].extend([5, 6])
        consumer.processed(TP5, 6)
        assert consumer._new_offset(TP5) == 5
        await asyncio.sleep(0)
        assert seeks == [(TP5, 5)]  # read again from the hole
        consumer.processed(TP5, 7)  # records already on their way: no second re-read
        await asyncio.sleep(0)
        assert seeks == [(TP5, 5)]
        for offset in (5, 6, 7):  # the re-read: 6 and 7 again, as duplicates
            consumer.processed(TP5, offset)
        assert consumer._new_offset(TP5) == 8
        consumer.processed(TP5, 4)  # an old duplicate changes nothing
        assert consumer._new_offset(TP5) == 8

    asyncio.run(run())


def test_nothing_is_committed_before_the_seek_to_the_committed_offset() -> None:
    """Records fetched before the seek (here 1104.., committed 688) reach the agents
    too. Counted, they once made a commit during the seek skip 688..1103, lost."""

    async def run() -> None:
        consumer, seeks = await _consumer()
        for offset in range(1104, 1110):
            consumer.processed(TP5, offset)
        assert consumer._new_offset(TP5) is None
        consumer._done[TP5] = 688  # what perform_seek sets: the committed offset
        consumer.processed(TP5, 1110)  # one more stale record: a hole, read again
        await asyncio.sleep(0)
        assert seeks == [(TP5, 688)]
        assert consumer._new_offset(TP5) == 688

    asyncio.run(run())


def test_only_the_next_record_is_taken_and_commits_stop_at_what_is_owed() -> None:
    """processed() tells the agent whether to act on a record (the next one in order
    only: any other comes again); a record the tracker still owes (held for its turn
    in arrival order, or being handled) keeps the commit before it."""

    async def run() -> None:
        consumer, _ = await _consumer()
        consumer._done[TP5] = 3
        assert consumer.processed(TP5, 3) is True
        assert consumer.processed(TP5, 3) is False  # delivered again by a re-read
        assert consumer.processed(TP5, 5) is False  # past a hole: read again from 4
        assert consumer.processed(TP5, 4) is True
        assert consumer._new_offset(TP5) == 5
        consumer.checkpoint = Checkpoint(lambda tp: 4 if tp == TP5 else None)
        assert consumer._new_offset(TP5) == 4
        consumer.checkpoint = NO_BATCH
        assert consumer._new_offset(TP5) == 5

    asyncio.run(run())


def _reader_app(broker: EmbeddedBroker, name: str, **settings: Any) -> faust.App:
    """An app reading one-partition topics through vasscm's consumer (tansu://), with
    the worker's group timeouts."""
    app = faust.App(
        name,
        broker=broker.url,
        broker_consumer=broker.url.replace("kafka://", f"{tansu.SCHEME}://"),
        autodiscover=False,
        web_enabled=False,
        store="memory://",
        topic_partitions=1,
        broker_session_timeout=6.0,
        broker_rebalance_timeout=6.0,
        broker_heartbeat_interval=1.0,
        **settings,
    )
    app.consumer.checkpoint = NO_BATCH  # wired: nothing is owed here
    return app


@pytest.mark.broker
def test_a_re_read_sought_while_a_record_is_handled_delivers_every_record_again(
    broker: EmbeddedBroker,
) -> None:
    """How a re-read starts (``Consumer._read_again``): a seek scheduled by the agent
    while it handles a record. faust's fetch loop sets its read offset after it hands a
    record over, over the one the seek set, and then dropped every re-read record below
    it: the hole was never filled and the partition stood still (seen in CI after a
    rebalance: a customs partition's marks never read again, its port events held)."""
    topic_name = "reread-while-handled"

    async def run() -> list[int]:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            for i in range(7):
                await producer.send_and_wait(topic_name, b"%d" % i, partition=0)
        finally:
            await producer.stop()
        app = _reader_app(broker, "reread-test")
        seen: list[int] = []
        seeks: list[asyncio.Future[None]] = []

        @app.agent(app.topic(topic_name, value_serializer="raw"))
        async def agent(stream: Any) -> None:
            async for event in stream.events():
                seen.append(event.message.offset)
                if event.message.offset == 6 and seen.count(6) == 1:
                    seeks.append(asyncio.ensure_future(app.consumer.seek(event.message.tp, 2)))

        await app.start()
        try:
            deadline = time.monotonic() + 60
            while seen.count(6) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return seen
        finally:
            await app.stop()

    assert [0, 1, 2, 3, 4, 5, 6, 2, 3, 4, 5, 6] == asyncio.run(run())


@pytest.mark.broker
def test_records_fetched_while_faust_seeks_are_read_again_in_order(
    broker: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a rebalance faust seeks to the committed offsets while the fetcher runs: the
    records it fetches from there before the consumer's books are set pass uncounted
    (processed() is False: not yet sought). Under CPU load the seek is slow and all of
    them did; they were not fetched again, and the partition's records stayed held,
    never taken in order (seen in the stalls test). Here the seek is slowed as load
    slows it, and every record after the committed offset must be taken in order."""
    topic_name = "reread-while-seeking"
    slow = tansu._Consumer.seek_to_committed

    async def slow_seek_to_committed(self: Any) -> Any:
        offsets = await slow(self)
        await asyncio.sleep(1.0)  # the fetcher goes on meanwhile
        return offsets

    async def run() -> list[int]:
        app = _reader_app(
            broker,
            "reread-seek-test",
            broker_commit_interval=3600.0,  # committed when told
        )
        in_order: list[int] = []

        @app.agent(app.topic(topic_name, value_serializer="raw"))
        async def agent(stream: Any) -> None:
            async for event in stream.events():
                if app.consumer.processed(event.message.tp, event.message.offset):
                    in_order.append(event.message.offset)

        async def until(count: int) -> None:
            deadline = time.monotonic() + 30
            while len(in_order) < count and time.monotonic() < deadline:
                await asyncio.sleep(0.05)

        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        await app.start()
        try:
            for i in range(10):
                if i == 5:
                    await until(5)
                    await app.consumer.commit()  # committed: 5
                await producer.send_and_wait(topic_name, b"%d" % i, partition=0)
            await until(10)
            monkeypatch.setattr(tansu._Consumer, "seek_to_committed", slow_seek_to_committed)
            await app.consumer.perform_seek()  # as at a rebalance: 5..9 come again
            await until(15)
            return in_order
        finally:
            await producer.stop()
            await app.stop()

    assert [*range(10), *range(5, 10)] == asyncio.run(run())


@pytest.mark.broker
def test_records_of_a_partition_paused_while_its_batch_is_handed_over_are_read_again(
    broker: EmbeddedBroker,
) -> None:
    """The tracker pauses a partition read far ahead of the others (arrival order) while
    faust's fetch loop is still handing over a batch of it: faust drops the rest of the
    batch (``Consumer.getmany`` yields only active partitions' records), and the
    fetcher's position is already past them. A later record of the partition showed the
    hole; at the end of a partition none comes, and the partition stood still for good
    (seen in the five-kill test: port events never taken, records held for ever)."""
    topic_name = "paused-mid-batch"

    async def run() -> list[int]:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            for i in range(7):
                await producer.send(topic_name, b"%d" % i, partition=0)
            await producer.flush()
        finally:
            await producer.stop()
        app = _reader_app(broker, "paused-mid-batch-test")
        in_order: list[int] = []

        async def ebb() -> None:  # as when the producer buffer is full: the loop waits
            await asyncio.sleep(0.02)

        app.producer.buffer.wait_until_ebb = ebb  # type: ignore[method-assign]

        @app.agent(app.topic(topic_name, value_serializer="raw"))
        async def agent(stream: Any) -> None:
            async for event in stream.events():
                tp, offset = event.message.tp, event.message.offset
                if app.consumer.processed(tp, offset):
                    in_order.append(offset)
                if offset == 1 and in_order.count(1) == 1:
                    paused = {TP(tp.topic, tp.partition)}
                    app.consumer.pause_partitions(paused)
                    loop = asyncio.get_running_loop()
                    loop.call_later(0.5, app.consumer.resume_partitions, paused)

        await app.start()
        try:
            deadline = time.monotonic() + 30
            while len(in_order) < 7 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return in_order
        finally:
            await app.stop()

    assert list(range(7)) == asyncio.run(run())


# --- the agents' own records: straight to the client, their answers watched ----------


def test_a_record_of_the_agents_the_broker_refuses_stops_every_later_commit() -> None:
    """The fan-out's copies and marks and the stall ticks go through ``send_watched``:
    one the broker refuses fails the flush before the next commit, and every one after
    (the input behind a lost copy must be read again), where faust's topic send only
    logged it. Accepted ones do not."""

    async def run() -> None:
        app = faust.App("watched-test", broker=f"{SCHEME}://127.0.0.1:9", autodiscover=False)
        producer = app.producer
        loop = asyncio.get_running_loop()
        acks: list[asyncio.Future[None]] = []
        sent: list[tuple[str, bytes | None, bytes | None, int | None]] = []

        async def send(topic: str, key: Any, value: Any, partition: Any, *rest: Any) -> Any:
            sent.append((topic, key, value, partition))
            acks.append(loop.create_future())
            return acks[-1]

        async def acknowledged() -> None:  # the client's flush: nothing in flight here
            return None

        producer.send = send  # type: ignore[method-assign]
        producer.flush_client = acknowledged  # type: ignore[method-assign]
        await producer.send_watched("vasscm.container-events", b"A", b"copy", 3)
        await producer.send_watched("vasscm.stall-checks", b"B", b"tick", 5)
        assert sent == [
            ("vasscm.container-events", b"A", b"copy", 3),
            ("vasscm.stall-checks", b"B", b"tick", 5),
        ]
        acks[0].set_result(None)
        await asyncio.sleep(0)
        await NO_BATCH.flush(producer)  # accepted, and one still in flight: fine
        acks[1].set_exception(RuntimeError("message too large"))
        await asyncio.sleep(0)
        for _ in range(2):
            with pytest.raises(ProducerSendError, match="message too large"):
                await NO_BATCH.flush(producer)

    asyncio.run(run())
