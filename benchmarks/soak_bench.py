"""Soak: a worker holding a million open visits.

    python benchmarks/soak_bench.py [--visits 1000000] [--store memory,rocksdb]

Builds realistic container states with the tracking core (2,000 distinct visits
spread over 48 h of arrivals, copied under distinct container numbers), then in a
fresh process per store measures what a worker holds and does with them:

  memory   the states in a dict (what faust's memory:// table keeps), then the
           rebuild of deadline indexes and boards (vasscm.partitions.Rebuild, the
           code a worker runs when partitions are assigned)
  rocksdb  the states written to RocksDB (rocksdict, as faust's rocksdb:// store), the
           database closed and reopened, then the same rebuild: restart-to-ready
           minus faust's own start-up (about 4 s on Tansu with vasscm's settings)

and, with the rebuilt indexes, the stall check a timer runs every second (pop what
fell due across the 8 partitions' heaps) over 2,000 simulated seconds.
Prints RSS per open visit against a bare process (baseline), rebuild time, and the
stall check's cost per second. Goals (issue 7): < 1 KiB per open visit, restart-to-
ready < 30 s, stall check < 5 ms per second.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import orjson

CHILD = r"""
import gc, sys, time
import orjson
from datetime import timedelta
from pathlib import Path

def rss_kib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

from vasscm.durations import to_ms
from vasscm.live.stream.pipeline import partition_for
from vasscm.partitions import Rebuild
from vasscm.simulate import container_number
from vasscm.tracking import DEFAULT_POLICY

store, visits, templates_path, workdir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
templates = [(t["no"], t["data"].encode()) for t in orjson.loads(Path(templates_path).read_bytes())]
gc.collect()
out = {"rss_start_kib": rss_kib()}

def states():
    k = len(templates)
    for i in range(visits):
        old, data = templates[i % k]
        no = container_number(100_000 + i)
        yield no, data.replace(old.encode(), no.encode())

def partition_of(no):
    return partition_for(no, 8)

started = time.perf_counter()
if store == "memory":
    table = dict(states())
    items = table.items
else:
    from rocksdict import Options, Rdict
    path = str(Path(workdir) / "db")
    db = Rdict(path, Options(raw_mode=True))
    for no, data in states():
        db[no.encode()] = data
    db.close()
    del db
    gc.collect()
    out["write_s"] = time.perf_counter() - started
    started = time.perf_counter()
    db = Rdict(path, Options(raw_mode=True))
    def items():
        for k, v in db.items():
            yield k.decode(), v
out["load_s"] = time.perf_counter() - started
gc.collect()
out["rss_loaded_kib"] = rss_kib()

started = time.perf_counter()
rebuild = Rebuild(range(8), partition_of, DEFAULT_POLICY)
for no, data in items():
    rebuild.add(no, data)
out["rebuild_s"] = time.perf_counter() - started
out["containers"] = rebuild.containers
out["open_on_boards"] = sum(len(b) for b in rebuild.boards.values())
gc.collect()
out["rss_rebuilt_kib"] = rss_kib()

# The stall timer: once a (simulated) second, pop what fell due on every partition.
dues = [d for i in rebuild.indexes.values() for d in (i.get(k) for k in list(i._due)[:50]) if d]
first = min(dues) if dues else 0
ticks, popped, worst = 2000, 0, 0.0
started = time.perf_counter()
for s in range(ticks):
    now = first + s * 1000 * 86  # 2,000 ticks over the spread of deadlines (~48 h)
    t0 = time.perf_counter()
    for index in rebuild.indexes.values():
        popped += len(list(index.pop_due(now)))
    worst = max(worst, time.perf_counter() - t0)
out["stall_tick_ms_mean"] = (time.perf_counter() - started) / ticks * 1000
out["stall_tick_ms_worst"] = worst * 1000
out["stall_popped"] = popped
print(orjson.dumps(out).decode())
"""


def templates(n: int, path: Path) -> int:
    """``n`` open visits built by the core, arrivals spread over 48 h."""
    from vasscm.simulate import container_number
    from vasscm.tracking import apply, current_view

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from factories import ROUTES, T0  # the tests' builders of contract-valid events

    out = []
    routes = list(ROUTES.values())
    for i in range(n):
        route = routes[i % len(routes)]
        no = container_number(i)
        start = T0 + timedelta(seconds=i * 48 * 3600 / n)
        events = [
            route.event("EXPECTED", start - timedelta(hours=20), container_no=no),
            route.arrive(start, container_no=no, seal_no="VN-SEAL-1"),
            route.event("CHANNEL_ASSIGNED", start + timedelta(minutes=30), container_no=no),
        ]
        if i % 3 == 0:
            events.append(route.event("SCAN_SELECTED", start + timedelta(hours=1), container_no=no))
        state = None
        for e in events:
            state, _ = apply(state, e, container_no=no, now=e.occurred_at)
        assert state is not None
        view = current_view(state)
        assert view is not None
        assert view.stage != "EXITED"
        out.append({"no": no, "data": state.to_json().decode()})
    path.write_bytes(orjson.dumps(out))
    return sum(len(t["data"]) for t in out) // n


def run_child(store: str, visits: int, tpl: Path, workdir: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, store, str(visits), str(tpl), str(workdir)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(orjson.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--store", default="memory,rocksdb")
    args = parser.parse_args()
    print(f"{platform.node()} {platform.machine()} Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="vasscm-soak-") as tmp:
        tpl = Path(tmp) / "templates.json"
        size = templates(2000, tpl)
        print(f"{args.visits:,} open visits; a state is {size} bytes of JSON on average")
        base = run_child("memory", 0, tpl, Path(tmp))
        print(f"baseline (no visit): RSS {base['rss_rebuilt_kib'] / 1024:.0f} MiB")
        for store in args.store.split(","):
            started = time.perf_counter()
            r = run_child(store, args.visits, tpl, Path(tmp))
            held = (r["rss_rebuilt_kib"] - base["rss_rebuilt_kib"]) * 1024 / args.visits
            views = (r["rss_rebuilt_kib"] - r["rss_loaded_kib"]) * 1024 / args.visits
            print(f"\n{store}: ({time.perf_counter() - started:.0f} s in all)")
            if "write_s" in r:
                print(f"  written in {r['write_s']:.1f} s, reopened in {r['load_s']:.2f} s")
            each = r["rebuild_s"] / r["containers"] * 1e6
            print(
                f"  RSS per open visit: {held:,.0f} B (indexes, boards: {views:,.0f}); goal < 1024"
            )
            print(f"  rebuild {r['rebuild_s']:.1f} s, {each:.1f} us per container; goal < 30 s")
            print(
                f"  stall check per second: mean {r['stall_tick_ms_mean']:.3f} ms, worst "
                f"{r['stall_tick_ms_worst']:.1f} ms ({r['stall_popped']:,} popped); goal < 5 ms"
            )


if __name__ == "__main__":
    main()
