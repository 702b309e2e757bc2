"""Readiness follows the broker's last answer, whatever its probes do."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

from vasscm.live.stream.readiness import PROBE_EVERY, PROBE_TIMEOUT, Readiness


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Broker:
    """A client whose metadata request answers, or hangs and ignores cancellation
    (as a request to a stopped broker can, until its own timeout of minutes)."""

    def __init__(self) -> None:
        self.hung = False
        self.asked = 0
        self.answer = asyncio.Event()

    async def fetch_all_metadata(self) -> dict[str, Any]:
        self.asked += 1
        while self.hung:
            try:
                await self.answer.wait()
            except asyncio.CancelledError:
                continue  # swallowed: the probe's timeout cannot end it
        return {}


def readiness(broker: Broker, clock: Clock) -> Readiness:
    producer = SimpleNamespace(kafka_client=lambda: broker)
    app = SimpleNamespace(producer=producer, log=logging.getLogger("test"))
    ready = Readiness(app, clock=clock)
    ready.assigned = True
    return ready


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_probe_that_never_returns_makes_the_worker_not_ready_on_time() -> None:
    broker, clock = Broker(), Clock()
    ready = readiness(broker, clock)
    await ready.probe()
    await settle()
    assert ready.ready
    assert broker.asked == 1

    broker.hung = True
    for _ in range(3):  # three timer ticks: the hung probe is not doubled
        clock.now += PROBE_EVERY
        await ready.probe()
        await settle()
    assert broker.asked == 2
    assert not ready.ready
    assert ready.not_ready_because is not None
    assert "has not answered for 6 s" in ready.not_ready_because

    broker.hung = False
    broker.answer.set()  # the broker comes back: the pending request is answered
    await settle()
    assert ready.ready
    assert ready.not_ready_because is None


async def test_a_failing_probe_is_not_ready_only_once_stale() -> None:
    broker, clock = Broker(), Clock()
    ready = readiness(broker, clock)
    await ready.probe()
    await settle()

    async def refused() -> None:
        raise ConnectionRefusedError

    broker.fetch_all_metadata = refused  # type: ignore[method-assign]
    clock.now += PROBE_EVERY
    await ready.probe()
    await settle()
    assert ready.ready  # one missed answer, 2 s old: still within the allowance
    clock.now += PROBE_TIMEOUT + 0.5
    assert not ready.ready


async def test_no_producer_yet_is_not_a_hung_broker() -> None:
    clock = Clock()
    app = SimpleNamespace(producer=SimpleNamespace(kafka_client=lambda: None), log=None)
    ready = Readiness(app, clock=clock)
    clock.now += 60
    await ready.probe()
    assert ready.broker_ok
    assert ready.not_ready_because == "partitions not assigned (or tables still recovering)"


async def test_a_slow_start_is_not_an_unreachable_broker(caplog: Any) -> None:
    """The first probe comes when the worker has started, however long that took (its
    tables recovered): the broker was not asked before it, so it has not failed to
    answer, and nothing says it is unreachable."""
    broker, clock = Broker(), Clock()
    ready = readiness(broker, clock)
    clock.now += 20 * PROBE_EVERY
    with caplog.at_level(logging.INFO, logger="test"):
        await ready.probe()
        await settle()
        assert ready.ready
        clock.now += PROBE_EVERY
        await ready.probe()
        await settle()
    assert ready.ready
    assert broker.asked == 2
    assert "unreachable" not in caplog.text
    assert "reachable again" not in caplog.text


async def test_a_worker_is_not_ready_until_its_output_topics_are_declared() -> None:
    """Partitions assigned and the broker answering, but the topics it writes not yet
    declared (the pipeline's first task): not ready, and saying why."""
    broker, clock = Broker(), Clock()
    declared = asyncio.Event()
    app = SimpleNamespace(producer=SimpleNamespace(kafka_client=lambda: broker), log=None)
    ready = Readiness(app, clock=clock, declared=declared.is_set)
    ready.assigned = True
    await ready.probe()
    await settle()
    assert ready.broker_ok
    assert not ready.ready
    assert ready.not_ready_because == "output topics not declared yet"
    declared.set()
    assert ready.ready
    assert ready.not_ready_because is None
