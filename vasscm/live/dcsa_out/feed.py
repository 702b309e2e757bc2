"""The milestones feed: ``vasscm.container-state`` read as DCSA events onto
``vasscm.dcsa-out`` (vasscm.dcsa.milestones says which and why).

A consumer group of its own (``vasscm-dcsa-out``), apart from the tracker's, so that
nothing here can hold tracking back. Each record is compared with the container's
record before it: a milestone it shows that the one before did not is sent. What
"the record before" was survives a restart or a rebalance without a store: an
assigned partition is read again from its beginning, and records before the
group's committed offset only teach what was seen (a compacted topic keeps that
read short). With no committed offset yet, only records written after this worker
started are sent: a first subscription does not replay the port's history.

Estimated exits (contract 8.2, vasscm.dcsa.estimates) come from the records'
forecasts the same way: sent for a visit's first forecast exit, then only when its
median moved by more than ``est_move_ms`` from the last one sent, which a restart
learns again from the partition as it learns the milestones.

At least once: offsets are committed after what the records produced is on the
broker. A crash in between sends those milestones again, with the same eventIDs.
Each DCSA record carries the container-state record's timestamp, so that a
subscription can skip what was concluded before it existed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Final

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from vasscm.dcsa.estimates import Estimate, estimate, estimate_doc, worth_sending
from vasscm.dcsa.milestones import Milestone, milestone_doc, milestones, new_milestones
from vasscm.durations import iso_ms
from vasscm.live.dcsa_out.subscription_book import producer_options
from vasscm.sites import Registry
from vasscm.topics import CONTAINER_STATE, DCSA_OUT

__all__ = ["GROUP", "Feed"]

GROUP: Final = "vasscm-dcsa-out"
_BATCH: Final = 2000
log = logging.getLogger(__name__)


class _Assignment(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, feed: Feed) -> None:
        self.feed = feed

    async def on_partitions_revoked(self, revoked: Any) -> None:
        for tp in revoked:
            self.feed.seen.pop(tp, None)
            self.feed.estimates.pop(tp, None)
            self.feed.until.pop(tp, None)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.feed.assigned(assigned)


class Feed:
    """Runs while the worker does (:meth:`run`); ``client`` holds the Kafka clients'
    keyword arguments (servers, security, fetch wait)."""

    def __init__(
        self,
        client: dict[str, Any],
        sites: Registry,
        counted: Callable[[str], None],
        *,
        est_move_ms: int = 30 * 60_000,
        estimated: Callable[[str], None] = lambda code: None,
    ) -> None:
        self.client, self.sites, self.counted = client, sites, counted
        self.est_move_ms, self.estimated = est_move_ms, estimated
        # Per partition: the estimated exit last sent for each container (rebuilt,
        # as the milestones are, by reading the partition again).
        self.estimates: dict[TopicPartition, dict[bytes, Estimate]] = {}
        self.started_ms = int(time.time() * 1000)
        # Per partition: the milestones of each container's latest record, and the
        # offset below which records were handled by an earlier owner (None: send
        # only records written after started_ms).
        self.seen: dict[TopicPartition, dict[bytes, tuple[Milestone, ...]]] = {}
        self.until: dict[TopicPartition, int | None] = {}
        self.consumer: AIOKafkaConsumer | None = None

    async def assigned(self, assigned: Any) -> None:
        consumer = self.consumer
        assert consumer is not None
        for tp in assigned:
            self.seen[tp] = {}
            self.estimates[tp] = {}
            self.until[tp] = await consumer.committed(tp)
        if assigned:
            await consumer.seek_to_beginning(*assigned)

    async def run(self) -> None:
        consumer = self.consumer = AIOKafkaConsumer(
            group_id=GROUP,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **self.client,
        )
        producer = AIOKafkaProducer(
            acks="all",
            linger_ms=5,
            **producer_options(self.client),
        )
        consumer.subscribe([CONTAINER_STATE], listener=_Assignment(self))
        await producer.start()
        try:
            await consumer.start()
            while True:
                batch = await consumer.getmany(timeout_ms=1000, max_records=_BATCH)
                if batch:
                    await self._step(consumer, producer, batch)
        finally:
            await consumer.stop()
            await producer.stop()

    async def _step(self, consumer: Any, producer: Any, batch: dict[Any, list[Any]]) -> None:
        sends = []
        for tp, records in batch.items():
            seen = self.seen.setdefault(tp, {})
            sent = self.estimates.setdefault(tp, {})
            until = self.until.get(tp)
            for r in records:
                view = None if r.value is None else orjson.loads(r.value)
                now = () if view is None else milestones(view)
                fresh = r.offset >= until if until is not None else r.timestamp >= self.started_ms
                docs: list[bytes] = []
                created = iso_ms(r.timestamp) if fresh else ""
                if fresh and view is not None:
                    for m in new_milestones(seen.get(r.key, ()), now):
                        docs.append(orjson.dumps(milestone_doc(view, m, created, self.sites)))
                        self.counted(m.code)
                exit_ = estimate(view, self.sites)
                if exit_ is None:
                    if view is None or view.get("exited_at"):
                        sent.pop(r.key, None)
                elif worth_sending(sent.get(r.key), exit_, self.est_move_ms):
                    sent[r.key] = exit_
                    if fresh:
                        docs.append(orjson.dumps(estimate_doc(view, exit_, created, self.sites)))
                        self.estimated(exit_.code)
                for doc in docs:
                    sends.append(
                        await producer.send(
                            DCSA_OUT, value=doc, key=r.key, timestamp_ms=r.timestamp
                        )
                    )
                if now:
                    seen[r.key] = now
                else:
                    seen.pop(r.key, None)
        if sends:
            await asyncio.gather(*sends)
        try:
            await consumer.commit({tp: records[-1].offset + 1 for tp, records in batch.items()})
        except (CommitFailedError, KafkaError) as exc:  # rebalanced: the next owner resends
            log.info("milestones feed: offsets not committed (%s); they are sent again", exc)
