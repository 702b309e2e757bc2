"""Tests for ``vasscm.live.tools.produce``: routing log lines to the contract's input topics.

``route()`` decides topic, key and record timestamp per line; the processor relies on
all three (the topic says which events it may carry, the key puts one container's or
one declaration's events on one partition, the timestamp becomes ``received_at``).
The end-to-end tests run ``vasscm produce`` against the embedded broker.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from commands import vasscm
from factories import CONTAINER, DECLARATION, T0, VOYAGE, event_doc, vessel_doc

from vasscm.live.tools.broker import EmbeddedBroker
from vasscm.live.tools.produce import produce_file, route

PORT: Final = "vasscm.port-events"
SCAN: Final = "vasscm.scan-events"
CUSTOMS: Final = "vasscm.customs-events"
INPUT_TOPICS: Final = (PORT, SCAN, CUSTOMS)

#: Contract section 2: the topic of every event type.
TOPIC_OF: Final = {
    "DISCHARGED": PORT,
    "GATE_IN": PORT,
    "GATE_OUT": PORT,
    "LOADED": PORT,
    "SEAL_CHANGED": PORT,
    "DISCREPANCY": PORT,
    "SCANNED": SCAN,
    "EXPECTED": CUSTOMS,
    "SCAN_SELECTED": CUSTOMS,
    "CHANNEL_ASSIGNED": CUSTOMS,
    "ELIGIBLE": CUSTOMS,
    "SUSPENDED": CUSTOMS,
    "RESUMED": CUSTOMS,
    "ELIGIBILITY_CANCELLED": CUSTOMS,
}
VESSEL: Final = "vasscm.vessel-events"
#: Contract 7.2: vessel calls, keyed by voyage.
VESSEL_TOPIC_OF: Final = dict.fromkeys(
    ("VESSEL_EXPECTED", "VESSEL_ARRIVED", "VESSEL_DEPARTED"), VESSEL
)
T0_MS: Final = int(T0.timestamp() * 1000)


def line(doc: Any) -> bytes:
    """One JSONL line as a producer's log holds it."""
    return orjson.dumps(doc)


def expected_key(kind: str) -> bytes:
    """Contract keys: ``declaration_no`` for customs events, ``container_no`` otherwise."""
    return (DECLARATION if TOPIC_OF[kind] == CUSTOMS else CONTAINER).encode()


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


# --- route: topic and key -----------------------------------------------------------


@pytest.mark.parametrize("kind", list(TOPIC_OF))
def test_route_sends_each_type_to_its_contract_topic_with_its_key(kind: str) -> None:
    """Every event type goes to its contract topic, keyed by ``container_no`` (port and
    scan events) or ``declaration_no`` (customs events), stamped with ``occurred_at``."""
    assert (TOPIC_OF[kind], expected_key(kind), T0_MS) == route(line(event_doc(kind, T0)))


def test_route_covers_exactly_the_contract_types() -> None:
    """The table above is the contract's: no type is routed that the contract lacks."""
    from vasscm.events import TOPIC_OF_TYPE

    assert {**TOPIC_OF, **VESSEL_TOPIC_OF} == TOPIC_OF_TYPE


@pytest.mark.parametrize("kind", list(VESSEL_TOPIC_OF))
def test_a_vessel_event_goes_to_the_vessel_topic_keyed_by_voyage(kind: str) -> None:
    doc = vessel_doc(kind, T0, eta=T0) if kind == "VESSEL_EXPECTED" else vessel_doc(kind, T0)

    assert (VESSEL, VOYAGE.encode(), T0_MS) == route(line(doc))


def test_customs_event_is_keyed_by_declaration_only() -> None:
    """A customs line without ``declaration_no`` gets no key, not a container number."""
    doc = event_doc("ELIGIBLE", T0) | {"container_no": CONTAINER}
    del doc["declaration_no"]

    assert (CUSTOMS, None) == route(line(doc))[:2]


