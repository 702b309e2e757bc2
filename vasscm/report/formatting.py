"""Value formatting shared by the renderers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Final

from vasscm.durations import duration_text
from vasscm.report.load import Loaded
from vasscm.report.stats import Report

__all__ = [
    "FIGURES",
    "counts_text",
    "exits_text",
    "grouped_by_text",
    "human_duration",
    "offset_label",
    "percent",
    "plain_number",
    "targets_text",
    "within_heading",
]

FIGURES: Final = ("mean", "median", "p90", "p95", "max")


def plain_number(value: float | None, digits: int = 3) -> str:
    """Machine form: ``86429``, ``86429.5``; ``""`` for none."""
    if value is None:
        return ""
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") or "0"


def human_duration(value: float | None) -> str:
    """Human form: ``24h00m29s (86429 s)``; ``–`` for none."""
    return "–" if value is None else f"{duration_text(value)} ({value:.0f} s)"


def percent(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.1f}%"


def _local(moment: datetime | None, tz: timezone) -> str:
    return "" if moment is None else moment.astimezone(tz).isoformat(timespec="seconds")


def offset_label(tz: timezone) -> str:
    return "UTC" + (tz.tzname(None) or "").removeprefix("UTC")


def targets_text(targets: Mapping[str, float]) -> str:
    return ", ".join(f"{s} ≤ {duration_text(t)}" for s, t in targets.items()) or "none"


def counts_text(source: Loaded) -> str:
    return (
        f"{len(source.records):,} visits from {source.records_read:,} records "
        f"({source.older_revisions:,} older revisions and {source.superseded:,} superseded "
        f"dropped; {source.malformed:,} malformed lines skipped)"
    )


def exits_text(report: Report) -> str:
    """First to last exit in the report's time zone."""
    return f"{_local(report.first_exit, report.tz)} to {_local(report.last_exit, report.tz)}"


def grouped_by_text(report: Report) -> str:
    """``site, period (period: month, UTC+07:00)``; ``nothing`` without grouping."""
    return f"{', '.join(report.by) or 'nothing'}" + (
        f" (period: {report.period}, {offset_label(report.tz)})" if "period" in report.by else ""
    )


def within_heading(target: float | None) -> str:
    """Column heading of the share within a segment's target."""
    return f"within {duration_text(target)}" if target is not None else "within target"
