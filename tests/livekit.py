"""Helpers for tests on the real embedded broker: worker processes and output readers."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

import orjson
import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from vasscm.live.kafka.tansu import true_ends
from vasscm.live.stream.marks import MARK_KEY
from vasscm.live.tools.broker import EmbeddedBroker, die_with_parent, free_port
from vasscm.live.tools.produce import route
from vasscm.replay import Replayer
from vasscm.report import current_records
from vasscm.simulate import Faults, LogSpec, synthetic_log
from vasscm.topics import (
    ALERTS,
    CLEARANCES,
    CONTAINER_EVENTS,
    CONTAINER_STATE,
    CUSTOMS_EVENTS,
    DEAD_LETTER,
    PORT_EVENTS,
    SCAN_EVENTS,
    VESSEL_EVENTS,
)

READY = b"deadline index rebuilt"
# The kill -9 tests load both cores for minutes: run with pytest-xdist, they take turns
# on one worker while the other runs the rest of the suite.
KILLS = pytest.mark.xdist_group("kill9")
# What the worker consumes: the inputs and its own repartition topic.
CONSUMED = (CUSTOMS_EVENTS, VESSEL_EVENTS, PORT_EVENTS, SCAN_EVENTS, CONTAINER_EVENTS)


@dataclass
class Worker:
    """``vasscm worker`` in its own process group, logging to a file."""

    broker: EmbeddedBroker
    workdir: Path
    name: str = "w1"
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    web_port: int = 0

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self) -> Worker:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.web_port = free_port()
        env = {
            **os.environ,
            "VASSCM_BROKER": self.broker.url,
            "VASSCM_STORE": "memory://",
            "VASSCM_BROKER_FLAVOUR": "tansu",
            "VASSCM_STALL_CLOCK": "event",
            "VASSCM_DATA_DIR": str(self.workdir / f"{self.name}-data"),
            "VASSCM_WEB_PORT": str(self.web_port),
            **self.env,
        }
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vasscm",
                "worker",
                "-l",
                "info",
                "--web-port",
                str(self.web_port),
            ],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),  # no worker outlives a killed test run
        )
        handle.close()
        return self

    def wait_ready(self, timeout: float = 90.0, *, rebalances: int = 1) -> None:
        """Until /readyz answers 200 with ``rebalances`` assignments since start()."""

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"worker {self.name} exited:\n{self.tail()}")
            answer = self.readyz()
            return answer is not None and answer.get("assignments", 0) >= rebalances

        try:
            eventually(ready, timeout, f"ready (worker {self.name})", every=0.2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}:\n{self.tail()}") from None

    def _get(self, path: str, timeout: float) -> bytes:
        """The body of ``path`` on the worker's web server (with its token, if any);
        URLError or OSError when it does not answer 200."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.web_port}{path}")
        token = self.env.get("VASSCM_WEB_TOKEN")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bytes(response.read())

    def get_json(self, path: str, timeout: float = 10) -> Any:
        """``path``'s JSON answer (URLError or OSError when it does not answer 200)."""
        return orjson.loads(self._get(path, timeout))

    def readyz(self) -> dict[str, Any] | None:
        """/readyz's answer when ready (200), else None."""
        try:
            return dict(orjson.loads(self._get("/readyz", 3)))
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def state_of_play(self) -> str:
        """What the worker holds right now, for a failure message: its health on the
        overview (lag, records held for arrival order) and its arrival and lag gauges."""
        parts = []
        for path in ("/api/overview", "/metrics"):
            try:
                body = self._get(path, 5)
            except (urllib.error.URLError, OSError) as exc:
                parts.append(f"{path}: {exc}")
                continue
            if path == "/api/overview":
                parts.append(f"health {orjson.loads(body)['health']}")
            else:
                wanted = (
                    "vasscm_arrival_",
                    "vasscm_consumer_lag_records",
                    "vasscm_ready",
                    "vasscm_outbox_",
                    "vasscm_events_total",
                )
                samples = (ln for ln in body.decode().splitlines() if ln.startswith(wanted))
                parts += [ln for ln in samples if "_bucket" not in ln and "_created" not in ln]
        return "\n".join(parts)

    def standing_still(self, last: int = 2) -> str:
        """The worker's last ``last`` watchdog warnings (vasscm.live.stream.watchdog),
        each with the lines that follow it."""
        lines = self.log.read_text(errors="replace").splitlines()
        starts = [i for i, ln in enumerate(lines) if "the worker is held up:" in ln]
        said = []
        for i in starts[-last:]:
            block = [lines[i]]
            block += itertools.takewhile(lambda ln: ln.startswith("  "), lines[i + 1 :])
            said.append("\n".join(block))
        return "\n".join(said) or "(nothing)"

    def rebuilds(self) -> list[str]:
        return [
            ln for ln in self.log.read_text(errors="replace").splitlines() if READY.decode() in ln
        ]

    def kill(self) -> None:
        """SIGKILL, as a crash: no shutdown, no commit."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


async def produce(
    bootstrap: str,
    lines: Iterable[bytes],
    *,
    rate: float = 0.0,
    stamps: Iterable[int] | None = None,
) -> int:
    """Publish log lines as `vasscm produce` does (same routing, recorded timestamps);
    ``stamps``: each line's record timestamp (epoch ms) instead."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_request_size=4 << 20)
    await producer.start()
    sent = 0
    started = time.perf_counter()
    given = iter(stamps) if stamps is not None else None
    try:
        futures = []
        for line in lines:
            topic, key, stamp = route(line)
            if given is not None:
                stamp = next(given)
            futures.append(await producer.send(topic, line, key=key, timestamp_ms=stamp))
            sent += 1
            if rate:
                ahead = sent / rate - (time.perf_counter() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)  # pacing, not synchronisation
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent


