"""Time Release Study KPIs from clearance records (contract sections 5 and 6).

Two halves that never mix. The statistics (:func:`load_clearances`,
:func:`latest_records`, :func:`group_stats`, :func:`compare_groups`,
:func:`release_histogram`, :func:`build_report`) take records and return plain
frozen dataclasses; the renderers (:func:`render`) turn a :class:`Report` into
``md``, ``csv``, ``json`` or ``html`` text. :func:`run_report` is what
``vasscm report`` calls.

Percentiles use linear interpolation between closest ranks (numpy's default,
Hyndman & Fan type 7): for ``n`` sorted values and ``q`` in [0, 1], rank
``h = (n - 1) * q``, value ``x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)])``.
The median is the 0.5 percentile; "within target" means ``seconds <= target``.
"""

from __future__ import annotations

import csv
import html
import io
import math
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

import orjson
from pydantic import ConfigDict, ValidationError

from vasscm.durations import duration_text
from vasscm.events import ClearanceRecord, format_ts

__all__ = [
    "GROUP_FIELDS",
    "PERIODS",
    "SEGMENTS",
    "Change",
    "Comparison",
    "GroupKey",
    "GroupStats",
    "Histogram",
    "Loaded",
    "Malformed",
    "RecordLike",
    "Report",
    "ReportUsageError",
    "SegmentStats",
    "Visit",
    "build_report",
    "compare_groups",
    "group_stats",
    "latest_records",
    "load_clearances",
    "parse_duration",
    "parse_targets",
    "parse_utc_offset",
    "percentile",
    "period_of",
    "release_histogram",
    "render",
    "run_report",
    "summarize",
]

SEGMENTS: Final = ("release", "exit", "dwell", "scan_wait")
GROUP_FIELDS: Final = ("site", "direction", "channel", "period")
PERIODS: Final = ("day", "week", "month", "quarter", "year")
DEFAULT_TARGETS: Final[Mapping[str, float]] = {"release": 86400.0}
FORMATS: Final = ("md", "csv", "json", "html")
JSON_SCHEMA_VERSION: Final = 1

#: Lower bounds (seconds) of the release histogram buckets, the last one open-ended.
#: Roughly doubling widths: the TRS questions are "within the hour / shift / day /
#: the 24 h target / a week", which a linear scale would crush into one bar.
HISTOGRAM_EDGES: Final = (0, 900, 3600, 7200, 14400, 28800, 43200, 86400, 172800, 259200, 604800)
HISTOGRAM_LABELS: Final = (
    "<15m", "15m–1h", "1–2h", "2–4h", "4–8h", "8–12h", "12–24h", "1–2d", "2–3d", "3–7d", "≥7d",
)  # fmt: skip

#: Stderr gets the first this-many malformed lines in full; the rest are only counted.
_MALFORMED_SHOWN: Final = 50

#: A key of group field -> value; ``()`` is the overall group "all".
GroupKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Visit:
    """What the report keeps of a :class:`ClearanceRecord`: about a fifth of its memory,
    so a year of a busy port's clearances fits."""

    visit_id: str
    revision: int
    supersedes: tuple[str, ...]
    site: str
    direction: str
    channel: str
    exited_at: datetime
    durations: tuple[float | None, ...]  # one per SEGMENTS entry; None: did not happen
    pre_cleared: bool
    scanned: bool
    alerted: bool

    @classmethod
    def of(cls, record: ClearanceRecord | Visit) -> Visit:
        if isinstance(record, Visit):
            return record
        return cls(
            visit_id=record.visit_id,
            revision=record.revision,
            supersedes=tuple(record.supersedes),
            site=record.site,
            direction=str(record.direction),
            channel=str(record.channel),
            exited_at=record.exited_at,
            durations=tuple(record.segments.get(s) for s in SEGMENTS),
            pre_cleared=record.pre_cleared,
            scanned=record.scanned,
            alerted=bool(record.alerts),
        )


#: Anything the statistics take: contract records, or the slim rows :class:`Loaded` holds.
RecordLike = ClearanceRecord | Visit


