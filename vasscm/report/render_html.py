"""The ``html`` format: one self-contained page with SVG histograms."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

from vasscm.language import N_
from vasscm.report.formatting import FIGURES
from vasscm.report.html_table import escape as _e
from vasscm.report.html_table import table
from vasscm.report.render_intervals import intervals_html
from vasscm.report.render_league import league_html, summary_sentences
from vasscm.report.stats import GroupStats, Histogram, Report
from vasscm.report.visit import SEGMENTS
from vasscm.report.wording import DUTIES_HEADING, DUTIES_INTRO, Wording

__all__ = ["render_html"]

_CSS: Final = """
body{font:14px/1.45 system-ui,"Noto Sans",sans-serif;margin:2rem auto;max-width:76rem;
color:#1d2430;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}p.def{margin:.2rem 0;color:#5a6474}
table{border-collapse:collapse;margin:.5rem 0;font-variant-numeric:tabular-nums;font-size:13px}
td.d{white-space:nowrap}
th,td{border-bottom:1px solid #d9dee7;padding:.3rem .6rem;text-align:right;vertical-align:top}
th{background:#f2f4f8}td.k,th.k{text-align:left}tr.all td{font-weight:600}
small{color:#5a6474}ul.meta{list-style:none;padding:0}svg{display:block;margin:.5rem 0}
.pair{display:flex;flex-wrap:wrap;gap:1rem 2rem;align-items:flex-start}
.pair>div{min-width:0;max-width:100%;overflow-x:auto}
.summary{font-size:1.05rem;max-width:60rem}
.bar{fill:#2f6fb2}.axis{stroke:#1d2430}.grid{stroke:#e3e7ee}svg text{font-size:11px;fill:#1d2430}
h3{font-size:1rem;margin:1.2rem 0 .3rem}
table.league td,table.league th{padding:.25rem .45rem}
@page{size:A4;margin:14mm 12mm}
@media print{body{margin:0;max-width:none;font-size:10.5pt}h2{break-after:avoid}
table,svg,.pair>div{break-inside:avoid}th{background:#eee}
table.league,table.intervals,table.outliers{font-size:8pt}svg{max-width:100%;height:auto}}
"""


def _tr(group: GroupStats) -> str:
    return '<tr class="all">' if not group.key else "<tr>"


def _html_key_cells(group: GroupStats, by: Sequence[str], words: Wording) -> str:
    if not group.key:
        everything = _e(words.label("all"))
        return f'<td class="k">{everything}</td>' + '<td class="k"></td>' * (max(len(by), 1) - 1)
    values = dict(group.key)
    return "".join(f'<td class="k">{_e(words.value(name, values[name]))}</td>' for name in by)


def _html_dur(words: Wording, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{_e(words.lang.duration(value))}<br><small>{words.lang.number(value)} s</small>"


def _nice_step(raw: float) -> int:
    power = int(10 ** max(0, math.floor(math.log10(max(raw, 1)))))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _svg_histogram(
    histogram: Histogram, direction: str, counts: Sequence[int], words: Wording
) -> str:
    width, height, left, right, top, bottom = 680, 250, 52, 12, 30, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    step = _nice_step(max(counts) / 4)
    y_max = max(step, math.ceil(max(counts) / step) * step)
    slot = plot_w / len(counts)
    n = words.lang.number
    title = words.format(
        N_("{segment}, {direction} (n={count})"),
        segment=words.segment(histogram.segment),
        direction=words.value("direction", direction),
        count=n(sum(counts)),
    )
    parts = [
        f'<svg class="hist" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img"><title>{_e(title)}</title>',
        f'<text x="{left}" y="18" font-weight="600">{_e(title)}</text>',
    ]
    for tick in range(0, y_max + 1, step):
        y = top + plot_h - plot_h * tick / y_max
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{n(tick)}</text>'
        )
    for i, (label, count) in enumerate(zip(histogram.labels, counts, strict=True)):
        x = left + i * slot
        h = plot_h * count / y_max
        parts.append(
            f'<rect class="bar" x="{x + 3:.1f}" y="{top + plot_h - h:.1f}" '
            f'width="{slot - 6:.1f}" height="{h:.1f}"><title>{_e(label)}: {n(count)}</title></rect>'
            f'<text x="{x + slot / 2:.1f}" y="{top + plot_h + 16}" '
            f'text-anchor="middle">{_e(label)}</text>'
        )
        if count:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{top + plot_h - h - 4:.1f}" '
                f'text-anchor="middle">{n(count)}</text>'
            )
    base = top + plot_h
    parts += [
        f'<line class="axis" x1="{left}" x2="{width - right}" y1="{base}" y2="{base}"/>',
        f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{base}"/>',
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 14}" text-anchor="middle">'
        f"{_e(words.segment_definition(histogram.segment))}</text>",
        f'<text transform="translate(14 {top + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">{_e(words.label("visits"))}</text>',
        "</svg>",
    ]
    return "".join(parts)


def _svg_means(report: Report, segment: str, words: Wording) -> str:
    """Horizontal bars: the segment's mean per group, beside its table."""
    rows: list[tuple[GroupStats, float]] = [
        (g, mean) for g in report.groups if g.key and (mean := g.segments[segment].mean) is not None
    ]
    if not rows:
        return ""
    label_w, bar_w, row_h, top = 230, 260, 22, 24
    width, height = label_w + bar_w + 170, top + row_h * len(rows) + 8
    longest = max(mean for _, mean in rows) or 1.0
    title = words.format(
        N_("{segment} ({figure})"), figure=words.figure("mean"), segment=words.segment(segment)
    )
    parts = [
        f'<svg class="means" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img"><title>{_e(title)}</title>',
        f'<text x="0" y="14" font-weight="600">{_e(title)}</text>',
    ]
    for i, (group, mean) in enumerate(rows):
        y = top + i * row_h
        w = max(1.0, bar_w * mean / longest)
        label = words.group(group.key)
        short = label if len(label) <= 38 else label[:37] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end"><title>{_e(label)}</title>'
            f"{_e(short)}</text>"
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 14}">{_e(words.lang.duration(mean))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: Report, words: Wording) -> str:
    src = report.source
    _ = words._
    n = words.lang.number
    pct = words.lang.percent
    by_heads = "".join(f'<th class="k">{_e(words.field(name))}</th>' for name in report.by) or (
        f'<th class="k">{_e(words.label("group"))}</th>'
    )
    body = [
        f"<h1>{_e(words.title())}</h1>",
        '<ul class="meta">',
        f"<li>{_e(words.label('Input'))}: <code>{_e(src.path)}</code></li>",
        f"<li>{_e(words.label('Counts'))}: {_e(words.counts(src))}</li>",
    ]
    if not src.visits:
        body += ["</ul>", f"<p>{_e(words.label('No clearance records: nothing to report.'))}</p>"]
    else:
        body += [
            f"<li>{_e(words.label('Exits covered'))}: {_e(words.exits(report))}</li>",
            f"<li>{_e(words.label('Grouped by'))}: {_e(words.grouped_by(report))}</li>",
            f"<li>{_e(words.label('Targets'))}: {_e(words.targets(report.targets))}</li>",
            "</ul>",
        ]
        summary = summary_sentences(report, words)
        if summary:
            body.append(f"<h2>{_e(words.label('Summary'))}</h2>")
            body.append('<p class="summary">' + " ".join(_e(s) for s in summary) + "</p>")
        heads = "".join(
            f"<th>{_e(_(h))}</th>"
            for h in (N_("visits"), N_("pre-cleared"), N_("scanned"), N_("with alert"))
        )
        body.append(f"<h2>{_e(words.label('Visits'))}</h2><table><tr>{by_heads}{heads}</tr>")
        for g in report.groups:
            body.append(
                f"{_tr(g)}{_html_key_cells(g, report.by, words)}<td>{n(g.visits)}</td>"
                f"<td>{pct(g.pre_cleared)}</td><td>{pct(g.scanned)}</td>"
                f"<td>{pct(g.alerted)}</td></tr>"
            )
        body.append("</table>")
        for segment in SEGMENTS:
            within = words.within(report.targets.get(segment))
            figure_heads = "".join(f"<th>{_e(words.figure(name))}</th>" for name in FIGURES)
            body.append(
                f"<h2>{_e(words.segment(segment))}</h2>"
                f'<p class="def">{_e(words.segment_definition(segment))}</p>'
                f'<div class="pair"><div><table><tr>{by_heads}<th>n</th>{figure_heads}'
                f"<th>{_e(within)}</th></tr>"
            )
            for g in report.groups:
                st = g.segments[segment]
                figures = "".join(
                    f'<td class="d">{_html_dur(words, getattr(st, f))}</td>' for f in FIGURES
                )
                body.append(
                    f"{_tr(g)}{_html_key_cells(g, report.by, words)}<td>{n(st.count)}</td>"
                    f"{figures}<td>{pct(st.within_target)}</td></tr>"
                )
            body.append(f"</table></div><div>{_svg_means(report, segment, words)}</div></div>")
        if report.duties:
            body.append(
                f"<h2>{_e(words.label(DUTIES_HEADING))}</h2>"
                f'<p class="def">{_e(words._(DUTIES_INTRO))}</p>'
            )
            rows = [words.duty_row(duty) for duty in report.duties]
            body.extend(table("duties", words.duty_heads(), rows, names=range(5)))
        if report.comparison is not None:
            cmp = report.comparison
            compared = words.format(
                N_("against {path}, {visits} visits"), path=cmp.path, visits=n(cmp.visits)
            )
            body.append(
                f'<h2>{_e(words.comparison_heading(report))}</h2><p class="def">{_e(compared)}</p>'
            )
            if not cmp.changes:
                nothing = words.label("No group and segment has data in both files.")
                body.append(f"<p>{_e(nothing)}</p>")
            else:
                rows = [words.comparison_row(change) for change in cmp.changes]
                body.extend(table("cmp", words.comparison_heads(report), rows, names=range(3)))
        if report.league is not None:
            body.extend(league_html(report.league, words))
        if report.intervals is not None:
            body.extend(intervals_html(report.intervals, words))
        body.append(f"<h2>{_e(words.label('Release times by direction'))}</h2>")
        if not report.histogram.counts:
            body.append(f"<p>{_e(words.label('No release times to chart.'))}</p>")
        for direction, counts in report.histogram.counts.items():
            body.append(_svg_histogram(report.histogram, direction, counts, words))
        body.append(f"<p><small>{_e(_(_FOOTNOTE))}</small></p>")
    return (
        f'<!DOCTYPE html>\n<html lang="{words.code}"><head><meta charset="utf-8">'
        # No network at all: the page must open the same offline and from an archive.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">"
        f"<title>{_e(words.title())}: {_e(src.path.name)}</title><style>{_CSS}</style></head>"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


_FOOTNOTE = N_(
    "Percentiles: linear interpolation between closest ranks (numpy default). A segment "
    "that did not happen in a visit does not count in that segment."
)
