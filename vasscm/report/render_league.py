"""The league table (contract 8.3) in every format of ``vasscm report``, and the
sentences the summary gains from it, in the report's language.

Durations in the tables are hours with one decimal ("5,2 giờ" / "5.2 hours"): a row
holds a dozen of them, and a reform report compares them, not their seconds. The
csv and json forms give seconds.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any, Final

from vasscm.language import N_
from vasscm.report.formatting import plain_number
from vasscm.report.html_table import escape as _e
from vasscm.report.html_table import table
from vasscm.report.league import FENCE, LEAGUE_SEGMENTS, League, LeagueRow
from vasscm.report.line_chart import Series, line_chart
from vasscm.report.render_intervals import office_sentence
from vasscm.report.stats import Report
from vasscm.report.wording import Wording

__all__ = [
    "league_csv",
    "league_html",
    "league_json",
    "league_md",
    "league_sentences",
    "summary_sentences",
]

HEADING: Final = N_("League table of sites")
_INTRO: Final = N_(
    "Each site ranked per period by its median release time (ties by the p90); "
    "durations in hours, the change against the site's previous period in hours and per "
    "cent (↑ a rank gained). Means leave out outliers: visits whose dwell lies beyond "
    "Q3 + {fence} × IQR of their site and period, listed below; medians and percentiles "
    "keep them."
)
_OUTLIERS: Final = N_("Outliers: dwell beyond Q3 + {fence} × IQR")
_OUTLIERS_SHOWN: Final = N_("{total} outliers; the {shown} most extreme:")
_NO_OUTLIERS: Final = N_("No outlier.")
_CHART: Final = N_("Median release time per site and period (hours)")
_ONLY: Final = N_(
    "In {period}, {leader} was the only site ranked: median release time {median} (p90 {p90})."
)
_LED: Final = N_(
    "In {period}, {leader} led the {sites} sites with a median release time of {median} "
    "(p90 {p90}); {last} ranked last at {last_median}."
)
_GAINED: Final = N_(
    "{site} gained most on {previous}: its median release time fell by {hours} ({percent})."
)
_GAINED_MOVED: Final = N_(
    "{site} gained most on {previous}: its median release time fell by {hours} "
    "({percent}), from rank {before} to {after}."
)
_HEADS: Final = (
    N_("rank"), N_("site"), N_("visits"), N_("release median"), N_("release p90"),
    N_("release mean"), N_("declarant's (median)"), N_("customs' (median)"),
    N_("exit (median)"), N_("dwell (median)"), N_("within target"),
    N_("change vs previous"), N_("outliers"),
)  # fmt: skip
_OUTLIER_HEADS: Final = (
    N_("container"), N_("site"), N_("period"), N_("dwell"), N_("fence"), N_("visit"),
)  # fmt: skip


def _hours(words: Wording, seconds: float | None) -> str:
    return "–" if seconds is None else words.lang.number(seconds / 3600, 1)


def _change(words: Wording, row: LeagueRow) -> str:
    change = row.change
    if change is None:
        return "–"
    pct = row.change_percent
    sign = "+" if change > 0 else "−" if change < 0 else "±"
    text = f"{sign}{words.lang.number(abs(change) / 3600, 1)}"
    if pct is not None:
        text += f" ({sign}{words.lang.number(abs(pct), 1)} %)"
    if row.rank is not None and row.previous_rank is not None and row.previous_rank != row.rank:
        arrow = "↑" if row.rank < row.previous_rank else "↓"
        text += f" {arrow}{abs(row.previous_rank - row.rank)}"
    return text


def _cells(words: Wording, row: LeagueRow) -> list[str]:
    s = row.segments
    return [
        "–" if row.rank is None else str(row.rank),
        words.value("site", row.site),
        words.lang.number(row.visits),
        _hours(words, s["release"].median),
        _hours(words, s["release"].p90),
        _hours(words, s["release"].mean),
        _hours(words, s["lodgement"].median),
        _hours(words, s["customs"].median),
        _hours(words, s["exit"].median),
        _hours(words, s["dwell"].median),
        words.lang.percent(row.within_target),
        _change(words, row),
        words.lang.number(row.outliers),
    ]


# --- sentences --------------------------------------------------------------------------------


def summary_sentences(report: Report, words: Wording) -> list[str]:
    """The summary paragraph: each direction's mean release (and its change), then,
    when asked for, the ranking of the sites and what office hours change."""
    out = [s for s in (words.summary(item, report) for item in report.summaries) if s]
    if report.league is not None:
        out += league_sentences(report.league, words)
    if report.intervals is not None:
        office = office_sentence(report.intervals, words)
        if office:
            out.append(office)
    return out


def league_sentences(league: League, words: Wording) -> list[str]:
    """The summary's ranking, for the latest period: who led, who came last, and who
    gained most on the period before."""
    if not league.rows:
        return []
    latest = league.periods[-1]
    ranked = [r for r in league.of(latest) if r.rank is not None]
    if not ranked:
        return []
    lead, last = ranked[0], ranked[-1]
    site = words.value
    out = []
    fields = {
        "period": words.period_value(latest),
        "leader": site("site", lead.site),
        "median": words.lang.duration(lead.segments["release"].median),
        "p90": words.lang.duration(lead.segments["release"].p90),
        "sites": words.lang.number(len(ranked)),
    }
    if len(ranked) == 1:
        out.append(words.format(_ONLY, **fields))
    else:
        last_median = words.lang.duration(last.segments["release"].median)
        out.append(
            words.format(_LED, last=site("site", last.site), last_median=last_median, **fields)
        )
    gains = [r for r in ranked if r.change is not None and r.change < 0]
    if gains:
        best = min(gains, key=lambda r: (r.change or 0.0, r.site))
        change, pct = best.change or 0.0, best.change_percent
        moved = best.previous_rank is not None and best.previous_rank != best.rank
        out.append(
            words.format(
                _GAINED_MOVED if moved else _GAINED,
                site=site("site", best.site),
                previous=words.period_value(league.previous(latest)),
                hours=words.lang.hours(abs(change)),
                percent=words.lang.percent(None if pct is None else abs(pct) / 100),
                before=best.previous_rank,
                after=best.rank,
            )
        )
    return out


# --- markdown ---------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_md_cell(c) for c in cells) + " |"


def league_md(league: League, words: Wording) -> list[str]:
    _ = words._
    lines = ["", f"## {_(HEADING)}", "", f"_{words.format(_INTRO, fence=_fence())}_"]
    heads = [_(h) for h in _HEADS]
    for period in league.periods:
        lines += [
            "",
            f"### {words.period_value(period)}",
            "",
            _md_row(heads),
            _md_row(["---:", "---"] + ["---:"] * (len(heads) - 2)),
        ]
        lines += [_md_row(_cells(words, r)) for r in league.of(period)]
    lines += ["", f"### {words.format(_OUTLIERS, fence=_fence())}", ""]
    if not league.outliers:
        lines.append(_(_NO_OUTLIERS))
        return lines
    lines += [
        words.format(
            _OUTLIERS_SHOWN,
            total=words.lang.number(league.outliers_total),
            shown=words.lang.number(len(league.outliers)),
        ),
        "",
        _md_row([_(h) for h in _OUTLIER_HEADS]),
        _md_row(["---"] * 3 + ["---:"] * 2 + ["---"]),
    ]
    lines += [_md_row(_outlier_cells(words, o)) for o in league.outliers]
    return lines


def _outlier_cells(words: Wording, o: Any) -> list[str]:
    return [
        o.container_no,
        words.value("site", o.site),
        words.period_value(o.period),
        words.lang.duration(o.dwell),
        words.lang.duration(o.fence),
        o.visit_id,
    ]


def _fence() -> str:
    return f"{FENCE:g}"


# --- html -------------------------------------------------------------------------------------


def league_html(league: League, words: Wording) -> list[str]:
    _ = words._
    out = [
        f'<h2 id="league">{_e(_(HEADING))}</h2>',
        f'<p class="def">{_e(words.format(_INTRO, fence=_fence()))}</p>',
        _svg_trend(league, words),
    ]
    heads = [_(h) for h in _HEADS]
    for period in league.periods:
        out.append(f"<h3>{_e(words.period_value(period))}</h3>")
        rows = [_cells(words, r) for r in league.of(period)]
        out.extend(table("league", heads, rows, names=(1,)))
    out.append(f"<h3>{_e(words.format(_OUTLIERS, fence=_fence()))}</h3>")
    if not league.outliers:
        out.append(f"<p>{_e(_(_NO_OUTLIERS))}</p>")
        return out
    shown = words.format(
        _OUTLIERS_SHOWN,
        total=words.lang.number(league.outliers_total),
        shown=words.lang.number(len(league.outliers)),
    )
    out.append(f'<p class="def">{_e(shown)}</p>')
    rows = [_outlier_cells(words, o) for o in league.outliers]
    out.extend(table("outliers", [_(h) for h in _OUTLIER_HEADS], rows, names=range(6)))
    return out


_COLOURS: Final = ("#2f6fb2", "#b26a00", "#2e7d32", "#7b4ea3", "#c62828", "#00838f", "#5d4037")


def _svg_trend(league: League, words: Wording) -> str:
    """Lines of each site's median release time across the periods."""
    periods = league.periods
    medians = {(r.site, r.period): r.segments["release"].median for r in league.rows}
    series = [
        Series(
            words.value("site", site),
            _COLOURS[k % len(_COLOURS)],
            [None if (m := medians.get((site, p))) is None else m / 3600 for p in periods],
        )
        for k, site in enumerate(sorted({r.site for r in league.rows}))
    ]
    return line_chart(
        "league-chart", words._(_CHART), periods, series, lambda v: words.lang.number(v, 1)
    )


