"""``vasscm report``: read, compute, render, write."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

from vasscm.errors import VasscmError
from vasscm.language import DEFAULT_LANGUAGE
from vasscm.report.load import Malformed, NotClearances, load_clearances
from vasscm.report.options import ReportUsageError, parse_by, parse_targets, parse_utc_offset
from vasscm.report.render import FORMATS, render
from vasscm.report.render_pdf import html_to_pdf
from vasscm.report.stats import build_report
from vasscm.report.wording import wording
from vasscm.sites import Registry

__all__ = ["run_report"]

#: Stderr gets the first this-many malformed lines in full; the rest are only counted.
_MALFORMED_SHOWN: Final = 50


def _usage_error(error: Exception) -> int:
    # Same shape and exit code as the command line's own usage errors: the command
    # has already handed over to us when the value turns out to be bad.
    sys.stderr.write(f"vasscm report: {error} (see 'vasscm report --help')\n")
    return 2


def _malformed_reporter(path: Path) -> Callable[[Malformed], None]:
    seen = 0

    def report(item: Malformed) -> None:
        nonlocal seen
        seen += 1
        if seen <= _MALFORMED_SHOWN:
            sys.stderr.write(f"{path}:{item.line}: skipped malformed line: {item.reason}\n")
        elif seen == _MALFORMED_SHOWN + 1:
            sys.stderr.write(f"{path}: more malformed lines; only counting them from here\n")

    return report


def run_report(
    clearances: Path,
    fmt: str = "md",
    by: list[str] | None = None,
    period: str = "month",
    utc_offset: str = "+07:00",
    targets: tuple[str, ...] = (),
    compare: Path | None = None,
    out: Path | None = None,
    lang: str = DEFAULT_LANGUAGE,
    sites: Registry | None = None,
) -> int:
    """``vasscm report``: read, compute, render, write. Returns the exit code.

    0 when the files were read (whatever they held, malformed lines included);
    2 for a bad option value; 1 when an input cannot be read or the output written.
    """
    try:
        fields = parse_by(["site", "direction"] if by is None else by)
        target_map = parse_targets(targets)
        tz = parse_utc_offset(utc_offset)
        if fmt not in FORMATS:
            raise ReportUsageError("--format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
    except ReportUsageError as exc:
        return _usage_error(exc)
    try:
        source = load_clearances(clearances, _malformed_reporter(clearances))
        previous = (
            None if compare is None else load_clearances(compare, _malformed_reporter(compare))
        )
    except NotClearances as exc:
        return _usage_error(exc)
    except OSError as exc:
        sys.stderr.write(
            f"vasscm report: cannot read {exc.filename or clearances}: {exc.strerror}\n"
        )
        return 1
    for loaded in (source, previous):
        if loaded is not None and loaded.malformed:
            sys.stderr.write(f"{loaded.path}: {loaded.malformed:,} malformed lines skipped\n")
    try:
        report = build_report(
            source, by=fields, period=period, tz=tz, targets=target_map, previous=previous
        )
    except ReportUsageError as exc:
        return _usage_error(exc)
    words = wording(lang, sites)
    if fmt == "pdf":
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