class ReportUsageError(ValueError):
    """A bad option value (click-style usage error: exit code 2)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"Invalid value for '{option}': {message}")
        self.option = option


class _StoredRecord(ClearanceRecord):
    # The contract grows by optional fields: a report over a newer writer's file
    # should still run, so unknown fields are ignored rather than rejected.
    model_config = ConfigDict(frozen=True, extra="ignore")


# --- option parsing -------------------------------------------------------------------------

_DURATION_RE: Final = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?")
_OFFSET_RE: Final = re.compile(r"([+-])(\d{1,2})(?::?(\d{2}))?")


def parse_duration(text: str) -> float:
    """``24h``, ``4h30m``, ``90m``, ``3600s``, ``1d``, ``1d12h`` or plain seconds -> seconds."""
    value = text.strip().lower()
    try:
        seconds = float(value)
    except ValueError:
        match = _DURATION_RE.fullmatch(value)
        if not value or match is None:
            raise ValueError(
                f"{text!r} is not a duration; use e.g. 24h, 4h30m, 90m, 3600s, 1d or seconds"
            ) from None
        d, h, m, s = match.groups()
        seconds = int(d or 0) * 86400 + int(h or 0) * 3600 + int(m or 0) * 60 + float(s or 0)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{text!r} must be a finite, non-negative duration")
    return seconds


def parse_targets(items: Iterable[str]) -> dict[str, float]:
    """``["release=24h", "exit=2h"]`` -> seconds per segment; none given -> release=24h.

    A segment given twice keeps its last value, so a script can append overrides.
    """
    targets: dict[str, float] = {}
    for item in items:
        segment, sep, duration = item.partition("=")
        segment = segment.strip()
        if not sep:
            raise ReportUsageError(
                "--target", f"{item!r} is not SEGMENT=DURATION, e.g. release=24h"
            )
        if segment not in SEGMENTS:
            raise ReportUsageError(
                "--target", f"unknown segment {segment!r}; expected one of {', '.join(SEGMENTS)}"
            )
        try:
            targets[segment] = parse_duration(duration)
        except ValueError as exc:
            raise ReportUsageError("--target", str(exc)) from None
    return targets or dict(DEFAULT_TARGETS)


def parse_utc_offset(text: str) -> timezone:
    """``+07:00``, ``-0530``, ``+7``, ``Z`` or ``UTC`` -> a fixed-offset time zone."""
    value = text.strip()
    if value.upper() in {"Z", "UTC"}:
        return UTC
    match = _OFFSET_RE.fullmatch(value)
    if match is None or int(match[2]) > 23 or int(match[3] or 0) > 59:
        raise ReportUsageError(
            "--utc-offset", f"{text!r} is not an offset like +07:00, -05:30 or Z"
        )
    sign = -1 if match[1] == "-" else 1
    return timezone(sign * timedelta(hours=int(match[2]), minutes=int(match[3] or 0)))


def _parse_by(by: Sequence[str]) -> tuple[str, ...]:
    fields: list[str] = []
    for name in by:
        if name not in GROUP_FIELDS:
            raise ReportUsageError("--by", f"{name!r} is not one of {', '.join(GROUP_FIELDS)}")
        if name not in fields:
            fields.append(name)
    return tuple(fields)


# --- loading ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Malformed:
    """A line that is not a clearance record (1-based line number)."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class Loaded:
    """The records of one file that count: latest revision, not superseded."""

    path: Path
    records: tuple[Visit, ...]
    lines: int
    records_read: int
    older_revisions: int
    superseded: int
    malformed: int


class _Tally:
    __slots__ = ("lines", "malformed")

    def __init__(self) -> None:
        self.lines = 0
        self.malformed = 0


def _read_lines(
    path: Path, tally: _Tally, on_malformed: Callable[[Malformed], None] | None
) -> Iterator[ClearanceRecord]:
    with path.open("rb") as stream:  # streamed: a year of clearances need not fit twice
        for number, raw in enumerate(stream, start=1):
            tally.lines = number
            if not raw.strip():
                continue
            item = _parse_line(number, raw)
            if isinstance(item, Malformed):
                tally.malformed += 1
                if on_malformed is not None:
                    on_malformed(item)
            else:
                yield item


def _parse_line(number: int, raw: bytes) -> ClearanceRecord | Malformed:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Malformed(number, f"invalid JSON: {exc}")
    if not isinstance(doc, dict):
        return Malformed(number, f"expected a JSON object, got {type(doc).__name__}")
    try:
        return _StoredRecord.model_validate(doc)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        parts = [f"field '{'.'.join(map(str, e['loc']))}': {e['msg']}" for e in errors[:3]]
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        return Malformed(number, "not a clearance record: " + "; ".join(parts) + more)


