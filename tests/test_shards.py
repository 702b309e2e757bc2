"""`vasscm replay --jobs N` writes what `--jobs 1` writes, byte for byte.

The log is built to make sharding hard: declarations of up to 50 containers (their
containers fall to different workers), containers under two declarations (contract
7.1), disorder, duplicates, malformed and oversized lines, events refused as stale,
stalls judged at a clock that other workers' containers move.
"""

from __future__ import annotations

import pickle
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from commands import vasscm
from factories import numbered
from hypothesis import given, settings
from hypothesis import strategies as st

from vasscm import shards
from vasscm.dcsa import to_dcsa
from vasscm.events import Rejection, parse_event
from vasscm.replay import Summary, replay_file
from vasscm.shards import ShardFailed, owners, replay_sharded, shard_of, start_method
from vasscm.simulate import synthetic_log

OUTPUTS = ("clearances.jsonl", "alerts.jsonl", "rejected.jsonl", "state.jsonl")
T0 = datetime(2018, 3, 1, tzinfo=UTC)
LIMIT = 4096  # max_event_bytes: a few lines are longer


def ts(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def declarations_log(seed: int = 5, n_declarations: int = 120) -> list[bytes]:
    """Lines of a port whose declarations cover 1..50 containers each."""
    rng = random.Random(seed)
    timed: list[tuple[datetime, bytes]] = []
    serial = 0

    def emit(kind: str, when: datetime, received: datetime | None = None, **fields: Any) -> None:
        nonlocal serial
        serial += 1
        doc = {"event_id": f"e{serial}", "type": kind, "occurred_at": ts(when), "site": "cai-lan"}
        doc.update(fields)
        arrives = received or when + timedelta(minutes=rng.uniform(0, 20))  # disorder
        if arrives != when:
            doc["received_at"] = ts(arrives)
        line = orjson.dumps(doc)
        timed.append((arrives, line))
        if rng.random() < 0.05:  # delivered twice
            timed.append((arrives + timedelta(minutes=rng.uniform(0, 5)), line))

    next_container = 0
    previous: list[str] = []
    exited: list[str] = []
    for d in range(n_declarations):
        start = T0 + timedelta(minutes=25 * d)
        size = rng.choice([1, 1, 2, 3, 5, 8, 13, 21, 34, 50])
        members = [numbered(next_container + j) for j in range(size)]
        next_container += size
        if previous and d % 7 == 0:
            members.append(previous[-1])  # a container under two declarations
        previous = members
        refs = [{"container_no": c, "seal_no": f"S{c[-4:]}"} for c in members]
        decl = {"declaration_no": f"10{d:010d}", "containers": refs}
        emit("EXPECTED", start - timedelta(hours=2), direction="import", **decl)
        for j, c in enumerate(members):
            emit("DISCHARGED", start + timedelta(minutes=j), container_no=c, direction="import")
        emit(
            "CHANNEL_ASSIGNED",
            start + timedelta(minutes=30),
            channel=rng.choice(["green", "red"]),
            **decl,
        )
        if rng.random() < 0.3:
            emit("SCAN_SELECTED", start + timedelta(minutes=40), **decl)
        release = start + timedelta(hours=rng.uniform(1, 60))  # some stall first
        if rng.random() < 0.15:
            emit("SUSPENDED", release - timedelta(minutes=30), reason="check", **decl)
            emit("RESUMED", release - timedelta(minutes=5), **decl)
        if rng.random() < 0.9:
            emit("ELIGIBLE", release, basis="cleared", **decl)
        for c in members:
            if rng.random() < 0.7:
                early = rng.random() < 0.1  # leaves before release: critical
                gone = release + timedelta(hours=-1 if early else rng.uniform(0.5, 30))
                emit("GATE_OUT", gone, container_no=c, gate="G2", seal_no=f"S{c[-4:]}")
                exited.append(c)
    end = max(when for when, _ in timed)
    later = end + timedelta(days=8)  # past their retention (7 days), not their horizon's
    emit("DISCHARGED", later, received=later, container_no=numbered(99999), direction="import")
    for c in exited[-3:]:  # for visits closed and forgotten: stale
        emit("SEAL_CHANGED", T0, received=later + timedelta(hours=1), container_no=c, seal_no="X")
    timed.sort(key=lambda item: item[0])
    lines = [line for _, line in timed]
    for at in range(0, len(lines), 97):  # malformed, blank and oversized lines
        lines.insert(
            at, rng.choice([b"{not json", b"", b"  ", b'{"type": "GATE_OUT"}', b"[" * 5000])
        )
    return lines


def same_outputs(want: Path, got: Path, what: str) -> None:
    """Every output file of ``got`` is byte for byte that of ``want`` (one process's)."""
    for name in OUTPUTS:
        assert (got / name).read_bytes() == (want / name).read_bytes(), f"{what}: {name} differs"


def same_summary(a: Summary, b: Summary) -> None:
    fields = (
        "lines",
        "accepted",
        "duplicates",
        "rejected",
        "records",
        "visits_completed",
        "visits_open",
        "alerts",
        "as_of",
    )
    assert {f: getattr(a, f) for f in fields} == {f: getattr(b, f) for f in fields}


@pytest.mark.slow
def sharded(
    log: Path,
    out: Path,
    jobs: int,
    method: str,
    monkeypatch: pytest.MonkeyPatch,
    *,
    block: int | None = None,
    as_of: datetime | None = None,
) -> Summary:
    """``replay_sharded`` with workers ``forked`` from a fresh process of one thread (as
    the command line starts them: this test process may have threads, a test runner's,
    and a fork copies none of them) or ``spawned`` from this one. ``block``: lines
    between two barriers (forked only: a spawned worker imports the module again)."""
    if method == "spawn":
        assert block is None
        monkeypatch.setattr(shards, "start_method", lambda: "spawn")
        return replay_sharded(log, out, jobs=jobs, max_event_bytes=LIMIT, as_of=as_of)
    code = (
        "import pickle, sys\nfrom datetime import datetime\nfrom pathlib import Path\n"
        "from vasscm import shards\n"
        "assert shards.start_method() == 'fork'\n"
        "if sys.argv[6]:\n    shards.BLOCK = int(sys.argv[6])\n"
        "as_of = datetime.fromisoformat(sys.argv[7]) if sys.argv[7] else None\n"
        "s = shards.replay_sharded(Path(sys.argv[1]), Path(sys.argv[2]), jobs=int(sys.argv[3]), "
        "max_event_bytes=int(sys.argv[4]), as_of=as_of)\n"
        "Path(sys.argv[5]).write_bytes(pickle.dumps(s))\n"
    )
    summary = out.with_suffix(".summary")
    args = [str(log), str(out), str(jobs), str(LIMIT), str(summary)]
    args += [str(block) if block else "", as_of.isoformat() if as_of else ""]
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded: Summary = pickle.loads(summary.read_bytes())
    return loaded


def test_jobs_n_writes_what_jobs_1_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = declarations_log()
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    sizes = [len(orjson.loads(x)["containers"]) for x in lines if b'"containers"' in x]
    assert max(sizes) >= 50  # the case the issue names
    one = replay_file(log, tmp_path / "one", max_event_bytes=LIMIT)
    assert one.rejected["stale"] >= 3
    assert one.rejected["too_large"] > 0
    assert one.duplicates > 0
    assert one.alerts["STALLED", "firing"] > 0
    assert one.alerts["EXIT_WITHOUT_RELEASE", "firing"] > 0
    assert one.visits_open > 0  # state.jsonl has rows to forecast
    # Workers forked (the command line's way) and spawned (a threaded caller's).
    for jobs, method in ((2, "fork"), (3, "spawn")):
        many = sharded(log, tmp_path / f"jobs{jobs}", jobs, method, monkeypatch)
        same_outputs(tmp_path / "one", tmp_path / f"jobs{jobs}", f"--jobs {jobs}")
        same_summary(one, many)
        assert not list((tmp_path / f"jobs{jobs}").glob("vasscm-jobs-*"))  # cleaned up


@pytest.mark.parametrize("cut", [None, 0.5], ids=["to-the-end", "as-of-midway"])
def test_jobs_n_writes_what_jobs_1_writes_across_many_blocks(
    tmp_path: Path, cut: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker steps only its own lines and runs the deadline checks at the lines where
    ``--jobs 1`` finds one due (the first whose clock reaches it), across block
    boundaries and with the clock held at ``--as-of``: the outputs stay those of one
    process, stalls and expiries included."""
    lines = declarations_log(seed=11, n_declarations=60)
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    as_of = None
    if cut is not None:
        times = sorted(
            orjson.loads(x)["occurred_at"] for x in lines if x.startswith(b'{"event_id"')
        )
        as_of = datetime.fromisoformat(times[int(len(times) * cut)])
    one = replay_file(log, tmp_path / "one", max_event_bytes=LIMIT, as_of=as_of)
    assert one.alerts["STALLED", "firing"] > 0  # checks that fall due between lines
    for jobs, block in ((2, 37), (3, 64)):
        many = sharded(
            log, tmp_path / f"jobs{jobs}", jobs, "fork", monkeypatch, block=block, as_of=as_of
        )
        what = f"--jobs {jobs}, blocks of {block}"
        same_outputs(tmp_path / "one", tmp_path / f"jobs{jobs}", what)
        same_summary(one, many)


@pytest.mark.slow
def test_the_workers_forecast_what_one_process_forecasts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each worker learns its own records and tallies its own open visits; the sums
    they share give each open visit the forecast one process gives it (contract 8.2),
    on a port busy enough for most strata to have a basis."""
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"\n".join(synthetic_log(30_000, seed=3)) + b"\n")
    replay_file(log, tmp_path / "one")
    rows = [orjson.loads(x) for x in (tmp_path / "one" / "state.jsonl").read_bytes().splitlines()]
    assert sum(row["forecast"] is not None for row in rows) >= 500
    for jobs, method in ((2, "fork"), (3, "spawn")):
        sharded(log, tmp_path / f"jobs{jobs}", jobs, method, monkeypatch)
        same_outputs(tmp_path / "one", tmp_path / f"jobs{jobs}", f"--jobs {jobs} ({method})")


def test_a_declaration_belongs_to_every_worker_holding_one_of_its_containers() -> None:
    members = [numbered(j) for j in range(40)]
    doc = {"type": "ELIGIBLE", "containers": [{"container_no": c} for c in members]}
    line = orjson.dumps(doc)

    assert owners(line, 7, 3) == tuple(sorted({shard_of(c, 3) for c in members}))
    assert owners(b"{not json", 7, 3) == (1,)  # one worker, which will reject it
    assert owners(orjson.dumps({"type": "GATE_OUT", "container_no": "csqu3054383"}), 7, 4) == (
        shard_of("CSQU3054383", 4),  # by the number as the parser writes it
    )


def test_a_log_written_as_dcsa_is_shared_out_as_its_contract_events_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DCSA Track & Trace lines are routed by their own fields: a transport event (a
    vessel call) to every worker, an equipment event to its container's."""
    lines = []
    for raw in synthetic_log(6000, seed=3):
        event = parse_event(raw)
        if not isinstance(event, Rejection):
            lines.extend(orjson.dumps(doc) for doc in to_dcsa(event))
    transport = [x for x in lines if b'"TRANSPORT"' in x]
    assert transport  # vessel calls are in the log
    assert all(owners(x, 1, 3) == (0, 1, 2) for x in transport)
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    one = replay_file(log, tmp_path / "one")
    assert one.accepted > 0
    assert not one.rejected
    sharded(log, tmp_path / "jobs2", 2, "fork", monkeypatch)
    same_outputs(tmp_path / "one", tmp_path / "jobs2", "--jobs 2, DCSA")


def _spelled(doc: dict[str, Any], style: str) -> bytes:
    """One JSON document as different producers write it."""
    compact = orjson.dumps(doc)
    if style == "pretty":
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2)
    if style == "spaced":
        return compact.replace(b'":', b'": ')  # as Python's json module writes it
    if style == "escaped":  # the same key, with an escape in it
        return compact.replace(b'"container_no"', b'"container\\u005fno"')
    return compact


