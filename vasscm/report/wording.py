"""The report's words in the reader's language: headings, group values, periods, the
summary paragraph and the comparison, shared by the ``md`` and ``html`` formats.

The statistics stay codes (``cai-lan``, ``import``, ``2018-03``); only here do they
become what an official writes: "Cảng Cái Lân", "hàng nhập khẩu", "tháng 3/2018".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Final

from vasscm.language import DEFAULT_LANGUAGE, N_, Language, language
from vasscm.report.stats import Change, DirectionSummary, DutyStats, GroupKey, Report, Source
from vasscm.sites import Registry, load_registry

__all__ = ["Wording", "wording"]

_FIGURE_NAMES: Final = {
    "mean": N_("mean"),
    "median": N_("median"),
    "p90": N_("p90"),
    "p95": N_("p95"),
    "max": N_("max"),
}
#: WCO Time Release Study names of the segments, and what each measures.
_SEGMENT_NAMES: Final = {
    "release": N_("Release time"),
    "exit": N_("Release to exit"),
    "dwell": N_("Dwell time"),
    "scan_wait": N_("Wait for scanning"),
    "lodgement": N_("Declarant's time"),
    "customs": N_("Customs' time"),
}
_SEGMENT_DEFINITIONS: Final = {
    "release": N_("from arrival to the customs release (eligible to leave)"),
    "exit": N_("from the customs release to the exit through the gate"),
    "dwell": N_("from arrival to exit"),
    "scan_wait": N_("from selection for scanning (or arrival) to the scan"),
    "lodgement": N_("from arrival until every declaration had its channel"),
    "customs": N_("from the channel to the customs release"),
}
_FIELD_NAMES: Final = {
    "site": N_("site"),
    "direction": N_("direction"),
    "channel": N_("channel"),
    "period": N_("period"),
}
_VALUES: Final = {
    ("direction", "import"): N_("import"),
    ("direction", "export"): N_("export"),
    ("direction", "unknown"): N_("unknown direction"),
    ("channel", "green"): N_("green channel"),
    ("channel", "yellow"): N_("yellow channel"),
    ("channel", "red"): N_("red channel"),
    ("channel", "unknown"): N_("channel not known"),
}
#: "Import clearance" as the summary sentence begins.
_SUMMARY_SUBJECT: Final = {
    "import": N_("Import clearance"),
    "export": N_("Export clearance"),
}
_MONTHS: Final = (
    N_("January"), N_("February"), N_("March"), N_("April"), N_("May"), N_("June"),
    N_("July"), N_("August"), N_("September"), N_("October"), N_("November"), N_("December"),
)  # fmt: skip


#: The report's fixed labels, by their English text (a typo is a KeyError, not a gap).
_LABELS: Final = {
    text: text
    for text in (
        N_("Both sides' obligations"),
        N_("Counts"),
        N_("Exits covered"),
        N_("Grouped by"),
        N_("Input"),
        N_("No clearance records: nothing to report."),
        N_("No group and segment has data in both files."),
        N_("No release times to chart."),
        N_("Release times by direction"),
        N_("Summary"),
        N_("Targets"),
        N_("Visits"),
        N_("all"),
        N_("change"),
        N_("figure"),
        N_("group"),
        N_("segment"),
        N_("visits"),
    )
}


@dataclass(frozen=True, slots=True)
class Wording:
    lang: Language
    sites: Registry

    @property
    def code(self) -> str:
        return self.lang.code

    def _(self, message: str) -> str:
        return self.lang._(message)

    def label(self, text: str) -> str:
        return self._(_LABELS[text])

    # --- names --------------------------------------------------------------------------

    def figure(self, name: str) -> str:
        return self._(_FIGURE_NAMES[name])

    def segment(self, name: str) -> str:
        return self._(_SEGMENT_NAMES[name])

    def segment_definition(self, name: str) -> str:
        return self._(_SEGMENT_DEFINITIONS[name])

    def field(self, name: str) -> str:
        return self._(_FIELD_NAMES[name])

    def value(self, field: str, value: str) -> str:
        """A group value as a reader names it: the site's name, "import", "March 2018"."""
        if field == "site":
            return self.sites.get(value).name(self.code)
        if field == "period":
            return self.period_value(value)
        known = _VALUES.get((field, value))
        return self._(known) if known is not None else value

    def group(self, key: GroupKey) -> str:
        return " · ".join(self.value(k, v) for k, v in key) or self._(N_("all"))

    def period_value(self, label: str) -> str:
        """A period bucket (2018, 2018-Q1, 2018-03, 2018-W09, 2018-03-05) in words."""
        parts = label.split("-")
        if len(parts) == 1:
            return self.format(N_("{year}"), year=parts[0])
        if parts[1].startswith("Q"):
            return self.format(N_("Q{quarter} {year}"), quarter=parts[1][1:], year=parts[0])
        if parts[1].startswith("W"):
            return self.format(N_("week {week} of {year}"), week=parts[1][1:], year=parts[0])
        if len(parts) == 2:
            return self.month(int(parts[0]), int(parts[1]))
        return self.format(N_("{day}/{month}/{year}"), day=parts[2], month=parts[1], year=parts[0])

    def month(self, year: int, month: int) -> str:
        return self.format(
            N_("{month_name} {year}"), month_name=self._(_MONTHS[month - 1]), year=year
        )

    def span(self, first: datetime | None, last: datetime | None, tz: timezone) -> str:
        """What a file covers, as a report names it: "2018", "March 2018", "Jan–Jun 2018"."""
        if first is None or last is None:
            return self._(N_("no exits"))
        a, b = first.astimezone(tz), last.astimezone(tz)
        if a.year == b.year and a.month == 1 and b.month == 12:
            return self.format(N_("{year}"), year=a.year)
        if (a.year, a.month) == (b.year, b.month):
            return self.month(a.year, a.month)
        if a.year == b.year:
            return self.format(
                N_("{first}–{last}/{year}"), first=a.month, last=b.month, year=a.year
            )
        return self.format(
            N_("{first_month}/{first_year}–{last_month}/{last_year}"),
            first_month=a.month,
            first_year=a.year,
            last_month=b.month,
            last_year=b.year,
        )

    def format(self, message: str, **fields: object) -> str:
        return self.lang.format(message, **fields)

    # --- the header -----------------------------------------------------------------------

    def title(self) -> str:
        return self._(N_("Time Release Study: clearance times"))

    def counts(self, source: Source) -> str:
        n = self.lang.number
        return self.format(
            N_(
                "{visits} visits from {records} records ({older} older revisions and "
                "{superseded} superseded dropped; {malformed} malformed lines skipped)"
            ),
            visits=n(source.visits),
            records=n(source.records_read),
            older=n(source.older_revisions),
            superseded=n(source.superseded),
            malformed=n(source.malformed),
        )

    def exits(self, report: Report) -> str:
        return self.format(
            N_("{first} to {last}"),
            first=self.lang.moment(report.first_exit, report.tz),
            last=self.lang.moment(report.last_exit, report.tz),
        )

    def grouped_by(self, report: Report) -> str:
        fields = ", ".join(self.field(name) for name in report.by) or self._(N_("nothing"))
        if "period" not in report.by:
            return fields
        return f"{fields} ({self._(_PERIOD_NAMES[report.period])})"

    def targets(self, targets: Mapping[str, float]) -> str:
        parts = [f"{self.segment(s)} ≤ {self.lang.duration(t)}" for s, t in targets.items()]
        return ", ".join(parts) or self._(N_("none"))

    def within(self, target: float | None) -> str:
        if target is None:
            return self._(N_("within target"))
        return self.format(N_("within {target}"), target=self.lang.duration(target))

    # --- the summary and the comparison ---------------------------------------------------

    def summary(self, item: DirectionSummary, report: Report) -> str | None:
        """The seed's sentence for one direction, or None when it has no release times."""
        subject = _SUMMARY_SUBJECT.get(item.direction)
        if subject is None or item.release_mean is None:
            return None
        now = self.span(report.first_exit, report.last_exit, report.tz)
        mean = self.lang.duration(item.release_mean)
        before = item.previous_release_mean
        cmp = report.comparison
        if before is None or cmp is None:
            return self.format(
                N_("{subject} averaged {mean} in {period} ({visits} containers)."),
                subject=self._(subject),
                mean=mean,
                period=now,
                visits=self.lang.number(item.visits),
            )
        then = self.span(cmp.first_exit, cmp.last_exit, report.tz)
        delta = item.release_mean - before
        fields = {
            "subject": self._(subject),
            "mean": mean,
            "period": now,
            "previous": then,
            "hours": self.lang.hours(abs(delta)),
            "percent": self.lang.percent(abs(delta) / before if before else None),
        }
        if round(delta / 360) == 0:  # under 0.05 h either way: as the hours are written
            return self.format(
                N_("{subject} averaged {mean} in {period}, the same as in {previous}."), **fields
            )
        if delta < 0:
            return self.format(
                N_("{subject} averaged {mean} in {period}, {hours} ({percent}) faster than in "
                   "{previous}."),
                **fields,
            )  # fmt: skip
        return self.format(
            N_("{subject} averaged {mean} in {period}, {hours} ({percent}) slower than in "
               "{previous}."),
            **fields,
        )  # fmt: skip

    def comparison_heading(self, report: Report) -> str:
        cmp = report.comparison
        assert cmp is not None
        text = self.format(
            N_("{period} compared with {previous}"),
            period=self.span(report.first_exit, report.last_exit, report.tz),
            previous=self.span(cmp.first_exit, cmp.last_exit, report.tz),
        )
        return text[:1].upper() + text[1:]

    def change(self, change: Change) -> str:
        """``10h04m41s faster (-29.6%)``, ``no change (+0.1%)``: the last column of the
        comparison, beside the figure now and before."""
        fields = {
            "by": self.lang.duration(abs(change.delta)),
            "percent": "–" if change.percent is None else self.lang.percent(change.percent / 100),
        }
        if change.verdict == "no change":
            return self.format(N_("no change ({percent})"), **fields)
        if change.verdict == "faster":
            return self.format(N_("{by} faster ({percent})"), **fields)
        return self.format(N_("{by} slower ({percent})"), **fields)

    def comparison_heads(self, report: Report) -> list[str]:
        cmp = report.comparison
        assert cmp is not None
        return [
            self.label("group"),
            self.label("segment"),
            self.label("figure"),
            self.span(report.first_exit, report.last_exit, report.tz),
            self.span(cmp.first_exit, cmp.last_exit, report.tz),
            self.label("change"),
        ]

    def comparison_row(self, change: Change) -> list[str]:
        return [
            self.group(change.key),
            self.segment(change.segment),
            self.figure(change.metric),
            self.lang.duration(change.current),
            self.lang.duration(change.previous),
            self.change(change),
        ]

    # --- both sides' obligations (contract 7.2) ---------------------------------------------

    def duty_heads(self) -> list[str]:
        return [
            self.field("site"),
            self.field("period"),
            self._(N_("who")),
            self._(N_("obligation")),
            self._(N_("rule")),
            self._(N_("judged")),
            self._(N_("on time")),
            self._(N_("share on time")),
        ]

    def duty_row(self, duty: DutyStats) -> list[str]:
        n = self.lang.number
        return [
            self.value("site", duty.site),
            self.period_value(duty.period),
            self._(_PARTIES[duty.party]),
            self._(_DUTIES[duty.form][0]),
            self._(_DUTIES[duty.form][1]),
            n(duty.due),
            n(duty.on_time),
            self.lang.percent(duty.share),
        ]


