"""The ``md`` and ``csv`` formats."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from vasscm.durations import duration_text
from vasscm.report.formatting import (
    FIGURES,
    counts_text,
    exits_text,
    grouped_by_text,
    human_duration,
    percent,
    plain_number,
    targets_text,
    within_heading,
)
from vasscm.report.stats import GroupStats, Report, group_label
from vasscm.report.visit import SEGMENTS

__all__ = ["render_csv", "render_md"]

# --- markdown ---------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    # A site named "a|b" must not split the table.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _md_key_cells(group: GroupStats, by: Sequence[str]) -> list[str]:
    values = dict(group.key)
    if not group.key:
        return ["**all**"] + [""] * (len(by) - 1) if by else ["**all**"]
    return [_md_cell(values[name]) for name in by]


def render_md(report: Report) -> str:
    src = report.source
    by_cols = list(report.by) or ["group"]
    lines = [
        "# Time Release Study: clearance KPIs",
        "",
        f"- Input: `{_md_cell(str(src.path))}`",
        f"- Counts: {counts_text(src)}",
    ]
    if not src.records:
        lines += ["", "No clearance records: nothing to report."]
        return "\n".join(lines) + "\n"
    lines += [
        f"- Exits covered: {exits_text(report)}",
        f"- Grouped by: {grouped_by_text(report)}",
        f"- Targets: {targets_text(report.targets)}",
        "",
        "## Visits",
        "",
        _md_row([*by_cols, "visits", "pre-cleared", "scanned", "with alert"]),
        _md_row(["---"] * len(by_cols) + ["---:"] * 4),
    ]
    for g in report.groups:
        cells = [f"{g.visits:,}", percent(g.pre_cleared), percent(g.scanned), percent(g.alerted)]
        lines.append(_md_row([*_md_key_cells(g, report.by), *cells]))
    for segment in SEGMENTS:
        within = within_heading(report.targets.get(segment))
        lines += [
            "",
            f"## {segment}",
            "",
            _md_row([*by_cols, "n", *FIGURES, within]),
            _md_row(["---"] * len(by_cols) + ["---:"] * (len(FIGURES) + 2)),
        ]
        for g in report.groups:
            st = g.segments[segment]
            figures = [human_duration(getattr(st, name)) for name in FIGURES]
            row = [
                *_md_key_cells(g, report.by),
                f"{st.count:,}",
                *figures,
                percent(st.within_target),
            ]
            lines.append(_md_row(row))
    if report.comparison is not None:
        cmp = report.comparison
        lines += ["", f"## Compared with `{_md_cell(str(cmp.path))}` ({cmp.visits:,} visits)", ""]
        if not cmp.changes:
            lines.append("No group and segment has data in both files.")
        for change in cmp.changes:
            label = group_label(change.key)
            lines.append(f"- **{_md_cell(label)}**: {_md_cell(change.sentence)}")
    lines += [
        "",
        "Percentiles: linear interpolation between closest ranks (numpy default). "
        "Durations in h/m/s with seconds in brackets. A segment that did not happen "
        "in a visit does not count in that segment.",
    ]
    return "\n".join(lines) + "\n"


# --- csv --------------------------------------------------------------------------------------


def render_csv(report: Report) -> str:
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