@settings(max_examples=300, deadline=None)
@given(
    numbers=st.lists(st.integers(0, 10_000), min_size=1, max_size=6),
    lower=st.sets(st.integers(0, 5)),
    customs=st.booleans(),
    decoy=st.booleans(),
    style=st.sampled_from(["compact", "pretty", "spaced", "escaped"]),
    jobs=st.integers(2, 5),
)
def test_routing_sends_a_valid_event_to_every_owner_however_it_is_written(
    numbers: list[int],
    lower: set[int],
    customs: bool,
    decoy: bool,
    style: str,
    jobs: int,
) -> None:
    """However a producer writes the JSON (indented, spaces after colons, escapes in
    keys, numbers in lower case, a container number among unknown fields), no worker
    holding one of a valid event's containers is left out of its route. (Reading the
    numbers off the bytes instead of as JSON was tried against this test: no faster.)"""
    members = [numbered(n) for n in numbers]
    written = [c.lower() if i in lower else c for i, c in enumerate(members)]
    base = {"event_id": "e-1", "occurred_at": "2018-01-01T00:00:00Z", "site": "cai-lan"}
    if customs:
        doc: dict[str, Any] = {
            **base,
            "type": "ELIGIBLE",
            "declaration_no": "1",
            "basis": "cleared",
        }
        doc["containers"] = [{"container_no": c} for c in written]
    else:
        doc = {**base, "type": "GATE_OUT", "gate": "G1", "container_no": written[0]}
    if decoy:  # a container number among the fields the event passes through
        doc["remark"] = {"container_no": numbered(99_999)}
    line = _spelled(doc, style)
    event = parse_event(line)
    assert not isinstance(event, Rejection), event

    held = {shard_of(c, jobs) for c in (members if customs else members[:1])}
    assert held <= set(owners(line, 7, jobs))


