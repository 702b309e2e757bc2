"""``vasscm archive``: ``vasscm.clearances`` read into monthly Parquet files
(:mod:`vasscm.archive`), so a reform office reports from the live system without a
replay.

A standalone aiokafka consumer in a group of its own (default ``vasscm-archive``),
apart from the worker's: archiving can fall behind, or stop, without holding tracking
back. At least once: a partition's offset is committed only after the files holding
the records before it are fsynced and renamed into place; a crash (kill -9) between
the two re-reads those records, and the month files, keyed on ``(visit_id,
revision)``, take them again without a duplicate. A rebalance flushes and commits
before the partitions go. SIGTERM or Ctrl-C: what is buffered is flushed and
committed, then the process exits 0.

A flush is due when ``flush_records`` records were read since the last one, or the
oldest of them was read ``flush_interval`` ago (vasscm.settings: the README says how
they were chosen).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from aiokafka import (  # type: ignore[import-untyped]
    AIOKafkaConsumer,
    ConsumerRebalanceListener,
    TopicPartition,
)
from aiokafka.errors import CommitFailedError, KafkaError  # type: ignore[import-untyped]

from vasscm.archive import Archive
from vasscm.live.kafka.clients import start_consumer
from vasscm.settings import Settings, bootstrap_servers
from vasscm.topics import CLEARANCES

__all__ = ["GROUP", "Archiver", "Totals", "run_archiver"]

GROUP: Final = "vasscm-archive"
_POLL_MS: Final = 500  # how long a poll waits: a stop is seen within this
_BATCH: Final = 5000  # records validated per poll, in the event loop: heartbeats wait
log = logging.getLogger(__name__)


@dataclass(slots=True)
class Totals:
    """What a run read, and how often it flushed."""

    read: int = 0
    rejected: int = 0
    flushes: int = 0


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, archiver: Archiver) -> None:
        self.archiver = archiver

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.archiver.flush("rebalance")
        for tp in revoked:
            self.archiver.offsets.pop(tp, None)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.archiver.assigned(assigned)


class Archiver:
    """Reads ``topic`` into ``archive`` until :meth:`run`'s ``stop`` is set.
    ``client``: the Kafka clients' keyword arguments (servers, security, fetch wait)."""

    def __init__(
        self,
        archive: Archive,
        client: dict[str, Any],
        *,
        group: str = GROUP,
        topic: str = CLEARANCES,
        from_beginning: bool = False,
        flush_records: int = 100_000,
        flush_interval: float = 60.0,
        say: Callable[[str], None] = print,
    ) -> None:
        self.archive, self.client, self.group, self.topic = archive, client, group, topic
        self.from_beginning = from_beginning
        self.flush_records, self.flush_interval = flush_records, flush_interval
        self.say = say
        self.totals = Totals()
        # Per partition: the offset after the last record handed to the archive, to
        # commit once it is written; and the partitions already rewound (one rewind
        # per partition and run with --from-beginning, not one per rebalance).
        self.offsets: dict[TopicPartition, int] = {}
        self.rewound: set[TopicPartition] = set()
        self.unflushed = 0  # records read since the last flush
        self.oldest: float | None = None  # monotonic time the first of them was read
        self.lock = asyncio.Lock()
        self.consumer: AIOKafkaConsumer | None = None

    async def assigned(self, assigned: Any) -> None:
        if self.from_beginning and self.consumer is not None:
            fresh = [tp for tp in assigned if tp not in self.rewound]
            if fresh:
                await self.consumer.seek_to_beginning(*fresh)
                self.rewound.update(fresh)

    async def run(self, stop: asyncio.Event) -> Totals:
        consumer = self.consumer = AIOKafkaConsumer(
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **self.client,
        )
        consumer.subscribe([self.topic], listener=_Rebalance(self))
        await start_consumer(consumer, self.client["bootstrap_servers"])
        try:
            while not stop.is_set():
                batch = await consumer.getmany(
                    timeout_ms=_POLL_MS, max_records=min(self.flush_records, _BATCH)
                )
                async with self.lock:
                    self._take(consumer, batch)
                if self._due():
                    await self.flush("due")
            await self.flush("stop")
        finally:
            await consumer.stop()
            self.consumer = None
        return self.totals

    def _take(self, consumer: AIOKafkaConsumer, batch: dict[Any, list[Any]]) -> None:
        owned = consumer.assignment()
        for tp, records in batch.items():
            if tp not in owned or not records:  # revoked meanwhile: the next owner reads it
                continue
            for r in records:
                stamp = datetime.fromtimestamp(r.timestamp / 1000, UTC) if r.timestamp else None
                month = self.archive.feed(
                    r.value,
                    topic=tp.topic,
                    partition=tp.partition,
                    offset=r.offset,
                    received_at=stamp,
                )
                if month is None:
                    self.totals.rejected += 1
            self.offsets[tp] = records[-1].offset + 1
            self.totals.read += len(records)
            if self.oldest is None:
                self.oldest = time.monotonic()
            self.unflushed += len(records)

    def _due(self) -> bool:
        if not self.unflushed:
            return False
        if self.unflushed >= self.flush_records:
            return True
        return self.oldest is not None and time.monotonic() - self.oldest >= self.flush_interval

    async def flush(self, why: str) -> None:
        """Write what is buffered (in a thread: the consumer's heartbeats go on), then
        commit the offsets after it."""
        async with self.lock:
            consumer = self.consumer
            if not self.unflushed or consumer is None:
                return
            flushed = await asyncio.to_thread(self.archive.flush)
            self.totals.flushes += 1
            self.unflushed, self.oldest = 0, None
            offsets = dict(self.offsets)
            try:
                await consumer.commit(offsets)
                committed = "committed " + " ".join(
                    f"{tp.partition}:{o}" for tp, o in sorted(offsets.items())
                )
            except (CommitFailedError, KafkaError) as exc:  # rebalanced: re-read, and kept once
                committed = f"offsets not committed ({exc!r}): those records will be read again"
            self.say(
                f"archive ({why}): {flushed.render()} in {flushed.seconds:.2f} s; "
                f"{self.topic} {committed}"
            )


def client_options(settings: Settings, broker: str | None = None) -> dict[str, Any]:
    """The Kafka clients' keyword arguments from ``settings`` (``broker`` overriding
    VASSCM_BROKER), as the worker's own aiokafka clients get them."""
    from vasscm.live.kafka import tansu
    from vasscm.live.kafka.auth import aiokafka_options

    client: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers(broker or settings.broker),
        **aiokafka_options(settings),
    }
    if settings.broker_flavour == "tansu":
        client["fetch_max_wait_ms"] = tansu.FETCH_MAX_WAIT_MS
    return client


async def run_archiver(archiver: Archiver) -> Totals:
    """Run until SIGTERM or SIGINT, then flush, commit and return."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        return await archiver.run(stop)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
