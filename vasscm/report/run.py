"""``vasscm report``: read, compute, render, write."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

import duckdb

from vasscm.errors import VasscmError
from vasscm.language import DEFAULT_LANGUAGE
from vasscm.report.engine import DEFAULT_MEMORY, Engine, connect, engine_report
from vasscm.report.inputs import NoInput, resolve_inputs
from vasscm.report.lines import NotClearances
from vasscm.report.options import ReportUsageError, parse_by, parse_targets, parse_utc_offset
from vasscm.report.render import FORMATS, HUMAN_FORMATS, render
from vasscm.sites import Registry

__all__ = ["run_report"]

#: Stderr gets the first this-many malformed lines in full; the rest are only counted.
_MALFORMED_SHOWN: Final = 50


def _usage_error(error: Exception) -> int:
    # Same shape and exit code as the command line's own usage errors: the command
    # has already handed over to us when the value turns out to be bad.
    sys.stderr.write(f"vasscm report: {error} (see 'vasscm report --help')\n")
    return 2


def _show_malformed(engine: Engine) -> None:
    source = engine.source()
    if not source.malformed:
        return
    shown = 0
    for path, item in engine.malformed(_MALFORMED_SHOWN):
        shown += 1
        sys.stderr.write(f"{path}:{item.line}: skipped malformed line: {item.reason}\n")
    if source.malformed > shown:
        sys.stderr.write(f"{source.path}: more malformed lines; only counting them from here\n")
    sys.stderr.write(f"{source.path}: {source.malformed:,} malformed lines skipped\n")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def run_report(
    clearances: Path | str,
    fmt: str = "md",
    by: list[str] | None = None,
    period: str = "month",
    utc_offset: str = "+07:00",
    targets: tuple[str, ...] = (),
    compare: Path | str | None = None,
    out: Path | None = None,
    lang: str = DEFAULT_LANGUAGE,
    sites: Registry | None = None,
    memory: str = DEFAULT_MEMORY,
    league: bool = False,
    intervals: bool = False,
) -> int:
    """``vasscm report``: read, compute, render, write. Returns the exit code.

    ``clearances`` and ``compare`` are each a file, a glob or a directory of JSONL and
    Parquet files (:mod:`vasscm.report.inputs`); ``memory`` is DuckDB's memory limit.
    0 when the files were read (whatever they held, malformed lines included);
    2 for a bad option value; 1 when an input cannot be read or the output written.
    """
    try:
        fields = parse_by(["site", "direction"] if by is None else by)
        target_map = parse_targets(targets)
        tz = parse_utc_offset(utc_offset)
        if fmt not in FORMATS:
            raise ReportUsageError("--format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
        if fmt == "csv" and league and intervals:
            raise ReportUsageError(
                "--format", "csv holds one table: ask for --league or --intervals, not both"
            )
    except ReportUsageError as exc:
        return _usage_error(exc)
    try:
        with connect(memory=memory) as con:
            current = Engine.load(con, resolve_inputs(clearances), "cur")
            previous = None if compare is None else Engine.load(con, resolve_inputs(compare), "old")
            for engine in (current, previous):
                if engine is not None:
                    _show_malformed(engine)
            report = engine_report(
                current,
                by=fields,
                period=period,
                tz=tz,
                targets=target_map,
                previous=previous,
                with_league=league,
                with_intervals=intervals,
            )
    except (NotClearances, ReportUsageError) as exc:
        return _usage_error(exc)
    except NoInput as exc:
        sys.stderr.write(f"vasscm report: {exc}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(
            f"vasscm report: cannot read {exc.filename or clearances}: {exc.strerror}\n"
        )
        return 1
    except duckdb.Error as exc:  # an unreadable file: a Parquet file cut short, ...
        sys.stderr.write(f"vasscm report: cannot read {clearances}: {_first_line(exc)}\n")
        return 1
    words = None
    if fmt in HUMAN_FORMATS:  # the locale data only for the formats in a language
        from vasscm.report.wording import wording

        words = wording(lang, sites)
    if fmt == "pdf":
        from vasscm.report.render_pdf import html_to_pdf

        try:
            data = html_to_pdf(render(report, "html", words))
        except VasscmError as exc:
            sys.stderr.write(f"vasscm report: {exc}\n")
            return 1
    else:
        data = render(report, fmt, words).encode("utf-8")
    if out is not None:
        try:
            out.write_bytes(data)
        except OSError as exc:
            sys.stderr.write(f"vasscm report: cannot write {out}: {exc.strerror}\n")
            return 1
        return 0
    sys.stdout.flush()
    binary = getattr(sys.stdout, "buffer", None)  # absent when stdout was swapped for a StringIO
    if binary is None:
        sys.stdout.write(data.decode("utf-8"))
    else:
        binary.write(data)  # bytes: UTF-8 whatever the locale says
        binary.flush()
    return 0