def replay_command(log: Path, out: Path, jobs: str) -> subprocess.CompletedProcess[str]:
    return vasscm("replay", str(log), "--out", str(out), "--jobs", jobs, timeout=300)


def test_the_command_line_takes_jobs(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"\n".join(declarations_log(n_declarations=12)) + b"\n")
    for jobs in ("1", "2"):
        done = replay_command(log, tmp_path / jobs, jobs)
        assert done.returncode == 0, done.stderr
    same_outputs(tmp_path / "1", tmp_path / "2", "vasscm replay --jobs 2")
    bad = replay_command(log, tmp_path / "x", "0")
    assert bad.returncode == 2
    assert "--jobs" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_workers_are_forked_only_from_a_process_of_one_thread() -> None:
    """A fork copies no other thread, and a lock one of them held stays held: a caller
    with threads (a test runner's, a server's) gets spawned workers."""
    import threading

    alone = subprocess.run(
        [sys.executable, "-c", "from vasscm.shards import start_method; print(start_method())"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert alone.stdout.strip() == "fork"  # a process of one thread, as the command line
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert start_method() == "spawn"
    finally:
        stop.set()
        other.join()


def test_a_worker_that_fails_is_reported_not_waited_for(tmp_path: Path) -> None:
    """Every worker fails to open a missing log: the parent says so instead of hanging
    at the barrier, and leaves no temporary files behind."""
    with pytest.raises(ShardFailed, match="incomplete"):
        replay_sharded(tmp_path / "missing.jsonl", tmp_path / "out", jobs=2)
    assert not list((tmp_path / "out").glob("vasscm-jobs-*"))
