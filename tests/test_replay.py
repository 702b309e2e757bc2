"""`vasscm replay` end to end: a mixed log in, the four output files checked."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from commands import vasscm
from factories import container_no

from vasscm.events import ClearanceRecord, VisitState
from vasscm.replay import Replayer

T0 = datetime(2018, 3, 1, 8, 0, tzinfo=UTC)
COUNT = re.compile(r"(\w+)\s+([\d,]+)")


IMPORT_OK = container_no("CSQU305438")  # discharged, released after 24h00m29s, out
EXPORT_OK = container_no("MSKU000001")  # gate-in, released after 4h12m11s, loaded
NO_RELEASE = container_no("TGHU000002")  # leaves without any ELIGIBLE: critical alert
STUCK = container_no("HLXU000003")  # discharged, never released: STALLED at --as-of
LATE = container_no("OOLU000004")  # its ELIGIBLE arrives after its GATE_OUT
BORDER = container_no("CAIU000005")  # land border import by road at mong-cai


def at(hours: float = 0, seconds: float = 0) -> str:
    return (T0 + timedelta(hours=hours, seconds=seconds)).isoformat()


def port(kind: str, container: str, when: str, n: int, **fields: object) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"p-{n}",
            "type": kind,
            "occurred_at": when,
            "site": "cai-lan",
            "container_no": container,
            **fields,
        }
    )


def customs(
    kind: str, containers: list[str], when: str, n: int, decl: str | None = None, **fields: object
) -> bytes:
    """A customs event; its declaration ``D<n>`` unless named (one declaration's decisions
    share its number: a container is released when all of its declarations are)."""
    return orjson.dumps(
        {
            "event_id": f"c-{n}",
            "type": kind,
            "occurred_at": when,
            "site": "cai-lan",
            "declaration_no": decl or f"D{n}",
            "containers": [{"container_no": c} for c in containers],
            **fields,
        }
    )


def mixed_log() -> list[bytes]:
    """Interleaved containers in arrival order, with bad lines and a duplicate."""
    return [
        customs("EXPECTED", [IMPORT_OK, NO_RELEASE, STUCK], at(-9), 1, direction="import"),
        port("DISCHARGED", IMPORT_OK, at(0), 2, direction="import", seal_no="S1"),
        port("DISCHARGED", NO_RELEASE, at(0.1), 3, direction="import"),
        b"this is not json",
        port("DISCHARGED", STUCK, at(0.2), 4, direction="import"),
        port("GATE_IN", EXPORT_OK, at(1), 5, direction="export", gate="G1"),
        port("DISCHARGED", LATE, at(1.5), 6, direction="import"),
        orjson.dumps(
            {
                "event_id": "x",
                "type": "DISCHARGED",
                "occurred_at": at(2),
                "site": "cai-lan",
                "container_no": "CSQU3054384",
                "direction": "import",
            }
        ),
        orjson.dumps(
            {
                **orjson.loads(port("GATE_IN", BORDER, at(2), 7, direction="import", gate="MC-1")),
                "site": "mong-cai",
            }
        ),
        customs("CHANNEL_ASSIGNED", [EXPORT_OK], at(2), 8, channel="green"),
        customs("ELIGIBLE", [EXPORT_OK], at(1, 4 * 3600 + 12 * 60 + 11), 9, "D8", basis="cleared"),
        port("LOADED", EXPORT_OK, at(8), 10, vessel="HAIAN BELL"),
        port("LOADED", EXPORT_OK, at(8), 10, vessel="HAIAN BELL"),  # duplicate delivery
        port("GATE_OUT", NO_RELEASE, at(10), 11, gate="G2"),
        b"",
        b"[1, 2, 3]",
        customs("ELIGIBLE", [IMPORT_OK], at(0, 24 * 3600 + 29), 12, basis="released"),
        port("GATE_OUT", LATE, at(30), 13, gate="G2"),
        customs("ELIGIBLE", [LATE], at(20), 14, basis="cleared"),  # arrives after the exit
        port("GATE_OUT", IMPORT_OK, at(30), 15, gate="G2", seal_no="S1"),
        orjson.dumps(
            {
                **orjson.loads(customs("ELIGIBLE", [BORDER], at(3), 16, basis="cleared")),
                "site": "mong-cai",
            }
        ),
    ]


def run_replay(log: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return vasscm("replay", str(log), "--out", str(out), *args)


def read(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]


@pytest.fixture
def replayed(tmp_path: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"\n".join(mixed_log()) + b"\n")
    out = tmp_path / "out"
    result = run_replay(log, out, "--as-of", at(72))
    return out, result


def test_replay_writes_four_files_and_exits_zero(replayed) -> None:
    """A log with bad lines still replays: exit 0 and all four outputs exist."""
    out, result = replayed
    assert 0 == result.returncode, result.stderr
    assert {"clearances.jsonl", "alerts.jsonl", "rejected.jsonl", "state.jsonl"} == {
        p.name for p in out.iterdir()
    }


def test_clearances_have_the_contract_segments(replayed) -> None:
    """The import and export visits carry TRS segments to the second."""
    out, _ = replayed
    latest = {}
    for rec in read(out / "clearances.jsonl"):
        ClearanceRecord.model_validate(rec)
        latest[rec["container_no"]] = rec
    assert {IMPORT_OK, EXPORT_OK, NO_RELEASE, LATE} == set(latest)
    assert 24 * 3600 + 29 == latest[IMPORT_OK]["segments"]["release"]
    assert 30 * 3600 == latest[IMPORT_OK]["segments"]["dwell"]
    assert 4 * 3600 + 12 * 60 + 11 == latest[EXPORT_OK]["segments"]["release"]
    assert "green" == latest[EXPORT_OK]["channel"]
    assert "export" == latest[EXPORT_OK]["direction"]
    assert {"dwell": 9.9 * 3600} == latest[NO_RELEASE]["segments"]
    assert ["EXIT_WITHOUT_RELEASE"] == latest[NO_RELEASE]["alerts"]


def test_late_eligible_revises_record_and_resolves_alert(replayed) -> None:
    """An ELIGIBLE arriving after its GATE_OUT: revision 2 and the alert resolved."""
    out, _ = replayed
    records = [r for r in read(out / "clearances.jsonl") if r["container_no"] == LATE]
    assert [1, 2] == [r["revision"] for r in records]
    assert [["EXIT_WITHOUT_RELEASE"], []] == [r["alerts"] for r in records]
    assert 18.5 * 3600 == records[-1]["segments"]["release"]
    alerts = [a for a in read(out / "alerts.jsonl") if a["container_no"] == LATE]
    assert [("EXIT_WITHOUT_RELEASE", "firing"), ("EXIT_WITHOUT_RELEASE", "resolved")] == [
        (a["kind"], a["status"]) for a in alerts
    ]
    assert alerts[0]["alert_id"] == alerts[1]["alert_id"]


def test_alerts_file(replayed) -> None:
    """Exit without release is critical; the never-released import is STALLED at --as-of."""
    out, _ = replayed
    final = {a["alert_id"]: a for a in read(out / "alerts.jsonl")}
    firing = {
        (a["container_no"], a["kind"], a["stage"])
        for a in final.values()
        if a["status"] == "firing"
    }
    assert {
        (NO_RELEASE, "EXIT_WITHOUT_RELEASE", "EXITED"),
        (STUCK, "STALLED", "AWAITING_RELEASE"),
    } == firing
    critical = [a for a in final.values() if a["kind"] == "EXIT_WITHOUT_RELEASE"]
    assert {"critical"} == {a["severity"] for a in critical}


def test_rejected_lines_name_line_and_reason(replayed) -> None:
    """Each bad line is in rejected.jsonl with its line number and a reason."""
    out, _ = replayed
    rejected = read(out / "rejected.jsonl")
    by_line = {r["line"]: r for r in rejected}
    assert {4, 8, 16} == set(by_line)
    assert "invalid_json" == by_line[4]["code"]
    assert "check digit" in by_line[8]["reason"]
    assert "container_no" == by_line[8]["field"]
    assert "not_object" == by_line[16]["code"]
    assert "this is not json" == by_line[4]["raw"]


def test_state_holds_open_visits_with_stage(replayed) -> None:
    """state.jsonl lists the visits still open, with their stage."""
    out, _ = replayed
    states = {s["container_no"]: s for s in read(out / "state.jsonl")}
    for s in states.values():
        VisitState.model_validate(s)
    assert {STUCK: "AWAITING_RELEASE", BORDER: "RELEASED"} == {
        k: v["stage"] for k, v in states.items()
    }
    assert "mong-cai" == states[BORDER]["site"]
    assert "import" == states[BORDER]["direction"]
    assert ["STALLED"] == states[STUCK]["alerts_firing"]


def test_summary_on_stderr_and_no_progress_bar_off_a_terminal(replayed) -> None:
    """The closing summary counts the run; no progress bar when stderr is not a TTY."""
    _, result = replayed
    assert "replay [" not in result.stderr
    assert "events read" in result.stderr
    counts = {m[0]: int(m[1].replace(",", "")) for m in COUNT.findall(result.stderr)}
    assert {"rejected": 3, "duplicates": 1, "accepted": 16, "open": 2, "completed": 4} == {
        k: counts[k] for k in ("rejected", "duplicates", "accepted", "open", "completed")
    }


def test_as_of_defaults_to_latest_event(tmp_path: Path) -> None:
    """Without --as-of, STALLED is judged at the latest occurred_at: nothing stalls yet."""
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"\n".join(mixed_log()) + b"\n")
    result = run_replay(log, tmp_path / "out")
    assert 0 == result.returncode
    assert not [a for a in read(tmp_path / "out" / "alerts.jsonl") if a["kind"] == "STALLED"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl", "--out", "o"], "does not exist"),
        (["events.jsonl"], "--out"),
        (["events.jsonl", "--out", "o", "--as-of", "2018-03-01T08:00:00"], "RFC 3339"),
    ],
    ids=["missing-file", "no-out", "naive-as-of"],
)
def test_cannot_run_exits_non_zero(tmp_path: Path, args: list[str], message: str) -> None:
    """Only a run that cannot start fails: missing file, missing --out, bad --as-of."""
    (tmp_path / "events.jsonl").write_bytes(b"")
    result = subprocess.run(
        [sys.executable, "-m", "vasscm", "replay", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert 0 != result.returncode
    assert message in result.stderr


def test_oversized_line_is_rejected_without_stopping(tmp_path: Path) -> None:
    """A 3 MB line is rejected as too_large; the events after it still count."""
    log = tmp_path / "events.jsonl"
    good = mixed_log()
    log.write_bytes(good[1] + b"\n" + b'{"x": "' + b"y" * 3_000_000 + b'"}\n' + good[2] + b"\n")
    out = tmp_path / "out"
    assert 0 == run_replay(log, out).returncode
    rejected = read(out / "rejected.jsonl")
    assert [("too_large", 2, True)] == [
        (r["code"], r["line"], r["raw_truncated"]) for r in rejected
    ]
    assert 2 == len(read(out / "state.jsonl"))


def test_replayer_same_result_in_memory() -> None:
    """The Replayer class gives the CLI's result without files (used by live-vs-replay)."""
    records: list[bytes] = []
    alerts: list[bytes] = []
    rejected: list[bytes] = []
    r = Replayer(on_record=records.append, on_alert=alerts.append, on_rejected=rejected.append)
    for n, line in enumerate(mixed_log(), 1):
        if line.strip():
            r.feed(line, line=n)
    r.finish()
    assert 3 == len(rejected)
    assert 5 == len(records)  # four visits, one revised


