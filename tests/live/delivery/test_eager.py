"""A record handed to the agents' queues without four tasks (vasscm.live.delivery.eager,
Consumer.wait_first): a delivery that does not suspend runs in the fetch loop's own task;
one that suspends is continued, and still gives way to the flow's suspension."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from vasscm.live.app import create_app
from vasscm.live.delivery import eager
from vasscm.settings import Settings


def consumer() -> Any:
    app, _ = create_app(Settings(broker="kafka://127.0.0.1:9", store="memory://"))
    return app.consumer


async def test_a_delivery_that_does_not_suspend_runs_in_the_callers_task() -> None:
    ran_in: list[Any] = []

    async def deliver() -> str:
        ran_in.append(asyncio.current_task())
        return "put"

    c = consumer()
    results = await c.wait_first(deliver(), c.suspend_flow.wait())
    assert ran_in == [asyncio.current_task()]
    assert results.results == ["put"]
    assert not results.stopped


async def test_a_delivery_that_suspends_goes_on_from_where_it_stopped() -> None:
    room = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def deliver() -> str:
        steps.append("first")
        await room  # a queue full
        steps.append("rest")
        return "put"

    c = consumer()
    waiting = asyncio.ensure_future(c.wait_first(deliver(), c.suspend_flow.wait()))
    await asyncio.sleep(0.01)
    assert steps == ["first"]
    assert not waiting.done()
    room.set_result(None)
    results = await asyncio.wait_for(waiting, 5)
    assert steps == ["first", "rest"]  # the first step ran once
    assert "put" in results.results


async def test_a_suspended_delivery_gives_way_to_the_flows_suspension() -> None:
    """A rebalance suspends the flow: a delivery waiting on a full queue is cancelled,
    as faust's own wait would cancel it, and the fetch loop goes on."""
    cancelled = asyncio.Event()

    async def deliver() -> None:
        try:
            await asyncio.Event().wait()  # a queue that never empties
        except asyncio.CancelledError:
            cancelled.set()
            raise

    c = consumer()
    waiting = asyncio.ensure_future(c.wait_first(deliver(), c.suspend_flow.wait()))
    await asyncio.sleep(0.01)
    c.suspend_flow.set()
    await asyncio.wait_for(waiting, 5)
    await asyncio.wait_for(cancelled.wait(), 5)


async def test_an_error_in_the_first_step_propagates() -> None:
    async def deliver() -> None:
        raise KeyError("topic")

    c = consumer()
    with pytest.raises(KeyError):
        await c.wait_first(deliver(), c.suspend_flow.wait())


async def test_an_error_after_a_suspension_propagates_from_the_continuation() -> None:
    async def deliver() -> None:
        await asyncio.sleep(0)
        raise ValueError("late")

    step, _ = eager.first_step(deliver())
    assert step is not eager.DONE
    with pytest.raises(ValueError, match="late"):
        await asyncio.ensure_future(step)  # type: ignore[arg-type]
