"""The consumer of every worker: faust's, with two defects of faust 0.15.3 worked around.

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
faust's own guard, its read offset, is no use for that and worse: its fetch loop
writes it after handing a record over, over the offset a re-read just sought, and
then drops the re-read records below it (``Consumer._drain_messages``). This
consumer sets it to each record it lets through, and drops what it has handed over
before itself.

**Commits up to the first record not processed.** faust also drops records it has
counted read: an agent's queue is cleared when the flow resumes after a recovery or a
rebalance (``FlowControlEvent.resume``), and a put waiting on a full queue is
cancelled. It commits from acknowledgements, and its rule lets the first acknowledged
offset be one past the committed one (``min(acked) - committed > 1`` is its test for
a hole in ``Consumer._new_offset``): a one-record hole is committed over, and the
record is lost (holes of one to a few records follow most restarts under CPU load). Here
the pipeline reports each record it has finished (:meth:`Consumer.processed`); the
offset committed is the first record not finished, and a record finished past a hole
has the partition read again from the hole (logged as a warning). Until the partition
is sought to its committed offset, nothing is counted and nothing committed: records
fetched before the seek get processed too, and counting them once let a commit
(during the seek) skip the records before them.

**Reads again what faust drops from a fetch.** faust's ``Consumer.getmany`` hands over
a fetched batch one record at a time and drops the rest of a partition's records when
the partition is paused meanwhile (the tracker pauses inputs read far ahead, for
arrival order, while the fetch loop waits on a full producer buffer); the fetcher's
position is past them already. A later record of the partition shows the hole, but at
the end of a partition (a backlog read to its end) none comes: the partition stood
still for good, its records never taken and those waiting on them held (seen in the
five-kill test, under CPU load). So the offsets each fetch drained are noted
(``_getmany``), and a partition whose drained records were not all handed over is read
again from the first one that was not.

**Reads again what was handed over and never taken.** Records can also be lost after
this consumer has let them through: faust clears an agent's queue when the flow
resumes after a recovery, and a record handed over while the partition is being
sought is counted by nothing. A later record shows the hole; at the end of a
partition none comes. So a partition whose records were handed over and none taken
for 15 s is read again from the first not taken (:meth:`Consumer.read_again_untaken`,
once a second; a record taken twice is a duplicate, as after any re-read), and so is
one behind its end that nothing was handed over from for as long (its fetch stopped,
seen after a fetch raced a seek).

**Hands each record over without four tasks.** faust's fetch loop awaits every
record's delivery to the agents' queues through mode's ``wait_first``, four tasks and
an ``asyncio.wait`` each time; :meth:`Consumer.wait_first` runs the delivery's first
step at once and waits as faust does only on one that suspends
(vasscm.live.delivery.eager).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

from faust.transport.drivers import aiokafka as driver
from faust.types.tuples import TP
from mode.services import WaitResults

from vasscm.live.delivery import eager
from vasscm.live.delivery.checkpoint import Checkpoint

__all__ = ["Consumer"]

# A jump is taken as real (records deleted by retention) only after this long of
# reading again: records fetched before a seek keep arriving for a moment after it,
# and accepting their jump would process a later record before an earlier one.
_GONE_AFTER: Final = 10.0  # seconds
_REREAD_EVERY: Final = 5.0  # seconds between re-reads of the same hole
_HOLE_GONE_AFTER: Final = 120.0  # seconds of re-reading before a hole is taken as gone
# (long: a worker far behind can take a while to reach the records it reads again)
# Seconds records may wait, handed to the agents and not taken, before they are read
# again (an agent's queue holds a few seconds' worth, under load too).
_UNTAKEN_AFTER: Final = 15.0


def _close(coros: tuple[Any, ...]) -> None:
    """Coroutines never started (the flow's suspension not waited on): closed, so none
    is reported never awaited."""
    for coro in coros:
        if asyncio.iscoroutine(coro):
            coro.close()


class Consumer(driver.Consumer):
    """faust's consumer, that reads every record of its stream partitions in order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next: dict[TP, int] = {}  # the next offset expected, per partition
        self._reseeks: dict[TP, tuple[int, float]] = {}  # offset -> first re-read (monotonic)
        self._done: dict[TP, int] = {}  # every record before this offset is processed
        self._done_at: dict[TP, float] = {}  # when _done last moved (monotonic)
        self._rereads: dict[TP, tuple[int, float, float]] = {}  # hole -> first, last re-read
        self._rereading: set[asyncio.Future[None]] = set()
        self._fetched: dict[TP, int] = {}  # one past the last offset fetched, per partition
        # Of the fetch under way: one past the last offset the fetcher drained, per
        # partition (its position is there, whether faust hands the records over or not).
        self._drained: dict[TP, int] = {}
        # How far each partition may be committed (step 4 of the commit order): set by
        # the shell (Pipeline.wire); until then nothing is committed.
        self.checkpoint: Checkpoint | None = None

    def _contiguous(self, tp: TP) -> bool:
        # Table changelogs may be compacted; stream topics here are not.
        return self.app.topics.acks_enabled_for(tp.topic) and not tp.topic.endswith("-changelog")

    async def perform_seek(self) -> None:
        # Nothing is counted or committed, and no hole read again, while the seek is
        # under way (processed() ignores a partition with no entry in _done).
        self._done.clear()
        self._rereads.clear()
        await super().perform_seek()
        self._next.clear()
        for tp in self.assignment():
            if self._contiguous(tp):
                committed = self._committed_offset[tp]
                # faust maps a committed 0 to None; a partition never committed is read
                # from its start, offset 0 under delete retention until records expire.
                self._done[tp] = committed or 0
                self._done_at[tp] = time.monotonic()
                if committed is not None:
                    self._next[tp] = committed
                # Records keep coming while faust seeks: those it fetched from the
                # committed offset before the lines above went by uncounted, and were
                # not fetched again (seen: a worker whose port records stayed held,
                # never taken in order). Read again from there, the books now set.
                # (No await point between here and the books: nothing comes between.)
                await super().seek(tp, committed or 0)

    async def seek(self, partition: TP, offset: int) -> None:
        await super().seek(partition, offset)
        self._next[partition] = offset

    async def wait_first(self, *coros: Any, timeout: Any = None) -> Any:
        """What faust's fetch loop awaits for every record: the first of handing the
        record to the agents' queues and the flow being suspended. mode makes four
        tasks and an ``asyncio.wait`` of it; here the delivery's first step runs at once
        (vasscm.live.delivery.eager), and only one that suspends (a queue full) is
        waited on as faust would, with the flow's suspension beside it."""
        first = coros[0] if coros else None
        if (
            timeout is not None
            or not asyncio.iscoroutine(first)
            or self.suspend_flow.is_set()
            or self.should_stop
        ):
            return await super().wait_first(*coros, timeout=timeout)
        try:
            step, result = eager.first_step(first)
        except BaseException:
            _close(coros[1:])
            raise
        if step is eager.DONE:
            _close(coros[1:])
            return WaitResults([first], [result], False)
        return await super().wait_first(step, *coros[1:])

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        for tp in revoked:
            self._done.pop(tp, None)
            self._done_at.pop(tp, None)
            self._rereads.pop(tp, None)
            self._fetched.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    def processed(self, tp: TP, offset: int) -> bool:
        """The agent takes the record at ``offset``: True when it is the next one in
        order (only then does it say the records before it were read; any other is
        read again in its turn).
        Offsets are committed up to the first record not taken, whatever faust's
        acknowledgements say, and not past what the shell still owes (:attr:`checkpoint`);
        a record past a hole has the partition read again from the hole."""
        done = self._done.get(tp)  # set by perform_seek, for stream partitions only
        if done is None:
            # Not yet sought to its committed offset (perform_seek): a record fetched
            # before the seek says nothing of the records before it, and counting it
            # would let a commit skip them (seen: a commit during the seek, of offsets
            # past records the previous worker had not processed). It comes again.
            return False
        if offset == done:
            self._done[tp] = offset + 1
            self._done_at[tp] = time.monotonic()
            self._rereads.pop(tp, None)
            return True
        if offset > done:
            return self._read_again(tp, done, offset)
        return False  # taken before: delivered again by a re-read

    def caught_up(self, tp: TP) -> bool:
        """The agent has taken every record of ``tp`` there is, as far as the last fetch
        response tells (records fetched and not yet taken count as left)."""
        next_offset = self._done.get(tp)
        if next_offset is None or tp in self._paused_partitions:
            return False
        highwater = self._end(tp)
        if highwater is None:
            return False
        return next_offset >= max(highwater, self._fetched.get(tp, 0))

    def read_again_untaken(self) -> list[TP]:
        """Read again, from the first record not taken, each stream partition whose
        records went to the agents and none was taken for ``_UNTAKEN_AFTER`` seconds,
        or that is behind its end and none was handed over for as long (not paused);
        returns those partitions. faust drops what it has handed over in places (an
        agent's queue cleared when the flow resumes after a recovery; a record handed
        over before the seek, counted by nothing), and a hole is otherwise found only
        by a later record: at the end of a partition none comes (seen after kill -9:
        a scan partition's 250 records handed over, none taken, and its tracker
        partition's records held for good behind them). Called once a second by the
        pipeline; a record taken twice is a duplicate, as after any re-read."""
        now = time.monotonic()
        stalled = []
        for tp, done in list(self._done.items()):
            if now - self._done_at.get(tp, now) < _UNTAKEN_AFTER:
                continue
            handed = self._next.get(tp)
            if handed is not None and handed > done:
                said = f"records {done}..{handed - 1} were handed over and never taken"
            elif tp not in self._paused_partitions and done < (self._end(tp) or 0):
                # Behind, and nothing handed over: the fetcher no longer fetches it
                # (seen after a fetch raced a seek). A seek starts it again.
                said = f"records from {done} on were never handed over"
            else:
                continue
            self._done_at[tp] = now  # once a period, while it lasts
            self.log.warning("%s: %s: reading them again", tp, said)
            task = asyncio.ensure_future(self.seek(tp, done))
            self._rereading.add(task)
            task.add_done_callback(self._rereading.discard)
            stalled.append(tp)
        return stalled

    def _end(self, tp: TP) -> int | None:
        """The partition's end (its high water) as the last fetch response told; None
        when not known."""
        try:
            highwater = self.highwater(tp)
        except Exception:  # not assigned (any more), or the client not started
            return None
        return None if highwater is None or highwater < 0 else highwater

    def where(self, tp: TP) -> str:
        """How far ``tp`` is read, in words (vasscm.live.stream.watchdog): processed up
        to, next expected, fetched up to, the last fetch's high water, paused, a hole
        being read again."""
        highwater = self._end(tp)
        parts = [
            f"done {self._done.get(tp, '-')}",
            f"next {self._next.get(tp, '-')}",
            f"fetched {self._fetched.get(tp, '-')}",
            f"high water {highwater if highwater is not None else '-'}",
        ]
        if tp in self._paused_partitions:
            parts.append("paused")
        if tp in self._rereads:
            parts.append(f"reading again from {self._rereads[tp][0]}")
        return f"{tp.topic}[{tp.partition}]: " + ", ".join(parts)

    def behind(self) -> list[TP]:
        """Stream partitions assigned here with records not yet processed, or paused."""
        try:
            assigned = sorted(self.assignment())
        except Exception:  # the client not started
            return []
        out = []
        for tp in assigned:
            done = self._done.get(tp)
            if not self._contiguous(tp) or done is None:
                continue
            if tp in self._paused_partitions or done < (self._end(tp) or 0):
                out.append(tp)
        return out

    def _read_again(self, tp: TP, hole: int, seen: int) -> bool:
        now = time.monotonic()
        at, first, last = self._rereads.get(tp, (hole, now, 0.0))
        if at != hole:
            first, last = now, 0.0
        if now - first >= _HOLE_GONE_AFTER:
            # Read again for long enough: the records went with retention.
            self.log.warning("%s: records %d..%d are gone", tp, hole, seen - 1)
            self._done[tp] = seen + 1
            self._rereads.pop(tp, None)
            return True
        if now - last < _REREAD_EVERY:  # a re-read is on its way; later records go by
            self._rereads[tp] = (hole, first, last)
            return False
        self._rereads[tp] = (hole, first, now)
        self.log.warning(
            "%s: records from %d on were not processed (%d was): reading them again",
            tp,
            hole,
            seen,
        )
        task = asyncio.ensure_future(self.seek(tp, hole))
        self._rereading.add(task)
        task.add_done_callback(self._rereading.discard)
        return False

    def _new_offset(self, tp: TP) -> int | None:
        """The offset to commit: the first record of ``tp`` the agents have not done
        (not faust's, from acknowledgements: see the module's docstring)."""
        if not self._contiguous(tp):
            return super()._new_offset(tp)
        acked = self._acked.get(tp)
        if acked:  # faust's own bookkeeping, unused here: keep it from growing
            acked.clear()
            self._acked_index[tp].clear()
        if self.checkpoint is None:  # not wired yet (Pipeline.wire): commit nothing
            return None
        return self.checkpoint.committable(tp, self._done.get(tp))

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> Any:
        records = await super()._getmany(active_partitions, timeout)
        drained = self._drained
        for tp, batch in records.items():
            if batch:
                drained[tp] = batch[-1].offset + 1
        return records

    async def getmany(self, timeout: float) -> Any:
        expected = self._next
        read_offset = self._read_offset
        again: dict[TP, int] = {}
        self._drained = drained = {}  # filled by _getmany, for this fetch
        fetched = super().getmany(timeout)
        while True:
            try:
                tp, message = await fetched.__anext__()
            except StopAsyncIteration:
                break
            except KeyError as exc:
                # faust seeks the aiokafka consumer from this thread while it runs on
                # its own (ThreadDelegateConsumer._seek): a seek can race its fetcher,
                # which then fails with KeyError in Fetcher.fetched_records (seen once
                # in the five-kill test; it crashed the worker). The records it had
                # drained are skipped, and read again from the first not taken: the
                # partition named is sought there (seen: left alone, it was never
                # fetched again, 3,934 records behind; read_again_untaken would
                # catch it 15 s later).
                self.log.warning("a fetch raced a seek (KeyError %s): reading on", exc)
                raced = exc.args[0] if exc.args else None  # aiokafka's TopicPartition
                if isinstance(raced, tuple) and len(raced) == 2:
                    named = TP(*raced)
                    if named in self._done:
                        again[named] = self._done[named]
                break
            if tp in again:
                continue
            want = expected.get(tp)
            contiguous = self._contiguous(tp)
            if contiguous:
                if want is not None and message.offset < want:
                    continue  # handed over before, and not asked for again
                # faust's fetch loop drops a record below its read offset, which it
                # sets after handing a record to the agents: a re-read sought from an
                # agent meanwhile was overwritten by it, and every record of the
                # re-read dropped but the last, for ever (seen after a rebalance).
                # The order of these partitions is this method's: let it through.
                read_offset[tp] = message.offset
            if want is not None and message.offset > want and contiguous:
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
            if message.offset >= self._fetched.get(tp, 0):
                self._fetched[tp] = message.offset + 1
            yield tp, message
        self._handed_over(drained, again)
        for tp, offset in again.items():
            self.log.info("%s: records from %d on were skipped: reading them again", tp, offset)
            await self.seek(tp, offset)

    def _handed_over(self, drained: dict[TP, int], again: dict[TP, int]) -> None:
        """Adds to ``again`` each stream partition whose records drained by this fetch
        did not all go through: dropped by faust's getmany (paused meanwhile), they
        would not be fetched again (see the module's docstring)."""
        if not drained or not self.flow_active:
            return  # flow stopped: faust seeks every partition to its committed offset
        assigned = self.assignment()
        for tp, end in drained.items():
            if tp in again or tp not in assigned or not self._contiguous(tp):
                continue
            want = self._next.get(tp, self._done.get(tp))
            if want is not None and want < end:
                self.log.info(
                    "%s: records %d..%d were fetched and not handed over: reading them again",
                    tp,
                    want,
                    end - 1,
                )
                again[tp] = want
