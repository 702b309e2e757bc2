"""Cost of a Prometheus scrape of a worker holding many open visits.

    python benchmarks/metrics_bench.py [--visits 100000] [--scrapes 50]

Serves the worker's real web application (vasscm.live.http.server) and metrics
(vasscm.live.http.metrics, the per-partition boards of vasscm.board) on loopback, with:

  baseline  no open visit (the registry's fixed series only)
  loaded    ``--visits`` open visits over 8 partitions, 2 sites, every stage, and
            the histograms of as many completed visits

and times ``GET /metrics`` end to end over HTTP (client in the same event loop).
Prints the median and p99 of each, the ratio loaded/baseline, and the time to build
the gauges' snapshot alone. Goal (issue 5): a scrape under 50 ms with 100,000 visits.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from vasscm.board import Board, merge_stats
from vasscm.durations import to_ms
from vasscm.events import ClearanceRecord, Stage, VisitState
from vasscm.live.http.gauges import Snapshot, StateCollector
from vasscm.live.http.metrics import Metrics, build_metrics
from vasscm.live.http.server import build_web
from vasscm.simulate import container_number
from vasscm.tracking import DEFAULT_POLICY

NOW = datetime(2026, 11, 27, tzinfo=UTC)
STAGES = [s for s in Stage if s is not Stage.EXITED]


@dataclass
class Worker:
    """What the web server reads: the same pieces as vasscm.live.stream.pipeline."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    boards: dict[int, Board] = field(default_factory=lambda: {p: Board() for p in range(8)})
    ready: bool = True
    not_ready_because: str | None = None

    def __post_init__(self) -> None:
        self.metrics: Metrics = build_metrics(self.registry)
        self.registry.register(StateCollector(self.snapshot, self.metrics.site))

    def snapshot(self) -> Snapshot:
        now = to_ms(NOW)
        groups = merge_stats(b.stats(now, DEFAULT_POLICY) for b in self.boards.values())
        return Snapshot(now, groups, {"vasscm.port-events": 0}, len(self.boards), self.ready)

    def visits_of(self, container_no: str) -> list[VisitState] | None:
        return None


def load(worker: Worker, visits: int) -> None:
    """``visits`` open visits, and the histograms of as many completed ones."""
    for site in ("cai-lan", "mong-cai"):
        worker.metrics.site(site)
    for i in range(visits):
        site = ("cai-lan", "mong-cai")[i % 2]
        direction = ("import", "export")[i // 2 % 2]
        view = VisitState.model_construct(
            site=site,
            direction=direction,
            stage=STAGES[i % len(STAGES)],
            stage_since=NOW - timedelta(minutes=i % 6000),
        )
        worker.boards[i % 8].put(container_number(i), view)
        record = ClearanceRecord.model_construct(
            site=site,
            direction=direction,
            channel=("green", "yellow", "red")[i % 3],
            segments={"release": i % 90000, "exit": 3600.0, "dwell": i % 90000 + 3600.0},
            revision=1,
            supersedes=[],
        )
        worker.metrics.clearance(record)


async def time_scrapes(worker: Worker, scrapes: int) -> tuple[list[float], int]:
    runner = web.AppRunner(build_web(worker))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    times: list[float] = []
    size = 0
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(scrapes + 3):
                started = time.perf_counter()
                async with session.get(f"http://127.0.0.1:{port}/metrics") as r:
                    body = await r.read()
                times.append(time.perf_counter() - started)
                size = len(body)
    finally:
        await runner.cleanup()
    return times[3:], size  # the first few warm up the connection


def describe(name: str, times: list[float], size: int) -> float:
    ms = sorted(t * 1000 for t in times)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    print(f"{name:9s} scrape p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  ({size:,} bytes)")
    return p50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=100_000)
    parser.add_argument("--scrapes", type=int, default=50)
    args = parser.parse_args()
    print(f"{platform.node()} {platform.machine()} Python {platform.python_version()}")

    empty = Worker()
    base = describe("baseline", *asyncio.run(time_scrapes(empty, args.scrapes)))

    loaded = Worker()
    started = time.perf_counter()
    load(loaded, args.visits)
    print(f"loaded {args.visits:,} open visits in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    for _ in range(10):
        loaded.snapshot()
    print(f"snapshot  {(time.perf_counter() - started) * 100:7.2f} ms (gauges' aggregation alone)")
    full = describe("loaded", *asyncio.run(time_scrapes(loaded, args.scrapes)))
    print(f"ratio loaded/baseline: {full / base:.1f}   goal: loaded p50 < 50 ms")


if __name__ == "__main__":
    main()