def latest_records(records: Iterable[RecordLike]) -> tuple[list[Visit], int, int]:
    """Keep each visit's highest ``revision`` and drop visits another record supersedes.

    Returns ``(kept, older_revisions_dropped, superseded_dropped)``. On equal
    revisions the later record wins. Should two visits name each other in
    ``supersedes`` (an id re-identified back), the one with the higher revision
    wins: the tracker always publishes the superseding record at a higher revision.
    """
    best: dict[str, Visit] = {}
    read = 0
    claims: defaultdict[str, set[str]] = defaultdict(set)  # old id -> ids that supersede it
    for item in records:
        record = Visit.of(item)
        read += 1
        current = best.get(record.visit_id)
        if current is None or record.revision >= current.revision:
            best[record.visit_id] = record
        for old in record.supersedes:
            if old != record.visit_id:  # a re-identified-back visit may list itself
                claims[old].add(record.visit_id)
    kept: list[Visit] = []
    for visit_id, record in best.items():
        own_claims = set(record.supersedes)
        beaten = any(
            not (other in own_claims and record.revision > best[other].revision)
            for other in claims.get(visit_id, ())
        )
        if not beaten:
            kept.append(record)
    return kept, read - len(best), len(best) - len(kept)


def load_clearances(path: Path, on_malformed: Callable[[Malformed], None] | None = None) -> Loaded:
    """Stream ``path`` (JSONL), skip blank lines, count malformed ones, de-duplicate."""
    tally = _Tally()
    kept, older, superseded = latest_records(_read_lines(path, tally, on_malformed))
    read = len(kept) + older + superseded
    return Loaded(path, tuple(kept), tally.lines, read, older, superseded, tally.malformed)


# --- statistics -------------------------------------------------------------------------------


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
        return " · ".join(f"{k}={v}" for k, v in self.key) or "all"


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
    by = _parse_by(by)
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
class Report:
    """Everything a renderer needs; built by :func:`build_report`."""

    source: Loaded
    by: tuple[str, ...]
    period: str
    tz: timezone
    targets: Mapping[str, float]
    first_exit: datetime | None
    last_exit: datetime | None
    groups: tuple[GroupStats, ...]
    histogram: Histogram
    comparison: Comparison | None


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
    by = _parse_by(by)
    if period not in PERIODS:
        raise ReportUsageError("--period", f"{period!r} is not one of {', '.join(PERIODS)}")
    groups = group_stats(source.records, by, period=period, tz=tz, targets=targets)
    comparison = None
    if previous is not None:
        before = group_stats(previous.records, by, period=period, tz=tz, targets=targets)
        changes = compare_groups(groups, before)
        comparison = Comparison(previous.path, len(previous.records), tuple(changes))
    exits = [r.exited_at for r in source.records]
    return Report(
        source=source,
        by=by,
        period=period,
        tz=tz,
        targets=dict(targets),
        first_exit=min(exits, default=None),
        last_exit=max(exits, default=None),
        groups=tuple(groups),
        histogram=release_histogram(source.records),
        comparison=comparison,
    )


# --- rendering: shared helpers ----------------------------------------------------------------

_FIGURES: Final = ("mean", "median", "p90", "p95", "max")


def _num(value: float | None, digits: int = 3) -> str:
    """Machine form: ``86429``, ``86429.5``; ``""`` for none."""
    if value is None:
        return ""
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") or "0"


def _dur(value: float | None) -> str:
    """Human form: ``24h00m29s (86429 s)``; ``–`` for none."""
    return "–" if value is None else f"{duration_text(value)} ({value:.0f} s)"


def _pct(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.1f}%"


def _local(moment: datetime | None, tz: timezone) -> str:
    return "" if moment is None else moment.astimezone(tz).isoformat(timespec="seconds")


def _offset_label(tz: timezone) -> str:
    return "UTC" + (tz.tzname(None) or "").removeprefix("UTC")


def _targets_text(targets: Mapping[str, float]) -> str:
    return ", ".join(f"{s} ≤ {duration_text(t)}" for s, t in targets.items()) or "none"


