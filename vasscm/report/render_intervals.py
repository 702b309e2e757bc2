"""Time-interval analysis (vasscm.report.intervals) in every format of ``vasscm report``:
tables of medians in hours with one decimal, and beside them, in html, a line chart of
the trend and a bar chart of the release time by hour of arrival."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any, Final

from vasscm.language import N_
from vasscm.report.formatting import plain_number
from vasscm.report.html_table import escape as _e
from vasscm.report.html_table import table
from vasscm.report.intervals import INTERVAL_SEGMENTS, OFFICE_HOURS, Intervals, Slice
from vasscm.report.line_chart import Series, line_chart
from vasscm.report.wording import Wording

__all__ = ["intervals_csv", "intervals_html", "intervals_json", "intervals_md"]

HEADING: Final = N_("Time-interval analysis")
_INTRO: Final = N_(
    "Medians in hours: the trend of each segment per period, arrivals in office hours "
    "(Monday to Friday, {start}:00 to {end}:00 local time) against the rest, by hour "
    "and weekday of arrival, and by channel."
)
_TREND: Final = N_("Trend: median per period, {direction}")
_OFFICE: Final = N_("Office hours against the rest (by arrival)")
_OFFICE_SENTENCE: Final = N_(
    "Containers arriving outside office hours waited {hours} longer for release, at the "
    "median, than those arriving in them."
)
_OFFICE_SENTENCE_FASTER: Final = N_(
    "Containers arriving outside office hours were released {hours} sooner, at the "
    "median, than those arriving in them."
)
_HOURS: Final = N_("By hour of arrival")
_WEEKDAYS: Final = N_("By weekday of arrival")
_CHANNELS: Final = N_("By channel")
_HOUR_CHART: Final = N_("Median release time by hour of arrival (hours)")
_KEYS: Final = {
    "office": N_("office hours"),
    "off": N_("outside office hours"),
}
_WEEKDAY_NAMES: Final = (
    N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"),
    N_("Saturday"), N_("Sunday"),
)  # fmt: skip
_SEGMENT_HEADS: Final = {
    "lodgement": N_("declarant's"),
    "customs": N_("customs'"),
    "release": N_("release"),
    "exit": N_("exit"),
    "dwell": N_("dwell"),
}


def _key_name(words: Wording, table: str, key: str) -> str:
    if table == "trend":
        return words.period_value(key)
    if table == "hour":
        return f"{key}:00"
    if table == "weekday":
        return words._(_WEEKDAY_NAMES[int(key) - 1])
    if table == "office":
        return words._(_KEYS[key])
    return words.value("channel", key)


def _heads(words: Wording, first: str) -> list[str]:
    return [first, words._(N_("visits")), *(words._(_SEGMENT_HEADS[s]) for s in INTERVAL_SEGMENTS)]


def _row(words: Wording, table: str, s: Slice) -> list[str]:
    return [
        _key_name(words, table, s.key),
        words.lang.number(s.visits),
        *(
            "–" if s.medians[seg] is None else words.lang.number((s.medians[seg] or 0) / 3600, 1)
            for seg in INTERVAL_SEGMENTS
        ),
    ]


def _tables(analysis: Intervals, words: Wording) -> list[tuple[str, str, Sequence[Slice]]]:
    """(title, kind, slices) of every table, in the order they are shown."""
    out: list[tuple[str, str, Sequence[Slice]]] = []
    for direction, slices in analysis.trend:
        title = words.format(_TREND, direction=words.value("direction", direction))
        out.append((title, "trend", slices))
    out += [
        (words._(_OFFICE), "office", analysis.office),
        (words._(_HOURS), "hour", analysis.hours),
        (words._(_WEEKDAYS), "weekday", analysis.weekdays),
        (words._(_CHANNELS), "channel", analysis.channels),
    ]
    return out


_FIRST_HEADS: Final = {
    "trend": N_("period"),
    "office": N_("arrival"),
    "hour": N_("hour"),
    "weekday": N_("weekday"),
    "channel": N_("channel"),
}


def _first_head(words: Wording, kind: str) -> str:
    return words._(_FIRST_HEADS[kind])


def office_sentence(analysis: Intervals, words: Wording) -> str | None:
    change = analysis.office_change()
    if change is None or round(change / 360) == 0:
        return None
    text = _OFFICE_SENTENCE if change > 0 else _OFFICE_SENTENCE_FASTER
    return words.format(text, hours=words.lang.hours(abs(change)))


def _intro(words: Wording) -> str:
    return words.format(_INTRO, start=f"{OFFICE_HOURS[0]:02d}", end=f"{OFFICE_HOURS[1]:02d}")


def intervals_md(analysis: Intervals, words: Wording) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["", f"## {words._(HEADING)}", "", f"_{_intro(words)}_"]
    sentence = office_sentence(analysis, words)
    if sentence:
        lines += ["", sentence]
    for title, kind, slices in _tables(analysis, words):
        heads = _heads(words, _first_head(words, kind))
        lines += [
            "",
            f"### {title}",
            "",
            "| " + " | ".join(cell(h) for h in heads) + " |",
            "| " + " | ".join(["---"] + ["---:"] * (len(heads) - 1)) + " |",
        ]
        lines += ["| " + " | ".join(cell(c) for c in _row(words, kind, s)) + " |" for s in slices]
    return lines


def intervals_html(analysis: Intervals, words: Wording) -> list[str]:
    out = [
        f'<h2 id="intervals">{_e(words._(HEADING))}</h2>',
        f'<p class="def">{_e(_intro(words))}</p>',
    ]
    sentence = office_sentence(analysis, words)
    if sentence:
        out.append(f'<p class="summary">{_e(sentence)}</p>')
    for title, kind, slices in _tables(analysis, words):
        heads = _heads(words, _first_head(words, kind))
        rows = [_row(words, kind, s) for s in slices]
        parts = [f"<h3>{_e(title)}</h3>", '<div class="pair"><div>']
        parts += table("intervals", heads, rows)
        parts.append("</div>")
        chart = ""
        if kind == "trend":
            chart = _svg_lines(title, slices, words)
        elif kind == "hour":
            chart = _svg_bars(words._(_HOUR_CHART), slices, words)
        parts.append(f"<div>{chart}</div></div>")
        out.append("".join(parts))
    return out


_COLOURS: Final = {
    "lodgement": "#b26a00",
    "customs": "#2f6fb2",
    "release": "#1d2430",
    "exit": "#2e7d32",
    "dwell": "#9aa3b0",
}


def _svg_lines(title: str, slices: Sequence[Slice], words: Wording) -> str:
    """Each segment's median across the periods."""
    if len(slices) < 2:
        return ""
    series = [
        Series(
            words._(_SEGMENT_HEADS[seg]),
            _COLOURS[seg],
            [None if (m := s.medians[seg]) is None else m / 3600 for s in slices],
        )
        for seg in INTERVAL_SEGMENTS
    ]
    labels = [s.key for s in slices]
    return line_chart(
        "trend", title, labels, series, lambda v: words.lang.number(v, 1), width=520, legend=120
    )