@dataclass
class Outputs:
    """Everything the processor wrote, read from the output topics."""

    records: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    dead: list[dict[str, Any]] = field(default_factory=list)
    states: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def add(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        doc = orjson.loads(value) if value else None
        if topic == CLEARANCES:
            self.records.append(doc)
        elif topic == ALERTS:
            self.alerts.append(doc)
        elif topic == DEAD_LETTER:
            self.dead.append(doc)
        elif topic == CONTAINER_STATE and key is not None:
            self.states[key.decode()] = doc


class OutputReader:
    """Reads the output topics from the beginning, incrementally."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.outputs = Outputs()
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> OutputReader:
        self._consumer = AIOKafkaConsumer(
            CLEARANCES,
            ALERTS,
            DEAD_LETTER,
            CONTAINER_STATE,
            CONTAINER_EVENTS,  # read for progress only (see poll_until)
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
            metadata_max_age_ms=1000,
        )
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._consumer is not None
        await self._consumer.stop()

    async def poll_until(
        self, done: Callable[[Outputs], bool], timeout: float, *, idle: float | None = None
    ) -> bool:
        """Read until ``done(outputs)`` or the deadline; True when done.

        With ``idle``, the deadline is when nothing new has been written for ``idle``
        seconds (or ``timeout`` has passed): a worker catching up on a backlog (a
        loaded machine, restarts) is waited for while it makes progress, on the
        outputs or on the fan-out hop."""
        assert self._consumer is not None
        started = last_new = time.monotonic()
        while True:
            batch = await self._consumer.getmany(timeout_ms=500)
            for tp, messages in batch.items():
                if tp.topic == CONTAINER_EVENTS:
                    # The fan-out hop: no output, but progress. A worker catching up
                    # with a backlog of customs events writes only here for a while,
                    # since what the tracker would write waits for them. Its periodic
                    # marks are written idle too, so they do not count.
                    if any(m.key != MARK_KEY for m in messages):
                        last_new = time.monotonic()
                    continue
                last_new = time.monotonic()
                for m in messages:
                    self.outputs.add(tp.topic, m.key, m.value)
            if done(self.outputs):
                return True
            now = time.monotonic()
            if now - started > timeout or (idle is not None and now - last_new > idle):
                return False


async def stream_with_kills(
    reader: OutputReader,
    worker: Worker,
    log: list[bytes],
    expected: Expected,
    *,
    rate: float,
    kills: int,
    pause: tuple[float, float],
    rng: random.Random,
) -> None:
    """Publish ``log`` at ``rate`` while the worker is killed with SIGKILL ``kills``
    times, each after a random ``pause`` (seconds), and restarted; then read the
    outputs until they match ``expected``, however long the backlog takes as long as
    the worker writes (a loaded machine catching up is not a loss)."""
    sending = asyncio.create_task(produce(reader.bootstrap, log, rate=rate))
    for _ in range(kills):
        await asyncio.sleep(rng.uniform(*pause))  # a random point in the stream
        worker.kill()
        worker.start()
        await asyncio.to_thread(worker.wait_ready)
    await sending
    if not await reader.poll_until(matches(expected, redelivered=True), 600, idle=30):
        await stopped_short(reader, worker, expected)


async def stopped_short(
    reader: OutputReader, worker: Worker, expected: Expected, broker: EmbeddedBroker | None = None
) -> NoReturn:
    """Fail with what is missing, how many records each topic holds (a worker that
    wrote nothing, or outputs not read back), where the worker waits, its watchdog's
    last words and the broker's last log lines, said in the failure itself (CI shows
    the assertion, not captured output); the topics are dumped beside the worker's log."""
    got = latest_records(reader.outputs.records)
    try:
        held = await asyncio.wait_for(
            dump_topics(reader.bootstrap, worker.log.parent / "topics"), 90
        )
        topics = ", ".join(f"{t} {n}" for t, n in sorted(held.items()))
    except Exception as exc:  # the broker itself may be what failed
        topics = f"not read ({type(exc).__name__}: {exc})"
    firing = firing_alerts(reader.outputs.alerts)
    rejected = set(rejections(reader.outputs.dead))
    said = (
        f"outputs stopped short: {record_diff(got, expected.records)}; alerts firing: "
        f"missing {len(expected.firing - firing)}, extra {len(firing - expected.firing)}; "
        f"rejections: missing {len(set(expected.rejected) - rejected)}, "
        f"extra {len(rejected - set(expected.rejected))}\n"
        f"records on the broker: {topics}\n"
        f"the worker holds:\n{worker.state_of_play()}\n"
        f"its watchdog said (log {worker.log}; the topics beside it):\n"
        f"{worker.standing_still()}"
    )
    if broker is not None:
        said += f"\nthe broker's log ends:\n{broker.log_tail()}"
    raise AssertionError(said)


