"""A customs declaration's copies for the partitions a worker owns are handed to its
tracker in-process (vasscm.live.stream.fanout, Tracker.hand_over): nothing is written
for them, they wait their turn as a topic copy would, and the declaration's offset is
not committed until every copy is applied, nor past a copy dropped with a revoked
partition."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

import orjson
from factories import at, event_doc, numbered
from faust.types.tuples import TP
from webcore import Core

from vasscm.arrival import ArrivalOrder, Mark
from vasscm.events import parse_event
from vasscm.live.stream.fanout import FanOut
from vasscm.live.stream.tracker import Tracker, partition_for
from vasscm.topics import CONTAINER_EVENTS, CUSTOMS_EVENTS, DEAD_LETTER

PARTITIONS = 8
CUSTOMS = TP(CUSTOMS_EVENTS, 2)
AN_HOUR_IN = at(hours=1)


def two_partitions_apart() -> tuple[str, str]:
    """Two containers whose copies go to different partitions."""
    first = numbered(1)
    other = next(
        no
        for i in range(2, 100)
        if partition_for(no := numbered(i), PARTITIONS) != partition_for(first, PARTITIONS)
    )
    return first, other


class Wiring:
    """A tracker and a fan-out over the worker's real publisher, arrival order and
    intake (tests/webcore.py), with what they ask of faust's app: a consumer that has
    read everything, and a producer whose sends are kept."""

    def __init__(self, local: set[int]) -> None:
        self.core = Core()
        self.sent: list[tuple[str, bytes, bytes, int]] = []
        consumer = SimpleNamespace(caught_up=lambda tp: True)
        producer = SimpleNamespace(send_watched=self._send)
        app: Any = SimpleNamespace(consumer=consumer, producer=producer)
        self.arrival = ArrivalOrder(hop_partitions=1, grace_ms=0)
        hops = {CUSTOMS_EVENTS: 0}
        self.tracker = Tracker(
            app,
            self.core.intake,
            self.core.publisher,
            self.arrival,
            partitions=PARTITIONS,
            event_clock=True,
            ready=lambda: True,
            hops=hops,
        )
        self.tracker.local = frozenset(local)
        self.fan_out = FanOut(app, self.core.intake, self.tracker, PARTITIONS, hops)

    async def _send(self, topic: str, key: bytes, value: bytes, partition: int) -> None:
        self.sent.append((topic, key, value, partition))
        self.on_send()

    def on_send(self) -> None:
        """What happens while a send awaits the producer (a test sets it)."""

    async def declare(self, *containers: str, offset: int, occurred: datetime = AN_HOUR_IN) -> None:
        """An ELIGIBLE naming ``containers``, read at ``offset`` of the customs partition
        a minute past one hour."""
        doc = event_doc("ELIGIBLE", occurred, container_no=containers[0])
        doc["containers"] = [{"container_no": no} for no in containers]
        parsed = parse_event(orjson.dumps(doc))
        stamp = at(hours=1, minutes=1).timestamp()
        message = SimpleNamespace(
            topic=CUSTOMS_EVENTS,
            partition=CUSTOMS.partition,
            offset=offset,
            key=b"declaration",
            timestamp=stamp,
            tp=CUSTOMS,
        )
        await self.fan_out._route(parsed, message)  # type: ignore[arg-type]

    async def marked(self, partition: int) -> None:
        """The fan-out's mark reaches ``partition``: its copies' turn comes."""
        self.arrival.mark(partition, 0, Mark(upto=2**62))
        await self.tracker._release(partition)


async def test_copies_for_owned_partitions_are_applied_without_a_record_written() -> None:
    first, other = two_partitions_apart()
    p, q = partition_for(first, PARTITIONS), partition_for(other, PARTITIONS)
    wiring = Wiring(local={p})
    await wiring.declare(first, other, offset=7)
    # Only the copy for the partition another worker owns goes on the topic.
    assert [(topic, key, part) for topic, key, _, part in wiring.sent] == [
        (CONTAINER_EVENTS, other.encode(), q)
    ]
    assert wiring.core.publisher.load(first) is None  # held: its mark has not come
    await wiring.marked(p)
    state = wiring.core.publisher.load(first)
    assert state is not None
    # Counted as the repartition topic's records it stands for, as before.
    registry = wiring.core.registry
    labels = {"topic": CONTAINER_EVENTS, "type": "ELIGIBLE", "outcome": "accepted"}
    assert registry.get_sample_value("vasscm_events_total", labels) == 1.0


async def test_the_declaration_is_owed_until_each_copy_is_applied() -> None:
    first, other = two_partitions_apart()
    p, q = partition_for(first, PARTITIONS), partition_for(other, PARTITIONS)
    wiring = Wiring(local={p, q})
    tracker = wiring.tracker
    await wiring.declare(first, other, offset=7)
    assert wiring.sent == []
    assert tracker.owed(CUSTOMS) == 7
    await wiring.marked(p)
    assert tracker.owed(CUSTOMS) == 7  # the copy for q still waits
    await wiring.marked(q)
    assert tracker.owed(CUSTOMS) is None


async def test_a_copy_dropped_with_its_partition_stops_the_declarations_commits() -> None:
    """A dropped copy comes again only with its declaration, read again from the
    committed offset: that offset must not pass it while the customs partition is ours."""
    first, other = two_partitions_apart()
    p, q = partition_for(first, PARTITIONS), partition_for(other, PARTITIONS)
    wiring = Wiring(local={p, q})
    tracker = wiring.tracker
    await wiring.declare(first, other, offset=7)
    await wiring.declare(first, offset=8)
    await wiring.marked(p)  # the copies for p are applied, q's held
    tracker.revoked([TP(CONTAINER_EVENTS, q)])
    assert q not in tracker.local  # later copies for q go on the topic
    assert tracker.owed(CUSTOMS) == 7
    await wiring.declare(other, offset=9)
    assert wiring.sent[-1][3] == q
    tracker.revoked([CUSTOMS])  # the customs partition goes too: nothing of it is owed
    assert tracker.owed(CUSTOMS) is None


async def test_a_refused_copy_is_dead_lettered_naming_the_customs_record() -> None:
    """The letter names the record a person can find (the declaration, on its customs
    partition); the refusal counts where the copies' outcomes count."""
    first, _ = two_partitions_apart()
    p = partition_for(first, PARTITIONS)
    wiring = Wiring(local={p})
    await wiring.declare(first, offset=12, occurred=at(days=2))  # received before it happened
    await wiring.marked(p)
    publisher = wiring.core.publisher
    publisher.batch.close()
    sent = [send for _, sends in publisher.outbox._items for send in sends]
    letters = [orjson.loads(value) for topic, _, value in sent if topic == DEAD_LETTER and value]
    assert [(CUSTOMS_EVENTS, CUSTOMS.partition, 12, "future")] == [
        (letter["topic"], letter["partition"], letter["offset"], letter["code"])
        for letter in letters
    ]
    labels = {"topic": CONTAINER_EVENTS, "type": "ELIGIBLE", "outcome": "rejected"}
    assert wiring.core.registry.get_sample_value("vasscm_events_total", labels) == 1.0


async def test_a_partition_revoked_while_a_copy_is_sent_gets_the_next_copy_by_topic() -> None:
    """A send awaits, and a rebalance may revoke partitions meanwhile: the copies after
    it ask the tracker afresh, and one for the revoked partition goes on the topic,
    not into a partition this worker no longer owns (where nothing would release it,
    and the declaration's commits would stop for good)."""
    first, other = two_partitions_apart()
    p, q = partition_for(first, PARTITIONS), partition_for(other, PARTITIONS)
    third = next(
        no for i in range(2, 200) if partition_for(no := numbered(i), PARTITIONS) not in {p, q}
    )
    wiring = Wiring(local={p, q})
    tracker = wiring.tracker
    wiring.on_send = lambda: tracker.revoked([TP(CONTAINER_EVENTS, q)])
    await wiring.declare(third, other, offset=5)  # third's copy is sent, then q goes
    assert [part for _, _, _, part in wiring.sent] == [partition_for(third, PARTITIONS), q]
    assert wiring.arrival.held(q) == 0
    assert tracker.owed(CUSTOMS) is None
