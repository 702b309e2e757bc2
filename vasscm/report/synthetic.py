"""Synthetic clearance records written by DuckDB, for the report's benchmark and tests.

Fast (no Python per record: 1M records in seconds) and deterministic for a seed. The
records follow the contract (section 5, 7.2, 8.1) and hold what makes the consumer
rule matter: about 7% of visits re-emitted with revision 2, 1% re-emitted with the
same revision (as a redelivery does: the same record again; with ``conflicts``, with
other figures, so that the later record must win), and 2% published under a "ghost" id first,
then superseded by the real visit at a higher revision. Five sites, both directions,
four channels; a release missing now and then (exit without release), scan waits only
for scanned visits, obligations on about a third of the visits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import duckdb

__all__ = ["SYNTHETIC_SITES", "write_synthetic"]

SYNTHETIC_SITES: Final = ("cai-lan", "cat-lai", "hai-phong", "lao-cai", "mong-cai")

# u(k): a uniform in [0, 1) for row i, independent per k and seed.
_U = "((hash(i, {seed}, {k}) % 1000003) / 1000003.0)"


def _u(k: int, seed: int) -> str:
    return _U.format(seed=seed, k=k)


def _rows_sql(n: int, seed: int, lodgement: bool, conflicts: bool) -> str:
    # A same-revision copy draws its figures from its own row (conflicts) or from the
    # row it copies (a redelivery: the same record).
    u = [
        _u(k, seed) if conflicts else _u(k, seed).replace("hash(i,", "hash(src,") for k in range(12)
    ]
    # Row i refers to visit `v`: a new visit, or a re-emission of an earlier row's.
    return f"""
