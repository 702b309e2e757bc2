"""Forecasts in the live worker (contract 8.2) against replay's, over the same log.

One worker that has read every clearance record and swept its open visits at the
log's end gives each open visit the forecast replay writes in state.jsonl, and the
same late list: the same method over the same evidence.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.error
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from livekit import OutputReader, Worker, matches, produce, replay_expectation
from prometheus_client.parser import text_string_to_metric_families

from vasscm.board import Entry, Group
from vasscm.durations import to_ms
from vasscm.forecast import Forecast, Forecaster
from vasscm.late import late
from vasscm.live.stream.forecasts import ClearanceFeed, Forecasts
from vasscm.live.tools.broker import EmbeddedBroker
from vasscm.replay import replay_file
from vasscm.replay_forecasts import observation_of_row
from vasscm.settings import Settings
from vasscm.simulate import LogSpec, synthetic_log
from vasscm.topics import CLEARANCES
from vasscm.tracking import DEFAULT_POLICY

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def _replayed(lines: list[bytes], tmp: Path) -> list[dict[str, Any]]:
    log = tmp / "events.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    replay_file(log, tmp / "out")
    text = (tmp / "out" / "state.jsonl").read_bytes()
    return [orjson.loads(x) for x in text.splitlines() if x.strip()]


def _ms(text: str | None) -> int | None:
    return None if text is None else to_ms(datetime.fromisoformat(text))


def _late_of(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Replay's late list (vasscm.late over its state rows), per site, direction and
    what is late."""
    policy = Settings().policy()
    out: dict[str, int] = {}
    for row in rows:
        obs, f = observation_of_row(row), row["forecast"]
        if obs is None or f is None:
            continue
        made = Forecast(
            _ms(f["release_p50"]), _ms(f["release_p90"]), _ms(f["exit_p50"]), _ms(f["exit_p90"]),
            f["basis"], _ms(f["as_of"]) or 0,
        )  # fmt: skip
        group = Group(row["site"], row["direction"], row["stage"], row["waiting_on"] or "")
        entry = Entry(group, _ms(row["stage_since"]) or 0)
        one = late(row["container_no"], obs, entry, made, policy)
        if one is not None:
            key = f"{one.site}/{one.direction}/{one.of}"
            out[key] = out.get(key, 0) + 1
    return out


def _late_gauges(worker: Worker) -> dict[str, int]:
    text = worker._get("/metrics", 10).decode()
    out: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "vasscm_forecast_late_containers":
            for s in family.samples:
                if s.value:
                    key = f"{s.labels['site']}/{s.labels['direction']}/{s.labels['of']}"
                    out[key] = int(s.value)
    return out


def test_live_forecasts_are_replays(own_broker: EmbeddedBroker, tmp_path: Path) -> None:
    """Every open visit's forecast through the lookup API is the one replay wrote in
    state.jsonl, once the worker has read the log; the late list's gauges count
    replay's late visits."""
    spec = LogSpec(every=timedelta(minutes=6))
    lines = list(synthetic_log(6000, seed=11, spec=spec))
    rows = _replayed(lines, tmp_path)
    want = {r["container_no"]: r["forecast"] for r in rows if r["arrived_at"] is not None}
    made = {k: v for k, v in want.items() if v is not None}
    assert len(made) > 40, "the log leaves too few open visits with a forecast"
    assert any(v["release_p50"] for v in made.values())
    assert any(v["release_p50"] is None and v["exit_p50"] for v in made.values())  # released
    late_want = _late_of(rows)
    assert late_want, "the log leaves no late visit: the late list is not exercised"
    expected = replay_expectation(lines)

    worker = Worker(own_broker, tmp_path, env={"VASSCM_FORECAST_REFRESH": "0.5"}).start()
    try:
        worker.wait_ready()

        async def run() -> None:
            async with OutputReader(own_broker.bootstrap) as reader:
                await produce(own_broker.bootstrap, lines)
                assert await reader.poll_until(matches(expected), timeout=120)

        asyncio.run(run())

        def forecasts() -> dict[str, Any]:
            got = {}
            for container_no in want:
                try:
                    answer = worker.get_json(f"/api/containers/{container_no}")
                except urllib.error.HTTPError:
                    continue
                got[container_no] = answer["visit"].get("forecast")
            return got

        deadline = time.monotonic() + 60  # the worker sweeps every 0.5 s
        got: dict[str, Any] = {}
        while time.monotonic() < deadline:
            got = forecasts()
            if got == want:
                break
        differ = {k: (got.get(k), want[k]) for k in want if got.get(k) != want[k]}
        assert not differ, f"{len(differ)} of {len(want)} differ, e.g. {list(differ.items())[:3]}"
        assert _late_gauges(worker) == late_want
        listed = worker.get_json("/api/late?limit=1000")
        assert listed["total"] == sum(late_want.values())
        assert listed["as_of"] == next(iter(made.values()))["as_of"]
    finally:
        worker.stop()


def test_the_clearance_feed_outlasts_a_broker_away_when_it_starts(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """The feed's consumer starting while the broker does not answer (this once ended
    the worker: the start raised through faust's task and crashed the app): it says so,
    starts again, and learns every record the topic holds, each once."""
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"\n".join(synthetic_log(3000, seed=5)) + b"\n")
    replay_file(log, tmp_path / "out", forecasts=False)
    records = (tmp_path / "out" / "clearances.jsonl").read_bytes().splitlines()
    assert records

    async def run() -> ClearanceFeed:
        await own_broker.create_topics({CLEARANCES: 2})
        producer = AIOKafkaProducer(bootstrap_servers=own_broker.bootstrap)
        await producer.start()
        try:
            for record in records:
                await producer.send_and_wait(CLEARANCES, record)
        finally:
            await producer.stop()
        forecasts = Forecasts(Forecaster(), lambda: [], lambda: 0, DEFAULT_POLICY)
        client = {"bootstrap_servers": own_broker.bootstrap, "request_timeout_ms": 2000}
        feed = ClearanceFeed(client, forecasts, retry_after=0.2)
        own_broker.pause()
        task = asyncio.create_task(feed.run())
        try:
            deadline = time.monotonic() + 60
            while feed.restarting.restarts < 1:
                assert not task.done(), task.exception()
                assert time.monotonic() < deadline, "the feed's start never failed"
                await asyncio.sleep(0.1)
        finally:
            own_broker.resume()
        deadline = time.monotonic() + 60
        while forecasts.read < len(records):
            assert not task.done(), task.exception()
            assert time.monotonic() < deadline, f"learned {forecasts.read} of {len(records)}"
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # a second read of the topic would show within a poll
        assert forecasts.read == len(records)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return feed

    asyncio.run(run())
