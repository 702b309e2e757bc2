"""The ``html`` format: one self-contained page with SVG histograms."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Final

from vasscm.durations import duration_text
from vasscm.report.formatting import (
    FIGURES,
    counts_text,
    exits_text,
    grouped_by_text,
    percent,
    targets_text,
    within_heading,
)
from vasscm.report.stats import GroupStats, Histogram, Report, group_label
from vasscm.report.visit import SEGMENTS

__all__ = ["render_html"]

_CSS: Final = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1d2430;
padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #d9dee7;padding:.3rem .6rem;text-align:right;vertical-align:top}
th{background:#f2f4f8}td.k,th.k{text-align:left}tr.all td{font-weight:600}
small{color:#5a6474}ul.meta{list-style:none;padding:0}svg{display:block;margin:.5rem 0}
.bar{fill:#2f6fb2}.axis{stroke:#1d2430}.grid{stroke:#e3e7ee}svg text{font-size:11px;fill:#1d2430}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _tr(group: GroupStats) -> str:
    return '<tr class="all">' if not group.key else "<tr>"


def _html_key_cells(group: GroupStats, by: Sequence[str]) -> str:
    if not group.key:
        return '<td class="k">all</td>' + '<td class="k"></td>' * (max(len(by), 1) - 1)
    values = dict(group.key)
    return "".join(f'<td class="k">{_e(values[name])}</td>' for name in by)


def _html_dur(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{_e(duration_text(value))}<br><small>{value:.0f} s</small>"


def _nice_step(raw: float) -> int:
    power = int(10 ** max(0, math.floor(math.log10(max(raw, 1)))))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _svg_histogram(histogram: Histogram, direction: str, counts: Sequence[int]) -> str:
    width, height, left, right, top, bottom = 680, 250, 52, 12, 30, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    step = _nice_step(max(counts) / 4)
    y_max = max(step, math.ceil(max(counts) / step) * step)
    slot = plot_w / len(counts)
    title = f"{histogram.segment} times, {direction} (n={sum(counts):,})"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img"><title>{_e(title)}</title>',
        f'<text x="{left}" y="18" font-weight="600">{_e(title)}</text>',
    ]
    for tick in range(0, y_max + 1, step):
        y = top + plot_h - plot_h * tick / y_max
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:,}</text>'
        )
    for i, (label, count) in enumerate(zip(histogram.labels, counts, strict=True)):
        x = left + i * slot
        h = plot_h * count / y_max
        parts.append(
            f'<rect class="bar" x="{x + 3:.1f}" y="{top + plot_h - h:.1f}" '
            f'width="{slot - 6:.1f}" height="{h:.1f}"><title>{_e(label)}: {count:,}</title></rect>'
            f'<text x="{x + slot / 2:.1f}" y="{top + plot_h + 16}" '
            f'text-anchor="middle">{_e(label)}</text>'
        )
        if count:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{top + plot_h - h - 4:.1f}" '
                f'text-anchor="middle">{count:,}</text>'
            )
    base = top + plot_h
    parts += [
        f'<line class="axis" x1="{left}" x2="{width - right}" y1="{base}" y2="{base}"/>',
        f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{base}"/>',
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 14}" text-anchor="middle">'
        f"{_e(histogram.segment)} time (arrival to eligible)</text>",
        f'<text transform="translate(14 {top + plot_h / 2:.1f}) rotate(-90)" '
        'text-anchor="middle">visits</text>',
        "</svg>",
    ]
    return "".join(parts)


def render_html(report: Report) -> str:
    src = report.source
    by_heads = (
        "".join(f'<th class="k">{_e(n)}</th>' for n in report.by) or '<th class="k">group</th>'
    )
    body = [
        "<h1>Time Release Study: clearance KPIs</h1>",
        '<ul class="meta">',
        f"<li>Input: <code>{_e(src.path)}</code></li>",
        f"<li>Counts: {_e(counts_text(src))}</li>",
    ]
    if not src.records:
        body += ["</ul>", "<p>No clearance records: nothing to report.</p>"]
    else:
        body += [
            f"<li>Exits covered: {_e(exits_text(report))}</li>",
            f"<li>Grouped by: {_e(grouped_by_text(report))}</li>",
            f"<li>Targets: {_e(targets_text(report.targets))}</li>",
            "</ul>",
            "<h2>Visits</h2><table><tr>" + by_heads
            + "<th>visits</th><th>pre-cleared</th><th>scanned</th><th>with alert</th></tr>",
        ]  # fmt: skip
        for g in report.groups:
            body.append(
                f"{_tr(g)}{_html_key_cells(g, report.by)}<td>{g.visits:,}</td>"
                f"<td>{percent(g.pre_cleared)}</td><td>{percent(g.scanned)}</td>"
                f"<td>{percent(g.alerted)}</td></tr>"
            )
        body.append("</table>")
        for segment in SEGMENTS:
            within = within_heading(report.targets.get(segment))
            heads = "".join(f"<th>{name}</th>" for name in FIGURES)
            body.append(
                f"<h2>{_e(segment)}</h2><table><tr>{by_heads}<th>n</th>{heads}"
                f"<th>{_e(within)}</th></tr>"
            )
            for g in report.groups:
                st = g.segments[segment]
                figures = "".join(f"<td>{_html_dur(getattr(st, n))}</td>" for n in FIGURES)
                body.append(
                    f"{_tr(g)}{_html_key_cells(g, report.by)}<td>{st.count:,}</td>{figures}"
                    f"<td>{percent(st.within_target)}</td></tr>"
                )
            body.append("</table>")
        if report.comparison is not None:
            cmp = report.comparison
            body.append(
                f"<h2>Compared with <code>{_e(cmp.path)}</code> ({cmp.visits:,} visits)</h2><ul>"
            )
            if not cmp.changes:
                body.append("<li>No group and segment has data in both files.</li>")
            for change in cmp.changes:
                label = group_label(change.key)
                body.append(f"<li><strong>{_e(label)}</strong>: {_e(change.sentence)}</li>")
            body.append("</ul>")
        body.append("<h2>Release times by direction</h2>")
        if not report.histogram.counts:
            body.append("<p>No release times to chart.</p>")
        for direction, counts in report.histogram.counts.items():
            body.append(_svg_histogram(report.histogram, direction, counts))
        body.append(
            "<p><small>Percentiles: linear interpolation between closest ranks (numpy "
            "default). A segment that did not happen in a visit does not count in that "
            "segment.</small></p>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        # No network at all: the page must open the same offline and from an archive.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">"
        f"<title>TRS report: {_e(src.path.name)}</title><style>{_CSS}</style></head>"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
