"""Publish a JSONL event log to the contract's input topics (``vasscm produce``).

Each line goes to the topic its ``type`` belongs on, keyed as the contract says
(``container_no``, or ``declaration_no`` for customs). Lines that are not valid
events are published too, to ``vasscm.port-events`` unless their type names
another topic, so the processor's dead-letter path sees exactly what a replay
of the same file rejects. A DCSA Track & Trace document (``eventType``, no ``type``)
goes to ``vasscm.dcsa-events``, keyed by its container.

Record timestamps are what the processor takes as ``received_at``. A recorded log
keeps its own (``--timestamps recorded``: the line's ``received_at``, else its
``occurred_at``, as ``vasscm replay`` reads them), so live and replay agree; a
feed simulated in real time uses ``now``. Note that a Kafka cluster applies
time-based retention to record timestamps: old recorded timestamps may be
deleted soon after they are written.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from aiokafka import AIOKafkaProducer

from vasscm.dcsa import dcsa_key
from vasscm.durations import to_ms
from vasscm.events import (
    CUSTOMS_TYPES,
    EARLIEST,
    LATEST,
    MAX_EVENT_BYTES,
    TOPIC_OF_TYPE,
    VESSEL_TYPES,
)
from vasscm.live.kafka.clients import start_producer
from vasscm.topics import DCSA_EVENTS, PORT_EVENTS

__all__ = ["ProduceSummary", "produce_file", "route"]


@dataclass(slots=True)
class ProduceSummary:
    sent: int = 0
    by_topic: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def render(self) -> str:
        rate = self.sent / self.seconds if self.seconds else 0.0
        topics = ", ".join(f"{t} {n:,}" for t, n in sorted(self.by_topic.items()))
        return f"sent {self.sent:,} records in {self.seconds:.1f} s ({rate:,.0f}/s): {topics}"


def _ms(text: object) -> int | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None or not EARLIEST <= value < LATEST:
        return None  # not a usable record timestamp: the record is stamped when sent
    return to_ms(value)


def route(line: bytes) -> tuple[str, bytes | None, int | None]:
    """Topic, key and recorded timestamp (epoch ms) for one log line."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return PORT_EVENTS, None, None
    if not isinstance(doc, dict):
        return PORT_EVENTS, None, None
    if "type" not in doc and ("eventType" in doc or "metadata" in doc):  # DCSA T&T
        stamp = _ms(doc.get("vasscmReceivedAt")) or _ms(doc.get("eventCreatedDateTime"))
        meta = doc.get("metadata")
        if stamp is None and isinstance(meta, dict):
            stamp = _ms(meta.get("eventCreatedDateTime"))
        return DCSA_EVENTS, dcsa_key(line), stamp
    kind = doc.get("type")
    kind = kind if isinstance(kind, str) else ""
    topic = TOPIC_OF_TYPE.get(kind, PORT_EVENTS)
    key_field = (
        "declaration_no"
        if kind in CUSTOMS_TYPES
        else "voyage"
        if kind in VESSEL_TYPES
        else "container_no"
    )
    key = doc.get(key_field)
    stamp = _ms(doc.get("received_at")) or _ms(doc.get("occurred_at"))
    return topic, key.encode() if isinstance(key, str) else None, stamp


async def produce_file(
    path: Path,
    bootstrap: str,
    *,
    rate: float = 0.0,
    timestamps: Literal["recorded", "now"] = "recorded",
    progress: bool = False,
    max_event_bytes: int = MAX_EVENT_BYTES,
    client_options: dict[str, Any] | None = None,
) -> ProduceSummary:
    """Send every non-blank line of ``path``; ``rate`` > 0 caps records per second."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        max_request_size=2 * max_event_bytes + 4096,
        enable_idempotence=False,
        **(client_options or {}),  # TLS / SASL (vasscm.live.kafka.auth)
    )
    summary = ProduceSummary()
    started = time.perf_counter()
    await start_producer(producer, bootstrap)
    try:
        pending: list[asyncio.Future[object]] = []
        with path.open("rb") as stream:
            for raw in stream:
                line = raw.rstrip(b"\r\n")
                if not line.strip():
                    continue
                topic, key, stamp = route(line)
                pending.append(
                    await producer.send(
                        topic,
                        line,
                        key=key,
                        timestamp_ms=stamp if timestamps == "recorded" else None,
                    )
                )
                summary.sent += 1
                summary.by_topic[topic] += 1
                if rate > 0:
                    ahead = summary.sent / rate - (time.perf_counter() - started)
                    if ahead > 0:
                        await asyncio.sleep(ahead)  # pacing to the requested rate
                if len(pending) >= 10_000:
                    await asyncio.gather(*pending)
                    pending.clear()
                if progress and summary.sent % 1000 == 0:
                    sys.stderr.write(f"\rproduced {summary.sent:,}")
                    sys.stderr.flush()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    if progress:
        sys.stderr.write("\n")
    summary.seconds = time.perf_counter() - started
    return summary