def test_non_string_key_gives_no_key() -> None:
    """A key field that is not a string (so not a valid event) gives an unkeyed record."""
    doc = event_doc("GATE_OUT", T0) | {"container_no": 12345}

    assert (PORT, None) == route(line(doc))[:2]


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"{not json", id="invalid-json"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b'{"type": "GATE_OUT"', id="truncated-object"),
        pytest.param(b"[1, 2]", id="array"),
        pytest.param(b'"GATE_OUT"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b"42", id="number"),
        pytest.param(b'{"type": "TELEPORTED", "event_id": "x"}', id="unknown-type"),
        pytest.param(b'{"type": 5, "event_id": "x"}', id="non-string-type"),
        pytest.param(b'{"type": ["GATE_OUT"], "event_id": "x"}', id="list-type"),
        pytest.param(b'{"type": null}', id="null-type"),
        pytest.param(b'{"event_id": "x"}', id="no-type"),
    ],
)
def test_route_sends_what_is_not_an_event_to_port_events_unkeyed(raw: bytes) -> None:
    """Lines that are no event of a known type still get published (the processor
    dead-letters them): to ``vasscm.port-events``, with no key and no recorded time."""
    assert (PORT, None, None) == route(raw)


# --- route: recorded timestamp ------------------------------------------------------


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        pytest.param(
            {"occurred_at": "2025-03-03T08:00:00+00:00", "received_at": "2025-03-03T08:05:00Z"},
            T0_MS + 5 * 60_000,
            id="received_at-wins",
        ),
        pytest.param({"occurred_at": "2025-03-03T08:00:00Z"}, T0_MS, id="occurred_at-Z"),
        pytest.param(
            {"occurred_at": "2025-03-03T15:00:00+07:00"}, T0_MS, id="occurred_at-offset-to-utc"
        ),
        pytest.param(
            {"occurred_at": "2025-03-03T08:00:00.123+00:00"}, T0_MS + 123, id="milliseconds"
        ),
        pytest.param(
            {"occurred_at": "2025-03-03T08:00:00Z", "received_at": "2025-03-03T08:05:00"},
            T0_MS,
            id="naive-received_at-falls-back-to-occurred_at",
        ),
        pytest.param({"occurred_at": "2025-03-03T08:00:00"}, None, id="naive"),
        pytest.param({"occurred_at": "1999-12-31T23:59:59Z"}, None, id="before-2000"),
        pytest.param(
            {"occurred_at": "2000-01-01T00:00:00Z"}, 946_684_800_000, id="2000-is-in-range"
        ),
        pytest.param({"occurred_at": "2100-01-01T00:00:00Z"}, None, id="2100-out-of-range"),
        pytest.param({"occurred_at": "0001-01-01T00:00:00Z"}, None, id="year-1"),
        pytest.param({"occurred_at": "yesterday"}, None, id="not-a-timestamp"),
        pytest.param({"occurred_at": 1_741_000_000_000}, None, id="number"),
        pytest.param({}, None, id="none-given"),
    ],
)
def test_route_records_received_at_else_occurred_at(
    times: dict[str, Any], expected: int | None
) -> None:
    """The record timestamp is ``received_at``, else ``occurred_at`` (as replay reads
    them); a naive, unparsable or out-of-range time gives None (stamped when sent)."""
    doc = {k: v for k, v in event_doc("GATE_OUT", T0).items() if k != "occurred_at"} | times

    assert expected == route(line(doc))[2]


# --- vasscm produce on the embedded broker ------------------------------------------


def tagged_log(tag: str) -> list[tuple[bytes, str, bytes | None, int | None]]:
    """Lines (each containing ``tag``) with their expected topic, key and record time
    (None: stamped at send time): every event type, a received_at, and rejects."""
    rows: list[tuple[bytes, str, bytes | None, int | None]] = []
    for i, kind in enumerate(TOPIC_OF):
        at = T0 + timedelta(minutes=i)
        doc = event_doc(kind, at, event_id=f"{tag}-{i}")
        rows.append((line(doc), TOPIC_OF[kind], expected_key(kind), ms(at)))
    received = T0 + timedelta(hours=1)
    doc = event_doc("GATE_OUT", T0, event_id=f"{tag}-late") | {"received_at": received}
    rows.append((line(doc), PORT, CONTAINER.encode(), ms(received)))
    naive = event_doc("LOADED", T0, event_id=f"{tag}-naive") | {"occurred_at": "2025-03-03T08:00"}
    rows.append((line(naive), PORT, CONTAINER.encode(), None))
    rows.append((f"not json {tag}".encode(), PORT, None, None))
    rows.append((line([tag]), PORT, None, None))
    rows.append((line({"type": "TELEPORTED", "event_id": tag}), PORT, None, None))
    return rows


