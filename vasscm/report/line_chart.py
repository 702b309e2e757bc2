"""A line chart of hours across periods, as an inline SVG: the league's medians per site
and the time-interval trend's medians per segment both draw with it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vasscm.report.html_table import escape

__all__ = ["Series", "line_chart"]


@dataclass(frozen=True, slots=True)
class Series:
    """One line: its name in the legend, colour, and a value (hours) per label or None."""

    name: str
    colour: str
    values: Sequence[float | None]


def line_chart(
    css: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    number: Callable[[float], str],
    *,
    width: int = 720,
    legend: int = 190,
    most_labels: int = 8,
) -> str:
    """The chart, ``""`` when there is nothing to draw. ``number`` writes an axis value;
    a point's tooltip is its series, label and value; a series with one point is a dot."""
    values = [v for s in series for v in s.values if v is not None]
    if not values:
        return ""
    height, left, top, bottom = 260, 48, 28, 40
    plot_w, plot_h = width - left - legend, height - top - bottom
    highest = max(values) or 1.0

    def x(i: int) -> float:
        return left + (plot_w * i / (len(labels) - 1) if len(labels) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / highest

    parts = [
        f'<svg class="{css}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img"><title>{escape(title)}</title>',
        f'<text x="{left}" y="16" font-weight="600">{escape(title)}</text>',
    ]
    for v in (0.0, highest / 2, highest):
        parts.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{y(v):.1f}" '
            f'y2="{y(v):.1f}"/><text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">'
            f"{escape(number(v))}</text>"
        )
    every = max(1, len(labels) // most_labels)
    for i, label in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    for k, line in enumerate(series):
        points = [(i, v) for i, v in enumerate(line.values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in points)
            parts.append(
                f'<polyline fill="none" stroke="{line.colour}" stroke-width="2" points="{path}"/>'
            )
        for i, v in points:
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{line.colour}">'
                f"<title>{escape(line.name)} {escape(labels[i])}: {escape(number(v))}</title>"
                "</circle>"
            )
        short = line.name if len(line.name) <= 26 else line.name[:25] + "…"
        ly = top + 14 + 16 * k
        parts.append(
            f'<rect x="{left + plot_w + 14}" y="{ly - 9}" width="10" height="10" '
            f'fill="{line.colour}"/><text x="{left + plot_w + 28}" y="{ly}">'
            f"{escape(short)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
