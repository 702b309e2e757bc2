"""Time-interval analysis, as the WCO Time Release Study Guide (v4, 2025) asks of it:
each segment's median per period (the trend), arrivals in office hours against the
rest (peak against off-peak, by hour of day and by weekday), and each channel's times.

Every figure is a DuckDB aggregate over the engine's view of the records that count
(vasscm.report.engine); the hour and weekday are the arrival's, in the report's UTC
offset. Medians use the report's percentile definition (linear interpolation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "INTERVAL_SEGMENTS",
    "OFFICE_HOURS",
    "Intervals",
    "Slice",
    "intervals",
]

#: The segments the analysis follows: the release, whose it was, and after it.
INTERVAL_SEGMENTS: Final = ("lodgement", "customs", "release", "exit", "dwell")
#: Arrivals Monday to Friday from 08:00 to before 17:00 local time are in office hours:
#: the hours a customs branch's officers work, when a decision need not wait for them.
OFFICE_HOURS: Final = (8, 17)


@dataclass(frozen=True, slots=True)
class Slice:
    """The visits of one slice (a period and direction, an hour, a weekday, a channel):
    how many, and each segment's median (None where none had it) and count."""

    key: str
    visits: int
    medians: Mapping[str, float | None]
    counts: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Intervals:
    period: str
    trend: tuple[tuple[str, tuple[Slice, ...]], ...]  # per direction: one slice per period
    hours: tuple[Slice, ...]  # arrival hour 00..23 (local), hours without arrivals left out
    weekdays: tuple[Slice, ...]  # ISO weekday 1 (Monday) .. 7
    office: tuple[Slice, ...]  # "office" and "off" hours
    channels: tuple[Slice, ...]  # green, yellow, red, unknown as present

    def office_change(self, segment: str = "release") -> float | None:
        """Median outside office hours less in them, seconds (positive: slower outside)."""
        by = {s.key: s.medians.get(segment) for s in self.office}
        inside, outside = by.get("office"), by.get("off")
        return None if inside is None or outside is None else outside - inside


def _slices(con: Any, source: str, key_sql: str, where: str = "") -> list[Slice]:
    """One slice per value of ``key_sql``; one query per segment, so that only one
    segment's values are held for its median at a time (a country's year)."""
    visits = {
        str(k): int(n)
        for k, n in con.execute(
            f"SELECT {key_sql} AS k, count(*) FROM {source} {where} GROUP BY k"
        ).fetchall()
    }
    medians: dict[str, dict[str, float | None]] = {k: {} for k in visits}
    counts: dict[str, dict[str, int]] = {k: {} for k in visits}
    for s in INTERVAL_SEGMENTS:
        for k, median, count in con.execute(
            f"SELECT {key_sql} AS k, quantile_cont(s_{s}, 0.5), count(s_{s}) "
            f"FROM {source} {where} GROUP BY k"
        ).fetchall():
            medians[str(k)][s] = None if median is None else float(median)
            counts[str(k)][s] = int(count)
    return [Slice(k, visits[k], medians[k], counts[k]) for k in sorted(visits)]


def intervals(
    con: Any, kept: str, period_sql: str, *, period: str, offset_seconds: int
) -> Intervals:
    """The analysis over the view ``kept`` (the engine's columns, ``arrived`` among them:
    the arrival as naive UTC), periods labelled by ``period_sql``, hours and weekdays
    local at ``offset_seconds`` east of UTC."""
    local = f"(arrived + INTERVAL {int(offset_seconds)} SECOND)"
    start, end = OFFICE_HOURS
    office = (
        f"CASE WHEN isodow({local}) <= 5 AND hour({local}) >= {start} "
        f"AND hour({local}) < {end} THEN 'office' ELSE 'off' END"
    )
    arrived = "WHERE arrived IS NOT NULL"
    trend: dict[str, list[Slice]] = {}
    directions = [
        str(d)
        for (d,) in con.execute(
            f"SELECT DISTINCT direction FROM {kept} ORDER BY direction"
        ).fetchall()
    ]
    for direction in directions:
        quoted = direction.replace("'", "''")
        trend[direction] = _slices(con, kept, period_sql, f"WHERE direction = '{quoted}'")
    return Intervals(
        period=period,
        trend=tuple((d, tuple(s)) for d, s in trend.items()),
        hours=tuple(_slices(con, kept, f"lpad(hour({local})::VARCHAR, 2, '0')", arrived)),
        weekdays=tuple(_slices(con, kept, f"isodow({local})::VARCHAR", arrived)),
        office=tuple(sorted(_slices(con, kept, office, arrived), key=lambda s: s.key != "office")),
        channels=tuple(sorted(_slices(con, kept, "channel"), key=_channel_order)),
    )


def _channel_order(s: Slice) -> tuple[int, str]:
    known = ("green", "yellow", "red")
    return (known.index(s.key) if s.key in known else len(known), s.key)