async def read_tagged(
    bootstrap: str, tag: str, want: int, timeout: float = 15.0
) -> list[tuple[str, bytes | None, bytes, int]]:
    """(topic, key, value, timestamp) of every record on the input topics whose value
    contains ``tag``, read from the beginning until ``want`` are found or ``timeout``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(INPUT_TOPICS))
    finally:
        await admin.close()
    partitions = [
        TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]
    ]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[tuple[str, bytes | None, bytes, int]] = []
    try:
        consumer.assign(partitions)
        deadline = time.monotonic() + timeout
        while len(found) < want and time.monotonic() < deadline:
            found += await _poll(consumer, tag, timeout_ms=300)
        found += await _poll(consumer, tag, timeout_ms=500)  # a duplicate would show by now
    finally:
        await consumer.stop()
    return found


async def _poll(
    consumer: AIOKafkaConsumer, tag: str, timeout_ms: int
) -> list[tuple[str, bytes | None, bytes, int]]:
    return [
        (tp.topic, r.key, r.value, r.timestamp)
        for tp, records in (await consumer.getmany(timeout_ms=timeout_ms)).items()
        for r in records
        if r.value is not None and tag.encode() in r.value
    ]


def run_produce(broker: EmbeddedBroker, path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return vasscm("produce", str(path), "--broker", broker.url, *args, cwd=path.parent)


@pytest.mark.broker
def test_produce_command_publishes_every_line_once_to_its_topic(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """``vasscm produce FILE`` puts every non-blank line exactly once on its topic, with
    the contract key and the recorded time as record timestamp (send time when none)."""
    tag = f"produce-{uuid.uuid4().hex[:12]}"
    rows = tagged_log(tag)
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join([rows[0][0], b"", b"   "] + [r[0] for r in rows[1:]]) + b"\n")
    asyncio.run(broker.create_topics(dict.fromkeys(INPUT_TOPICS, 3)))

    started = int(time.time() * 1000)
    done = run_produce(broker, path, "--no-progress")
    finished = int(time.time() * 1000)
    found = asyncio.run(read_tagged(broker.bootstrap, tag, want=len(rows)))

    assert (0, "") == (done.returncode, done.stdout), done.stderr
    sent_now = range(started, finished + 1)
    actual = sorted(
        (
            (value, topic, key, "sent-now" if stamp in sent_now else stamp)
            for topic, key, value, stamp in found
        ),
        key=lambda row: row[0],
    )
    expected = sorted(
        (
            (raw, topic, key, "sent-now" if stamp is None else stamp)
            for raw, topic, key, stamp in rows
        ),
        key=lambda row: row[0],
    )
    assert expected == actual
    assert f"sent {len(rows)} records" in done.stderr


@pytest.mark.broker
async def test_rate_caps_records_per_second(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """``rate=200`` on 100 lines takes at least half a second (about 0.5 s: lower bound only)."""
    tag = f"rate-{uuid.uuid4().hex[:12]}"
    path = tmp_path / "events.jsonl"
    lines = [line(event_doc("GATE_OUT", T0, event_id=f"{tag}-{i}")) for i in range(100)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    await broker.create_topics(dict.fromkeys(INPUT_TOPICS, 3))

    started = time.perf_counter()
    summary = await produce_file(path, broker.bootstrap, rate=200)
    elapsed = time.perf_counter() - started

    assert (100, {PORT: 100}) == (summary.sent, dict(summary.by_topic))
    assert elapsed >= 0.4


@pytest.mark.broker
def test_produce_command_rate_option_paces_sending(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """``vasscm produce --rate 200`` on 100 lines reports at least ~0.4 s of sending."""
    tag = f"cli-rate-{uuid.uuid4().hex[:12]}"
    path = tmp_path / "events.jsonl"
    lines = [line(event_doc("GATE_OUT", T0, event_id=f"{tag}-{i}")) for i in range(100)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    asyncio.run(broker.create_topics(dict.fromkeys(INPUT_TOPICS, 3)))

    done = run_produce(broker, path, "--rate", "200", "--no-progress")

    assert 0 == done.returncode, done.stderr
    seconds = float(done.stderr.split(" records in ", 1)[1].split(" s ", 1)[0])
    assert seconds >= 0.4, done.stderr
