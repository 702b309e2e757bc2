"""The producer of every worker: faust's, with a flush that waits for every table write.

**A complete flush.**
faust commits a consumer's offsets after ``producer.flush()`` (``Consumer._commit_offsets``),
so that whatever the processed records produced is on the broker first. Table writes
reach the producer through its buffer (``Topic.send_soon``), drained by a background
task, and faust-streaming's ``ProducerBuffer.flush`` does not wait for it: it returns
as soon as 0.1 s pass without a message leaving the buffer, and it never counts the
message the task has taken from the queue but not yet handed to the Kafka client
(which, with one record per batch on Tansu, waits there for the partition's previous
batch to be sent). A commit could then go through with a table's changelog write still
in the worker's memory: killed at that moment, the worker lost the state change while
its input offset was committed.

Here ``flush`` waits until every message put in the buffer before the call has been
handed to the client (whose own flush then waits for the broker's acknowledgement).
Messages put during the wait are not waited for, so a busy agent cannot hold a commit
back forever, and only the background task sends, so a partition keeps its order.

**A send that is watched.**
The agents' own records (the fan-out's copies and marks, the stall ticks, the dead
letters, an event sent on to its container's partition) go through
:meth:`Producer.send_watched`: straight to the client, as the outbox's do, where a
faust topic's ``send`` adds its sensors, futures and callbacks (~90 us a record here,
measured by ``benchmarks/live_baseline_app.py``'s modes), and with the broker's answer
watched: a record it refused stops the commits (:meth:`Producer.check`, checkpoint step
3), where a topic's send only logged it and the input offset behind the lost copy
was committed.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Final

from faust.exceptions import ProducerSendError
from faust.transport.drivers import aiokafka as driver
from faust.transport.producer import ProducerBuffer
from faust.types.tuples import FutureMessage

from vasscm.live.delivery.checkpoint import NO_BATCH, Checkpoint

__all__ = ["Buffer", "Producer"]

_POLL: Final = 0.05  # seconds between looks at the buffer while flushing


class Buffer(ProducerBuffer):
    """A buffer that counts what was put and what was handed to the client."""

    # A closing batch (vasscm.live.delivery.batch) puts up to a write per container of
    # its records at once; faust's 100 would warn "buffer full" at every close.
    max_messages = 4000

    def __post_init__(self) -> None:
        super().__post_init__()
        self._put = 0
        self._sent = 0

    def put(self, fut: FutureMessage) -> None:
        self._put += 1
        super().put(fut)

    async def _send_pending(self, fut: FutureMessage) -> None:
        try:
            await super()._send_pending(fut)
        finally:
            self._sent += 1
            self.message_sent.set()

    async def flush(self) -> None:
        """Return when everything put before the call is in the client's hands."""
        if self.app is not None and self.app.conf.producer_threaded:
            await super().flush()  # the threaded producer drains its own queue
            return
        target = self._put
        while self._sent < target:
            if self.should_stop:
                # The sending task is ending (shutdown): hand over what is left ourselves.
                while self.size:
                    await super()._send_pending(self.pending.get_nowait())
                    self._sent += 1
                return
            self.message_sent.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.message_sent.wait(), timeout=_POLL)


class Producer(driver.Producer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Replaced before start: the base class only creates the buffer here.
        self.buffer = Buffer(loop=self.loop, beacon=self.beacon)
        if self.threaded_producer is not None:
            self.buffer.threaded_producer = self.threaded_producer
        self.buffer.app = self.app
        # What must be on the broker before offsets are committed, in order: set by
        # the pipeline (vasscm.live.delivery.checkpoint).
        self.checkpoint: Checkpoint | None = None
        self.refused: BaseException | None = None  # the first record of send_watched refused

    async def send_watched(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None
    ) -> None:
        """Hand one record to the client (in call order: a partition keeps it) and
        watch the broker's answer (see the module docstring)."""
        ack = await self.send(topic, key, value, partition, None, None)
        ack.add_done_callback(self._answered)

    def _answered(self, ack: asyncio.Future[Any]) -> None:
        if not ack.cancelled() and ack.exception() is not None and self.refused is None:
            self.refused = ack.exception()

    def check(self) -> None:
        """Raise if the broker refused a record of :meth:`send_watched`: never a commit
        again in this process; after a restart the inputs behind it are read again."""
        if self.refused is not None:
            raise ProducerSendError(f"records not written: {self.refused!r}")

    def where(self) -> str:
        """How far the producer has sent, in words (vasscm.live.stream.watchdog): its
        buffer (table writes) put, handed to the client and waiting; a refusal seen."""
        buffer = self.buffer
        said = (
            f"producer buffer: {buffer._put} put, {buffer._sent} handed to the client, "
            f"{buffer.size} waiting"
        )
        if self.refused is not None:
            said += f"; refused: {self.refused!r}"
        return said

    def kafka_client(self) -> Any:
        """The aiokafka client under the producer (None before it starts)."""
        inner = self._producer
        return None if inner is None else inner.client

    async def flush(self) -> None:
        """faust calls this before it commits offsets: the checkpoint's steps (not
        wired yet: a complete flush, :data:`~vasscm.live.delivery.checkpoint.NO_BATCH`)."""
        await (self.checkpoint or NO_BATCH).flush(self)

    async def flush_client(self) -> None:
        """Wait for the broker to acknowledge everything handed to the client."""
        await super().flush()
