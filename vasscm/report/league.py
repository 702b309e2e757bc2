"""The league table of contract 8.3: the sites (each a customs branch's gate) ranked per
period by how long release took, and by whose time.

Per site and period: visits; median, p90 and mean of ``lodgement``, ``customs``,
``release``, ``exit`` and ``dwell``; the share of releases within target; the rank by
the median ``release`` (ties by its p90; equal on both, equal rank, and the next rank
skips: 1, 1, 3); the change of that median against the site's previous period, in
seconds and per cent.

Outliers as the WCO Time Release Study Guide advises for extreme data: a visit whose
``dwell`` lies beyond Q3 + 3 × IQR of its site and period (quartiles by the report's
percentile definition) is counted and listed, and left out of the means, not of the
medians and percentiles, which extremes barely move.

Everything that reads records is one DuckDB query over the engine's view of the
records that count (vasscm.report.engine); Python ranks the few rows it returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

__all__ = [
    "LEAGUE_SEGMENTS",
    "League",
    "LeagueRow",
    "Outlier",
    "SegmentFigures",
    "league",
    "previous_period",
]

#: The segments a league row shows, in the order a reader follows a container.
LEAGUE_SEGMENTS: Final = ("lodgement", "customs", "release", "exit", "dwell")
#: The outlier fence: Q3 + FENCE × IQR of dwell (the TRS guide's "extreme" values).
FENCE: Final = 3.0


@dataclass(frozen=True, slots=True)
class SegmentFigures:
    """One segment at one site in one period; None where no visit had it."""

    count: int
    median: float | None
    p90: float | None
    mean: float | None  # outliers left out


@dataclass(frozen=True, slots=True)
class LeagueRow:
    site: str
    period: str
    rank: int | None  # None: no release time at this site in this period
    visits: int
    outliers: int
    segments: Mapping[str, SegmentFigures]
    within_target: float | None  # share of release times within the target
    previous_rank: int | None = None
    previous_median: float | None = None  # release median in the site's previous period

    @property
    def change(self) -> float | None:
        """Release median now less in the previous period, seconds (negative: faster)."""
        now = self.segments["release"].median
        if now is None or self.previous_median is None:
            return None
        return now - self.previous_median

    @property
    def change_percent(self) -> float | None:
        change = self.change
        if change is None or not self.previous_median:
            return None
        return 100 * change / self.previous_median


@dataclass(frozen=True, slots=True)
class Outlier:
    visit_id: str
    site: str
    period: str
    dwell: float
    fence: float  # Q3 + 3 × IQR of its site and period

    @property
    def container_no(self) -> str:
        return self.visit_id.rsplit("-", 1)[0]


@dataclass(frozen=True, slots=True)
class League:
    period: str
    target: float | None  # the release target the shares are measured against
    rows: tuple[LeagueRow, ...]  # by period, then rank (unranked last), then site
    outliers: tuple[Outlier, ...]  # the most extreme first, at most the limit asked
    outliers_total: int

    @property
    def periods(self) -> list[str]:
        return sorted({r.period for r in self.rows})

    def of(self, period: str) -> list[LeagueRow]:
        return [r for r in self.rows if r.period == period]

    def previous(self, period: str) -> str:
        return previous_period(period, self.period)


def previous_period(label: str, period: str) -> str:
    """The period before ``label``: 2018-03 -> 2018-02, 2018-Q1 -> 2017-Q4, 2018 -> 2017,
    2018-03-01 -> 2018-02-28, 2018-W01 -> 2017-W52."""
    if period == "year":
        return str(int(label) - 1)
    if period == "quarter":
        y, q = label.split("-Q")
        return f"{int(y) - 1}-Q4" if q == "1" else f"{y}-Q{int(q) - 1}"
    if period == "month":
        year, month = map(int, label.split("-"))
        return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"
    if period == "day":
        return (date.fromisoformat(label) - timedelta(days=1)).isoformat()
    if period == "week":
        y, w = label.split("-W")
        monday = date.fromisocalendar(int(y), int(w), 1) - timedelta(days=7)
        iso = monday.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    raise ValueError(f"unknown period {period!r}")


def _marked(kept: str, period_sql: str) -> str:
    """CTEs ending in ``marked``: each visit with its period, its site and period's
    outlier fence, and whether its dwell lies beyond it."""
    return f"""
    WITH v AS (
        SELECT visit_id, site, {period_sql} AS period,
               {", ".join(f"s_{s}" for s in LEAGUE_SEGMENTS)}
        FROM {kept}),
    fences AS (
        SELECT site, period, q[2] + {FENCE} * (q[2] - q[1]) AS fence
        FROM (SELECT site, period, quantile_cont(s_dwell, [0.25, 0.75]) AS q
              FROM v WHERE s_dwell IS NOT NULL GROUP BY site, period)),
    marked AS (
        SELECT v.*, f.fence, coalesce(v.s_dwell > f.fence, false) AS outlier
        FROM v LEFT JOIN fences f ON v.site = f.site AND v.period = f.period)"""


def league(
    con: Any,
    kept: str,
    period_sql: str,
    *,
    period: str,
    targets: Mapping[str, float],
    limit: int = 50,
) -> League:
    """The league over the view ``kept`` (one row per visit that counts, the engine's
    columns: ``visit_id``, ``site``, ``s_<segment>``...), periods labelled by the SQL
    expression ``period_sql``; at most ``limit`` outliers listed."""
    target = targets.get("release")
    marked = _marked(kept, period_sql)
    table = f"{kept}_league"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {marked} SELECT * FROM marked")
    within = "NULL" if target is None else f"count(*) FILTER (s_release <= {float(target)!r})"
    heads = {
        (str(site), str(label)): (int(visits), int(outliers), inside, int(released))
        for site, label, visits, outliers, inside, released in con.execute(
            f"SELECT site, period, count(*), count(*) FILTER (outlier), {within}, "
            f"count(s_release) FROM {table} GROUP BY site, period"
        ).fetchall()
    }
    # One query per segment: only one segment's values are held for its quantiles.
    figures: dict[tuple[str, str], dict[str, SegmentFigures]] = {key: {} for key in heads}
    for s in LEAGUE_SEGMENTS:
        for site, label, count, quantiles, total, kept_n in con.execute(
            f"SELECT site, period, count(s_{s}), quantile_cont(s_{s}, [0.5, 0.9]), "
            f"fsum(s_{s}) FILTER (NOT outlier), count(s_{s}) FILTER (NOT outlier) "
            f"FROM {table} GROUP BY site, period"
        ).fetchall():
            figures[str(site), str(label)][s] = SegmentFigures(
                count=int(count),
                median=None if not count else float(quantiles[0]),
                p90=None if not count else float(quantiles[1]),
                mean=None if not kept_n else float(total) / int(kept_n),
            )
    rows = [
        LeagueRow(
            site,
            label,
            None,
            visits,
            outliers,
            figures[site, label],
            None if inside is None or not released else int(inside) / released,
        )
        for (site, label), (visits, outliers, inside, released) in sorted(heads.items())
    ]
    listed = con.execute(
        f"SELECT visit_id, site, period, s_dwell, fence, count(*) OVER () FROM {table} "
        f"WHERE outlier ORDER BY s_dwell - fence DESC, visit_id LIMIT {int(limit)}"
    ).fetchall()
    return League(
        period=period,
        target=target,
        rows=tuple(_ranked(rows, period)),
        outliers=tuple(
            Outlier(str(vid), str(site), str(label), float(dwell), float(fence))
            for vid, site, label, dwell, fence, _ in listed
        ),
        outliers_total=int(listed[0][5]) if listed else 0,
    )


def _ranked(rows: list[LeagueRow], period: str) -> list[LeagueRow]:
    """Ranks within each period (1, 1, 3 for a tie), and each site's previous period."""
    ranks: dict[tuple[str, str], int] = {}
    by_period: dict[str, list[LeagueRow]] = {}
    for r in rows:
        by_period.setdefault(r.period, []).append(r)
    for label, members in by_period.items():
        ranked = sorted(
            (r for r in members if r.segments["release"].median is not None),
            key=lambda r: (r.segments["release"].median, r.segments["release"].p90),
        )
        previous: tuple[float | None, float | None] | None = None
        rank = 0
        for i, r in enumerate(ranked, start=1):
            key = (r.segments["release"].median, r.segments["release"].p90)
            if key != previous:
                rank, previous = i, key
            ranks[r.site, label] = rank
    index = {(r.site, r.period): r for r in rows}
    out = []
    for r in rows:
        before = index.get((r.site, previous_period(r.period, period)))
        out.append(
            LeagueRow(
                site=r.site,
                period=r.period,
                rank=ranks.get((r.site, r.period)),
                visits=r.visits,
                outliers=r.outliers,
                segments=r.segments,
                within_target=r.within_target,
                previous_rank=None if before is None else ranks.get((before.site, before.period)),
                previous_median=None if before is None else before.segments["release"].median,
            )
        )
    unranked = 1 << 30
    out.sort(key=lambda r: (r.period, unranked if r.rank is None else r.rank, r.site))
    return out