async def dump_topics(bootstrap: str, dest: Path, group: str = "vasscm") -> dict[str, int]:
    """Every record of every vasscm topic, and the group's committed offsets, as JSONL
    under ``dest``: the evidence a failed crash test leaves behind. Returns how many
    records each topic holds (its partitions' ends)."""
    dest.mkdir(parents=True, exist_ok=True)
    consumer = _group_reader(bootstrap, group)
    await consumer.start()
    try:
        topics = sorted(t for t in await consumer.topics() if "vasscm" in t)
        tps = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        ends = await log_ends(consumer, tps, bootstrap)
        await consumer.seek_to_beginning(*tps)
        out = {t: (dest / f"{t}.jsonl").open("wb") for t in topics}
        remaining = {tp for tp in tps if ends[tp] > 0}
        deadline = time.monotonic() + 60
        while remaining and time.monotonic() < deadline:
            for tp, messages in (await consumer.getmany(timeout_ms=500)).items():
                for m in messages:
                    out[tp.topic].write(
                        orjson.dumps(
                            {
                                "p": tp.partition,
                                "o": m.offset,
                                "ts": m.timestamp,
                                "k": (m.key or b"").decode("utf-8", "replace"),
                                "v": (m.value or b"").decode("utf-8", "replace"),
                            }
                        )
                        + b"\n"
                    )
                    if m.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        for f in out.values():
            f.close()
        committed = await committed_offsets(consumer, tps)
    finally:
        await consumer.stop()
    text = {f"{tp.topic}/{tp.partition}": offset for tp, offset in committed.items()}
    (dest / "committed.json").write_bytes(orjson.dumps(text))
    held: dict[str, int] = {}
    for tp, end in ends.items():
        held[tp.topic] = held.get(tp.topic, 0) + end
    return held


def _group_reader(bootstrap: str, group: str) -> AIOKafkaConsumer:
    """A consumer that reads partitions it is assigned by hand and the group's
    committed offsets, without joining the group or committing."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


async def log_ends(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], bootstrap: str
) -> dict[TopicPartition, int]:
    """Each partition's end, one past its last record, with ``tps`` assigned to
    ``consumer``. Tansu 0.6 reports the last batch's base offset + 1 as the end
    (README, "Known limits"): read as the worker reads it (vasscm.live.kafka.tansu)."""
    consumer.assign(tps)
    reported = await consumer.end_offsets(tps)
    return await true_ends(lambda: AIOKafkaConsumer(bootstrap_servers=bootstrap), reported)


def acknowledging(sent: list[tuple[str, bytes, bytes | None]]) -> Any:
    """A producer's send for an outbox: records what it is handed, acknowledges at once."""

    async def send(topic: str, key: bytes, value: bytes | None) -> asyncio.Future[None]:
        sent.append((topic, key, value))
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ack.set_result(None)
        return ack

    return send


async def committed_offsets(
    consumer: AIOKafkaConsumer, tps: Iterable[TopicPartition]
) -> dict[TopicPartition, int | None]:
    """The group's committed offset of each partition (None: never committed)."""
    return {tp: await consumer.committed(tp) for tp in tps}


