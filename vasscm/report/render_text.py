"""The ``md`` and ``csv`` formats."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from vasscm.durations import duration_text
from vasscm.language import N_
from vasscm.report.formatting import FIGURES, plain_number
from vasscm.report.render_intervals import intervals_csv, intervals_md
from vasscm.report.render_league import league_csv, league_md, summary_sentences
from vasscm.report.stats import GroupStats, Report
from vasscm.report.visit import SEGMENTS
from vasscm.report.wording import DUTIES_HEADING, DUTIES_INTRO, Wording

__all__ = ["render_csv", "render_md"]

# --- markdown ---------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    # A site named "a|b" must not split the table.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _md_key_cells(group: GroupStats, by: Sequence[str], words: Wording) -> list[str]:
    values = dict(group.key)
    if not group.key:
        everything = f"**{words.label('all')}**"
        return [everything] + [""] * (len(by) - 1) if by else [everything]
    return [_md_cell(words.value(name, values[name])) for name in by]


def _md_duration(words: Wording, value: float | None) -> str:
    return "–" if value is None else f"{words.lang.duration(value)} ({value:.0f} s)"


def render_md(report: Report, words: Wording) -> str:
    src = report.source
    n = words.lang.number
    by_cols = [words.field(name) for name in report.by] or [words.label("group")]
    lines = [
        f"# {words.title()}",
        "",
        f"- {words.label('Input')}: `{_md_cell(str(src.path))}`",
        f"- {words.label('Counts')}: {words.counts(src)}",
    ]
    if not src.visits:
        lines += ["", words.label("No clearance records: nothing to report.")]
        return "\n".join(lines) + "\n"
    lines += [
        f"- {words.label('Exits covered')}: {words.exits(report)}",
        f"- {words.label('Grouped by')}: {words.grouped_by(report)}",
        f"- {words.label('Targets')}: {words.targets(report.targets)}",
    ]
    summary = summary_sentences(report, words)
    if summary:
        lines += ["", f"## {words.label('Summary')}", "", " ".join(summary)]
    visits_heads = [N_("visits"), N_("pre-cleared"), N_("scanned"), N_("with alert")]
    lines += [
        "",
        f"## {words.label('Visits')}",
        "",
        _md_row([*by_cols, *(words._(h) for h in visits_heads)]),
        _md_row(["---"] * len(by_cols) + ["---:"] * 4),
    ]
    for g in report.groups:
        pct = words.lang.percent
        cells = [n(g.visits), pct(g.pre_cleared), pct(g.scanned), pct(g.alerted)]
        lines.append(_md_row([*_md_key_cells(g, report.by, words), *cells]))
    for segment in SEGMENTS:
        within = words.within(report.targets.get(segment))
        figures = [words.figure(name) for name in FIGURES]
        lines += [
            "",
            f"## {words.segment(segment)}",
            "",
            f"_{words.segment_definition(segment)}_",
            "",
            _md_row([*by_cols, "n", *figures, within]),
            _md_row(["---"] * len(by_cols) + ["---:"] * (len(FIGURES) + 2)),
        ]
        for g in report.groups:
            st = g.segments[segment]
            row = [
                *_md_key_cells(g, report.by, words),
                n(st.count),
                *(_md_duration(words, getattr(st, name)) for name in FIGURES),
                words.lang.percent(st.within_target),
            ]
            lines.append(_md_row(row))
    if report.duties:
        lines += [
            "",
            f"## {words.label(DUTIES_HEADING)}",
            "",
            f"_{words._(DUTIES_INTRO)}_",
            "",
            _md_row(_md_cell(h) for h in words.duty_heads()),
            _md_row(["---"] * 5 + ["---:"] * 3),
        ]
        lines += [_md_row(_md_cell(c) for c in words.duty_row(d)) for d in report.duties]
    if report.comparison is not None:
        cmp = report.comparison
        compared = words.format(
            N_("against `{path}`, {visits} visits"),
            path=_md_cell(str(cmp.path)),
            visits=n(cmp.visits),
        )
        lines += ["", f"## {words.comparison_heading(report)}", "", f"_{compared}_", ""]
        if not cmp.changes:
            lines.append(words.label("No group and segment has data in both files."))
        else:
            lines.append(_md_row(_md_cell(h) for h in words.comparison_heads(report)))
            lines.append(_md_row(["---"] * 3 + ["---:"] * 3))
            for change in cmp.changes:
                lines.append(_md_row(_md_cell(c) for c in words.comparison_row(change)))
    if report.league is not None:
        lines += league_md(report.league, words)
    if report.intervals is not None:
        lines += intervals_md(report.intervals, words)
    lines += ["", words._(_FOOTNOTE)]
    return "\n".join(lines) + "\n"


_FOOTNOTE = N_(
    "Percentiles: linear interpolation between closest ranks (numpy default). "
    "Durations in hours, minutes and seconds, with seconds in brackets. A segment that "
    "did not happen in a visit does not count in that segment."
)


# --- csv --------------------------------------------------------------------------------------


def render_csv(report: Report) -> str:
    """The groups' figures; with --league the league rows instead, with --intervals the
    time-interval analysis (a csv holds one table)."""
    if report.league is not None:
        return league_csv(report.league)
    if report.intervals is not None:
        return intervals_csv(report.intervals)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["group", *report.by, "segment", "count"]
    for name in FIGURES:
        header += [f"{name}_s", f"{name}_text"]
    header += [
        "target_s", "target_text", "within_target_share",
        "visits", "pre_cleared_share", "scanned_share", "alert_share",
    ]  # fmt: skip
    writer.writerow(header)
    for g in report.groups:
        values = dict(g.key)
        for segment in SEGMENTS:
            st = g.segments[segment]
            row: list[str | int] = [g.label, *(values.get(n, "") for n in report.by), segment]
            row.append(st.count)
            for name in FIGURES:
                value = getattr(st, name)
                row += [plain_number(value), "" if value is None else duration_text(value)]
            row += [
                plain_number(st.target),
                "" if st.target is None else duration_text(st.target),
                plain_number(st.within_target, 4),
                g.visits,
                plain_number(g.pre_cleared, 4),
                plain_number(g.scanned, 4),
                plain_number(g.alerted, 4),
            ]
            writer.writerow(row)
    return out.getvalue()
