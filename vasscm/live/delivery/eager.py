"""Running a coroutine's first step at once, and the rest, if any, as a task.

faust's fetch loop hands each record to the agents' queues through
``wait_first(deliver(record), suspend_flow.wait())`` (mode's ``Service.wait_first``):
four tasks and an ``asyncio.wait`` per record, although a delivery to a queue with
room completes without ever suspending. Measured on the live benchmark, that alone
took a third of the worker's time. :func:`first_step` runs the coroutine until it
first suspends: most finish there, with no task made; one that suspends (a queue
full) is continued, from where it stopped, by a task that the caller waits on as
faust would have (vasscm.live.delivery.consumer).

The continuation yields to the task exactly what the coroutine yields, and passes
back what the task sends or throws (a result, a cancellation), as a task running the
coroutine from its start would have.
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Any, Final

__all__ = ["DONE", "first_step"]

DONE: Final = object()  # first_step's answer for a coroutine that has finished


def first_step(coro: Coroutine[Any, Any, Any]) -> tuple[object, Any]:
    """``(DONE, result)`` when ``coro`` finishes without suspending, else
    ``(continuation, None)``: a coroutine that runs the rest of it (wrap it in a task).
    An exception ``coro`` raises in its first step propagates from here."""
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        return DONE, stop.value
    return _resume(coro, yielded), None


async def _resume(coro: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    return await _Resumed(coro, yielded)


class _Resumed:
    __slots__ = ("coro", "yielded")

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self.coro = coro
        self.yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, value = self.coro, self.yielded
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # a cancellation, or what the awaited raised
                try:
                    value = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as stop:
                    return stop.value
