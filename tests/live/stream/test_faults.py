"""The fault suite (``-m faults``; runs in CI too): a hung broker, a lost data
directory, a slow reader of the outputs. Each on its own embedded broker, against a
worker process, with replay of the same log as the reference."""

from __future__ import annotations

import asyncio
import random
import shutil
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from livekit import (
    KILLS,
    OutputReader,
    Worker,
    dump_topics,
    eventually,
    faulty_log,
    firing_alerts,
    latest_records,
    matches,
    produce,
    record_diff,
    replay_expectation,
    settled,
    stage_gauges,
    stopped_short,
    stream_with_kills,
    wait_committed_to_the_end,
)

from vasscm.live.tools.broker import EmbeddedBroker
from vasscm.live.tools.produce import route
from vasscm.simulate import LogSpec, container_number
from vasscm.topics import CLEARANCES, CUSTOMS_EVENTS, PORT_EVENTS

pytestmark = [pytest.mark.faults, pytest.mark.broker, pytest.mark.slow]


def status(worker: Worker, path: str) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.web_port}{path}", timeout=3) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def wait_for(what: str, check: Any, timeout: float) -> float:
    """:func:`livekit.eventually`, timed: the seconds it took."""
    started = time.monotonic()
    eventually(check, timeout, what)
    return time.monotonic() - started


def finish(broker: EmbeddedBroker, log: list[bytes], worker: Worker, timeout: float = 120) -> None:
    """Read the outputs until they equal replay's for ``log``."""
    expected = replay_expectation(log)

    async def run() -> None:
        async with OutputReader(broker.bootstrap) as reader:
            if not await reader.poll_until(matches(expected, redelivered=True), timeout=timeout):
                await stopped_short(reader, worker, expected, broker)
            assert firing_alerts(reader.outputs.alerts) == expected.firing

    asyncio.run(run())
    assert expected.open_stages == settled(lambda: stage_gauges(worker), expected.open_stages)