# --- machine forms ----------------------------------------------------------------------------


def league_json(league: League) -> dict[str, Any]:
    """The report object's league keys: ``league``, one row per site and period
    (``site``, ``period``, ``rank``, ``visits`` as contract 8.3 names them, and the
    figures in seconds); ``league_outliers``: their total and the most extreme listed."""
    rows = []
    for r in league.rows:
        rows.append(
            {
                "site": r.site,
                "period": r.period,
                "rank": r.rank,
                "visits": r.visits,
                "outliers": r.outliers,
                "segments": {
                    s: {
                        "count": f.count,
                        "median_seconds": _rounded(f.median),
                        "p90_seconds": _rounded(f.p90),
                        "mean_seconds": _rounded(f.mean),
                    }
                    for s, f in r.segments.items()
                },
                "within_target_share": r.within_target,
                "previous_rank": r.previous_rank,
                "change_seconds": _rounded(r.change),
                "change_percent": None if r.change_percent is None else round(r.change_percent, 2),
            }
        )
    return {
        "league": rows,
        "league_period": league.period,
        "league_target_seconds": league.target,
        "league_outlier_fence": f"Q3 + {_fence()} * IQR of dwell, per site and period",
        "league_outliers": {
            "total": league.outliers_total,
            "listed": [
                {
                    "visit_id": o.visit_id,
                    "container_no": o.container_no,
                    "site": o.site,
                    "period": o.period,
                    "dwell_seconds": round(o.dwell, 3),
                    "fence_seconds": round(o.fence, 3),
                }
                for o in league.outliers
            ],
        },
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def league_csv(league: League) -> str:
    """One row per site and period, seconds for durations."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["site", "period", "rank", "visits", "outliers"]
    for s in LEAGUE_SEGMENTS:
        header += [f"{s}_count", f"{s}_median_s", f"{s}_p90_s", f"{s}_mean_s"]
    header += ["within_target_share", "previous_rank", "change_s", "change_percent"]
    writer.writerow(header)
    for r in league.rows:
        row: list[str | int] = [r.site, r.period, "" if r.rank is None else r.rank, r.visits]
        row.append(r.outliers)
        for s in LEAGUE_SEGMENTS:
            f = r.segments[s]
            row += [f.count, plain_number(f.median), plain_number(f.p90), plain_number(f.mean)]
        row += [
            plain_number(r.within_target, 4),
            "" if r.previous_rank is None else r.previous_rank,
            plain_number(r.change),
            plain_number(r.change_percent, 2),
        ]
        writer.writerow(row)
    return out.getvalue()
