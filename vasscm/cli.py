"""The ``vasscm`` command: faust's click CLI with vasscm's commands added.

``vasscm worker`` and the other faust commands come with the app; the commands
below parse options, call one function of the core, and render the result.
The command line of contract section 6 is stable: change it only by adding.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, NoReturn

import click
from faust.cli import Command, argument, option

__all__ = ["main"]


class _SyncCommand(Command):
    """A command that runs synchronously, without starting a faust worker."""

    abstract: ClassVar[bool] = True

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        try:
            code = self.handle(*self.args, **{**self.kwargs, **kwargs})
        except BrokenPipeError:  # `vasscm simulate | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            code = 0
        raise SystemExit(code or 0)

    def handle(self, *args: Any, **kwargs: Any) -> int:
        raise NotImplementedError


def _timestamp(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    from pydantic import TypeAdapter

    from vasscm.events import Timestamp  # the contract's timestamp rules

    try:
        return TypeAdapter(Timestamp).validate_python(value)
    except Exception as exc:
        raise click.BadParameter(
            f"{value!r} is not an RFC 3339 timestamp with an offset (e.g. 2018-12-31T17:00:00Z)"
        ) from exc


class replay(_SyncCommand):
    """Replay an event log through the tracking core (contract section 6).

    Writes clearances.jsonl, alerts.jsonl, rejected.jsonl and state.jsonl to --out.
    """

    options: ClassVar[list[Any]] = [
        argument("events", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
        option(
            "--out",
            "out",
            required=True,
            type=click.Path(file_okay=False, path_type=Path),
            help="directory for the output files (created if missing)",
        ),
        option(
            "--as-of",
            "as_of",
            default=None,
            callback=_timestamp,
            help="judge STALLED at this instant (default: latest occurred_at seen)",
        ),
        option(
            "--progress/--no-progress",
            default=None,
            help="progress bar (default: only when stderr is a terminal; not with --jobs)",
        ),
        option(
            "--jobs",
            "jobs",
            type=click.IntRange(1, 64),
            default=1,
            show_default=True,
            help="processes to share the containers among; the results are those of --jobs 1",
        ),
    ]

    def handle(
        self,
        events: Path,
        out: Path,
        as_of: datetime | None,
        progress: bool | None,
        jobs: int,
    ) -> int:
        from vasscm.replay import replay_file
        from vasscm.settings import get_settings

        settings = get_settings()
        if jobs > 1:
            from vasscm.shards import ShardFailed, replay_sharded

            try:
                summary = replay_sharded(
                    events,
                    out,
                    jobs=jobs,
                    as_of=as_of,
                    policy=settings.policy(),
                    max_event_bytes=settings.max_event_bytes,
                )
            except ShardFailed as exc:
                click.echo(f"vasscm replay: {exc}", err=True)
                return 1
        else:
            summary = replay_file(
                events,
                out,
                as_of=as_of,
                policy=settings.policy(),
                progress=sys.stderr.isatty() if progress is None else progress,
                max_event_bytes=settings.max_event_bytes,
            )
        click.echo(summary.render(), err=True)
        return 0


def _csv_list(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


class report(_SyncCommand):
    """Time-Release-Study style KPIs from clearance records (contract section 6)."""

    options: ClassVar[list[Any]] = [
        argument("clearances", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
        option(
            "--format",
            "fmt",
            type=click.Choice(["md", "csv", "json", "html"]),
            default="md",
            show_default=True,
        ),
        option(
            "--by",
            "by",
            default="site,direction",
            callback=_csv_list,
            show_default=True,
            help="group by these fields: site, direction, channel, period",
        ),
        option(
            "--period",
            "period",
            type=click.Choice(["day", "week", "month", "quarter", "year"]),
            default="month",
            show_default=True,
            help="bucket used when --by includes period",
        ),
        option(
            "--utc-offset",
            "utc_offset",
            default="+07:00",
            show_default=True,
            help="time zone of period boundaries",
        ),
        option(
            "--target",
            "targets",
            multiple=True,
            metavar="SEGMENT=DURATION",
            help="share within target, e.g. release=24h (repeatable; default release=24h)",
        ),
        option(
            "--compare",
            "compare",
            default=None,
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="an earlier period's clearances.jsonl to compare against",
        ),
        option(
            "--out",
            "out",
            default=None,
            type=click.Path(dir_okay=False, path_type=Path),
            help="write here instead of stdout",
        ),
    ]

    def handle(self, **options: Any) -> int:
        from vasscm.report import run_report

        return run_report(**options)


class topics(_SyncCommand):
    """Write (export) or verify (check) the published contract under topics/."""

    options: ClassVar[list[Any]] = [
        argument("action", type=click.Choice(["export", "check"])),
        option(
            "--dir",
            "directory",
            default="topics",
            show_default=True,
            type=click.Path(file_okay=False, path_type=Path),
        ),
    ]

    def handle(self, action: str, directory: Path) -> int:
        from vasscm.topics import check, export

        if action == "export":
            for path in export(directory):
                click.echo(f"wrote {path}", err=True)
            return 0
        problems = check(directory)
        for problem in problems:
            click.echo(problem, err=True)
        return 1 if problems else 0


class broker(_SyncCommand):
    """Run the embedded Kafka-compatible broker (Tansu, in memory) until Ctrl-C."""

    options: ClassVar[list[Any]] = [
        option(
            "--port",
            "port",
            type=click.IntRange(0, 65535),
            default=9092,
            show_default=True,
            help="port on 127.0.0.1 (0: any free port)",
        ),
        option("--verbose", is_flag=True, help="broker log to this terminal, not a temp file"),
    ]

    def handle(self, port: int, verbose: bool) -> int:
        import signal
        import threading

        from vasscm.errors import VasscmError
        from vasscm.live.broker import EmbeddedBroker

        stopping = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.set())
        embedded = EmbeddedBroker(port, verbose=verbose)
        try:
            embedded.start()
            click.echo(f"broker {embedded.url} (pid {embedded.pid}, log {embedded.log_path})")
            click.echo(f"export VASSCM_BROKER={embedded.url}")
            while embedded.running and not stopping.wait(0.5):
                pass
            if not stopping.is_set():
                click.echo(f"the broker exited by itself:\n{embedded.log_tail()}", err=True)
                return 1
            return 0
        except VasscmError as exc:
            click.echo(str(exc), err=True)
            return 1
        finally:
            embedded.stop()


class produce(_SyncCommand):
    """Publish a JSONL event log to the input topics (each line to its type's topic)."""

    options: ClassVar[list[Any]] = [
        argument("events", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
        option(
            "--broker",
            "broker",
            default=None,
            help="bootstrap host:port or kafka:// URL (default: VASSCM_BROKER)",
        ),
        option(
            "--rate",
            "rate",
            type=float,
            default=0.0,
            show_default=True,
            help="records per second; 0 sends as fast as the broker takes them",
        ),
        option(
            "--timestamps",
            "timestamps",
            type=click.Choice(["recorded", "now"]),
            default="recorded",
            show_default=True,
            help="record timestamp (the processor's received_at): the line's received_at "
            "or occurred_at, or the time of sending",
        ),
        option(
            "--progress/--no-progress",
            default=None,
            help="progress counter (default: only when stderr is a terminal)",
        ),
    ]

    def handle(
        self, events: Path, broker: str | None, rate: float, timestamps: str, progress: bool | None
    ) -> int:
        import asyncio

        from vasscm.live.kafka_auth import aiokafka_options
        from vasscm.live.produce import produce_file
        from vasscm.settings import bootstrap_servers, get_settings

        settings = get_settings()
        summary = asyncio.run(
            produce_file(
                events,
                bootstrap_servers(broker or settings.broker),
                rate=rate,
                timestamps=timestamps,  # type: ignore[arg-type]
                progress=sys.stderr.isatty() if progress is None else progress,
                max_event_bytes=settings.max_event_bytes,
                client_options=aiokafka_options(settings),
            )
        )
        click.echo(summary.render(), err=True)
        return 0


class simulate(_SyncCommand):
    """A simulated port's events: a JSONL log to stdout or --out, or, with --broker,
    published live on a simulated clock (--speed)."""

    options: ClassVar[list[Any]] = [
        option("--events", "events", type=int, default=10_000, show_default=True),
        option("--seed", "seed", type=int, default=7, show_default=True),
        option("--out", "out", default=None, type=click.Path(dir_okay=False, path_type=Path)),
        option(
            "--faults/--no-faults",
            default=False,
            show_default=True,
            help="duplicates, disorder, late reports, malformed records, unreleased exits",
        ),
        option(
            "--start",
            "start",
            callback=_timestamp,
            default=None,
            help="port time of the first visit, RFC 3339 (default: 2018-01-01 for a log, "
            "now minus --warmup-hours when publishing)",
        ),
        option(
            "--import-mean",
            "import_mean",
            default="24h00m29s",
            show_default=True,
            help="mean release time of imports (arrival to ELIGIBLE), e.g. 24h, 90m, seconds",
        ),
        option(
            "--export-mean",
            "export_mean",
            default="4h12m11s",
            show_default=True,
            help="mean release time of exports",
        ),
        option(
            "--sites",
            "sites",
            default="cai-lan,cai-lan,cai-lan,mong-cai",
            show_default=True,
            help="sites, repeated to weigh them; mong-cai is the land border gate",
        ),
        option("--broker", "broker", default=None, help="publish to this bootstrap host:port"),
        option(
            "--speed",
            "speed",
            type=click.FloatRange(min=0.001),
            default=3600.0,
            show_default=True,
            help="with --broker: port seconds per wall second",
        ),
        option(
            "--warmup-hours",
            "warmup",
            type=click.FloatRange(min=0),
            default=24.0,
            show_default=True,
            help="with --broker: port time published at once at start",
        ),
    ]

    def handle(
        self,
        events: int,
        seed: int,
        out: Path | None,
        faults: bool,
        start: datetime | None,
        import_mean: str,
        export_mean: str,
        sites: str,
        broker: str | None,
        speed: float,
        warmup: float,
    ) -> int:
        import asyncio
        import re
        from dataclasses import replace
        from datetime import UTC, timedelta

        from vasscm.events import SITE_PATTERN
        from vasscm.report.options import parse_duration
        from vasscm.simulate import Faults, LogSpec, synthetic_log

        try:
            means = [timedelta(seconds=parse_duration(t)) for t in (import_mean, export_mean)]
        except ValueError as exc:
            click.echo(f"--import-mean/--export-mean: {exc}", err=True)
            return 2
        names = tuple(name.strip() for name in sites.split(",") if name.strip())
        bad = [n for n in names if not re.match(SITE_PATTERN, n)]
        if not all(means) or not names or bad:
            named = f": not {', '.join(map(repr, bad))}" if bad else ""
            click.echo(
                "release means must be positive, and --sites must name sites like cai-lan "
                f"(lower case, digits, hyphens){named}",
                err=True,
            )
            return 2
        spec = replace(
            LogSpec(),
            faults=Faults.realistic() if faults else Faults(),
            import_mean_release=means[0],
            export_mean_release=means[1],
            sites=names,
        )
        if broker is not None:
            from vasscm.live.kafka_auth import aiokafka_options
            from vasscm.live.simfeed import publish_feed
            from vasscm.settings import bootstrap_servers, get_settings

            ahead = timedelta(hours=warmup)
            begin = start or datetime.now(tz=UTC).replace(microsecond=0) - ahead
            stats = asyncio.run(
                publish_feed(
                    bootstrap_servers(broker),
                    replace(spec, start=begin),
                    seed=seed,
                    speed=speed,
                    warmup=ahead,
                    max_events=events,
                    client_options=aiokafka_options(get_settings()),
                )
            )
            click.echo(
                f"published {stats.sent:,} events up to port time {stats.port_time}", err=True
            )
            return 0
        if start is not None:
            spec = replace(spec, start=start)
        stream = out.open("wb") if out is not None else sys.stdout.buffer
        try:
            for line in synthetic_log(events, seed=seed, spec=spec):
                stream.write(line + b"\n")
        finally:
            if out is not None:
                stream.close()
        return 0


class demo(_SyncCommand):
    """The main job on a fresh machine: broker, worker and a simulated port, live."""

    options: ClassVar[list[Any]] = [
        option(
            "--speed",
            "speed",
            type=click.FloatRange(min=0.001),
            default=3600.0,
            show_default=True,
            help="port seconds per wall second (3600: an hour of port time a second)",
        ),
        option("--seed", "seed", type=int, default=7, show_default=True),
        option(
            "--port",
            "port",
            type=click.IntRange(0, 65535),
            default=6066,
            show_default=True,
            help="the worker's web port (dashboard, metrics; 0: any free port)",
        ),
        option(
            "--duration",
            "duration",
            type=click.FloatRange(min=0),
            default=None,
            help="stop after this many seconds (default: run until Ctrl-C)",
        ),
    ]

    def handle(self, speed: float, seed: int, port: int, duration: float | None) -> int:
        from vasscm.live.demo import DemoOptions, run_demo

        options = DemoOptions(speed=speed, seed=seed, web_port=port, duration=duration)
        return run_demo(options, echo=lambda line: click.echo(line))


def _worker_layout(settings: Any) -> Any:
    """The topic layout a worker takes from the topics that exist, or exit 1 with the
    reason on one line (vasscm.live.layout). The broker may still be starting: the
    metadata is asked for again for up to a minute."""
    import asyncio
    import time

    from vasscm.live.kafka_auth import aiokafka_options
    from vasscm.live.layout import LayoutError, plan, read_partitions
    from vasscm.settings import bootstrap_servers

    bootstrap = bootstrap_servers(settings.broker)
    deadline = time.monotonic() + 60
    while True:
        try:
            existing = asyncio.run(read_partitions(bootstrap, aiokafka_options(settings), 5.0))
            layout = plan(existing, settings.partitions)
        except LayoutError as exc:
            unreachable = str(exc).startswith("cannot read")
            if unreachable and time.monotonic() < deadline:
                time.sleep(1.0)
                continue
            click.echo(f"vasscm worker: {exc}", err=True)
            raise SystemExit(1) from None
        click.echo(
            f"vasscm worker: {layout.partitions} partitions for the tracker's topics, "
            f"{layout.customs_partitions} for {'existing' if existing else 'new'} customs events"
            + (
                f" (existing: {', '.join(f'{k} {v}' for k, v in sorted(existing.items()))})"
                if existing
                else ""
            ),
            err=True,
        )
        return layout


def main() -> NoReturn:
    """Entry point of the ``vasscm`` command."""
    from vasscm.live.app import create_app
    from vasscm.live.hooks import HookMissing
    from vasscm.settings import get_settings

    settings = get_settings()
    runs_a_worker = sys.argv[1:2] == ["worker"] and not {"-h", "--help"} & set(sys.argv)
    layout = _worker_layout(settings) if runs_a_worker else None
    try:
        app, _ = create_app(settings, layout)
    except HookMissing as exc:
        click.echo(f"vasscm: {exc}", err=True)
        raise SystemExit(1) from None
    app.main()