def _counts_text(source: Loaded) -> str:
    return (
        f"{len(source.records):,} visits from {source.records_read:,} records "
        f"({source.older_revisions:,} older revisions and {source.superseded:,} superseded "
        f"dropped; {source.malformed:,} malformed lines skipped)"
    )


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


def _render_md(report: Report) -> str:
    src = report.source
    by_cols = list(report.by) or ["group"]
    lines = [
        "# Time Release Study: clearance KPIs",
        "",
        f"- Input: `{_md_cell(str(src.path))}`",
        f"- Counts: {_counts_text(src)}",
    ]
    if not src.records:
        lines += ["", "No clearance records: nothing to report."]
        return "\n".join(lines) + "\n"
    lines += [
        f"- Exits covered: {_local(report.first_exit, report.tz)} to "
        f"{_local(report.last_exit, report.tz)}",
        f"- Grouped by: {', '.join(report.by) or 'nothing'}"
        + (
            f" (period: {report.period}, {_offset_label(report.tz)})"
            if "period" in report.by
            else ""
        ),
        f"- Targets: {_targets_text(report.targets)}",
        "",
        "## Visits",
        "",
        _md_row([*by_cols, "visits", "pre-cleared", "scanned", "with alert"]),
        _md_row(["---"] * len(by_cols) + ["---:"] * 4),
    ]
    for g in report.groups:
        cells = [f"{g.visits:,}", _pct(g.pre_cleared), _pct(g.scanned), _pct(g.alerted)]
        lines.append(_md_row([*_md_key_cells(g, report.by), *cells]))
    for segment in SEGMENTS:
        target = report.targets.get(segment)
        within = f"within {duration_text(target)}" if target is not None else "within target"
        lines += [
            "",
            f"## {segment}",
            "",
            _md_row([*by_cols, "n", *_FIGURES, within]),
            _md_row(["---"] * len(by_cols) + ["---:"] * (len(_FIGURES) + 2)),
        ]
        for g in report.groups:
            st = g.segments[segment]
            figures = [_dur(getattr(st, name)) for name in _FIGURES]
            row = [*_md_key_cells(g, report.by), f"{st.count:,}", *figures, _pct(st.within_target)]
            lines.append(_md_row(row))
    if report.comparison is not None:
        cmp = report.comparison
        lines += ["", f"## Compared with `{_md_cell(str(cmp.path))}` ({cmp.visits:,} visits)", ""]
        if not cmp.changes:
            lines.append("No group and segment has data in both files.")
        for change in cmp.changes:
            label = " · ".join(f"{k}={v}" for k, v in change.key) or "all"
            lines.append(f"- **{_md_cell(label)}**: {_md_cell(change.sentence)}")
    lines += [
        "",
        "Percentiles: linear interpolation between closest ranks (numpy default). "
        "Durations in h/m/s with seconds in brackets. A segment that did not happen "
        "in a visit does not count in that segment.",
    ]
    return "\n".join(lines) + "\n"


# --- csv --------------------------------------------------------------------------------------


def _render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["group", *report.by, "segment", "count"]
    for name in _FIGURES:
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
            for name in _FIGURES:
                value = getattr(st, name)
                row += [_num(value), "" if value is None else duration_text(value)]
            row += [
                _num(st.target),
                "" if st.target is None else duration_text(st.target),
                _num(st.within_target, 4),
                g.visits,
                _num(g.pre_cleared, 4),
                _num(g.scanned, 4),
                _num(g.alerted, 4),
            ]
            writer.writerow(row)
    return out.getvalue()


# --- json -------------------------------------------------------------------------------------


def _duration_obj(value: float | None) -> dict[str, Any] | None:
    return None if value is None else {"seconds": round(value, 3), "text": duration_text(value)}


def _change_obj(change: Change) -> dict[str, Any]:
    pct = change.percent
    return {
        "current": _duration_obj(change.current),
        "previous": _duration_obj(change.previous),
        "delta_seconds": round(change.delta, 3),
        "delta_text": duration_text(change.delta),
        "delta_percent": None if pct is None else round(pct, 2),
        "verdict": change.verdict,
        "sentence": change.sentence,
    }


