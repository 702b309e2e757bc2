"""Coverage-guided fuzzing in CI: 100,000 inputs through the parser and the tracking core
(tests/fuzz/parse_and_track.py, atheris/libFuzzer), seeded with a simulated feed with
faults and the parser's bad-input corpus. Any exception is a failure with its input."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from raw_events import BAD

from vasscm.live.tools.produce import route
from vasscm.simulate import Faults, LogSpec, synthetic_log
from vasscm.topics import CUSTOMS_EVENTS, PORT_EVENTS, SCAN_EVENTS, VESSEL_EVENTS

pytestmark = [pytest.mark.slow, pytest.mark.fuzz]

HARNESS = Path(__file__).parent / "fuzz" / "parse_and_track.py"
TOPIC_BYTE = {PORT_EVENTS: 1, SCAN_EVENTS: 2, CUSTOMS_EVENTS: 3, VESSEL_EVENTS: 4}  # first byte


def seed_corpus(where: Path) -> int:
    where.mkdir()
    n = 0
    spec = replace(LogSpec(), faults=Faults.realistic())
    for line in synthetic_log(400, seed=3, spec=spec):
        topic, _, _ = route(line)
        (where / f"feed-{n}").write_bytes(bytes([TOPIC_BYTE.get(topic, 0)]) + line)
        n += 1
    for name, bad in BAD.items():
        raw = bad.raw() if callable(bad.raw) else bad.raw
        data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
        if len(data) <= 4096:
            (where / f"bad-{name}").write_bytes(b"\x00" + data)
            n += 1
    return n


def test_100000_fuzzed_inputs_never_raise(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    assert seed_corpus(corpus) > 400
    done = subprocess.run(
        [sys.executable, str(HARNESS), "-runs=100000", "-seed=1", "-max_len=4096", str(corpus)],
        cwd=tmp_path,  # where a crash input would be written
        capture_output=True,
        text=True,
        timeout=600,
    )
    tail = done.stderr[-3000:]
    assert 0 == done.returncode, tail
    assert "Done 100000 runs" in done.stderr, tail
    assert not list(tmp_path.glob("crash-*")), tail