def test_a_hung_broker_makes_the_worker_not_ready_then_it_recovers(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """SIGSTOP the broker for 60 s: the worker stays up (liveness answers), /readyz
    says not ready while the broker does not answer, ready again after SIGCONT, and
    the events around the hang are all tracked."""
    log = faulty_log(2000, seed=31)
    half = len(log) // 2
    worker = Worker(own_broker, tmp_path).start()
    try:
        worker.wait_ready()
        asyncio.run(produce(own_broker.bootstrap, log[:half]))
        own_broker.pause()
        try:
            seen: list[int | None] = []

            def not_ready() -> bool:
                seen.append(status(worker, "/readyz"))
                return seen[-1] == 503

            try:
                took = wait_for("not ready", not_ready, 30)
            except AssertionError as exc:
                raise AssertionError(f"{exc}; /readyz answered {seen}\n{worker.tail()}") from None
            assert took < 15, seen  # the broker's last answer at most 5 s old
            hung_until = time.monotonic() + 60 - took
            while time.monotonic() < hung_until:
                assert worker.proc is not None
                assert worker.proc.poll() is None, worker.tail()
                assert 200 == status(worker, "/healthz")
                time.sleep(2)
            assert 503 == status(worker, "/readyz")
        finally:
            own_broker.resume()
        wait_for("ready again", lambda: status(worker, "/readyz") == 200, 120)
        asyncio.run(produce(own_broker.bootstrap, log[half:]))
        finish(own_broker, log, worker)
    finally:
        worker.stop()


def test_a_deleted_data_dir_is_rebuilt_from_the_changelog(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """RocksDB state gone between two runs: the restarted worker recovers every visit
    from the table's changelog and goes on as if nothing happened."""
    log = faulty_log(3000, seed=37)
    half = len(log) // 2
    worker = Worker(own_broker, tmp_path, env={"VASSCM_STORE": "rocksdb://"}).start()
    try:
        worker.wait_ready()
        asyncio.run(produce(own_broker.bootstrap, log[:half]))
        finish(own_broker, log[:half], worker)
        worker.stop()
        data = tmp_path / "w1-data"
        assert any(data.rglob("*.sst")) or any(data.rglob("CURRENT"))  # RocksDB was there
        shutil.rmtree(data)
        worker.start().wait_ready()
        asyncio.run(produce(own_broker.bootstrap, log[half:]))
        finish(own_broker, log, worker)
    finally:
        worker.stop()


def test_a_slow_reader_of_the_outputs_does_not_hold_tracking_back(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """A consumer group that reads one clearance and then stops reading: the worker
    still tracks everything, at once (Kafka keeps the outputs for whoever is slow)."""
    log = faulty_log(3000, seed=41)
    worker = Worker(own_broker, tmp_path).start()

    async def slow_reader(started: asyncio.Event, stop: asyncio.Event) -> int:
        consumer = AIOKafkaConsumer(
            CLEARANCES,
            bootstrap_servers=own_broker.bootstrap,
            group_id="slow-reader",
            auto_offset_reset="earliest",
            max_poll_records=1,
        )
        await consumer.start()
        try:
            await consumer.getone()  # one record, then it stalls
            started.set()
            await stop.wait()
            return 1
        finally:
            await consumer.stop()

    async def run() -> None:
        started, stop = asyncio.Event(), asyncio.Event()
        reader = asyncio.create_task(slow_reader(started, stop))
        await produce(own_broker.bootstrap, log)
        await asyncio.wait_for(started.wait(), 60)
        expected = replay_expectation(log)
        async with OutputReader(own_broker.bootstrap) as out:
            assert await out.poll_until(matches(expected), timeout=120)
        stop.set()
        assert 1 == await reader

    try:
        worker.wait_ready()
        asyncio.run(run())
    finally:
        worker.stop()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_hostile_records_reach_the_dead_letter_topic_and_memory_stays_bounded(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """Ten 10 MB values, events dated two days after they were received, and a
    declaration listing 10,000 containers: each is dead-lettered with its reason,
    the good events around them are tracked, and the worker's memory stays flat."""
    good = faulty_log(600, seed=43)
    huge = b'{"type": "GATE_IN", "event_id": "' + b"x" * (10 << 20) + b'"}'
    future = [
        line.replace(b'"event_id":"', b'"event_id":"future-')
        for line in good
        if b'"type":"GATE_OUT"' in line and b"received_at" not in line  # not the bad ones
    ][:5]
    containers = ",".join(f'{{"container_no":"{container_number(i)}"}}' for i in range(10_000))
    declaration = (
        '{"type":"ELIGIBLE","event_id":"too-many","occurred_at":"2018-01-02T00:00:00Z",'
        f'"site":"cai-lan","declaration_no":"109999999999","basis":"cleared","containers":[{containers}]}}'
    ).encode()
    worker = Worker(own_broker, tmp_path).start()

    async def run() -> list[dict[str, Any]]:
        producer = AIOKafkaProducer(
            bootstrap_servers=own_broker.bootstrap, max_request_size=12 << 20
        )
        await producer.start()
        try:
            for _ in range(10):
                await producer.send_and_wait(PORT_EVENTS, huge, key=b"CSQU3054383")
            for line in future:
                topic, key, stamp = route(line)
                assert stamp is not None
                two_days = 2 * 86400 * 1000
                await producer.send_and_wait(topic, line, key=key, timestamp_ms=stamp - two_days)
            await producer.send_and_wait(CUSTOMS_EVENTS, declaration, key=b"109999999999")
        finally:
            await producer.stop()
        await produce(own_broker.bootstrap, good)
        expected = replay_expectation(good)
        async with OutputReader(own_broker.bootstrap) as reader:

            def done(out: Any) -> bool:
                return latest_records(out.records) == expected.records and len(out.dead) >= 16

            await reader.poll_until(done, timeout=120)
            assert latest_records(reader.outputs.records) == expected.records
            return reader.outputs.dead

    try:
        worker.wait_ready()
        assert worker.proc is not None
        before = _rss_kib(worker.proc.pid)
        dead = asyncio.run(run())
        after = _rss_kib(worker.proc.pid)
        codes = sorted(d["code"] for d in dead if d["code"] in ("too_large", "future"))
        assert ["future"] * 5 + ["too_large"] * 10 == codes
        assert any(d["code"] == "invalid_field" and "10000" in d["reason"] for d in dead)
        assert all(len(orjson.dumps(d)) < 300_000 for d in dead)  # raw values are capped
        assert after - before < 150 * 1024, (before, after)  # 100 MB went through
    finally:
        worker.stop()


@KILLS
def test_five_kill9_during_a_50000_event_stream_lose_nothing(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """SIGKILL at five random points while 50,000 events with duplicates, late and
    out-of-order deliveries stream in (faster than the worker keeps up, so kills land
    mid-backlog too): at the end every visit's latest record and the firing alerts
    equal a clean run's, and no record is counted twice."""
    # A visit a minute: 50,000 events in ~5 days of port time, inside the 7-day
    # retention, so no visit expires while a restarted worker catches up.
    log = faulty_log(50_000, seed=47, spec=LogSpec(every=timedelta(minutes=1)))
    expected = replay_expectation(log)
    worker = Worker(own_broker, tmp_path).start()
    rng = random.Random(53)
    try:
        worker.wait_ready()

        async def run() -> None:
            async with OutputReader(own_broker.bootstrap) as reader:
                await stream_with_kills(
                    reader, worker, log, expected, rate=2500, kills=5, pause=(2, 6), rng=rng
                )
                out = reader.outputs
                got = latest_records(out.records)
                same = got == expected.records  # a bool: pytest would print both dicts whole
                if not same:
                    await dump_topics(own_broker.bootstrap, tmp_path / "topics")
                assert same, record_diff(got, expected.records)
                assert firing_alerts(out.alerts) == expected.firing
                seen: dict[tuple[str, int], bytes] = {}
                for r in out.records:  # a re-sent record repeats its revision exactly
                    body = orjson.dumps(r, option=orjson.OPT_SORT_KEYS)
                    assert seen.setdefault((r["visit_id"], r["revision"]), body) == body
                # No hole left behind: everything read is committed, to the end.
                await wait_committed_to_the_end(own_broker.bootstrap, timeout=60)

        asyncio.run(run())
        assert 6 == len(worker.rebuilds())
    finally:
        worker.stop()