def _report_obj(report: Report) -> dict[str, Any]:
    """The json format (``schema`` 1); every key is always present.

    ``input``: path, lines, records_read, older_revisions, superseded, malformed, visits.
    ``exits``: {first, last} in UTC (or null). ``groups``: the "all" group (key {})
    first, then each group; per group ``visits``, ``*_share`` and ``segments``: each of
    release/exit/dwell/scan_wait -> {count, mean, median, p90, p95, max, target:
    {seconds, text} or null, within_target_share}. ``comparison``: null or {path,
    visits, changes: [{key, label, segment, mean: {...}, median: {...}}]}.
    """
    src = report.source
    groups = []
    for g in report.groups:
        segments: dict[str, Any] = {}
        for segment in SEGMENTS:
            st = g.segments[segment]
            segments[segment] = {
                "count": st.count,
                **{name: _duration_obj(getattr(st, name)) for name in _FIGURES},
                "target": _duration_obj(st.target),
                "within_target_share": st.within_target,
            }
        groups.append(
            {
                "key": dict(g.key),
                "label": g.label,
                "visits": g.visits,
                "pre_cleared_share": g.pre_cleared,
                "scanned_share": g.scanned,
                "alert_share": g.alerted,
                "segments": segments,
            }
        )
    comparison = None
    if report.comparison is not None:
        paired: dict[tuple[GroupKey, str], dict[str, Any]] = {}
        for change in report.comparison.changes:
            entry = paired.setdefault(
                (change.key, change.segment),
                {
                    "key": dict(change.key),
                    "label": " · ".join(f"{k}={v}" for k, v in change.key) or "all",
                    "segment": change.segment,
                },
            )
            entry[change.metric] = _change_obj(change)
        comparison = {
            "path": str(report.comparison.path),
            "visits": report.comparison.visits,
            "changes": list(paired.values()),
        }
    return {
        "schema": JSON_SCHEMA_VERSION,
        "kind": "vasscm.trs-report",
        "input": {
            "path": str(src.path),
            "lines": src.lines,
            "records_read": src.records_read,
            "older_revisions": src.older_revisions,
            "superseded": src.superseded,
            "malformed": src.malformed,
            "visits": len(src.records),
        },
        "exits": None
        if report.first_exit is None or report.last_exit is None
        else {"first": format_ts(report.first_exit), "last": format_ts(report.last_exit)},
        "by": list(report.by),
        "period": report.period,
        "utc_offset": _offset_label(report.tz).removeprefix("UTC") or "+00:00",
        "percentiles": "linear interpolation between closest ranks (numpy default, type 7)",
        "targets": {s: _duration_obj(t) for s, t in report.targets.items()},
        "groups": groups,
        "comparison": comparison,
    }


def _render_json(report: Report) -> str:
    return orjson.dumps(_report_obj(report), option=orjson.OPT_INDENT_2).decode() + "\n"


# --- html -------------------------------------------------------------------------------------

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


def _render_html(report: Report) -> str:
    src = report.source
    by_heads = (
        "".join(f'<th class="k">{_e(n)}</th>' for n in report.by) or '<th class="k">group</th>'
    )
    body = [
        "<h1>Time Release Study: clearance KPIs</h1>",
        '<ul class="meta">',
        f"<li>Input: <code>{_e(src.path)}</code></li>",
        f"<li>Counts: {_e(_counts_text(src))}</li>",
    ]
    if not src.records:
        body += ["</ul>", "<p>No clearance records: nothing to report.</p>"]
    else:
        body += [
            f"<li>Exits covered: {_e(_local(report.first_exit, report.tz))} to "
            f"{_e(_local(report.last_exit, report.tz))}</li>",
            f"<li>Grouped by: {_e(', '.join(report.by) or 'nothing')}"
            + (
                f" (period: {_e(report.period)}, {_e(_offset_label(report.tz))})"
                if "period" in report.by
                else ""
            )
            + "</li>",
            f"<li>Targets: {_e(_targets_text(report.targets))}</li>",
            "</ul>",
            "<h2>Visits</h2><table><tr>" + by_heads
            + "<th>visits</th><th>pre-cleared</th><th>scanned</th><th>with alert</th></tr>",
        ]  # fmt: skip
        for g in report.groups:
            cls = ' class="all"' if not g.key else ""
            body.append(
                f"<tr{cls}>{_html_key_cells(g, report.by)}<td>{g.visits:,}</td>"
                f"<td>{_pct(g.pre_cleared)}</td><td>{_pct(g.scanned)}</td>"
                f"<td>{_pct(g.alerted)}</td></tr>"
            )
        body.append("</table>")
        for segment in SEGMENTS:
            target = report.targets.get(segment)
            within = f"within {duration_text(target)}" if target is not None else "within target"
            heads = "".join(f"<th>{name}</th>" for name in _FIGURES)
            body.append(
                f"<h2>{_e(segment)}</h2><table><tr>{by_heads}<th>n</th>{heads}"
                f"<th>{_e(within)}</th></tr>"
            )
            for g in report.groups:
                st = g.segments[segment]
                cls = ' class="all"' if not g.key else ""
                figures = "".join(f"<td>{_html_dur(getattr(st, n))}</td>" for n in _FIGURES)
                body.append(
                    f"<tr{cls}>{_html_key_cells(g, report.by)}<td>{st.count:,}</td>{figures}"
                    f"<td>{_pct(st.within_target)}</td></tr>"
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
                label = " · ".join(f"{k}={v}" for k, v in change.key) or "all"
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


_RENDERERS: Final[Mapping[str, Callable[[Report], str]]] = {
    "md": _render_md,
    "csv": _render_csv,
    "json": _render_json,
    "html": _render_html,
}


def render(report: Report, fmt: str = "md") -> str:
    """The report as ``md``, ``csv``, ``json`` or ``html`` text."""
    try:
        return _RENDERERS[fmt](report)
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}") from None


