"""The live publisher as a StepSink (vasscm.settle): what a step did goes into the batch,
and out through the outbox when the batch closes, dead letters included."""

from __future__ import annotations

from datetime import timedelta

import orjson
from factories import CONTAINER, ROUTES, at
from webcore import Core

from vasscm.live.stream.tracker import Origin, partition_for
from vasscm.topics import CONTAINER_STATE, DEAD_LETTER, PORT_EVENTS


def sent(core: Core) -> list[tuple[str, bytes | None, bytes | None]]:
    core.publisher.batch.close()
    return [send for _, sends in core.publisher.outbox._items for send in sends]


async def test_a_record_dated_in_the_future_is_dead_lettered_with_the_batch_and_counted() -> None:
    core = Core()
    route = ROUTES["cai-lan-import"]
    p = partition_for(CONTAINER, 8)
    origin = Origin(PORT_EVENTS, p, 41, CONTAINER.encode(), None, None)
    arrive = route.arrive(at())
    core.publisher.event(arrive, arrive.occurred_at, origin, at())
    early = route.event("ELIGIBLE", at(days=2))  # received two days before it happened
    core.publisher.event(early, at() + timedelta(minutes=1), origin, at(minutes=1))

    out = sent(core)
    letters = [orjson.loads(value) for topic, _, value in out if topic == DEAD_LETTER and value]
    assert 1 == len(letters)
    assert "future" == letters[0]["code"]
    assert (PORT_EVENTS, p, 41, "ELIGIBLE") == (
        letters[0]["topic"],
        letters[0]["partition"],
        letters[0]["offset"],
        letters[0]["type"],
    )
    # the arrival's view went out; the refused record changed nothing
    assert [CONTAINER.encode()] == [key for topic, key, _ in out if topic == CONTAINER_STATE]
    rejected = core.registry.get_sample_value("vasscm_rejected_total", {"reason": "future"})
    assert 1.0 == rejected
