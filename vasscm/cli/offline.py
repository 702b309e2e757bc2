"""The commands that work on files alone: ``replay``, ``report``, ``backtest``, ``topics``.

Each parses its options, calls one function of the core, and renders the result;
none imports faust or talks to a broker.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from vasscm.cli.options import csv_list, existing_file, timestamp

__all__ = ["backtest", "replay", "report", "topics"]


@click.command(short_help="Replay an event log file into clearance records and alerts")
@click.argument("events", type=existing_file)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="directory for the output files (created if missing)",
)
@click.option(
    "--as-of",
    "as_of",
    default=None,
    callback=timestamp,
    help="judge STALLED at this instant (default: latest occurred_at seen)",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="progress bar (default: only when stderr is a terminal; not with --jobs)",
)
@click.option(
    "--jobs",
    "jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="processes to share the containers among; the results are those of --jobs 1",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "parquet"]),
    default="jsonl",
    show_default=True,
    help="of the clearance records: parquet writes clearances.parquet instead of "
    "clearances.jsonl (the other files stay JSONL)",
)
def replay(
    events: Path,
    out: Path,
    as_of: datetime | None,
    progress: bool | None,
    jobs: int,
    fmt: str = "jsonl",
) -> int:
    """Replay an event log through the tracking core into clearance records.

    Writes clearances.jsonl, alerts.jsonl, rejected.jsonl and state.jsonl to --out
    (contract section 6); with --format parquet, clearances.parquet in place of
    clearances.jsonl (columns as in vasscm.report.parquet), which `vasscm report` reads.
    """
    from vasscm.cli.options import settings
    from vasscm.replay import replay_file

    config = settings()
    if jobs > 1:
        from vasscm.errors import VasscmError
        from vasscm.shards import ShardFailed, replay_sharded

        try:
            summary = replay_sharded(
                events,
                out,
                jobs=jobs,
                as_of=as_of,
                policy=config.policy(),
                max_event_bytes=config.max_event_bytes,
                forecaster=config.forecaster(),
            )
        except ShardFailed as exc:
            raise VasscmError(str(exc)) from exc
    else:
        summary = replay_file(
            events,
            out,
            as_of=as_of,
            policy=config.policy(),
            progress=sys.stderr.isatty() if progress is None else progress,
            max_event_bytes=config.max_event_bytes,
            forecaster=config.forecaster(),
        )
    if fmt == "parquet":
        from vasscm.report.parquet import jsonl_to_parquet

        # Written as JSONL while replaying (streamed, constant memory), then converted
        # by DuckDB in bounded memory: the records are never held in Python.
        jsonl = out / "clearances.jsonl"
        jsonl_to_parquet(jsonl, out / "clearances.parquet")
        jsonl.unlink()
    click.echo(summary.render(), err=True)
    return 0


@click.command(short_help="Time Release Study KPIs from clearance records (JSONL or Parquet)")
@click.argument("clearances", type=click.Path(path_type=str))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "csv", "json", "html", "pdf"]),
    default="md",
    show_default=True,
    help="pdf: the html report printed on A4 by headless Chromium",
)
@click.option(
    "--by",
    "by",
    default="site,direction",
    callback=csv_list,
    show_default=True,
    help="group by these fields: site, direction, channel, period",
)
@click.option(
    "--period",
    "period",
    type=click.Choice(["day", "week", "month", "quarter", "year"]),
    default="month",
    show_default=True,
    help="bucket used when --by includes period",
)
@click.option(
    "--utc-offset",
    "utc_offset",
    default="+07:00",
    show_default=True,
    help="time zone of period boundaries",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="SEGMENT=DURATION",
    help="share within target, e.g. release=24h (repeatable; default release=24h)",
)
@click.option(
    "--compare",
    "compare",
    default=None,
    type=click.Path(path_type=str),
    help="an earlier period's clearances to compare against (a file, glob or directory)",
)
@click.option(
    "--out",
    "out",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="write here instead of stdout",
)
@click.option(
    "--lang",
    "lang",
    type=click.Choice(["vi", "en"]),
    default=None,
    help="language of the md and html formats (default: VASSCM_LANGUAGE, vi)",
)
@click.option(
    "--league",
    "league",
    is_flag=True,
    help="add the league table of the sites, ranked per --period by median release "
    "(contract 8.3); with --format csv, the league alone",
)
@click.option(
    "--intervals",
    "intervals",
    is_flag=True,
    help="add the time-interval analysis: each segment's median per --period, office "
    "hours against the rest, hour and weekday of arrival, channel; with --format csv, "
    "it alone",
)
def report(lang: str | None, **options: Any) -> int:
    """Time Release Study KPIs from the clearance records replay or the worker wrote.

    CLEARANCES is a clearances file (contract section 6), not an input event log: JSONL
    (.jsonl, .jsonl.gz) or Parquet (.parquet, as `vasscm replay --format parquet` writes
    it); or a glob of them (quote it: 'year/*.parquet'); or a directory, meaning every
    *.jsonl, *.jsonl.gz and *.parquet in it but replay's alerts, rejected and state
    files (so a replay's --out directory works). DuckDB computes the figures within
    VASSCM_REPORT_MEMORY (default 512MB), spilling to a temporary directory beyond it.
    Sites are named from the site registry (VASSCM_SITES_FILE).
    """
    from vasscm.cli.options import settings
    from vasscm.report import run_report
    from vasscm.sites import load_registry

    config = settings()
    sites = load_registry(config.sites_file)
    return run_report(
        **options, lang=lang or config.language, sites=sites, memory=config.report_memory
    )


@click.command(short_help="Release forecasts replayed against what happened (calibration)")
@click.argument("events", type=existing_file)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "json", "html"]),
    default="md",
    show_default=True,
    help="html: the table and a reliability chart, printable on A4",
)
@click.option(
    "--lang",
    "lang",
    type=click.Choice(["vi", "en"]),
    default=None,
    help="of md and html (default: VASSCM_LANGUAGE)",
)
@click.option("--every", "every", default="24h", show_default=True, help="between cut-offs")
@click.option(
    "--warmup", "warmup", default="7d", show_default=True, help="of the log before the first"
)
@click.option(
    "--horizon",
    "horizon",
    default="7d",
    show_default=True,
    help="cut-offs this close to the log's end are not judged",
)
def backtest(
    events: Path, fmt: str, lang: str | None, every: str, warmup: str, horizon: str
) -> int:
    """Replay EVENTS with release forecasts at cut-offs (contract 8.2) and say how
    they did: per site, direction and channel, the share of visits released by their
    p50 and their p90, and the pinball loss of each beside a forecast that knows only
    site and direction."""
    import orjson

    from vasscm.backtest import run_backtest
    from vasscm.backtest_render import render_backtest
    from vasscm.cli.options import settings
    from vasscm.report.options import parse_duration
    from vasscm.report.wording import wording
    from vasscm.sites import load_registry

    try:
        every_ms, warmup_ms, horizon_ms = (
            round(parse_duration(v) * 1000) for v in (every, warmup, horizon)
        )
    except ValueError as exc:
        raise click.UsageError(f"--every/--warmup/--horizon: {exc}") from None
    if every_ms <= 0:
        raise click.UsageError("--every must be positive")
    config = settings()
    with events.open("rb") as stream:
        result = run_backtest(
            stream,
            events,
            every_ms=every_ms,
            warmup_ms=warmup_ms,
            horizon_ms=horizon_ms,
            policy=config.policy(),
        )
    if fmt == "json":
        sys.stdout.buffer.write(orjson.dumps(result.as_dict(), option=orjson.OPT_INDENT_2) + b"\n")
        return 0
    words = wording(lang or config.language, load_registry(config.sites_file))
    sys.stdout.buffer.write(render_backtest(result, fmt, words).encode("utf-8"))
    return 0


@click.command(short_help="Export or check the topic contract under topics/")
@click.argument("action", type=click.Choice(["export", "check"]))
@click.option(
    "--dir",
    "directory",
    default="topics",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
)
def topics(action: str, directory: Path) -> int:
    """Write (export) or verify (check) the published topic contract under topics/."""
    from vasscm.topics import check, export

    if action == "export":
        for path in export(directory):
            click.echo(f"wrote {path}", err=True)
        return 0
    problems = check(directory)
    for problem in problems:
        click.echo(problem, err=True)
    return 1 if problems else 0
