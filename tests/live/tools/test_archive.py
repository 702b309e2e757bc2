"""``vasscm archive``: vasscm.clearances into monthly Parquet files on the embedded broker.

Each test has a broker of its own (``own_broker``): the archiver reads the real topic
name, which the worker tests on the session broker write too, and its group must start
with no offsets. The records are a simulated port replayed (the module's fixture),
published to the topic as the worker would: keyed by container, on four partitions.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from commands import vasscm
from livekit import eventually, wait_committed_to_the_end

from vasscm.archive import REJECTED, Archive
from vasscm.live.tools.archive import GROUP
from vasscm.live.tools.broker import EmbeddedBroker, die_with_parent
from vasscm.report.parquet import jsonl_to_parquet, quoted
from vasscm.topics import CLEARANCES

PARTITIONS = 4
MONTHS = ["2018-01.parquet", "2018-02.parquet"]


@pytest.fixture(scope="module")
def clearances(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """clearances.jsonl of `vasscm simulate --events 3000` replayed, starting at
    2018-01-31 10:00Z: exits fall either side of 2018-02-01 00:00 at +07:00, so two
    month files; some visits have a second revision."""
    where = tmp_path_factory.mktemp("port")
    events = where / "events.jsonl"
    done = vasscm(
        "simulate", "--events", "3000", "--start", "2018-01-31T10:00:00Z", "--out", str(events)
    )
    assert done.returncode == 0, done.stderr
    done = vasscm("replay", str(events), "--out", str(where / "replayed"))
    assert done.returncode == 0, done.stderr
    path = where / "replayed" / "clearances.jsonl"
    assert len(keys_of(path.read_bytes().splitlines())) > 100
    return path


def keys_of(lines: Iterable[bytes]) -> set[tuple[str, int]]:
    docs = (orjson.loads(line) for line in lines)
    return {(d["visit_id"], d["revision"]) for d in docs}


async def publish(
    bootstrap: str, values: Iterable[bytes], *, rate: float = 0.0
) -> list[tuple[int, int]]:
    """Each value to vasscm.clearances, keyed by its container as the worker keys it
    (any other value on partition 0); returns each one's (partition, offset)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        sent = []
        for value in values:
            try:
                key = orjson.loads(value)["container_no"].encode()
                partition = None
            except (orjson.JSONDecodeError, KeyError, TypeError):
                key, partition = None, 0
            sent.append(await producer.send(CLEARANCES, value, key=key, partition=partition))
            if rate:
                await asyncio.sleep(1 / rate)  # pacing, not synchronisation
        done = await asyncio.gather(*sent)
    finally:
        await producer.stop()
    return [(m.partition, m.offset) for m in done]