async def wait_committed_to_the_end(
    bootstrap: str, timeout: float, topics: Iterable[str] = CONSUMED, group: str = "vasscm"
) -> None:
    """Poll until the worker's group has committed every partition of ``topics`` up to
    its end: what was processed is committed, so a restart does not do it again."""
    consumer = _group_reader(bootstrap, group)
    await consumer.start()
    try:
        await consumer.topics()
        tps = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        assert tps
        ends = await log_ends(consumer, tps, bootstrap)
        deadline = time.monotonic() + timeout
        while True:
            committed = await committed_offsets(consumer, tps)
            behind = {
                f"{tp.topic}/{tp.partition}": (committed[tp], ends[tp])
                for tp in tps
                # the repartition topic grows with the fan-out's marks meanwhile
                if ends[tp] and (committed[tp] or 0) < ends[tp]
            }
            if not behind:
                return
            assert time.monotonic() < deadline, f"not committed to the end: {behind}"
            await asyncio.sleep(0.5)
    finally:
        await consumer.stop()


# --- what a comparison compares -----------------------------------------------------


def latest_records(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The records that count, by the README's rule (vasscm.report.current_records),
    without the fields that count emissions, as a consumer of the contract keeps them."""
    kept, _ = current_records(
        records, lambda r: (r["visit_id"], r["revision"], r.get("supersedes") or ())
    )
    return {
        k: {f: v for f, v in r.items() if f not in ("revision", "supersedes")}
        for k, r in kept.items()
    }


def record_diff(got: dict[str, dict[str, Any]], want: dict[str, dict[str, Any]]) -> str:
    """A readable account of how two sets of latest records differ (for assert messages)."""
    lines = [f"missing {len(want.keys() - got.keys())}, extra {len(got.keys() - want.keys())}"]
    for key in sorted(k for k in want.keys() & got.keys() if want[k] != got[k])[:5]:
        fields = {
            f: (want[key][f], got[key].get(f)) for f in want[key] if want[key][f] != got[key].get(f)
        }
        lines.append(f"{key}: (want, got) {fields}")
    return "\n".join(lines)


def firing_alerts(alerts: Iterable[dict[str, Any]]) -> set[str]:
    """Alert ids whose last record is firing: the order-independent alert state."""
    status: dict[str, str] = {}
    for a in alerts:
        status[a["alert_id"]] = a["status"]
    return {k for k, v in status.items() if v == "firing"}


def raised_alerts(alerts: Iterable[dict[str, Any]], severity: str | None = None) -> set[str]:
    """Alert ids ever published as firing (of one severity): what paged somebody."""
    return {
        a["alert_id"]
        for a in alerts
        if a["status"] == "firing" and (severity is None or a["severity"] == severity)
    }


def rejections(dead: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((d["code"], d["raw"]) for d in dead)


@dataclass
class Expected:
    records: dict[str, dict[str, Any]]
    firing: set[str]
    rejected: list[tuple[str, str]]
    # Open visits per "site/direction/stage": what the vasscm_containers gauges must say.
    open_stages: dict[str, int] = field(default_factory=dict)
    raised: set[str] = field(default_factory=set)  # alert ids ever firing
    critical: set[str] = field(default_factory=set)  # of them, the critical ones


def replay_expectation(lines: Iterable[bytes]) -> Expected:
    """What `vasscm replay` makes of the same log (the reference for live runs)."""
    records: list[bytes] = []
    alerts: list[bytes] = []
    rejected: list[bytes] = []
    r = Replayer(on_record=records.append, on_alert=alerts.append, on_rejected=rejected.append)
    for n, line in enumerate(lines, 1):
        if line.strip():
            r.feed(line, line=n)
    r.finish()
    open_stages: dict[str, int] = {}
    for line in r.open_states():
        view = orjson.loads(line)
        key = f"{view['site']}/{view['direction']}/{view['stage']}"
        open_stages[key] = open_stages.get(key, 0) + 1
    docs = [orjson.loads(x) for x in alerts]
    return Expected(
        records=latest_records(orjson.loads(x) for x in records),
        firing=firing_alerts(docs),
        rejected=rejections(orjson.loads(x) for x in rejected),
        open_stages=open_stages,
        raised=raised_alerts(docs),
        critical=raised_alerts(docs, "critical"),
    )


def eventually(check: Callable[[], Any], timeout: float, what: str, every: float = 0.25) -> Any:
    """Poll ``check`` until it returns a true value (returned), or fail after
    ``timeout`` seconds saying ``what`` did not happen: the one way tests wait."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {timeout:g} s")
        time.sleep(every)


