"""Statistics over visits: per-group segment figures, comparison, histogram, the report."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Final

from vasscm.durations import duration_text
from vasscm.report.intervals import Intervals
from vasscm.report.league import League
from vasscm.report.options import DEFAULT_TARGETS, PERIODS, ReportUsageError, parse_by
from vasscm.report.visit import SEGMENTS, RecordLike, Visit

if TYPE_CHECKING:  # the reader (and its models) only for the reference path's types
    from vasscm.report.load import Loaded

__all__ = [
    "HISTOGRAM_EDGES",
    "HISTOGRAM_LABELS",
    "Change",
    "Comparison",
    "DirectionSummary",
    "DutyStats",
    "GroupKey",
    "GroupStats",
    "Histogram",
    "Report",
    "SegmentStats",
    "Source",
    "build_report",
    "compare_groups",
    "duty_stats",
    "group_label",
    "group_stats",
    "percentile",
    "period_of",
    "release_histogram",
    "summarize",
]

#: Lower bounds (seconds) of the release histogram buckets, the last one open-ended.
#: Roughly doubling widths: the TRS questions are "within the hour / shift / day /
#: the 24 h target / a week", which a linear scale would crush into one bar.
HISTOGRAM_EDGES: Final = (0, 900, 3600, 7200, 14400, 28800, 43200, 86400, 172800, 259200, 604800)
HISTOGRAM_LABELS: Final = (
    "<15m", "15m–1h", "1–2h", "2–4h", "4–8h", "8–12h", "12–24h", "1–2d", "2–3d", "3–7d", "≥7d",
)  # fmt: skip


#: A key of group field -> value; ``()`` is the overall group "all".
GroupKey = tuple[tuple[str, str], ...]


def group_label(key: GroupKey) -> str:
    """``site=cai-lan · direction=import``; ``all`` for the overall group."""
    return " · ".join(f"{k}={v}" for k, v in key) or "all"


@dataclass(frozen=True, slots=True)
class SegmentStats:
    """One segment in one group; the figures are ``None`` when ``count`` is 0."""

    segment: str
    count: int
    mean: float | None
    median: float | None
    p90: float | None
    p95: float | None
    max: float | None
    target: float | None
    within_target: float | None  # share in [0, 1]


@dataclass(frozen=True, slots=True)
class GroupStats:
    """Headline counts and per-segment statistics of one group."""

    key: GroupKey
    visits: int
    pre_cleared: float
    scanned: float
    alerted: float
    segments: Mapping[str, SegmentStats]

    @property
    def label(self) -> str:
        return group_label(self.key)


def percentile(ordered: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile of already sorted values (numpy's default)."""
    if not ordered:
        raise ValueError("percentile of no values")
    rank = (len(ordered) - 1) * q
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


def summarize(segment: str, values: Iterable[float], target: float | None = None) -> SegmentStats:
    """Count, mean, median, p90, p95, max and share within ``target`` of some durations."""
    ordered = sorted(values)
    if not ordered:
        return SegmentStats(segment, 0, None, None, None, None, None, target, None)
    within = None if target is None else sum(v <= target for v in ordered) / len(ordered)
    return SegmentStats(
        segment=segment,
        count=len(ordered),
        mean=math.fsum(ordered) / len(ordered),
        median=percentile(ordered, 0.5),
        p90=percentile(ordered, 0.9),
        p95=percentile(ordered, 0.95),
        max=ordered[-1],
        target=target,
        within_target=within,
    )


def period_of(moment: datetime, period: str, tz: timezone) -> str:
    """Bucket label of ``moment`` in ``tz``: 2018-03-05, 2018-W09, 2018-03, 2018-Q1, 2018."""
    local = moment.astimezone(tz)
    if period == "day":
        return f"{local:%Y-%m-%d}"
    if period == "week":
        iso = local.isocalendar()  # ISO year: 2018-12-31 is in 2019-W01
        return f"{iso.year}-W{iso.week:02d}"
    if period == "month":
        return f"{local:%Y-%m}"
    if period == "quarter":
        return f"{local.year}-Q{(local.month - 1) // 3 + 1}"
    if period == "year":
        return f"{local.year}"
    raise ValueError(f"unknown period {period!r}; expected one of {', '.join(PERIODS)}")


def _key(visit: Visit, by: Sequence[str], period: str, tz: timezone) -> GroupKey:
    def value(name: str) -> str:
        if name == "period":
            return period_of(visit.exited_at, period, tz)
        return str(getattr(visit, name))

    return tuple((name, value(name)) for name in by)


