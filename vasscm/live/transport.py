"""The faust transport of every worker: faust's, with two defects of faust 0.15.3 worked around.

**A consumer that skips no record.** When a partition is assigned, faust fetches before
it seeks its stream partitions to their committed offsets: records fetched for a
partition not yet active are dropped (``Consumer.getmany``), and a batch fetched before
the seek can arrive after it. The consumer's position then jumps past records never
handed to an agent, and ``Consumer._drain_messages`` takes the jump for a gap in the
log (as compaction leaves) and marks the records in it acknowledged (``_add_gap``);
the partition's offset is committed past them, and they are never processed (seen as
a customs ``ELIGIBLE`` or a port event missing from a visit after a restart; many
under CPU load, where the seek takes longer). vasscm reads only topics with delete
retention, whose offsets have no gaps: this consumer refuses a record past the next
offset it expects on a partition and reads the partition again from that offset.

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
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Final

from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as driver
from faust.transport.producer import ProducerBuffer
from faust.types.tuples import TP, FutureMessage

__all__ = ["SCHEME", "Transport"]

SCHEME: Final = "vasscm"
_POLL: Final = 0.05  # seconds between looks at the buffer while flushing
# A jump is taken as real (records deleted by retention) only after this long of
# reading again: records fetched before a seek keep arriving for a moment after it,
# and accepting their jump would process a later record before an earlier one.
_GONE_AFTER: Final = 10.0  # seconds


class Consumer(driver.Consumer):
    """faust's consumer, that reads every record of its stream partitions in order."""

    _next: dict[TP, int] | None = None  # the next offset expected, per partition
    _reseeks: dict[TP, tuple[int, float]] | None = None  # offset -> first re-read (monotonic)

    def _expected(self) -> dict[TP, int]:
        if self._next is None:
            self._next, self._reseeks = {}, {}
        return self._next

    def _contiguous(self, tp: TP) -> bool:
        # Table changelogs may be compacted; stream topics here are not.
        return self.app.topics.acks_enabled_for(tp.topic) and not tp.topic.endswith("-changelog")

    async def perform_seek(self) -> None:
        await super().perform_seek()
        expected = self._expected()
        expected.clear()
        for tp, offset in self._committed_offset.items():
            if offset is not None:
                expected[tp] = offset

    async def seek(self, partition: TP, offset: int) -> None:
        await super().seek(partition, offset)
        self._expected()[partition] = offset

    async def getmany(self, timeout: float) -> Any:
        expected = self._expected()
        again: dict[TP, int] = {}
        async for tp, message in super().getmany(timeout):
            if tp in again:
                continue
            want = expected.get(tp)
            if want is not None and message.offset > want and self._contiguous(tp):
                assert self._reseeks is not None
                offset, since = self._reseeks.get(tp, (want, time.monotonic()))
                if offset != want:
                    since = time.monotonic()
                self._reseeks[tp] = (want, since)
                if time.monotonic() - since < _GONE_AFTER:
                    again[tp] = want
                    continue
                self.log.warning("%s: records %d..%d are gone", tp, want, message.offset - 1)
            if want is None or message.offset >= want:
                expected[tp] = message.offset + 1
            yield tp, message
        for tp, offset in again.items():
            self.log.info("%s: records from %d on were skipped: reading them again", tp, offset)
            await self.seek(tp, offset)


class _Buffer(ProducerBuffer):
    """A buffer that counts what was put and what was handed to the client."""

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


class _Producer(driver.Producer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Replaced before start: the base class only creates the buffer here.
        self.buffer = _Buffer(loop=self.loop, beacon=self.beacon)
        if self.threaded_producer is not None:
            self.buffer.threaded_producer = self.threaded_producer
        self.buffer.app = self.app


class Transport(driver.Transport):
    Consumer = Consumer
    Producer = _Producer


TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
