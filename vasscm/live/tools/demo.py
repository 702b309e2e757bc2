"""``vasscm demo``: a port supervised live on a machine with nothing but Python.

Starts the embedded broker (unless ``VASSCM_BROKER`` names one), a worker as a child
process, and the simulator for two sites, a seaport (Cái Lân) and a land border gate
(Móng Cái), on a fast port clock; prints the dashboard and metrics URLs; runs until
Ctrl-C (or ``--duration``), then stops every child: the worker, then the broker (which
also dies with this process if it is killed, see vasscm.live.tools.broker).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vasscm.errors import VasscmError
from vasscm.live.tools.broker import EmbeddedBroker, die_with_parent, free_port
from vasscm.live.tools.simfeed import FeedStats, publish_feed
from vasscm.settings import bootstrap_servers, get_settings
from vasscm.simulate import Faults, LogSpec

__all__ = ["DemoOptions", "run_demo"]

SITES = ("cai-lan", "cai-lan", "mong-cai")  # the seaport carries twice the land gate's load


@dataclass(frozen=True)
class DemoOptions:
    speed: float = 3600.0  # port seconds per wall second: an hour a second
    seed: int = 7
    web_port: int = 6066
    duration: float | None = None  # wall seconds; None: until Ctrl-C
    warmup: timedelta = timedelta(hours=24)  # port time published at once at start
    every: timedelta = timedelta(minutes=3)  # a new visit this often, both sites


def _spec(options: DemoOptions, now: datetime) -> LogSpec:
    return replace(
        LogSpec(),
        start=now - options.warmup,
        every=options.every,
        sites=SITES,
        open_share=0.02,  # a few are never collected: the stalled list is not empty
        faults=Faults.realistic(),
    )


def _get(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


@contextmanager
def _broker(echo: Callable[[str], None], web_port: int) -> Iterator[tuple[str, str]]:
    """(faust URL, flavour): the one VASSCM_BROKER names, else an embedded one (on any
    free port but ``web_port``, which the worker is about to bind)."""
    settings = get_settings()
    if "broker" in settings.model_fields_set:  # named, not the default
        echo(f"broker     {settings.broker} (VASSCM_BROKER)")
        yield settings.broker, settings.broker_flavour
        return
    embedded = EmbeddedBroker(0, avoid=frozenset({web_port}))
    try:
        embedded.start()
        echo(f"broker     {embedded.url} (embedded Tansu, pid {embedded.pid})")
        yield embedded.url, "tansu"
    finally:
        embedded.stop()


@contextmanager
def _worker(url: str, flavour: str, port: int, workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "VASSCM_BROKER": url,
        "VASSCM_BROKER_FLAVOUR": flavour,
        "VASSCM_STORE": "memory://",
        "VASSCM_STALL_CLOCK": "event",  # stalls judged on the simulated port clock
        "VASSCM_DATA_DIR": str(workdir / "data"),
        "VASSCM_WEB_PORT": str(port),
    }
    log = (workdir / "worker.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "vasscm", "worker", "-l", "info", "--web-port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches us; we stop the worker in order
        preexec_fn=die_with_parent(),
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()


def run_demo(options: DemoOptions, echo: Callable[[str], None] = print) -> int:
    """The whole demo; returns the exit code."""
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    interrupted = []

    def on_signal(signum: int, frame: object) -> None:
        interrupted.append(signum)
        loop.call_soon_threadsafe(stop.set)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    port = options.web_port or free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        with ExitStack() as stack:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vasscm-demo-")))
            echo("vasscm demo: Cái Lân seaport and Móng Cái land border gate, supervised live")
            url, flavour = stack.enter_context(_broker(echo, port))
            worker = stack.enter_context(_worker(url, flavour, port, workdir))
            deadline = time.monotonic() + 120
            while _get(f"{base}/readyz") != 200:
                if worker.poll() is not None:
                    log = (workdir / "worker.log").read_text(errors="replace")
                    echo("the worker exited:\n" + "\n".join(log.splitlines()[-20:]))
                    return 1
                if interrupted or time.monotonic() > deadline:
                    echo("the worker did not become ready; see " + str(workdir / "worker.log"))
                    return 1
                time.sleep(0.2)
            hours = options.speed / 3600
            echo(f"dashboard  {base}/")
            echo(f"metrics    {base}/metrics")
            echo(f"api        {base}/api/overview")
            echo(f"port time runs {options.speed:g}x ({hours:g} h a second); Ctrl-C stops")
            now = datetime.now(tz=UTC).replace(microsecond=0)
            spec = _spec(options, now)

            def progress(stats: FeedStats) -> None:
                if worker.poll() is not None:
                    loop.call_soon_threadsafe(stop.set)

            async def feed() -> FeedStats:
                if options.duration is not None:
                    loop.call_later(options.duration, stop.set)
                return await publish_feed(
                    bootstrap_servers(url),
                    spec,
                    seed=options.seed,
                    speed=options.speed,
                    warmup=options.warmup,
                    stop=stop,
                    on_progress=progress,
                )

            stats = loop.run_until_complete(feed())
            reached = f"{stats.port_time:%Y-%m-%d %H:%M}" if stats.port_time else "-"
            echo(f"stopping: {stats.sent:,} events published, port time {reached}")
            return 0 if worker.poll() is None else 1
    except VasscmError as exc:
        echo(str(exc))
        return 1
    finally:
        loop.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