def _svg_bars(title: str, slices: Sequence[Slice], words: Wording) -> str:
    """The median release time of each hour of arrival, 00 to 23."""
    medians = {s.key: s.medians["release"] for s in slices}
    if not any(medians.values()):
        return ""
    width, height, left, top, bottom = 520, 220, 44, 26, 30
    plot_w, plot_h = width - left - 10, height - top - bottom
    top_value = max((v or 0) / 3600 for v in medians.values()) or 1.0
    slot = plot_w / 24
    parts = [
        f'<svg class="hours" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img"><title>{_e(title)}</title>',
        f'<text x="{left}" y="14" font-weight="600">{_e(title)}</text>',
    ]
    for hour in range(24):
        key = f"{hour:02d}"
        x = left + hour * slot
        value = medians.get(key)
        if value is not None:
            h = plot_h * (value / 3600) / top_value
            parts.append(
                f'<rect class="bar" x="{x + 2:.1f}" y="{top + plot_h - h:.1f}" '
                f'width="{slot - 4:.1f}" height="{h:.1f}"><title>{key}:00 '
                f"{_e(words.lang.hours(value))}</title></rect>"
            )
        if hour % 3 == 0:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{top + plot_h + 16}" '
                f'text-anchor="middle">{key}</text>'
            )
    parts.append(
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">'
        f"{_e(words.lang.number(top_value, 1))}</text></svg>"
    )
    return "".join(parts)


def _slice_obj(s: Slice) -> dict[str, Any]:
    return {
        "key": s.key,
        "visits": s.visits,
        "median_seconds": {seg: None if v is None else round(v, 3) for seg, v in s.medians.items()},
        "counts": dict(s.counts),
    }


def intervals_json(analysis: Intervals) -> dict[str, Any]:
    return {
        "period": analysis.period,
        "office_hours": {"weekdays": "Mon-Fri", "from": OFFICE_HOURS[0], "to": OFFICE_HOURS[1]},
        "trend": {d: [_slice_obj(s) for s in slices] for d, slices in analysis.trend},
        "office": [_slice_obj(s) for s in analysis.office],
        "hours": [_slice_obj(s) for s in analysis.hours],
        "weekdays": [_slice_obj(s) for s in analysis.weekdays],
        "channels": [_slice_obj(s) for s in analysis.channels],
    }


def intervals_csv(analysis: Intervals) -> str:
    """Long form: one row per table and slice (``table`` is trend:<direction>, office,
    hour, weekday or channel), medians in seconds."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["table", "key", "visits", *(f"{s}_median_s" for s in INTERVAL_SEGMENTS)])
    tables: list[tuple[str, Sequence[Slice]]] = [
        (f"trend:{d}", slices) for d, slices in analysis.trend
    ]
    tables += [
        ("office", analysis.office),
        ("hour", analysis.hours),
        ("weekday", analysis.weekdays),
        ("channel", analysis.channels),
    ]
    for name, slices in tables:
        for s in slices:
            writer.writerow(
                [name, s.key, s.visits, *(plain_number(s.medians[g]) for g in INTERVAL_SEGMENTS)]
            )
    return out.getvalue()
