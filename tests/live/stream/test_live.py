"""The live processor on the real embedded broker (Tansu): faust workers as processes.

Each test gets its own broker, so topic names (fixed by the contract) never collide.
Expectations come from the replay of the same log: live and replay run the same
core, and these tests show the shell around it adds and loses nothing.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from livekit import (
    KILLS,
    SPEC,
    OutputReader,
    Worker,
    faulty_log,
    firing_alerts,
    latest_records,
    matches,
    produce,
    raised_alerts,
    record_diff,
    rejections,
    replay_expectation,
    settled,
    stage_gauges,
    stream_with_kills,
    wait_committed_to_the_end,
)
from raw_events import BAD

from vasscm.events import MAX_EVENT_BYTES, Rejection, dead_letter, parse_event
from vasscm.live.stream.pipeline import partition_for
from vasscm.live.tools.broker import EmbeddedBroker
from vasscm.live.tools.produce import route
from vasscm.simulate import Faults, LogSpec, container_number, port_feed, synthetic_log
from vasscm.topics import PORT_EVENTS, SCAN_EVENTS

pytestmark = [pytest.mark.broker, pytest.mark.slow]

# 20,000 events in ~4 days of port time: shorter than the 7-day retention, so no
# visit expires while a restarted worker catches up at 10^5 times real time.
DENSE = LogSpec(every=timedelta(minutes=2))


def test_live_equals_replay(own_broker: EmbeddedBroker, tmp_path: Path) -> None:
    """The same faulty log, produced to the topics, gives replay's clearance records,
    final alert state and rejections; the stage gauges count replay's open visits, and
    count them again after a restart (rebuilt from the recovered table)."""
    log = faulty_log(3000)
    expected = replay_expectation(log)
    assert len(expected.records) > 200
    assert expected.firing
    assert len(expected.rejected) >= 30
    assert sum(expected.open_stages.values()) > 50
    # Vessel calls reach the containers that name them (contract 7.2): loadings judged
    # from their ship's departure, late ones of both sides among the alerts.
    forms = {d["form"] for r in expected.records.values() for d in r["obligations"]}
    assert {"EXPECTED", "SCAN_SELECTED", "GATE_OUT", "LOADED"} == forms
    assert {"LATE_NOTICE", "LATE_REPORT"} <= {key.split("/")[1] for key in expected.firing}
    worker = Worker(own_broker, tmp_path).start()
    try:
        worker.wait_ready()

        async def run() -> bool:
            async with OutputReader(own_broker.bootstrap) as reader:
                await produce(own_broker.bootstrap, log)
                ok = await reader.poll_until(matches(expected), timeout=120)
                out = reader.outputs
                assert latest_records(out.records) == expected.records
                assert firing_alerts(out.alerts) == expected.firing
                assert rejections(out.dead) == expected.rejected
                # and committed, to the end of every topic the worker consumes
                await wait_committed_to_the_end(own_broker.bootstrap, timeout=30)
                return ok

        assert asyncio.run(run())
        assert expected.open_stages == settled(lambda: stage_gauges(worker), expected.open_stages)
        worker.stop()
        worker.start().wait_ready()
        assert expected.open_stages == settled(lambda: stage_gauges(worker), expected.open_stages)
    finally:
        worker.stop()


@KILLS
def test_crash_safety_three_kill9(own_broker: EmbeddedBroker, tmp_path: Path) -> None:
    """kill -9 three times while 20,000 events stream in: no visit lost, none invented,
    none counted twice, and every visit's latest record equals the clean run's."""
    log = faulty_log(20_000, seed=5, spec=DENSE)
    expected = replay_expectation(log)
    worker = Worker(own_broker, tmp_path).start()
    rng = random.Random(3)
    try:
        worker.wait_ready()

        async def run() -> tuple[dict[str, Any], set[str]]:
            async with OutputReader(own_broker.bootstrap) as reader:
                await stream_with_kills(
                    reader, worker, log, expected, rate=1000, kills=3, pause=(3, 5), rng=rng
                )
                out = reader.outputs
                got = latest_records(out.records)
                assert set(got) == set(expected.records), record_diff(got, expected.records)
                assert set(rejections(out.dead)) == set(expected.rejected)
                # Counted once: a record re-sent after a crash repeats its revision and
                # content exactly, so keeping the latest revision counts it once.
                seen: dict[tuple[str, int], bytes] = {}
                for r in out.records:
                    body = orjson.dumps(r, option=orjson.OPT_SORT_KEYS)
                    assert seen.setdefault((r["visit_id"], r["revision"]), body) == body
                return got, firing_alerts(out.alerts)

        got, firing = asyncio.run(run())
        assert 4 == len(worker.rebuilds())  # started four times, recovered each time
        same = got == expected.records  # a bool: pytest would print both dicts whole
        assert same, record_diff(got, expected.records)
        assert firing == expected.firing
    finally:
        worker.stop()


def test_two_workers_split_partitions(own_broker: EmbeddedBroker, tmp_path: Path) -> None:
    """Two workers in one group share the partitions and together give one's results,
    and their stage gauges add up to the yard."""
    log = faulty_log(3000, seed=21)
    expected = replay_expectation(log)
    one = Worker(own_broker, tmp_path, "w1").start()
    two = Worker(own_broker, tmp_path, "w2").start()
    try:
        one.wait_ready()
        two.wait_ready()

        def assigned(w: Worker) -> set[int]:
            line = w.rebuilds()[-1]
            return set(orjson.loads(line.split("partitions ")[1].split(":")[0]))

        # Both joined: wait until the group settles with each holding a share.
        async def run() -> None:
            async with OutputReader(own_broker.bootstrap) as reader:
                await produce(own_broker.bootstrap, log)
                await reader.poll_until(matches(expected), timeout=150)
                out = reader.outputs
                assert latest_records(out.records) == expected.records
                assert firing_alerts(out.alerts) == expected.firing
                assert rejections(out.dead) == expected.rejected

        asyncio.run(run())
        # Each reports only its own partitions: the sum is the whole yard, once.
        assert expected.open_stages == settled(lambda: stage_gauges(one, two), expected.open_stages)
        a, b = assigned(one), assigned(two)
        assert a
        assert b
        assert not a & b
        assert set(range(8)) == a | b
    finally:
        one.stop()
        two.stop()


def _per_partition_containers(count_per_partition: int, offset: int) -> list[str]:
    found: dict[int, list[str]] = {p: [] for p in range(8)}
    i = offset
    while any(len(v) < count_per_partition for v in found.values()):
        c = container_number(i)
        p = partition_for(c, 8)
        if len(found[p]) < count_per_partition:
            found[p].append(c)
        i += 1
    return [c for cs in found.values() for c in cs]


def _discharge(containers: list[str], when: datetime, tag: str) -> list[bytes]:
    return [
        orjson.dumps(
            {
                "event_id": f"{tag}-{c}",
                "type": "DISCHARGED",
                "occurred_at": when.isoformat(),
                "site": "cai-lan",
                "container_no": c,
                "direction": "import",
            }
        )
        for c in containers
    ]


def test_a_worker_joining_and_leaving_mid_stream_gives_replays_results(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """A worker hands the customs copies for its own partitions to its tracker
    in-process; a rebalance drops those not yet applied, and their declarations are
    read again from the committed offset by whoever takes the customs partition. A
    second worker joining and leaving while a log streams in loses none of them, and
    invents none."""
    log = faulty_log(6000, seed=29)
    expected = replay_expectation(log)
    one = Worker(own_broker, tmp_path, "w1").start()
    two = Worker(own_broker, tmp_path, "w2")

    def reached(share: float):
        return lambda out: len(latest_records(out.records)) >= share * len(expected.records)

    try:
        one.wait_ready()

        async def run() -> tuple[dict[str, Any], set[str]]:
            async with OutputReader(own_broker.bootstrap) as reader:
                sending = asyncio.create_task(produce(own_broker.bootstrap, log, rate=250))
                assert await reader.poll_until(reached(0.2), timeout=120)
                two.start()  # joins mid-stream: partitions move, with copies held
                await asyncio.to_thread(two.wait_ready)
                assert await reader.poll_until(reached(0.5), timeout=120)
                two.stop()  # leaves: the first worker takes every partition back
                await sending
                await reader.poll_until(matches(expected, redelivered=True), 300, idle=30)
                out = reader.outputs
                assert set(rejections(out.dead)) == set(expected.rejected)
                # Nobody was paged for a release one worker had and the other had not
                # heard of yet: a page resolved later still woke someone.
                assert raised_alerts(out.alerts, "critical") <= expected.critical
                return latest_records(out.records), firing_alerts(out.alerts)

        got, firing = asyncio.run(run())
        assert two.rebuilds(), "the second worker never held partitions"
        same = got == expected.records  # a bool: pytest would print both dicts whole
        assert same, record_diff(got, expected.records)
        assert firing == expected.firing
    finally:
        one.stop()
        two.stop()


def test_stalls_detected_on_every_partition_across_rebalances(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """With a wall-clock stall threshold of 4 s: containers discharged before a second
    worker joins, and after it leaves again, all go STALLED, on every partition."""
    env = {"VASSCM_STALL_CLOCK": "wall", "VASSCM_STALL_AWAITING_RELEASE_IMPORT": "4"}
    first = _per_partition_containers(2, 0)
    second = _per_partition_containers(2, 10_000)
    one = Worker(own_broker, tmp_path, "w1", env=env).start()
    two = Worker(own_broker, tmp_path, "w2", env=env)
    try:
        one.wait_ready()

        def stalled(containers: list[str]):
            def done(out) -> bool:
                firing = firing_alerts(out.alerts)
                return all(
                    any(a.startswith(c) and "/STALLED/" in a for a in firing) for c in containers
                )

            return done

        async def run() -> None:
            async with OutputReader(own_broker.bootstrap) as reader:
                await produce(own_broker.bootstrap, _discharge(first, datetime.now(tz=UTC), "a"))
                two.start()  # joins: partitions move, the new owner rebuilds its index
                await asyncio.to_thread(two.wait_ready)
                assert await reader.poll_until(stalled(first), timeout=60), reader.outputs.alerts
                two.stop()  # leaves: the first worker takes every partition back
                await asyncio.to_thread(one.wait_ready)
                await produce(own_broker.bootstrap, _discharge(second, datetime.now(tz=UTC), "b"))
                assert await reader.poll_until(stalled(second), timeout=60)

        asyncio.run(run())
        assert two.rebuilds(), "the second worker never held partitions"
    finally:
        one.stop()
        two.stop()


def test_poison_pills_go_to_dead_letter(own_broker: EmbeddedBroker, tmp_path: Path) -> None:
    """Every bad-input kind of the parser corpus (that fits in a Kafka record) reaches
    the dead-letter topic with its reason, while the good events around it are tracked;
    so do a record on the wrong topic and one keyed by another container."""
    good = list(synthetic_log(400, seed=2, spec=SPEC))
    bad: list[bytes] = []
    for case in BAD.values():
        if case.topic is not None:
            continue  # the wrong-topic cases: valid events, sent to the wrong topic below
        raw = case.raw() if callable(case.raw) else case.raw
        raw = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
        if len(raw) <= MAX_EVENT_BYTES // 2:
            bad.append(raw)
    want: list[tuple[str, str]] = []
    for raw in bad:
        rejection = parse_event(raw, topic=route(raw)[0])
        assert isinstance(rejection, Rejection), raw[:80]
        want.append((rejection.code.value, dead_letter(raw, rejection).raw))
    mixed = [line for pair in zip(good, bad, strict=False) for line in pair] + good[len(bad) :]
    expected = replay_expectation(good)
    worker = Worker(own_broker, tmp_path).start()
    try:
        worker.wait_ready()

        async def run() -> None:
            async with OutputReader(own_broker.bootstrap) as reader:
                await produce(own_broker.bootstrap, mixed)
                producer = AIOKafkaProducer(bootstrap_servers=own_broker.bootstrap)
                await producer.start()
                discharged = next(ln for ln in good if b'"DISCHARGED"' in ln)
                await producer.send_and_wait(SCAN_EVENTS, discharged, key=b"x")
                other = discharged.replace(b'"event_id":"', b'"event_id":"k')
                await producer.send_and_wait(PORT_EVENTS, other, key=b"CSQU3054383")
                await producer.stop()

                def done(out) -> bool:
                    return (
                        latest_records(out.records) == expected.records
                        and len(out.dead) >= len(want) + 2
                    )

                await reader.poll_until(done, timeout=90)
                out = reader.outputs
                assert latest_records(out.records) == expected.records
                extra = [d for d in out.dead if d["code"] in ("wrong_topic", "wrong_key")]
                assert ["wrong_key", "wrong_topic"] == sorted(d["code"] for d in extra)
                assert sorted(want) == rejections(d for d in out.dead if d not in extra)
                assert all(d["reason"] and d["topic"] and d["offset"] is not None for d in out.dead)

        asyncio.run(run())
        assert len(bad) >= 50
        assert "Crashed" not in worker.log.read_text(errors="replace")
    finally:
        worker.stop()


def test_rocksdb_restart_rebuilds_the_deadline_index(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """With the RocksDB store, a restarted worker finds the containers it held on disk
    and still raises their stalls, though no new event arrives for them."""
    env = {
        "VASSCM_STORE": "rocksdb://",
        "VASSCM_STALL_CLOCK": "wall",
        "VASSCM_STALL_AWAITING_RELEASE_IMPORT": "6",
    }
    containers = _per_partition_containers(1, 500)
    worker = Worker(own_broker, tmp_path, env=env).start()
    try:
        worker.wait_ready()

        async def run() -> None:
            async with OutputReader(own_broker.bootstrap) as reader:
                await produce(
                    own_broker.bootstrap, _discharge(containers, datetime.now(tz=UTC), "r")
                )

                def tracked(out) -> bool:
                    return set(containers) <= set(out.states)

                assert await reader.poll_until(tracked, timeout=30)
                worker.stop()
                worker.start()
                await asyncio.to_thread(worker.wait_ready)

                def stalled(out) -> bool:
                    firing = firing_alerts(out.alerts)
                    return all(
                        any(a.startswith(c) and "/STALLED/" in a for a in firing)
                        for c in containers
                    )

                assert await reader.poll_until(stalled, timeout=60)

        asyncio.run(run())
        assert f"{len(containers)} containers" in worker.rebuilds()[-1]
    finally:
        worker.stop()


def test_a_token_guards_the_worker_and_no_secret_is_logged_or_exported(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """With VASSCM_WEB_TOKEN: liveness open, everything else wants the token; neither
    the token nor a (unused) SASL password shows in the log or the metrics."""
    token, password = "tok-3f9a1c0e-never-printed", "pw-77d2-never-printed"
    worker = Worker(
        own_broker,
        tmp_path,
        env={"VASSCM_WEB_TOKEN": token, "VASSCM_BROKER_SASL_PASSWORD": password},
    ).start()
    base = f"http://127.0.0.1:{worker.web_port}"

    def get(path: str, auth: str | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(base + path)
        if auth is not None:
            request.add_header("Authorization", f"Bearer {auth}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    try:
        worker.wait_ready()
        assert 200 == get("/healthz")[0]
        for path in ("/readyz", "/metrics", "/api/overview", "/"):
            assert 401 == get(path)[0], path
            assert 401 == get(path, "wrong")[0], path
        status, metrics = get("/metrics", token)
        assert 200 == status
        assert b"vasscm_events_total" in metrics
        assert token.encode() not in metrics
        assert password.encode() not in metrics
        log = worker.log.read_text(errors="replace")
        assert "bearer token required" in log
        assert token not in log
        assert password not in log
    finally:
        worker.stop()


# --- results that do not depend on lag (contract 7.3) ---------------------------------

# Faults of a rough feed: more of each than the demo's.
ROUGH = Faults(
    duplicate=0.02, disorder=0.05, late_report=0.05, malformed=0.002, unreleased_exit=0.01
)


def received_log(
    days: float, *, seed: int, faults: Faults = ROUGH
) -> tuple[list[bytes], list[int]]:
    """``days`` of a simulated port as received: each valid line carries its
    ``received_at``, and the record timestamps to produce it with are the same times."""
    spec = LogSpec(faults=faults)
    end = spec.start + timedelta(days=days)
    lines: list[bytes] = []
    stamps: list[int] = []
    for received, line in port_feed(spec, seed=seed):
        if received >= end:
            break
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            doc = None
        if isinstance(doc, dict) and "received_at" not in doc:
            doc["received_at"] = received.isoformat(timespec="milliseconds")
            line = orjson.dumps(doc)
        lines.append(line)
        stamps.append(int(received.timestamp() * 1000))
    return lines, stamps


def test_a_worker_started_behind_a_backlog_pages_no_one_replay_would_not(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """Two and a half days of a port's events with duplicates, disorder and late
    reports are on the topics before the worker starts (record timestamps = received
    times; the producer creates the topics, with the broker's partition count). The
    worker's clearance records and final alert states are replay's over the same
    records, and it raises no alert, critical or not, that replay does not raise."""
    lines, stamps = received_log(2.5, seed=61)
    expected = replay_expectation(lines)
    assert len(lines) > 8000
    assert len(expected.critical) > 10  # real exits without release: replay pages too
    asyncio.run(produce(own_broker.bootstrap, lines, stamps=stamps))
    worker = Worker(own_broker, tmp_path).start()
    try:
        worker.wait_ready()

        async def run() -> None:
            async with OutputReader(own_broker.bootstrap) as reader:
                done = await reader.poll_until(matches(expected), timeout=240, idle=30)
                out = reader.outputs
                got = latest_records(out.records)
                assert done, record_diff(got, expected.records)
                assert firing_alerts(out.alerts) == expected.firing
                extra = raised_alerts(out.alerts) - expected.raised
                assert not extra, sorted(extra)[:10]
                assert raised_alerts(out.alerts, "critical") == expected.critical
                await wait_committed_to_the_end(own_broker.bootstrap, timeout=60)

        asyncio.run(run())
        assert "4 partitions for the tracker's topics" in worker.log.read_text()
    finally:
        worker.stop()


def test_input_topics_with_different_partition_counts_refuse_to_start(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """Port events created with 4 partitions and scan events with 6 cannot be read
    together: the worker does not start, and says which topic has how many."""
    asyncio.run(own_broker.create_topics({PORT_EVENTS: 4, SCAN_EVENTS: 6}))
    worker = Worker(own_broker, tmp_path).start()
    assert worker.proc is not None
    assert 1 == worker.proc.wait(60)
    said = worker.log.read_text()
    assert "vasscm.port-events has 4" in said
    assert "vasscm.scan-events has 6" in said
    assert "Traceback" not in said


def test_the_readme_recipe_at_full_speed_gives_replays_results(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """The README's live recipe, with the event clock: `vasscm simulate` writes a log,
    a running worker is fed it by `vasscm produce` as fast as it goes. Same records,
    alert states and rejections as `vasscm replay` of the file (so no valid customs
    event is refused as stale), and no alert replay does not raise."""
    events = tmp_path / "events.jsonl"
    cli = [sys.executable, "-m", "vasscm"]
    subprocess.run([*cli, "simulate", "--events", "20000", "--out", str(events)], check=True)
    lines = events.read_bytes().splitlines()
    expected = replay_expectation(lines)
    assert not expected.rejected
    worker = Worker(own_broker, tmp_path).start()
    try:
        worker.wait_ready()

        async def run() -> None:
            async with OutputReader(own_broker.bootstrap) as reader:
                produced = await asyncio.to_thread(
                    subprocess.run,
                    [*cli, "produce", str(events), "--broker", own_broker.bootstrap],
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                assert 0 == produced.returncode, produced.stderr
                done = await reader.poll_until(matches(expected), timeout=240, idle=30)
                out = reader.outputs
                assert [] == [d["reason"] for d in out.dead][:5]
                assert done, record_diff(latest_records(out.records), expected.records)
                extra = raised_alerts(out.alerts) - expected.raised
                assert not extra, sorted(extra)[:10]

        asyncio.run(run())
    finally:
        worker.stop()
