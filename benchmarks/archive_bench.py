"""Cost of an archive flush into a month file of a national system (issue 25).

    python benchmarks/archive_bench.py [--month 1000000] [--batches 10000,50000,100000]

Builds a month file of ``--month`` synthetic clearance records
(vasscm.report.synthetic, the report's Parquet layout) in a temporary directory, then
times :meth:`vasscm.archive.Archive.flush` of batches of new records into it: the
rewrite (old file minus the batch's keys, plus the batch, to a fsynced temporary file
renamed over the old one), and a batch re-read (records the file already holds: read,
compared, nothing written). Also times what the consumer spends per record before a
flush (validation as a clearance record, and buffering). Prints seconds per flush and
records per second of flushing at each batch size: the figures the flush thresholds
(VASSCM_ARCHIVE_FLUSH_RECORDS, VASSCM_ARCHIVE_FLUSH_INTERVAL) are chosen from.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from vasscm.archive import Archive, parse_clearance
from vasscm.events import ClearanceRecord
from vasscm.report.parquet import jsonl_to_parquet
from vasscm.report.synthetic import write_synthetic

MONTH = "2018-03"


def _records(lines: list[bytes]) -> list[ClearanceRecord]:
    records = []
    for line in lines:
        parsed = parse_clearance(line)
        assert isinstance(parsed, ClearanceRecord), parsed
        records.append(parsed)
    return records


def _flush(archive: Archive, records: list[ClearanceRecord]) -> float:
    """One flush of ``records`` into the month file, in seconds (all into MONTH, as a
    month's file takes a month's records: the exits of the synthetic year are kept)."""
    for record in records:
        archive._batches.setdefault(MONTH, []).append(_dumped(record))
    started = time.perf_counter()
    archive.flush()
    return time.perf_counter() - started


def _dumped(record: ClearanceRecord) -> bytes:
    from vasscm.events import dump_json

    return dump_json(record)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--month", type=int, default=1_000_000)
    parser.add_argument("--batches", default="10000,50000,100000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.batches.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(f"python {platform.python_version()}, {platform.machine()}")
        started = time.perf_counter()
        base = write_synthetic(work / "base.jsonl", args.month, seed=7)
        base_parquet = work / "base.parquet"
        jsonl_to_parquet(base, base_parquet)
        base.unlink()
        extra = write_synthetic(work / "extra.jsonl", max(sizes) * args.runs, seed=8)
        lines = extra.read_bytes().splitlines()
        print(
            f"month file: {args.month:,} records, "
            f"{base_parquet.stat().st_size / 1e6:.1f} MB ({time.perf_counter() - started:.1f} s "
            "to build)"
        )

        started = time.perf_counter()
        records = _records(lines[: max(sizes)])
        per_record = (time.perf_counter() - started) / len(records)
        print(
            f"validate a record off the topic: {per_record * 1e6:.1f} us "
            f"({1 / per_record:,.0f} records/s)"
        )

        out = work / "archive"
        out.mkdir()
        with Archive(out) as archive:
            target = archive.month_path(MONTH)
            for size in sizes:
                times = []
                for run in range(args.runs):
                    shutil.copyfile(base_parquet, target)
                    batch = _records(lines[run * size : (run + 1) * size])
                    times.append(_flush(archive, batch))
                median = statistics.median(times)
                print(
                    f"flush {size:>7,} new into {args.month:,}: {median:6.2f} s "
                    f"(min {min(times):.2f}), {size / median:>9,.0f} records/s"
                )
            # a batch the file holds already (a re-read): compared, nothing written
            shutil.copyfile(base_parquet, target)
            batch = _records(lines[: max(sizes)])
            _flush(archive, batch)
            times = [_flush(archive, batch) for _ in range(args.runs)]
            print(
                f"flush {max(sizes):>7,} re-read into {args.month + max(sizes):,}: "
                f"{statistics.median(times):6.2f} s (nothing written)"
            )
            print(f"month file after: {target.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