# --- command ----------------------------------------------------------------------------------


def _usage_error(error: ReportUsageError) -> int:
    # Same shape and exit code as click's own usage errors: the command has already
    # handed over to us when the value turns out to be bad.
    sys.stderr.write(
        "Usage: vasscm report [OPTIONS] CLEARANCES\n"
        "Try 'vasscm report --help' for help.\n\n"
        f"Error: {error}\n"
    )
    return 2


def _malformed_reporter(path: Path) -> Callable[[Malformed], None]:
    seen = 0

    def report(item: Malformed) -> None:
        nonlocal seen
        seen += 1
        if seen <= _MALFORMED_SHOWN:
            sys.stderr.write(f"{path}:{item.line}: skipped malformed line: {item.reason}\n")
        elif seen == _MALFORMED_SHOWN + 1:
            sys.stderr.write(f"{path}: more malformed lines; only counting them from here\n")

    return report


def run_report(
    clearances: Path,
    fmt: str = "md",
    by: list[str] | None = None,
    period: str = "month",
    utc_offset: str = "+07:00",
    targets: tuple[str, ...] = (),
    compare: Path | None = None,
    out: Path | None = None,
) -> int:
    """``vasscm report``: read, compute, render, write. Returns the exit code.

    0 when the files were read (whatever they held, malformed lines included);
    2 for a bad option value; 1 when an input cannot be read or the output written.
    """
    try:
        fields = _parse_by(["site", "direction"] if by is None else by)
        target_map = parse_targets(targets)
        tz = parse_utc_offset(utc_offset)
        if fmt not in FORMATS:
            raise ReportUsageError("--format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
    except ReportUsageError as exc:
        return _usage_error(exc)
    try:
        source = load_clearances(clearances, _malformed_reporter(clearances))
        previous = (
            None if compare is None else load_clearances(compare, _malformed_reporter(compare))
        )
    except OSError as exc:
        sys.stderr.write(f"Error: cannot read {exc.filename or clearances}: {exc.strerror}\n")
        return 1
    for loaded in (source, previous):
        if loaded is not None and loaded.malformed:
            sys.stderr.write(f"{loaded.path}: {loaded.malformed:,} malformed lines skipped\n")
    try:
        report = build_report(
            source, by=fields, period=period, tz=tz, targets=target_map, previous=previous
        )
    except ReportUsageError as exc:
        return _usage_error(exc)
    data = render(report, fmt).encode("utf-8")
    if out is not None:
        try:
            out.write_bytes(data)
        except OSError as exc:
            sys.stderr.write(f"Error: cannot write {out}: {exc.strerror}\n")
            return 1
        return 0
    sys.stdout.flush()
    binary = getattr(sys.stdout, "buffer", None)  # absent when stdout was swapped for a StringIO
    if binary is None:
        sys.stdout.write(data.decode("utf-8"))
    else:
        binary.write(data)  # bytes: UTF-8 whatever the locale says
        binary.flush()
    return 0
