"""The report computed by DuckDB: the same :class:`Report` as the Python reference, with
memory that does not grow with the number of records.

Per input, a view of slim rows, each with a unique ``rid`` (:mod:`vasscm.report.scan`:
JSONL is parsed once into a table; Parquet is read where it lies). The consumer rule
(:func:`vasscm.report.load.current_records`) ranks only the records of ids met more than
once or superseded, by ``(revision, file, line)``, into a small table of the rows that
do not count; every figure reads the rows minus those (an anti-join). The figures are
SQL aggregates: ``quantile_cont`` (linear interpolation, Hyndman-Fan type 7, numpy's
default) for the median, p90 and p95, ``fsum`` (compensated summation) over ``count``
for the mean. DuckDB spills sorts and tables to a temporary directory beyond its memory
limit (``VASSCM_REPORT_MEMORY``, default 512MB); quantiles hold their values, so a
query holds as many segments as fit. Python only shapes the few result rows.

What each step costs is in ``benchmarks/report_bench.py``."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

import duckdb

from vasscm.report.inputs import Inputs
from vasscm.report.intervals import Intervals, intervals
from vasscm.report.league import League, league
from vasscm.report.lines import Malformed
from vasscm.report.options import DEFAULT_TARGETS, PERIODS, ReportUsageError, parse_by
from vasscm.report.parquet import quoted
from vasscm.report.scan import Scanned, malformed_lines, scan_inputs
from vasscm.report.stats import (
    HISTOGRAM_EDGES,
    HISTOGRAM_LABELS,
    PARTY_OF_FORM,
    Comparison,
    DirectionSummary,
    DutyStats,
    GroupKey,
    GroupStats,
    Histogram,
    Report,
    SegmentStats,
    Source,
    compare_groups,
)
from vasscm.report.visit import SEGMENTS

__all__ = ["DEFAULT_MEMORY", "Engine", "connect", "engine_report", "period_sql"]

DEFAULT_MEMORY: Final = "512MB"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@contextmanager
def connect(memory: str = DEFAULT_MEMORY, threads: int | None = None) -> Iterator[Any]:
    """An in-memory DuckDB within ``memory``, spilling to a temporary directory that is
    removed afterwards; ``threads`` defaults to the machine's cores."""
    with tempfile.TemporaryDirectory(prefix="vasscm-report-") as spill:
        con = duckdb.connect()
        try:
            for setting, value in (
                ("memory_limit", memory),
                ("temp_directory", spill),
                ("threads", str(threads or os.cpu_count() or 1)),
                ("TimeZone", "UTC"),
                # No result relies on the order rows are stored in (the file order, where
                # it matters, is a column: vasscm.report.scan), and DuckDB is faster
                # without keeping it.
                ("preserve_insertion_order", "false"),
                ("enable_progress_bar", "false"),
            ):
                con.execute(f"SET {setting} = {quoted(value)}")
            yield con
        finally:
            con.close()


def period_sql(period: str, tz: timezone) -> str:
    """The SQL label of an exit's period in ``tz`` (as stats.period_of writes it)."""
    offset = tz.utcoffset(None) or timedelta(0)
    local = f"(exited + INTERVAL {int(offset.total_seconds())} SECOND)"
    if period == "day":
        return f"strftime({local}, '%Y-%m-%d')"
    if period == "week":
        return f"strftime({local}, '%G-W%V')"
    if period == "month":
        return f"strftime({local}, '%Y-%m')"
    if period == "quarter":
        return f"year({local})::VARCHAR || '-Q' || quarter({local})::VARCHAR"
    if period == "year":
        return f"year({local})::VARCHAR"
    raise ReportUsageError("--period", f"{period!r} is not one of {', '.join(PERIODS)}")


@dataclass(frozen=True, slots=True)
class _Direction:
    first: datetime  # exits: every record that counts has one
    last: datetime
    visits: int
    released: int
    release_total: float | None
    histogram: tuple[int, ...]  # visits by HISTOGRAM_EDGES bucket of their release