WITH rows AS (
  SELECT i,
    CASE WHEN i % 100 BETWEEN 90 AND 96 AND i >= 37 THEN i - 37      -- revision 2
         WHEN i % 100 = 97 AND i >= 41 THEN i - 41                  -- same revision again
         ELSE i END AS v,
    CASE WHEN i % 100 BETWEEN 90 AND 96 AND i >= 37 THEN 2
         WHEN i % 100 BETWEEN 98 AND 99 AND i >= 23 THEN 2          -- supersedes a ghost
         ELSE 1 END AS revision,
    CASE WHEN i % 100 BETWEEN 98 AND 99 AND i >= 23
         THEN ['GHOST-' || (i - 23)::VARCHAR] ELSE [] END AS supersedes,
    i % 100 BETWEEN 75 AND 76 AS ghost,
    {u[0]} AS u0, {u[1]} AS u1, {u[2]} AS u2, {u[3]} AS u3, {u[4]} AS u4,
    {u[5]} AS u5, {u[6]} AS u6, {u[7]} AS u7
  FROM (SELECT i, CASE WHEN i % 100 = 97 AND i >= 41 THEN i - 41 ELSE i END AS src
        FROM range({n}) t(i))
), visits AS (
  SELECT *,
    -- per visit (same for every revision of it): who, where, when
    (hash(v, {seed}, 100) % 5)::INT AS site_no,
    (hash(v, {seed}, 101) % 2)::INT AS dir_no,
    (hash(v, {seed}, 102) % 1000)::INT AS ch_no,
    TIMESTAMPTZ '2018-01-01 00:00:00+00'
      + to_milliseconds((hash(v, {seed}, 103) % 31536000000)::BIGINT) AS arrived,
    (hash(v, {seed}, 104) % 100)::INT AS scan_no
  FROM rows
), shaped AS (
  SELECT *,
    ['cai-lan', 'cat-lai', 'hai-phong', 'lao-cai', 'mong-cai'][site_no + 1] AS site,
    CASE dir_no WHEN 0 THEN 'import' ELSE 'export' END AS direction,
    CASE WHEN ch_no < 600 THEN 'green' WHEN ch_no < 850 THEN 'yellow'
         WHEN ch_no < 990 THEN 'red' ELSE 'unknown' END AS channel,
    scan_no < 12 OR ch_no BETWEEN 850 AND 989 AS scanned,
    -- revision 2 and equal-revision rows get other durations than the first record
    round(3600 * (0.5 + site_no) * -ln(1 - u0) * (1 + dir_no), 3) AS release,
    round(1800 * -ln(1 - u1), 3) AS exit_s,
    round(600 * -ln(1 - u2), 3) AS scan_wait,
    u3 < 0.02 AS no_release,
    u5 AS l_share
  FROM visits
), records AS (
  SELECT i, v, revision, supersedes, site, direction, channel, scanned,
    CASE WHEN ghost THEN 'GHOST-' || i::VARCHAR
         ELSE 'VST' || v::VARCHAR || '-' || strftime(arrived, '%Y%m%dT%H%M%SZ') END
      AS visit_id,
    arrived,
    arrived + to_milliseconds(((release + exit_s) * 1000)::BIGINT) AS exited,
    CASE WHEN no_release THEN map_from_entries([('exit', exit_s)])
         ELSE map_from_entries([('release', release), ('exit', exit_s),
                                ('dwell', round(release + exit_s, 3))])
    END AS base_segments,
    CASE WHEN scanned THEN scan_wait END AS scan_wait, release, l_share, no_release,
    u4, u6, u7
  FROM shaped
)
SELECT
  'MSKU' || lpad((v % 10000000)::VARCHAR, 7, '0') AS container_no,
  site, direction, visit_id,
  ['30' || lpad(v::VARCHAR, 10, '0')] AS declaration_nos,
  channel,
  strftime(arrived, '%Y-%m-%dT%H:%M:%S.%gZ') AS arrived_at,
  CASE WHEN no_release THEN NULL
       ELSE strftime(arrived + to_milliseconds((release * 1000)::BIGINT),
                     '%Y-%m-%dT%H:%M:%S.%gZ') END AS eligible_at,
  strftime(exited, '%Y-%m-%dT%H:%M:%S.%gZ') AS exited_at,
  CASE WHEN no_release THEN base_segments
       ELSE map_concat(base_segments,
              CASE WHEN scan_wait IS NULL THEN MAP {{}}::MAP(VARCHAR, DOUBLE)
                   ELSE map_from_entries([('scan_wait', scan_wait)]) END
              {
        ", map_from_entries([('lodgement', round(release * l_share, 3)), "
        "('customs', round(release - round(release * l_share, 3), 3))])"
        if lodgement
        else ""
    })
  END AS segments,
  u4 < 0.2 AS pre_cleared,
  scanned,
  CASE WHEN scanned THEN 'CLEAR' END AS scan_result,
  CASE WHEN no_release THEN ['EXIT_WITHOUT_RELEASE'] ELSE [] END AS alerts,
  CASE WHEN u6 < 0.33 THEN [
      {{'form': CASE WHEN direction = 'import' THEN 'GATE_OUT' ELSE 'LOADED' END,
        'party': 'port',
        'reference_at': strftime(exited, '%Y-%m-%dT%H:%M:%S.%gZ'),
        'received_at': strftime(exited + to_minutes((u7 * 90)::BIGINT),
                                '%Y-%m-%dT%H:%M:%S.%gZ'),
        'due_at': strftime(exited + INTERVAL 1 HOUR, '%Y-%m-%dT%H:%M:%S.%gZ'),
        'on_time': u7 * 90 < 60}}]
       || CASE WHEN u6 < 0.1 THEN [
      {{'form': 'EXPECTED', 'party': 'customs',
        'reference_at': strftime(arrived, '%Y-%m-%dT%H:%M:%S.%gZ'),
        'received_at': strftime(arrived - to_hours((u7 * 30)::BIGINT),
                                '%Y-%m-%dT%H:%M:%S.%gZ'),
        'due_at': strftime(arrived - INTERVAL 24 HOUR, '%Y-%m-%dT%H:%M:%S.%gZ'),
        'on_time': u7 * 30 >= 24}}] ELSE [] END
     ELSE [] END AS obligations,
  revision, supersedes
FROM records
ORDER BY i
"""


def write_synthetic(
    path: Path,
    n: int,
    *,
    seed: int = 7,
    fmt: str = "jsonl",
    lodgement: bool = True,
    conflicts: bool = False,
) -> Path:
    """Write ``n`` records to ``path`` as ``jsonl`` or ``parquet`` (the layout of
    :mod:`vasscm.report.parquet`). ``lodgement``: contract 8.1's two segments, as
    records carry them now; ``conflicts``: same-revision copies with other figures."""
    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        con.execute("SET enable_progress_bar = false")  # a bar per COPY clutters the bench
        query = _rows_sql(n, seed, lodgement, conflicts)
        jsonl = path if fmt == "jsonl" else path.with_name(path.name + ".tmp.jsonl")
        if fmt not in ("jsonl", "parquet"):
            raise ValueError(f"unknown format {fmt!r}; expected jsonl or parquet")
        con.execute(f"COPY ({query}) TO '{_quoted(jsonl)}' (FORMAT json)")
    finally:
        con.close()
    if fmt == "parquet":
        # Through the converter replay uses, so the columns are the ones replay writes.
        from vasscm.report.parquet import jsonl_to_parquet

        try:
            jsonl_to_parquet(jsonl, path)
        finally:
            jsonl.unlink()
    return path


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
