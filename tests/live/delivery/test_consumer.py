"""The worker's consumer reads again what it handed over and nobody took
(vasscm.live.delivery.consumer.Consumer.read_again_untaken)."""

from __future__ import annotations

import asyncio
import time

from faust.types.tuples import TP

from vasscm.live.app import create_app
from vasscm.settings import Settings

SCAN = TP("vasscm.scan-events", 5)
PORT = TP("vasscm.port-events", 5)
CUSTOMS = TP("vasscm.customs-events", 5)


def test_records_handed_over_and_never_taken_are_read_again_once_a_period() -> None:
    async def run() -> None:
        app, _ = create_app(Settings(broker="kafka://127.0.0.1:1"))
        consumer = app.consumer
        sought: list[tuple[TP, int]] = []

        async def seek(tp: TP, offset: int) -> None:  # the broker is not there: noted
            sought.append((tp, offset))
            consumer._next[tp] = offset

        consumer.seek = seek  # type: ignore[method-assign]
        long_ago = time.monotonic() - 60
        # scan 5: 250 records handed over a minute ago, none taken (the case seen)
        consumer._done[SCAN], consumer._next[SCAN], consumer._done_at[SCAN] = 0, 250, long_ago
        # port 5: handed over a minute ago too, but all taken
        consumer._done[PORT], consumer._next[PORT], consumer._done_at[PORT] = 40, 40, long_ago
        # customs 5: handed over, the last taken 2 s ago (a queue being worked through)
        consumer._done[CUSTOMS], consumer._next[CUSTOMS] = 10, 30
        consumer._done_at[CUSTOMS] = time.monotonic() - 2
        assert consumer.read_again_untaken() == [SCAN]
        await asyncio.sleep(0)
        assert sought == [(SCAN, 0)]
        # Handed over again by the re-read: not again before another period passes.
        consumer._next[SCAN] = 250
        assert consumer.read_again_untaken() == []
        # Taken meanwhile: nothing to read again.
        assert consumer.processed(SCAN, 0)
        consumer._done_at[SCAN] = long_ago
        consumer._done[SCAN] = 250
        assert consumer.read_again_untaken() == []

    asyncio.run(run())


def test_a_partition_behind_that_nothing_is_handed_over_from_is_sought_again() -> None:
    """Seen after a fetch raced a seek: a customs partition 3,934 records behind, none
    fetched again. Behind for 15 s with nothing handed over, it is sought to the first
    record not taken (which starts its fetch again); one paused (the tracker's
    choice) or at its end is left alone."""

    async def run() -> None:
        app, _ = create_app(Settings(broker="kafka://127.0.0.1:1"))
        consumer = app.consumer
        sought: list[tuple[TP, int]] = []

        async def seek(tp: TP, offset: int) -> None:
            sought.append((tp, offset))

        ends = {CUSTOMS: 3934, PORT: 40, SCAN: 900}
        consumer.seek = seek  # type: ignore[method-assign]
        consumer.highwater = lambda tp: ends[tp]  # type: ignore[method-assign]
        long_ago = time.monotonic() - 60
        for tp, done in ((CUSTOMS, 0), (PORT, 40), (SCAN, 10)):
            consumer._done[tp], consumer._done_at[tp] = done, long_ago
        consumer._paused_partitions.add(SCAN)
        assert consumer.read_again_untaken() == [CUSTOMS]
        await asyncio.sleep(0)
        assert sought == [(CUSTOMS, 0)]
        assert consumer.read_again_untaken() == []  # not again before a period passes

    asyncio.run(run())