def group_stats(
    records: Iterable[RecordLike],
    by: Sequence[str] = ("site", "direction"),
    *,
    period: str = "month",
    tz: timezone = UTC,
    targets: Mapping[str, float] = DEFAULT_TARGETS,
) -> list[GroupStats]:
    """Statistics for the overall group "all" (key ``()``), then each group of ``by``.

    A record counts in a segment only when its ``segments`` has it (absent = did
    not happen). Groups come sorted by their values.
    """
    by = parse_by(by)
    visits: defaultdict[GroupKey, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    durations: defaultdict[GroupKey, dict[str, list[float]]] = defaultdict(
        lambda: {s: [] for s in SEGMENTS}
    )
    for item in records:
        visit = Visit.of(item)
        keys: list[GroupKey] = [()]
        if by:
            keys.append(_key(visit, by, period, tz))
        for key in keys:
            tally = visits[key]
            tally[0] += 1
            tally[1] += visit.pre_cleared
            tally[2] += visit.scanned
            tally[3] += visit.alerted
            for segment, seconds in zip(SEGMENTS, visit.durations, strict=True):
                if seconds is not None:
                    durations[key][segment].append(seconds)
    return [
        GroupStats(
            key=key,
            visits=tally[0],
            pre_cleared=tally[1] / tally[0],
            scanned=tally[2] / tally[0],
            alerted=tally[3] / tally[0],
            segments={s: summarize(s, durations[key][s], targets.get(s)) for s in SEGMENTS},
        )
        for key, tally in sorted(visits.items(), key=lambda item: (len(item[0]), item[0]))
    ]


#: Contract 7.2: who owes each report or notice, in the order a report lists them.
PARTY_OF_FORM: Final = {
    "EXPECTED": "customs",
    "SCAN_SELECTED": "customs",
    "GATE_OUT": "port",
    "LOADED": "port",
}


@dataclass(frozen=True, slots=True)
class DutyStats:
    """How one side met one obligation at one site in one period (contract 7.2)."""

    site: str
    period: str
    party: str  # "customs" or "port"
    form: str  # EXPECTED, SCAN_SELECTED, GATE_OUT, LOADED
    due: int  # reports or notices judged
    on_time: int

    @property
    def share(self) -> float:
        return self.on_time / self.due


def duty_stats(
    records: Iterable[RecordLike], *, period: str = "month", tz: timezone = UTC
) -> list[DutyStats]:
    """Per site and period, each obligation's count and how many were on time; a
    visit's period is its exit's, as for the segments."""
    forms = list(PARTY_OF_FORM)
    tally: defaultdict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for item in records:
        visit = Visit.of(item)
        if not visit.duties:
            continue
        when = period_of(visit.exited_at, period, tz)
        for form, on_time in visit.duties:
            counts = tally[visit.site, when, form]
            counts[0] += 1
            counts[1] += on_time
    ordered = sorted(tally.items(), key=lambda kv: (kv[0][0], kv[0][1], forms.index(kv[0][2])))
    return [
        DutyStats(site, when, PARTY_OF_FORM[form], form, due, on_time)
        for (site, when, form), (due, on_time) in ordered
    ]


@dataclass(frozen=True, slots=True)
class Change:
    """One statistic of one (group, segment), now against before."""

    key: GroupKey
    segment: str
    metric: str  # "mean" or "median"
    current: float
    previous: float

    @property
    def delta(self) -> float:
        return self.current - self.previous

    @property
    def percent(self) -> float | None:
        return None if self.previous == 0 else 100 * self.delta / self.previous

    @property
    def verdict(self) -> str:
        if round(self.delta) == 0:
            return "no change"
        return "faster" if self.delta < 0 else "slower"

    @property
    def sentence(self) -> str:
        """``mean release 24h00m29s vs 34h05m10s: 10h04m41s faster (-29.6%)``."""
        head = (
            f"{self.metric} {self.segment} {duration_text(self.current)} "
            f"vs {duration_text(self.previous)}: "
        )
        pct = "n/a" if self.percent is None else f"{self.percent:+.1f}%"
        if self.verdict == "no change":
            return f"{head}no change ({pct})"
        return f"{head}{duration_text(abs(self.delta))} {self.verdict} ({pct})"


@dataclass(frozen=True, slots=True)
class Comparison:
    """Changes against an earlier file (:func:`compare_groups`)."""

    path: Path
    visits: int
    changes: tuple[Change, ...]
    first_exit: datetime | None = None
    last_exit: datetime | None = None


@dataclass(frozen=True, slots=True)
class DirectionSummary:
    """The headline of one direction: visits and mean release, now and before."""

    direction: str
    visits: int
    release_mean: float | None
    previous_release_mean: float | None  # None without --compare or no releases then


def direction_summaries(
    current: Sequence[GroupStats], previous: Sequence[GroupStats] | None
) -> list[DirectionSummary]:
    """One per direction of ``current`` (groups of ``by=("direction",)``)."""
    before = {g.key: g for g in previous or ()}
    out = []
    # imports first, as the reform reports lead with them
    for group in sorted(current, key=lambda g: (dict(g.key).get("direction") != "import", g.key)):
        if not group.key:
            continue
        old = before.get(group.key)
        out.append(
            DirectionSummary(
                direction=dict(group.key)["direction"],
                visits=group.visits,
                release_mean=group.segments["release"].mean,
                previous_release_mean=None if old is None else old.segments["release"].mean,
            )
        )
    return out


def compare_groups(current: Sequence[GroupStats], previous: Sequence[GroupStats]) -> list[Change]:
    """Mean and median changes for each (group, segment) with data in both."""
    before = {g.key: g for g in previous}
    changes: list[Change] = []
    for group in current:
        old = before.get(group.key)
        if old is None:
            continue
        for segment in SEGMENTS:
            now, then = group.segments[segment], old.segments[segment]
            # count 0 leaves the figures None: such a segment is not "present"
            if now.mean is None or then.mean is None or now.median is None or then.median is None:
                continue
            changes.append(Change(group.key, segment, "mean", now.mean, then.mean))
            changes.append(Change(group.key, segment, "median", now.median, then.median))
    return changes


@dataclass(frozen=True, slots=True)
class Histogram:
    """Counts of one segment's durations per direction in :data:`HISTOGRAM_EDGES` buckets."""

    segment: str
    labels: tuple[str, ...]
    counts: Mapping[str, tuple[int, ...]]  # direction -> one count per bucket


def release_histogram(records: Iterable[RecordLike]) -> Histogram:
    """Release times bucketed per direction (directions without releases are left out)."""
    counts: defaultdict[str, list[int]] = defaultdict(lambda: [0] * len(HISTOGRAM_EDGES))
    release = SEGMENTS.index("release")
    for item in records:
        visit = Visit.of(item)
        seconds = visit.durations[release]
        if seconds is None:
            continue
        bucket = sum(seconds >= edge for edge in HISTOGRAM_EDGES[1:])
        counts[visit.direction][bucket] += 1
    return Histogram("release", HISTOGRAM_LABELS, {d: tuple(c) for d, c in sorted(counts.items())})


@dataclass(frozen=True, slots=True)
class Source:
    """What a report says of its input: counts only (the records stay in the engine)."""

    path: Path  # as the user named it: a file, a glob or a directory
    visits: int  # records that count (latest revision, not superseded)
    lines: int  # non-blank lines (Parquet: rows)
    records_read: int
    older_revisions: int
    superseded: int
    malformed: int

    @classmethod
    def of(cls, loaded: Loaded) -> Source:
        return cls(
            path=loaded.path,
            visits=len(loaded.records),
            lines=loaded.lines,
            records_read=loaded.records_read,
            older_revisions=loaded.older_revisions,
            superseded=loaded.superseded,
            malformed=loaded.malformed,
        )


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a renderer needs; built by :func:`build_report`."""

    source: Source
    by: tuple[str, ...]
    period: str
    tz: timezone
    targets: Mapping[str, float]
    first_exit: datetime | None
    last_exit: datetime | None
    groups: tuple[GroupStats, ...]
    histogram: Histogram
    comparison: Comparison | None
    summaries: tuple[DirectionSummary, ...] = ()
    duties: tuple[DutyStats, ...] = ()  # both sides' obligations (contract 7.2)
    league: League | None = None  # contract 8.3, with --league
    intervals: Intervals | None = None  # time-interval analysis, with --intervals


def build_report(
    source: Loaded,
    *,
    by: Sequence[str] = ("site", "direction"),
    period: str = "month",
    tz: timezone = UTC,
    targets: Mapping[str, float] = DEFAULT_TARGETS,
    previous: Loaded | None = None,
) -> Report:
    """Group statistics, histogram and (with ``previous``) the comparison."""
    by = parse_by(by)
    if period not in PERIODS:
        raise ReportUsageError("--period", f"{period!r} is not one of {', '.join(PERIODS)}")
    groups = group_stats(source.records, by, period=period, tz=tz, targets=targets)
    comparison = None
    by_direction = group_stats(source.records, ("direction",), tz=tz, targets=targets)
    before_by_direction = None
    if previous is not None:
        before = group_stats(previous.records, by, period=period, tz=tz, targets=targets)
        changes = compare_groups(groups, before)
        before_exits = [r.exited_at for r in previous.records]
        comparison = Comparison(
            previous.path,
            len(previous.records),
            tuple(changes),
            min(before_exits, default=None),
            max(before_exits, default=None),
        )
        before_by_direction = group_stats(previous.records, ("direction",), tz=tz, targets=targets)
    exits = [r.exited_at for r in source.records]
    return Report(
        source=Source.of(source),
        by=by,
        period=period,
        tz=tz,
        targets=dict(targets),
        first_exit=min(exits, default=None),
        last_exit=max(exits, default=None),
        groups=tuple(groups),
        histogram=release_histogram(source.records),
        comparison=comparison,
        summaries=tuple(direction_summaries(by_direction, before_by_direction)),
        duties=tuple(duty_stats(source.records, period=period, tz=tz)),
    )
