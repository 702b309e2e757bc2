"""What must be on the broker before a worker's input offsets are committed, in order.

faust commits a consumer's offsets right after ``producer.flush()``
(``Consumer._commit_offsets``), on a timer. vasscm's producer runs the steps below in
that flush, so the commit that follows covers only what is safe:

0. the open batch closes: each container's latest state is written to the table and
   sent to its changelog, and the batch's outputs go to the outbox behind those
   writes (:class:`~vasscm.live.delivery.batch.Batch`);
1. the table's changelog writes leave the producer buffer for the client
   (:class:`~vasscm.live.delivery.producer.Buffer`: faust's flush returned early);
2. the outputs whose state change is written leave the outbox
   (:class:`~vasscm.live.delivery.outbox.Outbox`: an output is never on the broker
   without the state change it reports);
3. the broker acknowledges everything handed to the client (an output, or a record
   of the agents' own, it refused stops the commit);
4. faust commits each input partition up to the first record the agents have not
   taken, or still owe: held for its turn in arrival order, or being handled. The
   consumer asks :meth:`Checkpoint.committable` (from its overridden ``_new_offset``,
   the one place faust asks how far to commit).

One checkpoint per worker, made and handed to the consumer and the producer in one
place (``Pipeline.wire``); ``vasscm.live.kafka.hooks.check_wiring`` fails the start-up
unless both hold that same checkpoint.

A failure in step 2 stops commits for good in this process: after a restart the
records are read again and what their state says went out is sent again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from vasscm.live.delivery.batch import Batch

if TYPE_CHECKING:
    from vasscm.live.delivery.producer import Producer

#: The lowest offset of an input partition the agents still owe work for (a record
#: held for its turn, or being handled), or None: the tracker's ``owed``.
Owed = Callable[[Any], int | None]

__all__ = ["NO_BATCH", "Checkpoint", "Owed"]


class Checkpoint:
    def __init__(self, owed: Owed, batch: Batch | None = None) -> None:
        """``batch``: the worker's (None: an app that writes nothing, only reads)."""
        self.owed = owed
        self.batch = batch
        # The flush under way (vasscm.live.stream.watchdog): when it started
        # (monotonic), and the step it is at; None when none is.
        self.flushing: tuple[float, str] | None = None

    def committable(self, tp: Any, done: int | None) -> int | None:
        """Step 4: how far ``tp`` may be committed, given ``done`` (the first offset
        the consumer has not handed over in order; None: not known yet, commit nothing)."""
        if done is None:
            return None
        owed = self.owed(tp)
        return done if owed is None else min(done, owed)

    async def flush(self, producer: Producer) -> None:
        """Steps 0 to 3, before faust commits."""
        if self.batch is None:
            await producer.buffer.flush()
            await producer.flush_client()
            producer.check()
            return
        outbox = self.batch.outbox
        started = time.monotonic()
        try:
            # 0. Every record applied so far has its state written (the offsets to
            #    commit were computed before this flush: they cover no record applied
            #    after).
            self.batch.close()
            # 1. Table writes first: the outbox waits for them, and at shutdown (the
            #    buffer's task stopped) only this flush hands them over.
            self.flushing = (started, "1, table writes to the client")
            await producer.buffer.flush()
            # 2. Outputs after the state changes they report.
            self.flushing = (started, "2, outputs out of the outbox")
            await outbox.drain()
            # 3. Acknowledged (an output the broker refused stops the commit).
            self.flushing = (started, "3, the broker's acknowledgements")
            await producer.flush_client()
        finally:
            self.flushing = None
        outbox.check()
        producer.check()
        # 4. faust commits offsets now: Consumer._new_offset says how far.


def _nothing_owed(tp: Any) -> None:
    return None


#: A checkpoint with no batch and nothing owed: before each commit, a complete flush
#: and no more; commits up to what the consumer handed over. What the producer flushes
#: through until the pipeline wires the worker's own, and what an app that only reads
#: (a test's) gives its consumer.
NO_BATCH: Final = Checkpoint(_nothing_owed)
