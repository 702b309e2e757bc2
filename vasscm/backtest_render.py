"""``vasscm backtest``'s pages: a Markdown table, or HTML with a reliability chart, in
Vietnamese or English (the report's wording: sites by name)."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Final

from vasscm.backtest import ALL, LEVELS, Backtest, Cell
from vasscm.durations import from_ms
from vasscm.language import N_
from vasscm.report.html_table import escape
from vasscm.report.line_chart import Series, line_chart
from vasscm.report.wording import Wording

__all__ = ["render_backtest"]

_TITLE: Final = N_("Release forecasts backtested: {name}")
_LOCAL: Final = timezone(timedelta(hours=7))  # the sites' time, as the report's default
_COVERED: Final = N_(
    "{cutoffs} cut-offs, judged up to {until}; {unresolved} forecasts of visits not "
    "released by the end of the log left out."
)
_HEADERS: Final = (
    N_("forecasts"),
    N_("released by p50"),
    N_("by p90"),
    N_("pinball p50 (h)"),
    N_("site and direction only"),
    N_("ratio"),
    N_("pinball p90 (h)"),
    N_("site and direction only"),
    N_("ratio"),
)
_EXPLAIN: Final = N_(
    "Released by p50 and by p90: the share of visits released by then (a calibrated "
    "forecast: 50 % and 90 %). Pinball loss: the quantile loss in hours, beside a forecast "
    "that knows only site and direction; a ratio below 1 is better than it."
)
_RELIABILITY: Final = N_("Reliability: the share released by each quantile")
_IDEAL: Final = N_("calibrated")
_OBSERVED: Final = N_("observed")

_CSS: Final = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1b1f23; max-width: 1100px }
table { border-collapse: collapse; margin: 12px 0 }
th, td { border-bottom: 1px solid #d0d7de; padding: 4px 8px; text-align: right }
th:nth-child(-n+3), td:nth-child(-n+3) { text-align: left }
tr.all td { font-weight: 600 }
svg text { font-size: 12px; fill: #1b1f23 } svg .grid { stroke: #d0d7de }
@media print { @page { size: A4 landscape; margin: 12mm } body { margin: 0 } }
"""


def _rows(result: Backtest) -> list[tuple[tuple[str, str, str], Cell]]:
    """The "all" row first, then each group that had a forecast judged."""
    judged = [kv for kv in result.cells.items() if kv[1].forecasts or kv[1].no_forecast]
    return sorted(judged, key=lambda kv: (kv[0] != ALL, kv[0]))


def _names(words: Wording, key: tuple[str, str, str]) -> list[str]:
    if key == ALL:
        return [words.label("all"), "", ""]
    site, direction, channel = key
    return [
        words.value("site", site),
        words.value("direction", direction),
        words.value("channel", channel),
    ]


def _figures(words: Wording, cell: Cell) -> list[str]:
    d = cell.as_dict()

    def num(value: object) -> str:
        return "–" if not isinstance(value, int | float) else words.lang.number(value, 2)

    def pct(value: object) -> str:
        return "–" if not isinstance(value, int | float) else words.lang.percent(value)

    return [
        words.lang.number(cell.forecasts),
        pct(d["share_by_p50"]),
        pct(d["share_by_p90"]),
        num(d["pinball_p50_hours"]),
        num(d["baseline_pinball_p50_hours"]),
        num(d["loss_ratio_p50"]),
        num(d["pinball_p90_hours"]),
        num(d["baseline_pinball_p90_hours"]),
        num(d["loss_ratio_p90"]),
    ]


def _covered(words: Wording, result: Backtest) -> str:
    until = "–" if result.judged_until is None else from_ms(result.judged_until)
    return words.lang.format(
        _COVERED,
        cutoffs=words.lang.number(len(result.cutoffs)),
        until=until if isinstance(until, str) else words.lang.moment(until, _LOCAL),
        unresolved=words.lang.number(result.unresolved),
    )


def _head(words: Wording) -> list[str]:
    return [words.field("site"), words.field("direction"), words.field("channel")] + [
        words.lang._(h) for h in _HEADERS
    ]


def render_backtest(result: Backtest, fmt: str, words: Wording) -> str:
    """``md`` or ``html``."""
    title = words.lang.format(_TITLE, name=result.path.name)
    head = _head(words)
    if fmt == "md":
        lines = [f"# {title}", "", _covered(words, result), ""]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|---|---|---|" + "---:|" * (len(head) - 3))
        for key, cell in _rows(result):
            lines.append("| " + " | ".join(_names(words, key) + _figures(words, cell)) + " |")
        return "\n".join([*lines, "", words.lang._(_EXPLAIN), ""])
    body = [
        f"<h1>{escape(title)}</h1>",
        f"<p>{escape(_covered(words, result))}</p>",
        "<table><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr></thead>",
        "<tbody>",
    ]
    for key, cell in _rows(result):
        css = ' class="all"' if key == ALL else ""
        cells = "".join(f"<td>{escape(v)}</td>" for v in _names(words, key) + _figures(words, cell))
        body.append(f"<tr{css}>{cells}</tr>")
    body.append("</tbody></table>")
    body.append(f"<p>{escape(words.lang._(_EXPLAIN))}</p>")
    body.append(_chart(result, words))
    return (
        f'<!doctype html><html lang="{words.code}"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def _chart(result: Backtest, words: Wording) -> str:
    """Observed coverage of each quantile against the diagonal, for every forecast and
    per channel."""
    labels = [words.lang.percent(level, 0) for level in LEVELS]
    series = [Series(words.lang._(_IDEAL), "#8c959f", list(LEVELS))]
    colours = {"green": "#1a7f37", "yellow": "#bf8700", "red": "#cf222e", "unknown": "#6e7781"}
    by_channel: dict[str, Cell] = {}
    for (_, _, channel), cell in result.cells.items():
        if channel != "all":
            merged = by_channel.setdefault(channel, Cell())
            merged.by_level = [a + b for a, b in zip(merged.by_level, cell.by_level, strict=True)]
            merged.with_level = [
                a + b for a, b in zip(merged.with_level, cell.with_level, strict=True)
            ]
    overall = result.cells.get(ALL)
    if overall is not None:
        series.append(Series(words.lang._(_OBSERVED), "#0969da", _shares(overall)))
    for channel, cell in sorted(by_channel.items()):
        colour = colours.get(channel, "#6e7781")
        series.append(Series(words.value("channel", channel), colour, _shares(cell)))
    return line_chart(
        "reliability",
        words.lang._(_RELIABILITY),
        labels,
        series,
        lambda v: words.lang.percent(v, 0),
    )


def _shares(cell: Cell) -> list[float | None]:
    return [None if not n else k / n for n, k in zip(cell.with_level, cell.by_level, strict=True)]