def settled(fetch: Callable[[], Any], want: Any, timeout: float = 30) -> Any:
    """``fetch()`` once it equals ``want``, or its last value after ``timeout``: for a
    figure that converges (a gauge while the last held records are applied), compared
    by the caller so a failure shows both."""
    last: list[Any] = []

    def check() -> bool:
        last[:] = [fetch()]
        return bool(last[0] == want)

    with contextlib.suppress(AssertionError):
        eventually(check, timeout, "settled")
    return last[0]


def stage_gauges(*workers: Worker) -> dict[str, int]:
    """The non-zero vasscm_containers gauges, summed over workers, as open_stages."""
    out: dict[str, int] = {}
    for worker in workers:
        url = f"http://127.0.0.1:{worker.web_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            if family.name != "vasscm_containers":
                continue
            for sample in family.samples:
                if sample.value:
                    labels = sample.labels
                    key = f"{labels['site']}/{labels['direction']}/{labels['stage']}"
                    out[key] = out.get(key, 0) + int(sample.value)
    return out


def matches(expected: Expected, *, redelivered: bool = False) -> Callable[[Outputs], bool]:
    """Outputs equal the expectation. After a crash (``redelivered``) a bad record may
    be dead-lettered twice: then the distinct rejections must match."""

    def done(out: Outputs) -> bool:
        got = rejections(out.dead)
        return (
            latest_records(out.records) == expected.records
            and firing_alerts(out.alerts) == expected.firing
            and (
                sorted(set(got)) == sorted(set(expected.rejected))
                if redelivered
                else got == expected.rejected
            )
        )

    return done


@dataclass
class PrometheusServer:
    """A real Prometheus (Debian package ``prometheus``) on a free loopback port."""

    workdir: Path
    config: dict[str, Any]
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PrometheusServer:
        binary = shutil.which("prometheus")
        assert binary, "prometheus is not installed (.ci/run installs the Debian package)"
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config))
        self.port = free_port()
        self.log = self.workdir / "prometheus.log"
        with self.log.open("wb") as handle:
            self.proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=handle,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent(),
            )
        self.wait(lambda: self.get("/-/ready") is not None, 30, "ready")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def get(self, path: str) -> bytes | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return bytes(r.read())
        except (urllib.error.URLError, ConnectionError):
            return None

    def query(self, promql: str) -> list[dict[str, Any]]:
        body = self.get("/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        assert body is not None, f"query failed: {promql}"
        answer = orjson.loads(body)
        assert "success" == answer["status"], answer
        return list(answer["data"]["result"])

    def alerts(self) -> list[dict[str, Any]]:
        body = self.get("/api/v1/alerts")
        return [] if body is None else list(orjson.loads(body)["data"]["alerts"])

    def wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``done`` until true; fail with the server's log tail otherwise."""

        def check() -> bool:
            assert self.proc is not None
            assert self.proc.poll() is None, f"prometheus exited:\n{self.tail()}"
            return done()

        try:
            eventually(check, timeout, f"{what} (prometheus)")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.tail()}") from None

    def tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-30:])


# ~75 h of port time per 3,000 events; some exits reported late (a loading after its
# ship sailed) and some customs notices given late (contract 7.2).
SPEC = LogSpec(every=timedelta(minutes=10), faults=Faults(late_report=0.05, late_notice=0.05))


def faulty_log(n: int, seed: int = 11, spec: LogSpec = SPEC) -> list[bytes]:
    """A synthetic port log with the faults of a real feed: duplicates, late
    delivery, and bad records."""
    rng = random.Random(seed)
    lines = list(synthetic_log(n, seed=seed, spec=spec))
    bad = [b"{not json", b"[]", b'{"type": "TELEPORTED"}', b'{"type": "GATE_OUT"}', b"\xff\xfe"]
    out: list[bytes] = []
    delayed: list[tuple[int, bytes]] = []
    for i, line in enumerate(lines):
        if i % 70 == 5:
            delayed.append((i + rng.randint(5, 40), line))  # delivered late
            continue
        out.append(line)
        if i % 50 == 7:
            delayed.append((i + rng.randint(1, 30), line))  # delivered twice
        if i % 100 == 3:
            out.append(bad[(i // 100) % len(bad)])
        for due, held in [d for d in delayed if d[0] <= i]:
            out.append(held)
            delayed.remove((due, held))
    out.extend(line for _, line in delayed)
    return out
