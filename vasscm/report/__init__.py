"""Time Release Study KPIs from clearance records (contract sections 5 and 6).

Two halves that never mix. The statistics (:func:`load_clearances`,
:func:`latest_records`, :func:`group_stats`, :func:`compare_groups`,
:func:`release_histogram`, :func:`build_report`) take records and return plain
frozen dataclasses; the renderers (:func:`render`) turn a :class:`Report` into
``md``, ``csv``, ``json`` or ``html`` text. :func:`run_report` is what
``vasscm report`` calls.

Percentiles use linear interpolation between closest ranks (numpy's default,
Hyndman & Fan type 7): for ``n`` sorted values and ``q`` in [0, 1], rank
``h = (n - 1) * q``, value ``x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)])``.
The median is the 0.5 percentile; "within target" means ``seconds <= target``.

Modules: ``visit`` (the slim row kept per record), ``options`` (option values),
``load`` (reading and de-duplicating), ``stats`` (the figures and the report),
``render`` (dispatch to ``render_text``, ``render_json``, ``render_html``, sharing
``formatting``) and ``run`` (the command).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from vasscm.report.lines import Malformed
from vasscm.report.options import (
    GROUP_FIELDS,
    PERIODS,
    ReportUsageError,
    parse_duration,
    parse_targets,
    parse_utc_offset,
)
from vasscm.report.render import render
from vasscm.report.run import run_report
from vasscm.report.stats import (
    Change,
    Comparison,
    GroupKey,
    GroupStats,
    Histogram,
    Report,
    SegmentStats,
    build_report,
    compare_groups,
    group_stats,
    percentile,
    period_of,
    release_histogram,
    summarize,
)
from vasscm.report.visit import SEGMENTS, RecordLike, Visit

if TYPE_CHECKING:
    from vasscm.report.load import Loaded, current_records, latest_records, load_clearances

#: The Python reader builds the contract's models when imported (a tenth of a second
#: the engine does without): its names are imported on first use.
_READER: Final = ("Loaded", "current_records", "latest_records", "load_clearances")


def __getattr__(name: str) -> Any:
    if name in _READER:
        from vasscm.report import load

        return getattr(load, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "GROUP_FIELDS",
    "PERIODS",
    "SEGMENTS",
    "Change",
    "Comparison",
    "GroupKey",
    "GroupStats",
    "Histogram",
    "Loaded",
    "Malformed",
    "RecordLike",
    "Report",
    "ReportUsageError",
    "SegmentStats",
    "Visit",
    "build_report",
    "compare_groups",
    "current_records",
    "group_stats",
    "latest_records",
    "load_clearances",
    "parse_duration",
    "parse_targets",
    "parse_utc_offset",
    "percentile",
    "period_of",
    "release_histogram",
    "render",
    "run_report",
    "summarize",
]
