"""Replay's outputs, byte for byte, on fixed logs: a faster core changes no result.

The goldens were written by ``tests/golden/make.py`` with the core as it stood before
the fast path (derive every visit again at every event). Regenerate them only for an
intended change of results.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from vasscm.events import Alert, ClearanceRecord, VisitState, dump_json
from vasscm.replay import replay_file

GOLDEN = Path(__file__).parent / "golden"
OUTPUTS = ("clearances.jsonl", "alerts.jsonl", "rejected.jsonl", "state.jsonl")


@pytest.mark.parametrize("case", ["plain", "faults", "shuffled"])
def test_replay_outputs_equal_the_golden_files(case: str, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(gzip.decompress((GOLDEN / f"{case}.events.jsonl.gz").read_bytes()))
    replay_file(events, tmp_path / "out")
    for name in OUTPUTS:
        want = gzip.decompress((GOLDEN / f"{case}.{name}.gz").read_bytes()).splitlines()
        got = (tmp_path / "out" / name).read_bytes().splitlines()
        for number, (w, g) in enumerate(zip(want, got, strict=False), start=1):
            assert g == w, f"{case}/{name} line {number} differs:\n got  {g!r}\n want {w!r}"
        assert len(got) == len(want), f"{case}/{name}: {len(got)} lines, golden {len(want)}"


@pytest.mark.parametrize("case", ["faults", "shuffled"])
def test_every_output_row_is_its_contract_model_dumped(case: str, tmp_path: Path) -> None:
    """The core writes its outputs as plain rows; each line is exactly what the
    contract's model, validated from it, writes again."""
    events = tmp_path / "events.jsonl"
    events.write_bytes(gzip.decompress((GOLDEN / f"{case}.events.jsonl.gz").read_bytes()))
    replay_file(events, tmp_path / "out")
    models = {"clearances.jsonl": ClearanceRecord, "alerts.jsonl": Alert, "state.jsonl": VisitState}
    for name, model in models.items():
        lines = (tmp_path / "out" / name).read_bytes().splitlines()
        assert lines, f"{case}/{name} is empty: nothing was checked"
        for line in lines:
            assert dump_json(model.model_validate_json(line)) == line