@dataclass
class ArchiveProcess:
    """``vasscm archive`` in its own process group, stderr to a file."""

    broker: EmbeddedBroker
    out: Path
    log: Path
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self, *args: str) -> ArchiveProcess:
        env = {
            **os.environ,
            "VASSCM_BROKER": self.broker.url,
            "VASSCM_BROKER_FLAVOUR": "tansu",
            "VASSCM_ARCHIVE_FLUSH_INTERVAL": "0.2",
            **self.env,
        }
        with self.log.open("ab") as handle:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "vasscm", "archive", "--out", str(self.out), *args],
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        return self

    def stop(self) -> int:
        """SIGTERM, and its exit status."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGTERM)
        return self.proc.wait(30)

    def kill(self) -> None:
        """SIGKILL, as a crash: no flush, no commit."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def __enter__(self) -> ArchiveProcess:
        return self

    def __exit__(self, *_: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


@pytest.fixture
def topic(own_broker: EmbeddedBroker) -> EmbeddedBroker:
    """A fresh broker whose vasscm.clearances has four partitions."""
    asyncio.run(own_broker.create_topics({CLEARANCES: PARTITIONS}))
    return own_broker


async def archived_to_the_end(broker: EmbeddedBroker, archiver: ArchiveProcess) -> None:
    """Until the archive group has committed every partition to its end: by the
    archiver's guarantee, the files hold everything before."""
    try:
        await wait_committed_to_the_end(broker.bootstrap, 60, topics=[CLEARANCES], group=GROUP)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\narchiver:\n{archiver.text()}") from None


def month_rows(out: Path) -> dict[str, list[tuple[str, int]]]:
    """Each month file's (visit_id, revision) rows."""
    con = duckdb.connect()
    try:
        return {
            p.name: [
                (str(v), int(r))
                for v, r in con.execute(
                    f"SELECT visit_id, revision FROM read_parquet({quoted(p)})"
                ).fetchall()
            ]
            for p in sorted(out.glob("*.parquet"))
        }
    finally:
        con.close()


def report_json(path: Path) -> dict[str, Any]:
    """`vasscm report PATH --format json` without what names the input itself."""
    done = vasscm("report", str(path), "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = dict(orjson.loads(done.stdout))
    for name in ("path", "lines", "records_read", "older_revisions"):
        doc["input"].pop(name)
    return doc


def one_row(sql: str, where: Path) -> tuple[Any, ...]:
    con = duckdb.connect()
    try:
        con.execute(f"SET file_search_path = {quoted(where)}")
        row = con.execute(sql).fetchone()
    finally:
        con.close()
    assert row is not None
    return row


def describe(path: Path) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    try:
        return con.execute(f"DESCRIBE SELECT * FROM read_parquet({quoted(path)})").fetchall()
    finally:
        con.close()


def assert_exactly(out: Path, want: set[tuple[str, int]]) -> None:
    rows = month_rows(out)
    assert MONTHS == list(rows)
    for name, keys in rows.items():
        assert len(keys) == len(set(keys)), f"{name} holds a (visit_id, revision) twice"
    assert want == {k for keys in rows.values() for k in keys}
    assert len(want) == sum(map(len, rows.values()))


# --- the tests ----------------------------------------------------------------------------


@pytest.mark.broker
async def test_archive_reports_as_the_jsonl_does(
    topic: EmbeddedBroker, clearances: Path, tmp_path: Path
) -> None:
    """Clearances published to the topic end up in month files of the report's Parquet
    layout (jsonl_to_parquet's columns and types), split at midnight +07:00, whose
    `vasscm report DIR --format json` is the report over the clearances.jsonl; SIGTERM
    stops the archiver with exit 0 after a last flush."""
    lines = clearances.read_bytes().splitlines()
    out = tmp_path / "archive"
    with ArchiveProcess(topic, out, tmp_path / "archive.log").start() as archiver:
        await publish(topic.bootstrap, lines)
        await archived_to_the_end(topic, archiver)
        assert 0 == archiver.stop(), archiver.text()

    assert_exactly(out, keys_of(lines))
    exits = {
        name: one_row(f"SELECT min(exited_at), max(exited_at) FROM {name!r}", out)
        for name in MONTHS
    }
    boundary = "2018-01-31 17:00:00+00:00"
    assert str(exits["2018-01.parquet"][1]) < boundary <= str(exits["2018-02.parquet"][0])
    reference = jsonl_to_parquet(clearances, tmp_path / "reference.parquet")
    assert reference == len(lines)
    for name in MONTHS:
        assert describe(tmp_path / "reference.parquet") == describe(out / name)
    assert report_json(clearances) == report_json(out)
    assert "archive: stopped" in archiver.text()
    assert not list(out.glob(".*.tmp"))


@pytest.mark.broker
async def test_reading_again_keeps_each_revision_once(
    topic: EmbeddedBroker, clearances: Path, tmp_path: Path
) -> None:
    """The same records published twice, then the whole topic read again by a second
    run with --from-beginning: every month file holds each (visit_id, revision) once,
    and the second run leaves the files as they were (nothing new: not rewritten)."""
    lines = clearances.read_bytes().splitlines()
    out = tmp_path / "archive"
    with ArchiveProcess(topic, out, tmp_path / "first.log").start() as first:
        await publish(topic.bootstrap, lines)
        await publish(topic.bootstrap, lines)
        await archived_to_the_end(topic, first)
        assert 0 == first.stop(), first.text()
    assert_exactly(out, keys_of(lines))
    before = {p.name: p.read_bytes() for p in out.glob("*.parquet")}

    with ArchiveProcess(topic, out, tmp_path / "second.log").start("--from-beginning") as again:
        eventually(lambda: "(all there)" in again.text(), 60, "the topic read again")
        await archived_to_the_end(topic, again)
        assert 0 == again.stop(), again.text()

    assert_exactly(out, keys_of(lines))
    assert before == {p.name: p.read_bytes() for p in out.glob("*.parquet")}
    assert f"{2 * len(lines):,} records read" in again.text()


@pytest.mark.broker
async def test_kill_9_mid_stream_loses_nothing(
    topic: EmbeddedBroker, clearances: Path, tmp_path: Path
) -> None:
    """kill -9 of the archiver as soon as it has committed a first flush (10 records a
    poll and a flush: the rest not yet read, or read and not written): after a restart
    the archive holds every record, each (visit_id, revision) once, and reports as the
    JSONL does."""
    lines = clearances.read_bytes().splitlines()
    out = tmp_path / "archive"
    flushing = {"VASSCM_ARCHIVE_FLUSH_RECORDS": "10", "VASSCM_ARCHIVE_FLUSH_INTERVAL": "5"}
    crashed = ArchiveProcess(topic, out, tmp_path / "crashed.log", env=flushing)
    with crashed.start():
        sending = asyncio.create_task(publish(topic.bootstrap, lines, rate=150))
        committed = await wait_committed_some(topic.bootstrap)
        crashed.kill()
        sent = len(await sending)
    assert 0 < committed < sent, "not killed mid-stream"
    assert "archive: stopped" not in crashed.text()

    with ArchiveProcess(topic, out, tmp_path / "restarted.log").start() as restarted:
        await archived_to_the_end(topic, restarted)
        assert 0 == restarted.stop(), restarted.text()

    assert_exactly(out, keys_of(lines))
    assert report_json(clearances) == report_json(out)


async def wait_committed_some(bootstrap: str, timeout: float = 60) -> int:
    """Until the archive group has committed some offsets; how many records they cover."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=GROUP)
    await consumer.start()
    try:
        tps = [TopicPartition(CLEARANCES, p) for p in range(PARTITIONS)]
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            total = sum([(await consumer.committed(tp)) or 0 for tp in tps])
            if total:
                return total
            assert asyncio.get_running_loop().time() < deadline, "nothing committed"
            await asyncio.sleep(0.05)
    finally:
        await consumer.stop()


@pytest.mark.broker
async def test_malformed_records_go_to_rejected_with_offset_and_field(
    topic: EmbeddedBroker, clearances: Path, tmp_path: Path
) -> None:
    """Records that are not clearance records (not JSON; a JSON list; a record missing
    its fields; one whose exited_at is not a time) land in DIR/rejected.jsonl, each
    once with its topic, partition, offset and a reason naming the field; every other
    record is archived, and `vasscm report DIR` reads the directory, skipping them."""
    lines = clearances.read_bytes().splitlines()
    good = orjson.loads(lines[0])
    bad = [
        b"not json",
        b"[1, 2]",
        orjson.dumps({"visit_id": "X-1", "revision": 1}),
        orjson.dumps({**good, "exited_at": "yesterday"}),
    ]
    out = tmp_path / "archive"
    with ArchiveProcess(topic, out, tmp_path / "archive.log").start() as archiver:
        where = await publish(topic.bootstrap, [*lines[:50], *bad, *lines[50:]])
        await archived_to_the_end(topic, archiver)
        assert 0 == archiver.stop(), archiver.text()

    rejected = [orjson.loads(x) for x in (out / REJECTED).read_bytes().splitlines()]
    got = sorted(
        (d["topic"], d["partition"], d["offset"], d["code"], d.get("field")) for d in rejected
    )
    assert (
        sorted(
            [
                (CLEARANCES, *where[50], "invalid_json", None),
                (CLEARANCES, *where[51], "not_object", None),
                (CLEARANCES, *where[52], "missing_field", "container_no"),
                (CLEARANCES, *where[53], "invalid_field", "exited_at"),
            ]
        )
        == got
    )
    (late,) = (d for d in rejected if d.get("field") == "exited_at")
    assert "field 'exited_at'" in late["reason"]
    assert "yesterday" in late["raw"]
    assert_exactly(out, keys_of(lines))
    assert report_json(clearances) == report_json(out)


def test_without_a_broker_one_line_and_exit_1(tmp_path: Path) -> None:
    """No broker at --broker: one line naming it, exit 1, no traceback."""
    done = vasscm("archive", "--out", str(tmp_path / "archive"), "--broker", "127.0.0.1:9")

    assert 1 == done.returncode
    assert "vasscm archive: cannot reach the broker at 127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_second_archiver_into_the_same_directory_is_refused(tmp_path: Path) -> None:
    """Two archivers rewriting the same month files would lose each other's records:
    while one holds DIR, another exits 1 saying so (before it reaches any broker)."""
    out = tmp_path / "archive"
    with Archive(out):
        done = vasscm("archive", "--out", str(out), "--broker", "127.0.0.1:9")
    assert 1 == done.returncode
    assert "being archived into by another process" in done.stderr
