"""`vasscm report` time and peak memory against a hand-written DuckDB query.

    python benchmarks/report_bench.py [--sizes 1e6,1e7] [--old-at 1e6] [--keep DIR]

For each size, generates clearance records (vasscm.report.synthetic: DuckDB SQL, with
revisions, equal revisions, supersedes and obligations) as JSONL and as Parquet, then
measures in separate processes (peak RSS from getrusage(RUSAGE_CHILDREN), so one's
memory does not colour another's):

  report   vasscm report FILE --format json              (seconds, peak RSS)
  query    a hand-written DuckDB query: median, p90 and mean of release, exit and
           dwell per site and direction, latest revision per visit by a window
  floor    what the report cannot skip: its imports, and DuckDB reading and checking
           the fields the report takes from each record (the report's own SELECT,
           counted, nothing held, no figure): the least the report can take
  old      the Python reference (load_clearances + build_report), at --old-at only;
           its report is asserted equal to the engine's (floats within 1e-9 relative;
           run it last, or alone: it loads DuckDB into this process)

and prints the ratio report/query. Files are removed afterwards unless --keep.

Where the report's time goes (2026-12-06, in-process, quiet). At 1M JSONL (1.9 s):
start-up with its imports 0.2 s (this machine writes no .pyc files: each run compiles
vasscm's modules), reading the 13 fields it uses 0.5 s and checking them 0.5 s, the
consumer rule 0.25 s (the ids met twice by hash, the supersedes list, the ranking of
those ids), the figures 0.4 s (two queries: all six segments, for all and per group),
exits, histogram and duties 0.15 s. At 10M Parquet (10 s): the consumer rule 2.5 s (the
hash grouping of 10M ids 1.2 s), the figures 4.6 s (three segments a query within
512MB, each query paying ~0.3 s for the anti-join of the rows that do not count),
exits and histogram 0.7 s, duties (an unnest) 1.0 s, start-up 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Both timed from before their imports (duckdb's; vasscm's, which bring duckdb's): what
# each costs a user after the interpreter has started, start-up of the library included.
QUERY = """
import sys, time
t = time.perf_counter()
import duckdb
path, fmt = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")  # no memory limit: DuckDB's default
src = (f"read_parquet('{path}')" if fmt == "parquet" else
       f"read_json('{path}', format='newline_delimited', columns={{'visit_id': 'VARCHAR', "
       "'revision': 'BIGINT', 'site': 'VARCHAR', 'direction': 'VARCHAR', "
       "'segments': 'STRUCT(release DOUBLE, exit DOUBLE, dwell DOUBLE)'})")
rows = con.execute(f'''
  SELECT site, direction, count(*),
    median(r), quantile_cont(r, 0.9), avg(r), median(e), quantile_cont(e, 0.9), avg(e),
    median(d), quantile_cont(d, 0.9), avg(d)
  FROM (SELECT site, direction, segments.release r, segments.exit e, segments.dwell d
        FROM {src}
        QUALIFY row_number() OVER (PARTITION BY visit_id ORDER BY revision DESC) = 1)
  GROUP BY ALL ORDER BY ALL''').fetchall()
print(len(rows), time.perf_counter() - t)
"""

REPORT = """
import sys, time
t = time.perf_counter()
from vasscm.cli.main import main
try:
    main(["report", sys.argv[1], "--format", "json", "--out", sys.argv[2]])
except SystemExit as exc:
    assert not exc.code, exc.code
print(0, time.perf_counter() - t)
"""

FLOOR = """
import sys, time
t = time.perf_counter()
from pathlib import Path
from vasscm.report import scan
from vasscm.report.engine import connect
path = Path(sys.argv[1])
with connect() as con:
    for macro in scan._MACROS:
        con.execute(macro)
    select = (scan._parquet_select(con, 0, path, beside_jsonl=False) if sys.argv[2] == "parquet"
              else scan._jsonl_select(0, path, ordered=False))
    counts = ", ".join(f"count({name})" for name in ("reason", *scan.ROW_COLUMNS))
    con.execute(f"SELECT {counts} FROM ({select})").fetchall()
print(0, time.perf_counter() - t)
"""

GENERATE = """
import sys, time
from pathlib import Path
from vasscm.report.synthetic import write_synthetic
t = time.perf_counter()
write_synthetic(Path(sys.argv[1]), int(sys.argv[2]), fmt=sys.argv[3])
print(0, time.perf_counter() - t)
"""

EQUAL = """
import sys, time, pickle
from pathlib import Path
from vasscm.report.load import load_clearances
from vasscm.report.stats import build_report
t = time.perf_counter()
report = build_report(load_clearances(Path(sys.argv[1])))
print(0, time.perf_counter() - t)
Path(sys.argv[2]).write_bytes(pickle.dumps(report))
"""


def child(code: str, *args: str) -> tuple[float, float]:
    """Run ``code`` in a fresh process: (its own seconds, peak RSS in MiB)."""
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read() if proc.stdout else ""
    if status != 0:
        raise SystemExit(f"benchmark child failed ({status}): {out}")
    seconds = float(out.split()[-1])
    return seconds, usage.ru_maxrss / 1024


def check_equal(path: Path, tmp: Path) -> tuple[float, float]:
    """The reference's report against the engine's, figure by figure."""
    import pickle

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from test_report_engine import assert_same_report

    from vasscm.report.engine import Engine, connect, engine_report
    from vasscm.report.inputs import resolve_inputs

    seconds, rss = child(EQUAL, str(path), str(tmp / "old.pickle"))
    old = pickle.loads((tmp / "old.pickle").read_bytes())
    with connect() as con:  # last: this process's DuckDB would colour later children
        new = engine_report(Engine.load(con, resolve_inputs(path), "b"))
    assert_same_report(new, old)
    print(f"  equality: the engine's report equals the reference's at {path.name}", flush=True)
    return seconds, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7")
    parser.add_argument("--old-at", default="1e6", help="size at which to run the old engine")
    parser.add_argument("--formats", default="jsonl,parquet")
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()

    sizes = [int(float(s)) for s in args.sizes.split(",")]
    old_at = int(float(args.old_at)) if args.old_at else None
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}")
    root = Path(tempfile.mkdtemp(prefix="report-bench-", dir=args.keep))
    try:
        for n in sizes:
            for fmt in args.formats.split(","):
                path = root / f"c{n}.{fmt}"
                # in a child: a forked child's peak RSS starts at its parent's
                gen_s, _ = child(GENERATE, str(path), str(n), fmt)
                size = path.stat().st_size / 2**20
                print(
                    f"{n:>11,} records {fmt:<7} {size:8,.0f} MiB (generated in {gen_s:.1f} s)",
                    flush=True,
                )
                rep_s, rep_rss = child(REPORT, str(path), str(root / "r.json"))
                q_s, q_rss = child(QUERY, str(path), fmt)
                floor_s, _ = child(FLOOR, str(path), fmt)
                print(
                    f"  report {rep_s:7.2f} s {rep_rss:7.0f} MiB | query {q_s:7.2f} s "
                    f"{q_rss:7.0f} MiB | ratio {rep_s / q_s:4.2f}x | floor {floor_s:6.2f} s "
                    f"({floor_s / q_s:4.2f}x the query; the report {rep_s / floor_s:4.2f}x it)",
                    flush=True,
                )
                if fmt == "jsonl" and n == old_at:
                    old_s, old_rss = check_equal(path, root)
                    print(
                        f"  old    {old_s:7.2f} s {old_rss:7.0f} MiB | "
                        f"new/old {rep_s / old_s:4.2f}x time",
                        flush=True,
                    )
                path.unlink()
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
