"""What both agents do with a record before the core sees it: take it in order,
parse it, dead-letter what is bad, and keep the books a person reads (tallies,
positions, delays)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import faust

from vasscm.events import ContainerEvent, RejectCode, Rejection, dead_letter, dump_json, parse_event
from vasscm.live.http.metrics import Metrics
from vasscm.topics import DEAD_LETTER

__all__ = ["Intake", "received", "wall_ms"]


def wall_ms() -> int:
    return int(time.time() * 1000)


def received(message: Any) -> datetime:
    """The Kafka record timestamp: the only received_at the processor trusts."""
    stamp = message.timestamp
    if stamp is None:
        return datetime.now(tz=UTC)
    return datetime.fromtimestamp(stamp, tz=UTC)


class Intake:
    """Input handling shared by the fan-out and the tracker of one worker."""

    def __init__(self, app: faust.App, metrics: Metrics, max_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_bytes = max_bytes
        self.tally = {"events": 0, "rejected": 0}
        self.positions: dict[Any, int] = {}  # input TP -> offset of the last record taken
        self._busy: dict[Any, int] = {}  # TP -> offset of the record being handled

    # --- order and commits ----------------------------------------------------------

    def take(self, message: Any) -> bool:
        """True when the record is the next of its partition (vasscm.live.delivery.consumer);
        any other (read before the seek to the committed offset, or past a hole) is
        handled too, and comes again in its turn."""
        return bool(self.app.consumer.processed(message.tp, message.offset))

    @contextlib.contextmanager
    def busy(self, message: Any) -> Any:
        """While the record is handled, commits stop before it (see :meth:`owed`)."""
        self._busy[message.tp] = message.offset
        try:
            yield
        finally:
            self._busy.pop(message.tp, None)

    def busy_offset(self, tp: Any) -> int | None:
        return self._busy.get(tp)

    @contextlib.asynccontextmanager
    async def poison_guard(self, event: faust.EventT[bytes]) -> AsyncIterator[None]:
        """A record that makes the code fail goes to the dead-letter topic; the agent
        goes on (a crash would restart it on the same record, forever)."""
        try:
            yield
        except Exception as exc:
            await self.failed(event.value or b"", exc, event.message)

    async def failed(self, raw: bytes, exc: Exception, message: Any) -> None:
        self.app.log.exception("record %s failed", message.tp)  # type: ignore[attr-defined]
        reason = f"processing failed: {type(exc).__name__}: {exc}"[:500]
        await self.dead_letter(raw, Rejection(code=RejectCode.INTERNAL, reason=reason), message)

    # --- books ----------------------------------------------------------------------

    def took(self, message: Any) -> None:
        """Bookkeeping of a record taken from an input: position and delay."""
        self.positions[message.tp] = message.offset
        self.tally["events"] += 1
        if message.timestamp is not None:
            delay = max(0.0, time.time() - message.timestamp)
            self.metrics.processing_delay.labels(message.topic).observe(delay)

    def forget(self, tps: Any) -> None:
        for tp in tps:
            self.positions.pop(tp, None)

    # --- parsing --------------------------------------------------------------------

    async def parse(
        self, value: bytes | None, message: Any, *, trusted: bool = False
    ) -> ContainerEvent | None:
        # Our own repartition topic carries any type; the input topics only their own.
        topic = None if trusted else message.topic
        parsed = parse_event(value or b"", topic=topic, max_bytes=self.max_bytes)
        if isinstance(parsed, Rejection):
            await self.dead_letter(value or b"", parsed, message)
            return None
        return parsed

    async def dead_letter(self, raw: bytes, rejection: Rejection, message: Any) -> None:
        """``message``: anything with topic, partition, offset, key and timestamp."""
        letter = self.letter(raw, rejection, message)
        # watched, as the fan-out's copies are: a refused letter stops the commits
        await self.app.producer.send_watched(DEAD_LETTER, message.key, letter, None)

    def letter(
        self, raw: bytes, rejection: Rejection, message: Any, counted_as: str | None = None
    ) -> bytes:
        """A dead letter for ``raw``, counted under ``counted_as`` (else its topic; the
        caller sends it)."""
        self.metrics.rejection(counted_as or message.topic, rejection)
        self.tally["rejected"] += 1
        letter = dead_letter(
            raw,
            rejection,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            received_at=received(message),
        )
        return dump_json(letter)