def test_the_cyclic_collector_is_quiet_during_a_replay_yet_cycles_do_not_pile_up() -> None:
    """FewCollections (issue 28): no automatic collection inside, one every ``every``
    lines that then freezes what survived, and the collector as it was afterwards."""
    import gc
    import weakref

    from vasscm.replay import FewCollections

    class Node:
        pass

    assert gc.isenabled()
    with FewCollections(every=100) as quiet:
        assert not gc.isenabled()
        a, b = Node(), Node()
        a.other, b.other = b, a  # type: ignore[attr-defined]
        alive = weakref.ref(a)
        del a, b
        quiet.tick(99)
        assert alive() is not None  # a cycle: only the collector frees it
        kept, frozen = Node(), gc.get_freeze_count()
        quiet.tick(1)
        assert alive() is None
        assert gc.get_freeze_count() > frozen  # survivors (`kept`) are not walked again
        assert kept is not None
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_dropping_open_visit_derivations_changes_no_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Replay keeps the derivation of only the FOLDS_KEPT most recently stepped
    containers (issue 28: they were most of its memory); with two kept, every output
    is byte for byte what keeping all of them gives."""
    import vasscm.replay as replay_module
    from vasscm.simulate import synthetic_log

    lines = list(synthetic_log(4000, seed=3))

    def run(kept: int) -> tuple[list[bytes], list[bytes], list[bytes], int]:
        monkeypatch.setattr(replay_module, "FOLDS_KEPT", kept)
        records: list[bytes] = []
        alerts: list[bytes] = []
        r = Replayer(on_record=records.append, on_alert=alerts.append, on_rejected=print)
        for n, line in enumerate(lines, 1):
            r.feed(line, line=n)
        folds = sum(1 for s in r.states.values() if s.last is not None)
        r.finish()
        return records, alerts, list(r.open_states()), folds

    *everything, all_folds = run(10**9)
    *few, two = run(2)
    assert few == everything
    assert two <= 2 < all_folds
