"""Replay throughput and memory against plain JSON parsing of the same file.

    python benchmarks/replay_bench.py [--events 1000000] [--keep]

Generates a log of container visits (a third of them still open at the end,
interleaved as a busy port would deliver them), then measures in separate
processes, so one's memory does not colour the other's:

  baseline  orjson.loads of every line               (events/s)
  replay    vasscm replay over the same file          (events/s, peak RSS)
  replay/2  the same for half the file                (peak RSS: does memory grow
                                                       with file length?)
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from stdnum.iso6346 import calc_check_digit

T0 = datetime(2018, 1, 1, tzinfo=UTC)


def container_no(i: int) -> str:
    stem = f"{'MSKU' if i % 2 else 'CSQU'}{i % 1_000_000:06d}"
    return stem + calc_check_digit(stem)


def visit(i: int, rng: random.Random) -> list[dict[str, object]]:
    """One visit's events (5-8 of them), spread over a day or two."""
    c = container_no(i)
    start = T0 + timedelta(minutes=i * 2)
    imp = i % 3 != 0
    decl = f"10{i:010d}"
    out: list[dict[str, object]] = []

    def ev(kind: str, hours: float, **fields: object) -> None:
        at = start + timedelta(hours=hours)
        out.append(
            {
                "event_id": f"{kind[:3]}-{i}-{len(out)}",
                "type": kind,
                "occurred_at": at.isoformat(),
                "site": "cai-lan" if i % 4 else "mong-cai",
                **fields,
            }
        )

    refs = [{"container_no": c, "seal_no": f"VN{i:07d}"}]
    ev(
        "EXPECTED",
        -2,
        declaration_no=decl,
        containers=refs,
        direction="import" if imp else "export",
    )
    if imp:
        ev("DISCHARGED", 0, container_no=c, direction="import", seal_no=f"VN{i:07d}")
    else:
        ev("GATE_IN", 0, container_no=c, direction="export", gate="G1", seal_no=f"VN{i:07d}")
    ev(
        "CHANNEL_ASSIGNED",
        0.5,
        declaration_no=decl,
        containers=refs,
        channel=rng.choice(["green", "green", "yellow", "red"]),
    )
    if rng.random() < 0.3:
        ev("SCAN_SELECTED", 1, declaration_no=decl, containers=refs)
        ev("SCANNED", 1 + rng.random() * 3, container_no=c, scanner="NII-1", result="CLEAR")
    release = rng.expovariate(1 / (24 if imp else 4))
    ev("ELIGIBLE", 1 + release, declaration_no=decl, containers=refs, basis="cleared")
    if i % 3 != 2:  # a third stay in the yard
        if imp:
            ev(
                "GATE_OUT",
                2 + release + rng.random() * 6,
                container_no=c,
                gate="G2",
                seal_no=f"VN{i:07d}",
            )
        else:
            ev("LOADED", 2 + release + rng.random() * 6, container_no=c, vessel="HAIAN")
    return out


def generate(path: Path, n_events: int, seed: int = 7) -> int:
    """Write about ``n_events`` events, delivered in occurred_at order (heap merge)."""
    rng = random.Random(seed)
    buffered: list[tuple[str, bytes]] = []
    written = 0
    i = 0
    with path.open("wb") as out:
        while written < n_events:
            for event in visit(i, rng):
                buffered.append((str(event["occurred_at"]), orjson.dumps(event)))
            i += 1
            if len(buffered) >= 50_000:
                # Everything older than the newest visit's start can be flushed in order.
                buffered.sort()
                horizon = (T0 + timedelta(minutes=(i - 200) * 2 - 180)).isoformat()
                keep = [item for item in buffered if item[0] >= horizon]
                for _, line in (item for item in buffered if item[0] < horizon):
                    out.write(line + b"\n")
                    written += 1
                buffered = keep
        buffered.sort()
        for _, line in buffered:
            out.write(line + b"\n")
            written += 1
    return written


BASELINE = """
import orjson, sys, time
t = time.perf_counter(); n = 0
with open(sys.argv[1], 'rb', buffering=1 << 20) as f:
    for line in f:
        orjson.loads(line); n += 1
print(n, time.perf_counter() - t)
"""

REPLAY = """
import resource, sys, time
from pathlib import Path
from vasscm.replay import replay_file
t = time.perf_counter()
s = replay_file(Path(sys.argv[1]), Path(sys.argv[2]))
print(s.lines, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
      s.visits_open, s.visits_completed)
"""


def run(code: str, *args: str) -> list[float]:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    )
    return [float(x) for x in out.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vasscm-bench-"))
    full, half = work / "full.jsonl", work / "half.jsonl"
    t = time.perf_counter()
    n = generate(full, args.events)
    generate(half, args.events // 2)
    size = full.stat().st_size / 1e6
    print(f"generated {n:,} events ({size:,.0f} MB) in {time.perf_counter() - t:.1f} s")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )

    lines, secs = run(BASELINE, str(full))
    base_rate = lines / secs
    print(f"baseline orjson.loads      {base_rate:>12,.0f} events/s")
    lines, secs, rss, open_, done = run(REPLAY, str(full), str(work / "out-full"))
    rate = lines / secs
    print(
        f"replay (full)              {rate:>12,.0f} events/s  ratio {rate / base_rate:.2f}  "
        f"peak RSS {rss / 1024:,.0f} MiB  ({int(open_):,} open, {int(done):,} completed)"
    )
    lines2, secs2, rss2, open2, done2 = run(REPLAY, str(half), str(work / "out-half"))
    print(
        f"replay (half)              {lines2 / secs2:>12,.0f} events/s              "
        f"peak RSS {rss2 / 1024:,.0f} MiB  ({int(open2):,} open, {int(done2):,} completed)"
    )
    per_open = (rss - rss2) * 1024 / max(open_ - open2, 1)
    print(f"RSS growth per extra open visit: {per_open:,.0f} bytes (file twice as long)")
    if not args.keep:
        for path in sorted(work.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        work.rmdir()


if __name__ == "__main__":
    main()
