"""Write the golden replay outputs the tracking core must keep producing.

    python tests/golden/make.py

Run it only when a change of results is intended (and say why in the commit): the
inputs are fixed files, so a faster core that changes a byte fails
``tests/test_golden.py``. Three logs of the simulator: in order, with its faults
(duplicates, disorder, late reports, malformed records, unreleased exits), and the
faults log fully shuffled, which drives every out-of-order path (re-derivation,
visit ids that change, revisions, superseded ids).
"""

from __future__ import annotations

import gzip
import random
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
OUTPUTS = ("clearances.jsonl", "alerts.jsonl", "rejected.jsonl", "state.jsonl")
CASES = ("plain", "faults", "shuffled")


def simulate(*args: str) -> bytes:
    return subprocess.run(
        [sys.executable, "-m", "vasscm", "simulate", "--events", "6000", *args],
        check=True,
        capture_output=True,
    ).stdout


def inputs() -> dict[str, bytes]:
    plain = simulate("--seed", "11")
    faults = simulate("--seed", "12", "--faults")
    lines = faults.splitlines(keepends=True)
    random.Random(3).shuffle(lines)
    return {"plain": plain, "faults": faults, "shuffled": b"".join(lines)}


def replay(events: Path, out: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "vasscm", "replay", str(events), "--out", str(out)],
        check=True,
        capture_output=True,
    )


def main() -> None:
    for case, data in inputs().items():
        (HERE / f"{case}.events.jsonl.gz").write_bytes(gzip.compress(data, mtime=0))
        with tempfile.TemporaryDirectory() as tmp:
            events = Path(tmp) / "events.jsonl"
            events.write_bytes(data)
            replay(events, Path(tmp) / "out")
            for name in OUTPUTS:
                body = (Path(tmp) / "out" / name).read_bytes()
                (HERE / f"{case}.{name}.gz").write_bytes(gzip.compress(body, mtime=0))
        print(case, len(data.splitlines()), "events")


if __name__ == "__main__":
    main()
