"""The ``json`` format."""

from __future__ import annotations

from typing import Any, Final

import orjson

from vasscm.durations import duration_text, format_ts
from vasscm.report.formatting import FIGURES, offset_label
from vasscm.report.stats import Change, GroupKey, Report, group_label
from vasscm.report.visit import SEGMENTS

__all__ = ["JSON_SCHEMA_VERSION", "render_json"]

JSON_SCHEMA_VERSION: Final = 1
_LEAGUE_KEYS: Final = (
    "league",
    "league_period",
    "league_target_seconds",
    "league_outlier_fence",
    "league_outliers",
)


def _duration_obj(value: float | None) -> dict[str, Any] | None:
    return None if value is None else {"seconds": round(value, 3), "text": duration_text(value)}


def _change_obj(change: Change) -> dict[str, Any]:
    pct = change.percent
    return {
        "current": _duration_obj(change.current),
        "previous": _duration_obj(change.previous),
        "delta_seconds": round(change.delta, 3),
        "delta_text": duration_text(change.delta),
        "delta_percent": None if pct is None else round(pct, 2),
        "verdict": change.verdict,
        "sentence": change.sentence,
    }


def _report_obj(report: Report) -> dict[str, Any]:
    """The json format (``schema`` 1); every key is always present.

    ``input``: path, lines, records_read, older_revisions, superseded, malformed, visits.
    ``exits``: {first, last} in UTC (or null). ``groups``: the "all" group (key {})
    first, then each group; per group ``visits``, ``*_share`` and ``segments``: each of
    release/exit/dwell/scan_wait -> {count, mean, median, p90, p95, max, target:
    {seconds, text} or null, within_target_share}. ``comparison``: null or {path,
    visits, changes: [{key, label, segment, mean: {...}, median: {...}}]}.
    """
    src = report.source
    groups = []
    for g in report.groups:
        segments: dict[str, Any] = {}
        for segment in SEGMENTS:
            st = g.segments[segment]
            segments[segment] = {
                "count": st.count,
                **{name: _duration_obj(getattr(st, name)) for name in FIGURES},
                "target": _duration_obj(st.target),
                "within_target_share": st.within_target,
            }
        groups.append(
            {
                "key": dict(g.key),
                "label": g.label,
                "visits": g.visits,
                "pre_cleared_share": g.pre_cleared,
                "scanned_share": g.scanned,
                "alert_share": g.alerted,
                "segments": segments,
            }
        )
    comparison = None
    if report.comparison is not None:
        paired: dict[tuple[GroupKey, str], dict[str, Any]] = {}
        for change in report.comparison.changes:
            entry = paired.setdefault(
                (change.key, change.segment),
                {
                    "key": dict(change.key),
                    "label": group_label(change.key),
                    "segment": change.segment,
                },
            )
            entry[change.metric] = _change_obj(change)
        comparison = {
            "path": str(report.comparison.path),
            "visits": report.comparison.visits,
            "changes": list(paired.values()),
        }
    return {
        "schema": JSON_SCHEMA_VERSION,
        "kind": "vasscm.trs-report",
        "input": {
            "path": str(src.path),
            "lines": src.lines,
            "records_read": src.records_read,
            "older_revisions": src.older_revisions,
            "superseded": src.superseded,
            "malformed": src.malformed,
            "visits": src.visits,
        },
        "exits": None
        if report.first_exit is None or report.last_exit is None
        else {"first": format_ts(report.first_exit), "last": format_ts(report.last_exit)},
        "by": list(report.by),
        "period": report.period,
        "utc_offset": offset_label(report.tz).removeprefix("UTC") or "+00:00",
        "percentiles": "linear interpolation between closest ranks (numpy default, type 7)",
        "targets": {s: _duration_obj(t) for s, t in report.targets.items()},
        "groups": groups,
        "comparison": comparison,
        # Contract 8.3 (--league) and the time-interval analysis (--intervals): null
        # when not asked for.
        **(_league(report) if report.league is not None else dict.fromkeys(_LEAGUE_KEYS)),
        "intervals": None if report.intervals is None else _intervals(report),
        # Contract 7.2: both sides' obligations per site and period.
        "obligations": [
            {
                "site": d.site,
                "period": d.period,
                "party": d.party,
                "form": d.form,
                "judged": d.due,
                "on_time": d.on_time,
                "share_on_time": round(d.share, 6),
            }
            for d in report.duties
        ],
    }


# The league's and the intervals' renderers bring the wording (Babel): imported only for
# a report that holds them.
def _league(report: Report) -> dict[str, Any]:
    from vasscm.report.render_league import league_json

    assert report.league is not None
    return league_json(report.league)


def _intervals(report: Report) -> Any:
    from vasscm.report.render_intervals import intervals_json

    assert report.intervals is not None
    return intervals_json(report.intervals)


def render_json(report: Report) -> str:
    return orjson.dumps(_report_obj(report), option=orjson.OPT_INDENT_2).decode() + "\n"
