"""The commands around a broker: ``broker``, ``produce``, ``archive``, ``simulate``, ``demo``.

None of them starts a faust worker; ``demo`` runs one as a child process.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Final

import click

from vasscm.cli.options import broker_option, existing_file, settings, timestamp
from vasscm.errors import VasscmError

__all__ = ["SIMULATION_PROFILES", "archive", "broker", "demo", "produce", "simulate"]

#: vasscm.simulate.PROFILES' names (a test keeps them equal), here so that the command
#: line does not import the simulator to list them.
SIMULATION_PROFILES: Final = ("default", "red-heavy", "slow-branch", "office-hours")


@click.command(short_help="Run the embedded Kafka-compatible broker (Tansu)")
@click.option(
    "--port",
    "port",
    type=click.IntRange(0, 65535),
    default=9092,
    show_default=True,
    help="port on 127.0.0.1 (0: any free port)",
)
@click.option("--verbose", is_flag=True, help="broker log to this terminal, not a temp file")
def broker(port: int, verbose: bool) -> int:
    """Run the embedded Kafka-compatible broker (Tansu, in memory) until Ctrl-C."""
    import signal
    import threading

    from vasscm.live.tools.broker import EmbeddedBroker

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
    finally:
        embedded.stop()


@click.command(short_help="Publish an event log file to the input topics")
@click.argument("events", type=existing_file)
@broker_option
@click.option(
    "--rate",
    "rate",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="records per second; 0 sends as fast as the broker takes them",
)
@click.option(
    "--timestamps",
    "timestamps",
    type=click.Choice(["recorded", "now"]),
    default="recorded",
    show_default=True,
    help="record timestamp (the processor's received_at): the line's received_at "
    "or occurred_at, or the time of sending",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="progress counter (default: only when stderr is a terminal)",
)
def produce(
    events: Path, broker: str | None, rate: float, timestamps: str, progress: bool | None
) -> int:
    """Publish a JSONL event log to the input topics (each line to its type's topic)."""
    import asyncio

    from vasscm.live.kafka.auth import aiokafka_options
    from vasscm.live.tools.produce import produce_file
    from vasscm.settings import bootstrap_servers

    config = settings()
    summary = asyncio.run(
        produce_file(
            events,
            bootstrap_servers(broker or config.broker),
            rate=rate,
            timestamps=timestamps,  # type: ignore[arg-type]
            progress=sys.stderr.isatty() if progress is None else progress,
            max_event_bytes=config.max_event_bytes,
            client_options=aiokafka_options(config),
        )
    )
    click.echo(summary.render(), err=True)
    return 0


@click.command(short_help="Archive vasscm.clearances into monthly Parquet files")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="directory of the month files (YYYY-MM.parquet); created if missing",
)
@broker_option
@click.option(
    "--group",
    "group",
    default=None,
    help="consumer group (default: VASSCM_ARCHIVE_GROUP, vasscm-archive)",
)
@click.option(
    "--from-beginning",
    "from_beginning",
    is_flag=True,
    help="read the topic from its beginning, whatever the group committed "
    "(what is archived already stays once)",
)
def archive(out: Path, broker: str | None, group: str | None, from_beginning: bool) -> int:
    """Archive vasscm.clearances into OUT/YYYY-MM.parquet (the month of exited_at at
    +07:00), the Parquet layout `vasscm report OUT` reads, until SIGTERM or Ctrl-C.

    At least once, and each (visit_id, revision) once per month file: offsets are
    committed after the files holding the records are fsynced and renamed into place.
    Records that are not clearance records go to OUT/rejected.jsonl with their
    partition, offset and the field at fault. One line on stderr per flush.
    """
    import asyncio

    from vasscm.archive import Archive
    from vasscm.live.tools.archive import Archiver, client_options, run_archiver

    config = settings()
    client = client_options(config, broker)
    with Archive(out, memory=config.report_memory) as files:
        archiver = Archiver(
            files,
            client,
            group=group or config.archive_group,
            from_beginning=from_beginning,
            flush_records=config.archive_flush_records,
            flush_interval=config.archive_flush_interval.total_seconds(),
            say=lambda line: click.echo(line, err=True),
        )
        click.echo(
            f"archive: {client['bootstrap_servers']} group {archiver.group} into {out}"
            + (" (from the beginning)" if from_beginning else ""),
            err=True,
        )
        totals = asyncio.run(run_archiver(archiver))
    click.echo(
        f"archive: stopped; {totals.read:,} records read, {totals.rejected:,} rejected, "
        f"{totals.flushes:,} flushes",
        err=True,
    )
    return 0


