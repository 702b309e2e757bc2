"""The report computed by DuckDB: the same :class:`Report` as the Python reference, with
memory that does not grow with the number of records.

Per input, one scan reads every file into a temporary table of slim rows
(:mod:`vasscm.report.scan`); the consumer rule (:func:`vasscm.report.load.current_records`)
picks each visit's record with a window over ``(revision, file, line)`` and drops ids
a higher revision supersedes; then each grouping's figures are SQL aggregates:
``quantile_cont`` (linear interpolation, Hyndman-Fan type 7, numpy's default) for the
median, p90 and p95, ``fsum`` (compensated summation) over ``count`` for the mean.
DuckDB spills sorts and tables to a temporary directory beyond its memory limit
(``VASSCM_REPORT_MEMORY``, default 512MB). Python only shapes the few result rows.
"""

from __future__ import annotations

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
from vasscm.report.load import Malformed
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


def _moment(micros: int | None) -> datetime | None:
    return None if micros is None else _EPOCH + timedelta(microseconds=int(micros))


@dataclass
class Engine:
    """One input read into ``con``: its counts, and the figures over its kept records."""

    con: Any
    scanned: Scanned
    label: Path
    kept: str  # the view of the records that count

    @classmethod
    def load(cls, con: Any, inputs: Inputs, name: str) -> Engine:
        """Read ``inputs`` and apply the consumer rule; tables are prefixed ``name``."""
        scanned = scan_inputs(con, inputs, f"{name}_rows")
        rows, best, kept = scanned.table, f"{name}_best", f"{name}_kept"
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {best} AS
            WITH listed AS (
                SELECT old, max(revision) AS rev FROM (
                    SELECT unnest(supersedes) AS old, visit_id, revision
                    FROM {rows} WHERE reason IS NULL AND len(supersedes) > 0)
                WHERE old <> visit_id GROUP BY old),
            winners AS (  -- per visit: the highest revision, then the later record
                SELECT arg_max(rowid, {{'r': revision, 'f': file_no, 'o': ord}}) AS id
                FROM {rows} WHERE reason IS NULL GROUP BY visit_id),
            latest AS (
                SELECT * EXCLUDE (reason, supersedes, file_no, ord) FROM {rows}
                WHERE rowid IN (SELECT id FROM winners))
            SELECT latest.*, coalesce(latest.revision <= listed.rev, false) AS dropped
            FROM latest LEFT JOIN listed ON latest.visit_id = listed.old"""
        )
        con.execute(f"CREATE OR REPLACE TEMP VIEW {kept} AS SELECT * FROM {best} WHERE NOT dropped")
        return cls(con, scanned, inputs.label, kept)

    def source(self) -> Source:
        rows, best = self.scanned.table, self.kept.replace("_kept", "_best")
        lines, malformed, read = self.con.execute(
            f"SELECT count(*), count(*) FILTER (reason IS NOT NULL), "
            f"count(*) FILTER (reason IS NULL) FROM {rows}"
        ).fetchone()
        ids, visits = self.con.execute(
            f"SELECT count(*), count(*) FILTER (NOT dropped) FROM {best}"
        ).fetchone()
        return Source(
            path=self.label,
            visits=int(visits),
            lines=int(lines),
            records_read=int(read),
            older_revisions=int(read - ids),
            superseded=int(ids - visits),
            malformed=int(malformed),
        )

    def malformed(self, limit: int) -> Iterator[tuple[Path, Malformed]]:
        return malformed_lines(self.con, self.scanned, limit)

    def exits(self) -> tuple[datetime | None, datetime | None]:
        first, last = self.con.execute(
            f"SELECT epoch_us(min(exited)), epoch_us(max(exited)) FROM {self.kept}"
        ).fetchone()
        return _moment(first), _moment(last)

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
        # "All" and the groups in one query (a grouping set each); one query per segment,
        # so that only one segment's values are held for its quantiles at a time.
        lead = "".join(f"{c}, " for c in cols)
        grouping = f"grouping({', '.join(cols)}) <> 0" if cols else "true"
        group_by = f"GROUP BY GROUPING SETS ((), ({', '.join(cols)}))" if cols else ""

        def key_of(row: tuple[Any, ...]) -> GroupKey:
            return () if row[0] else tuple(zip(by, map(str, row[1 : 1 + len(cols)]), strict=True))

        heads: dict[GroupKey, tuple[int, int, int, int]] = {}
        for row in self.con.execute(
            f"SELECT {grouping}, {lead}count(*), count(*) FILTER (pre_cleared), "
            f"count(*) FILTER (scanned), count(*) FILTER (alerted) FROM {source} {group_by}"
        ).fetchall():
            visits, pre, scanned, alerted = row[1 + len(cols) :]
            if visits:  # "all" over no records is one row of zeros
                heads[key_of(row)] = (int(visits), int(pre), int(scanned), int(alerted))
        figures: dict[GroupKey, dict[str, SegmentStats]] = {}
        for segment in SEGMENTS:
            target, column = targets.get(segment), f"s_{segment}"
            within = (
                "NULL" if target is None else f"count(*) FILTER ({column} <= {float(target)!r})"
            )
            for row in self.con.execute(
                f"SELECT {grouping}, {lead}count({column}), fsum({column}), "
                f"quantile_cont({column}, [0.5, 0.9, 0.95]), max({column}), {within} "
                f"FROM {source} WHERE {column} IS NOT NULL {group_by}"
            ).fetchall():
                count, total, quantiles, top, inside = row[1 + len(cols) :]
                if not count:
                    continue
                figures.setdefault(key_of(row), {})[segment] = SegmentStats(
                    segment=segment,
                    count=int(count),
                    mean=float(total) / int(count),
                    median=float(quantiles[0]),
                    p90=float(quantiles[1]),
                    p95=float(quantiles[2]),
                    max=float(top),
                    target=target,
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
            str(direction): (int(visits), None if not n else float(total) / int(n))
            for direction, visits, n, total in self.con.execute(
                f"SELECT direction, count(*), count(s_release), fsum(s_release) "
                f"FROM {self.kept} GROUP BY direction"
            ).fetchall()
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
        bucket = " + ".join(f"(s_release >= {edge})::INT" for edge in HISTOGRAM_EDGES[1:])
        counts: dict[str, list[int]] = {}
        for direction, index, n in self.con.execute(
            f"SELECT direction, {bucket} AS bucket, count(*) FROM {self.kept} "
            "WHERE s_release IS NOT NULL GROUP BY ALL"
        ).fetchall():
            counts.setdefault(str(direction), [0] * len(HISTOGRAM_EDGES))[int(index)] = int(n)
        return Histogram(
            "release", HISTOGRAM_LABELS, {d: tuple(c) for d, c in sorted(counts.items())}
        )

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