_PARTIES: Final = {"customs": N_("Customs"), "port": N_("Port operator")}
#: Each obligation's name and its legal rule (the defaults of vasscm's settings).
_DUTIES: Final = {
    "EXPECTED": (N_("Goods expected (form 01)"), N_("at least 8 h before the vessel arrives")),
    "SCAN_SELECTED": (
        N_("Selected for scanning (form 03)"),
        N_("at least 4 h before the vessel arrives"),
    ),
    "GATE_OUT": (N_("Gate-out report"), N_("within 15 min; an export at a land border 30 min")),
    "LOADED": (N_("Loading report"), N_("within 30 min of the vessel's departure")),
}
DUTIES_HEADING: Final = "Both sides' obligations"  # a label: translated by label()
DUTIES_INTRO: Final = N_(
    "Reports and notices judged against their legal deadlines: customs' notices before "
    "the vessel's arrival (its latest estimate, else the discharge), the port's reports "
    "after the gate-out or the vessel's departure. A loading whose vessel's departure is "
    "not known is not counted."
)


_PERIOD_NAMES: Final = {
    "day": N_("by day"),
    "week": N_("by week"),
    "month": N_("by month"),
    "quarter": N_("by quarter"),
    "year": N_("by year"),
}


def wording(code: str = DEFAULT_LANGUAGE, sites: Registry | None = None) -> Wording:
    return Wording(language(code), sites if sites is not None else load_registry())
