"""The watchdog (vasscm.live.stream.watchdog): a worker held up says by what, once
it has been held up long enough, and not again too soon."""

from __future__ import annotations

import asyncio

from vasscm.arrival import ArrivalOrder, Mark
from vasscm.live.app import create_app
from vasscm.live.delivery import Batch, Checkpoint
from vasscm.live.delivery.outbox import Outbox
from vasscm.live.kafka import hooks
from vasscm.live.stream.watchdog import Watchdog
from vasscm.settings import Settings

PORT, SCAN = ("port-events", 3), ("scan-events", 3)


def held_on_3(customs: int = 1) -> ArrivalOrder:
    arrival = ArrivalOrder(hop_partitions=customs, grace_ms=0)
    arrival.assign(3, [PORT, SCAN])
    arrival.delivered(3, PORT, 1_000)
    arrival.hold(3, PORT, 7, received=1_000, occurred=1_000, wall=0, item="GATE_OUT")
    return arrival


def test_records_held_long_are_said_with_what_they_wait_on() -> None:
    arrival = held_on_3()
    dog = Watchdog(arrival, Outbox(), lambda: None, lambda: 0, after=30, every=60)
    assert dog.check(29_000, 100.0) is None  # not long enough yet
    said = dog.check(31_000, 101.0)
    assert said is not None
    assert "partition 3: 1 records held, the oldest (received 1000 ms, from " in said
    assert "for 31 s, waiting on: " in said
    assert "('scan-events', 3) delivered nothing yet, not idle" in said
    assert "hop input 0: no mark" in said
    assert dog.check(40_000, 110.0) is None  # said 9 s ago: not again yet
    assert dog.check(100_000, 161.0) is not None  # still standing, a minute later
    arrival.mark(3, 0, Mark(upto=2_000))
    arrival.delivered(3, SCAN, 2_000)
    for held in arrival.release(3, lambda s: False):
        arrival.settled(held)
    assert dog.check(300_000, 400.0) is None  # it went: nothing to say


def test_an_outbox_that_sends_nothing_for_long_is_said() -> None:
    outbox = Outbox()
    outbox.put(None, [("vasscm.clearances", b"k", b"v")] * 3)

    class Producer:  # what the watchdog asks of the app's producer
        def where(self) -> str:
            return "producer buffer: 9 put, 4 handed to the client, 5 waiting"

    dog = Watchdog(ArrivalOrder(hop_partitions=1, grace_ms=0), outbox, lambda: None,
                   lambda: 0, Producer, after=30, every=30)  # fmt: skip
    assert dog.check(0, 0.0) is None  # first seen now
    assert dog.check(0, 29.0) is None
    said = dog.check(0, 31.0)
    assert said is not None
    assert "outbox: 3 records waiting, none sent for 31 s\n    producer buffer: 9 put" in said

    sent: list[bytes | None] = []

    async def send(topic: str, key: bytes | None, value: bytes | None) -> None:
        sent.append(value)

    async def drain() -> None:
        outbox.send = send
        await outbox.drain()

    asyncio.run(drain())
    assert len(sent) == 3
    # Idle a long while, then an output put: its wait counts from then, not from the
    # last send.
    assert dog.check(0, 1000.0) is None
    outbox.put(None, [("vasscm.clearances", b"k", b"v")])
    assert dog.check(0, 1001.0) is None
    assert dog.check(0, 1020.0) is None
    said = dog.check(0, 1032.0)
    assert said is not None
    assert "outbox: 1 records waiting, none sent for 31 s" in said
    asyncio.run(drain())
    assert len(sent) == 4
    assert outbox.pending == 0
    assert dog.check(0, 2000.0) is None


def test_a_commit_whose_flush_hangs_is_said_with_its_step() -> None:
    """A commit's flush (vasscm.live.delivery.checkpoint) that waits on the broker's
    acknowledgements: said once it has lasted, with the step it is at; gone after."""

    class Buffer:
        async def flush(self) -> None:
            return None

    class Producer:  # the broker's acknowledgements come when the test says
        def __init__(self) -> None:
            self.buffer = Buffer()
            self.acked = asyncio.Event()

        async def flush_client(self) -> None:
            await self.acked.wait()

        def check(self) -> None:
            return None

    class Table(dict[str, bytes]):
        def __init__(self) -> None:
            super().__init__()
            self.last_write: dict[int | None, asyncio.Future[object]] = {}

    class Consumer:
        def __init__(self, checkpoint: Checkpoint) -> None:
            self.checkpoint = checkpoint

        def behind(self) -> list[object]:
            return []

        def caught_up(self, tp: object) -> bool:
            return True

    async def run() -> None:
        outbox = Outbox()
        batch = Batch(Table(), outbox, lambda s: s.encode(), lambda v: v)
        checkpoint = Checkpoint(lambda tp: None, batch)
        producer = Producer()
        dog = Watchdog(ArrivalOrder(hop_partitions=1, grace_ms=0), outbox,
                       lambda: Consumer(checkpoint), lambda: 0, after=30, every=1)  # fmt: skip
        flushing = asyncio.ensure_future(checkpoint.flush(producer))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        assert checkpoint.flushing is not None
        started, step = checkpoint.flushing
        assert step == "3, the broker's acknowledgements"
        assert dog.check(0, started + 29) is None
        said = dog.check(0, started + 31)
        assert said is not None
        assert "a commit has flushed for 31 s, at step 3, the broker's acknowledgements" in said
        producer.acked.set()
        await flushing
        assert checkpoint.flushing is None
        assert dog.check(0, started + 100) is None

    asyncio.run(run())


def test_records_held_while_the_state_is_rebuilt_are_said_so() -> None:
    """Records taken while the partitions' state is rebuilt wait for it, whatever their
    inputs say: that is the reason given."""
    ready = False
    dog = Watchdog(held_on_3(), Outbox(), lambda: None, lambda: 0, ready=lambda: ready,
                   after=30, every=1)  # fmt: skip
    said = dog.check(31_000, 100.0)
    assert said is not None
    assert "waiting on: the partitions' state being rebuilt" in said
    ready = True
    said = dog.check(31_000, 200.0)
    assert said is not None
    assert "hop input 0: no mark read yet" in said


def test_a_hop_input_said_before_the_consumer_exists_makes_none() -> None:
    """``FanOut.where`` (the watchdog's words on a customs, vessel or DCSA partition)
    reads the app's consumer only if it has one: ``app.consumer`` would make one."""
    app, pipeline = create_app(Settings(broker="kafka://127.0.0.1:1"))
    assert hooks.existing_consumer(app) is None
    assert pipeline.fan_out.where(9) == "vasscm.vessel-events[1]: not read by this worker"
    assert hooks.existing_consumer(app) is None