@click.command(short_help="Write (or publish live) a simulated port's event log")
@click.option("--events", "events", type=click.IntRange(min=0), default=10_000, show_default=True)
@click.option("--seed", "seed", type=int, default=7, show_default=True)
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--faults/--no-faults",
    default=False,
    show_default=True,
    help="duplicates, disorder, late reports, malformed records, unreleased exits",
)
@click.option(
    "--start",
    "start",
    callback=timestamp,
    default=None,
    help="port time of the first visit, RFC 3339 (default: 2018-01-01 for a log, "
    "now minus --warmup-hours when publishing)",
)
@click.option(
    "--import-mean",
    "import_mean",
    default="24h00m29s",
    show_default=True,
    help="mean release time of imports (arrival to ELIGIBLE), e.g. 24h, 90m, seconds",
)
@click.option(
    "--export-mean",
    "export_mean",
    default="4h12m11s",
    show_default=True,
    help="mean release time of exports",
)
@click.option(
    "--sites",
    "sites",
    default="cai-lan,cai-lan,cai-lan,mong-cai",
    show_default=True,
    help="sites, repeated to weigh them; mong-cai is the land border gate",
)
@click.option(
    "--profile",
    "profile_name",
    type=click.Choice(SIMULATION_PROFILES),
    default="default",
    show_default=True,
    help="a port unlike the defaults, for backtests: red-heavy (more red, wider "
    "spreads), slow-branch (a border gate three times as slow), office-hours (yellow "
    "and red declarations wait for officers, Mon-Fri 08-17)",
)
@click.option(
    "--dcsa",
    "dcsa",
    is_flag=True,
    help="write the terminal's and the ships' events, and customs' scan selections and "
    "releases, as DCSA Track & Trace 2.2 events (the rest as they are)",
)
@click.option("--broker", "broker", default=None, help="publish to this bootstrap host:port")
@click.option(
    "--speed",
    "speed",
    type=click.FloatRange(min=0.001),
    default=3600.0,
    show_default=True,
    help="with --broker: port seconds per wall second",
)
@click.option(
    "--warmup-hours",
    "warmup",
    type=click.FloatRange(min=0),
    default=24.0,
    show_default=True,
    help="with --broker: port time published at once at start",
)
def simulate(
    events: int,
    seed: int,
    out: Path | None,
    faults: bool,
    start: datetime | None,
    import_mean: str,
    export_mean: str,
    sites: str,
    profile_name: str,
    dcsa: bool,
    broker: str | None,
    speed: float,
    warmup: float,
) -> int:
    """A simulated port's events: a JSONL log to stdout or --out, or, with --broker,
    published live on a simulated clock (--speed)."""
    import asyncio
    import re
    from dataclasses import replace
    from datetime import UTC, timedelta

    from vasscm.events import SITE_PATTERN
    from vasscm.report.options import parse_duration
    from vasscm.simulate import Faults, LogSpec, as_dcsa, profile, synthetic_log

    try:
        means = [timedelta(seconds=parse_duration(t)) for t in (import_mean, export_mean)]
    except ValueError as exc:
        raise click.UsageError(f"--import-mean/--export-mean: {exc}") from None
    names = tuple(name.strip() for name in sites.split(",") if name.strip())
    bad = [n for n in names if not re.match(SITE_PATTERN, n)]
    if not all(means) or not names or bad:
        named = f": not {', '.join(map(repr, bad))}" if bad else ""
        raise click.UsageError(
            "release means must be positive, and --sites must name sites like cai-lan "
            f"(lower case, digits, hyphens){named}"
        )
    spec = replace(
        LogSpec(),
        faults=Faults.realistic() if faults else Faults(),
        import_mean_release=means[0],
        export_mean_release=means[1],
        sites=names,
    )
    spec = profile(profile_name, spec)  # a profile's sites, if it has any, win
    if broker is not None and dcsa:
        raise click.UsageError("--dcsa writes a log: publish it with `vasscm produce`")
    if broker is not None:
        from vasscm.live.kafka.auth import aiokafka_options
        from vasscm.live.tools.simfeed import publish_feed
        from vasscm.settings import bootstrap_servers

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
                client_options=aiokafka_options(settings()),
            )
        )
        click.echo(f"published {stats.sent:,} events up to port time {stats.port_time}", err=True)
        return 0
    if start is not None:
        spec = replace(spec, start=start)
    stream = out.open("wb") if out is not None else sys.stdout.buffer
    try:
        lines = synthetic_log(events, seed=seed, spec=spec)
        for line in as_dcsa(lines) if dcsa else lines:
            stream.write(line + b"\n")
    finally:
        if out is not None:
            stream.close()
    return 0


@click.command(short_help="A simulated port supervised live: broker, worker, dashboard")
@click.option(
    "--speed",
    "speed",
    type=click.FloatRange(min=0.001),
    default=3600.0,
    show_default=True,
    help="port seconds per wall second (3600: an hour of port time a second)",
)
@click.option("--seed", "seed", type=int, default=7, show_default=True)
@click.option(
    "--port",
    "port",
    type=click.IntRange(0, 65535),
    default=6066,
    show_default=True,
    help="the worker's web port (dashboard, metrics; 0: any free port)",
)
@click.option(
    "--duration",
    "duration",
    type=click.FloatRange(min=0),
    default=None,
    help="stop after this many seconds (default: run until Ctrl-C)",
)
def demo(speed: float, seed: int, port: int, duration: float | None) -> int:
    """The main job on a fresh machine: broker, worker and a simulated port, live."""
    from vasscm.live.tools.broker_probe import port_is_free
    from vasscm.live.tools.demo import DemoOptions, run_demo

    if port and not port_is_free("127.0.0.1", port):
        raise VasscmError(
            f"port {port} on 127.0.0.1 is taken (another vasscm demo or worker?); "
            "choose another with --port, e.g. --port 6067"
        )
    options = DemoOptions(speed=speed, seed=seed, web_port=port, duration=duration)
    return run_demo(options, echo=lambda line: click.echo(line))