_UNITS: Final = {"": 1, "B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def _bytes(setting: str) -> int:
    """DuckDB's way of showing a size ("488.2 MiB") in bytes."""
    number, _, unit = setting.strip().partition(" ")
    return int(float(number) * _UNITS.get(unit, 1))


@dataclass
class Engine:
    """One input read into ``con``: its counts, and the figures over its kept records."""

    con: Any
    scanned: Scanned
    label: Path
    kept: str  # the view of the records that count
    out: str  # the table of the rows that do not (rid; older: an older revision or copy)
    directions: dict[str, _Direction] | None = None  # computed once, when first asked
    counted: Source | None = None  # likewise

    @classmethod
    def load(cls, con: Any, inputs: Inputs, name: str) -> Engine:
        """Read ``inputs`` and apply the consumer rule; tables are prefixed ``name``.

        Most visits have one record: the rule ranks only the records of ids met more
        than once (``scanned.twice``) and of ids some record supersedes, and keeps the
        losers' ``rid`` in ``{name}_out``, with the malformed rows. The records that
        count are every row but those: no copy of the rows is made (a Parquet input is
        read where it lies).
        """
        scanned = scan_inputs(con, inputs, f"{name}_rows")
        rows, twice = scanned.table, scanned.twice
        listed, out = f"{name}_listed", f"{name}_out"
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {listed} AS
            SELECT old, max(revision) AS rev FROM (
                SELECT unnest(supersedes) AS old, visit_id, revision
                FROM {rows} WHERE reason IS NULL AND len(supersedes) > 0)
            WHERE old <> visit_id GROUP BY old"""
        )
        # Per visit the highest revision, then the later record, wins (n = 1); the
        # winner is dropped when a record of a revision at least its own supersedes it.
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {out} AS
            SELECT rid, n > 1 AS older FROM (
                SELECT rid, visit_id, revision, row_number() OVER (
                    PARTITION BY visit_id ORDER BY revision DESC, file_no DESC, ord DESC) AS n
                FROM {rows} WHERE reason IS NULL
                AND (hash(visit_id) IN (SELECT h FROM {twice})
                     OR visit_id IN (SELECT old FROM {listed}))) AS ranked
            LEFT JOIN {listed} ON ranked.visit_id = {listed}.old
            WHERE n > 1 OR ranked.revision <= {listed}.rev
            UNION ALL SELECT rid, NULL FROM {rows} WHERE reason IS NOT NULL"""
        )
        # The malformed rows are in {out} too (older NULL), so that a query over the
        # kept rows reads only its own columns, not those the checks read.
        kept = f"{name}_kept"
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {kept} AS "
            f"SELECT * FROM {rows} ANTI JOIN {out} USING (rid)"
        )
        return cls(con, scanned, inputs.label, kept, out)

    def source(self) -> Source:
        """What the input held: lines, records, those that count (computed once)."""
        if self.counted is None:
            self.counted = self._count()
        return self.counted

    def _count(self) -> Source:
        lines, malformed, read = self.con.execute(
            f"SELECT count(*), count(*) FILTER (reason IS NOT NULL), "
            f"count(*) FILTER (reason IS NULL) FROM {self.scanned.table}"
        ).fetchone()
        older, superseded = self.con.execute(
            f"SELECT count(*) FILTER (older), count(*) FILTER (NOT older) FROM {self.out}"
        ).fetchone()
        return Source(
            path=self.label,
            visits=int(read - older - superseded),
            lines=int(lines),
            records_read=int(read),
            older_revisions=int(older),
            superseded=int(superseded),
            malformed=int(malformed),
        )

    def malformed(self, limit: int) -> Iterator[tuple[Path, Malformed]]:
        return malformed_lines(self.con, self.scanned, limit)

    def exits(self) -> tuple[datetime | None, datetime | None]:
        """The first and the last exit of the records that count."""
        firsts = [d.first for d in self._directions().values()]
        lasts = [d.last for d in self._directions().values()]
        return (min(firsts) if firsts else None), (max(lasts) if lasts else None)

    def _directions(self) -> dict[str, _Direction]:
        """Per direction, in one pass: exits, visits, the release's count, sum and
        histogram (the summary, the histogram and the period read only these), from
        the figures per direction and histogram bucket (faster than a count per bucket
        with a filter each)."""
        if self.directions is None:
            bucket = " + ".join(f"(s_release >= {edge})::INT" for edge in HISTOGRAM_EDGES[1:])
            parts: dict[str, list[tuple[Any, ...]]] = {}
            for row in self.con.execute(
                f"SELECT direction, bucket, epoch_us(min(exited)), epoch_us(max(exited)), "
                f"count(*), fsum(s_release) FROM (SELECT direction, exited, s_release, "
                f"{bucket} AS bucket FROM {self.kept}) GROUP BY ALL"
            ).fetchall():
                parts.setdefault(str(row[0]), []).append(row[1:])
            self.directions = {}
            for direction, rows in parts.items():
                released = [r for r in rows if r[0] is not None]  # bucket NULL: no release
                histogram = [0] * len(HISTOGRAM_EDGES)
                for r in released:
                    histogram[int(r[0])] = int(r[3])
                self.directions[direction] = _Direction(
                    first=_EPOCH + timedelta(microseconds=min(int(r[1]) for r in rows)),
                    last=_EPOCH + timedelta(microseconds=max(int(r[2]) for r in rows)),
                    visits=sum(int(r[3]) for r in rows),
                    released=sum(histogram),
                    release_total=math.fsum(float(r[4]) for r in released) if released else None,
                    histogram=tuple(histogram),
                )
        return self.directions

    def _segments_per_query(self) -> int:
        """How many segments' quantiles one query may hold: their values, 8 bytes each
        and as much again while they grow, within DuckDB's memory (at the default
        512MB: three segments up to 10M records, as measured; all six up to 5M)."""
        limit = _bytes(self.con.execute("SELECT current_setting('memory_limit')").fetchone()[0])
        values = max(1, self.source().visits)
        return max(1, min(len(SEGMENTS), limit // (16 * values)))

    def groups(
        self,
        by: Sequence[str],
        *,
        period: str,
        tz: timezone,
        targets: Mapping[str, float],
    ) -> list[GroupStats]:
        """As :func:`vasscm.report.stats.group_stats`: "all", then each group of
        ``by``, sorted by their values."""
        keys = {name: (period_sql(period, tz) if name == "period" else name) for name in by}
        select = ", ".join(f"{expr} AS g_{name}" for name, expr in keys.items())
        source = f"(SELECT *{', ' + select if select else ''} FROM {self.kept})"
        cols = [f"g_{name}" for name in by]
        # "All" and the groups: one query each, and each a few segments at a time: a
        # quantile holds its values and cannot spill (see _segments_per_query). One
        # query with GROUPING SETS would hold both levels' values at once, so half as
        # many segments a query; DuckDB 1.x ran it four times slower than two queries,
        # 2.0.1 as fast on JSONL and 15-20 % faster on Parquet at 1M records (six
        # segments, 2026-12-06): not worth a second way of grouping.
        lead = "".join(f"{c}, " for c in cols)
        levels = [("", "")] + ([(lead, f"GROUP BY {', '.join(cols)}")] if cols else [])
        step = self._segments_per_query()
        chunks = [SEGMENTS[i : i + step] for i in range(0, len(SEGMENTS), step)]

        def figures_sql(segment: str) -> str:
            target, column = targets.get(segment), f"s_{segment}"
            within = (
                "NULL" if target is None else f"count(*) FILTER ({column} <= {float(target)!r})"
            )
            return (
                f"count({column}), fsum({column}), quantile_cont({column}, [0.5, 0.9, 0.95]), "
                f"max({column}), {within}"
            )

        heads: dict[GroupKey, tuple[int, int, int, int]] = {}
        figures: dict[GroupKey, dict[str, SegmentStats]] = {}
        for select, group_by in levels:
            width = len(cols) if select else 0
            for number, chunk in enumerate(chunks):
                head = (
                    "count(*), count(*) FILTER (pre_cleared), count(*) FILTER (scanned), "
                    "count(*) FILTER (alerted), "
                    if number == 0
                    else ""
                )
                figures_of = ", ".join(figures_sql(segment) for segment in chunk)
                for row in self.con.execute(
                    f"SELECT {select}{head}{figures_of} FROM {source} {group_by}"
                ).fetchall():
                    key = tuple(zip(by, map(str, row[:width]), strict=True)) if width else ()
                    rest = row[width:]
                    if head:
                        if not rest[0]:  # "all" over no records is one row of zeros
                            continue
                        heads[key] = (int(rest[0]), int(rest[1]), int(rest[2]), int(rest[3]))
                        rest = rest[4:]
                    for i, segment in enumerate(chunk):
                        count, total, quantiles, top, inside = rest[5 * i : 5 * i + 5]
                        if not count:
                            continue
                        figures.setdefault(key, {})[segment] = SegmentStats(
                            segment=segment,
                            count=int(count),
                            mean=float(total) / int(count),
                            median=float(quantiles[0]),
                            p90=float(quantiles[1]),
                            p95=float(quantiles[2]),
                            max=float(top),
                            target=targets.get(segment),
                            within_target=None if inside is None else int(inside) / int(count),
                        )
        out = []
        for key, (visits, pre, scanned, alerted) in sorted(
            heads.items(), key=lambda item: (len(item[0]), item[0])
        ):
            segs = figures.get(key, {})
            out.append(
                GroupStats(
                    key=key,
                    visits=visits,
                    pre_cleared=pre / visits,
                    scanned=scanned / visits,
                    alerted=alerted / visits,
                    segments={
                        s: segs.get(s)
                        or SegmentStats(s, 0, None, None, None, None, None, targets.get(s), None)
                        for s in SEGMENTS
                    },
                )
            )
        return out

    def release_means(self) -> dict[str, tuple[int, float | None]]:
        """Per direction: visits, and the mean release (None without one): what the
        summary says of each direction, without the rest of a grouping's figures."""
        return {
            direction: (d.visits, None if not d.released else (d.release_total or 0.0) / d.released)
            for direction, d in self._directions().items()
        }

    def league(self, *, period: str, tz: timezone, targets: Mapping[str, float]) -> League:
        """Contract 8.3 (vasscm.report.league)."""
        return league(self.con, self.kept, period_sql(period, tz), period=period, targets=targets)

    def intervals(self, *, period: str, tz: timezone) -> Intervals:
        """Time-interval analysis (vasscm.report.intervals)."""
        offset = int((tz.utcoffset(None) or timedelta(0)).total_seconds())
        return intervals(
            self.con, self.kept, period_sql(period, tz), period=period, offset_seconds=offset
        )

    def histogram(self) -> Histogram:
        """As :func:`vasscm.report.stats.release_histogram`."""
        counts = {name: d.histogram for name, d in self._directions().items() if d.released}
        return Histogram("release", HISTOGRAM_LABELS, dict(sorted(counts.items())))

    def duties(self, *, period: str, tz: timezone) -> list[DutyStats]:
        """As :func:`vasscm.report.stats.duty_stats`."""
        forms = list(PARTY_OF_FORM)
        rows = self.con.execute(
            f"SELECT site, period, duty.form, count(*), count(*) FILTER (duty.on_time) FROM ("
            f"SELECT site, {period_sql(period, tz)} AS period, unnest(duties) AS duty "
            f"FROM {self.kept} WHERE len(duties) > 0) GROUP BY ALL"
        ).fetchall()
        rows.sort(key=lambda r: (r[0], r[1], forms.index(r[2])))
        return [
            DutyStats(str(site), str(when), PARTY_OF_FORM[form], str(form), int(due), int(ok))
            for site, when, form, due, ok in rows
        ]


def _summaries(
    now: Mapping[str, tuple[int, float | None]],
    before: Mapping[str, tuple[int, float | None]] | None,
) -> list[DirectionSummary]:
    """As :func:`vasscm.report.stats.direction_summaries`: one per direction, imports
    first, as the reform reports lead with them."""
    return [
        DirectionSummary(
            direction=direction,
            visits=visits,
            release_mean=mean,
            previous_release_mean=None
            if before is None or direction not in before
            else before[direction][1],
        )
        for direction, (visits, mean) in sorted(
            now.items(), key=lambda item: (item[0] != "import", item[0])
        )
    ]


def engine_report(
    current: Engine,
    *,
    by: Sequence[str] = ("site", "direction"),
    period: str = "month",
    tz: timezone = UTC,
    targets: Mapping[str, float] = DEFAULT_TARGETS,
    previous: Engine | None = None,
    with_league: bool = False,
    with_intervals: bool = False,
) -> Report:
    """As :func:`vasscm.report.stats.build_report`, over inputs read by DuckDB; with
    the league table and the time-interval analysis when asked for."""
    by = parse_by(by)
    if period not in PERIODS:
        raise ReportUsageError("--period", f"{period!r} is not one of {', '.join(PERIODS)}")
    groups = current.groups(by, period=period, tz=tz, targets=targets)
    comparison = None
    before_by_direction: dict[str, tuple[int, float | None]] | None = None
    if previous is not None:
        before = previous.groups(by, period=period, tz=tz, targets=targets)
        first, last = previous.exits()
        comparison = Comparison(
            previous.label,
            previous.source().visits,
            tuple(compare_groups(groups, before)),
            first,
            last,
        )
        before_by_direction = previous.release_means()
    first, last = current.exits()
    return Report(
        source=current.source(),
        by=by,
        period=period,
        tz=tz,
        targets=dict(targets),
        first_exit=first,
        last_exit=last,
        groups=tuple(groups),
        histogram=current.histogram(),
        comparison=comparison,
        summaries=tuple(_summaries(current.release_means(), before_by_direction)),
        duties=tuple(current.duties(period=period, tz=tz)),
        league=current.league(period=period, tz=tz, targets=targets) if with_league else None,
        intervals=current.intervals(period=period, tz=tz) if with_intervals else None,
    )
