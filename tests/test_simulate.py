"""Tests for ``vasscm.simulate``: synthetic logs of container visits.

Benchmarks, demos and the live tests compare runs of the same log, so a seed must
give the same bytes; every line must be a contract-valid event, delivered in
``occurred_at`` order; and the log must look like a port's (one container per visit,
a share of visits still in the yard at the end).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
import pytest
from commands import vasscm_bytes
from stdnum import iso6346

from vasscm.events import VESSEL_TYPES, Rejection, parse_event
from vasscm.replay import Replayer, replay_file
from vasscm.simulate import (
    EXPORT_TARGET,
    IMPORT_TARGET,
    Faults,
    LogSpec,
    as_dcsa,
    container_number,
    synthetic_log,
)

N: int = 20_000
EXITS = frozenset({"GATE_OUT", "LOADED"})
#: The latest an exit follows its visit's ELIGIBLE (a suspension of up to 12 h, then
#: up to 7.25 h), with margin.
EXIT_AFTER_ELIGIBLE = timedelta(hours=20)
DEFAULT_SPEC = LogSpec()


@cache
def log(n: int = N, seed: int = 7, spec: LogSpec = DEFAULT_SPEC) -> tuple[bytes, ...]:
    """The synthetic log's lines (cached: several tests read the same one)."""
    return tuple(synthetic_log(n, seed=seed, spec=spec))


@cache
def all_docs(n: int = N, seed: int = 7, spec: LogSpec = DEFAULT_SPEC) -> tuple[dict[str, Any], ...]:
    return tuple(orjson.loads(raw) for raw in log(n, seed, spec))


@cache
def docs(n: int = N, seed: int = 7, spec: LogSpec = DEFAULT_SPEC) -> tuple[dict[str, Any], ...]:
    """The containers' events (not the vessel calls')."""
    return tuple(d for d in all_docs(n, seed, spec) if d["type"] not in VESSEL_TYPES)


def container_of(doc: dict[str, Any]) -> str:
    """The container an event is about (customs events carry a one-entry list)."""
    if "container_no" in doc:
        return str(doc["container_no"])
    (ref,) = doc["containers"]
    return str(ref["container_no"])


def when(doc: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(doc["occurred_at"])


# --- determinism --------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes() -> None:
    """A seed fully determines the log, byte for byte."""
    assert b"\n".join(synthetic_log(3_000, seed=11)) == b"\n".join(synthetic_log(3_000, seed=11))


@pytest.mark.parametrize(
    ("a", "b"), [pytest.param(7, 8, id="7-vs-8"), pytest.param(1, 2, id="1-vs-2")]
)
def test_different_seeds_give_different_logs(a: int, b: int) -> None:
    """Another seed gives another log."""
    assert b"\n".join(synthetic_log(3_000, seed=a)) != b"\n".join(synthetic_log(3_000, seed=b))


# --- shape of the log ---------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 7, 500, N], ids=lambda n: f"n={n}")
def test_log_has_n_events(n: int) -> None:
    """Asking for n events gives n lines (within one visit's worth)."""
    assert abs(n - len(log(n))) <= 8


def test_every_line_is_a_contract_valid_event() -> None:
    """Each line parses with ``parse_event``, on the topic its type belongs to."""
    from vasscm.events import TOPIC_OF_TYPE

    rejected = [
        (raw, parsed.reason)
        for raw, doc in zip(log(), all_docs(), strict=True)
        if isinstance(parsed := parse_event(raw, topic=TOPIC_OF_TYPE[doc["type"]]), Rejection)
    ]

    assert [] == rejected


def test_lines_come_in_occurred_at_order() -> None:
    """The log is delivered as a port publishes it: occurred_at never goes back."""
    times = [when(doc) for doc in docs()]

    assert [] == [(i, a, b) for i, (a, b) in enumerate(pairwise(times)) if b < a]


def test_event_ids_are_unique() -> None:
    """No two lines share an ``event_id`` (the processor would drop the second)."""
    assert [] == [eid for eid, n in Counter(d["event_id"] for d in docs()).items() if n > 1]


def test_container_numbers_are_valid_iso6346() -> None:
    """Every container number has a correct ISO 6346 check digit."""
    assert [] == sorted({c for c in map(container_of, docs()) if not iso6346.is_valid(c)})


def test_one_container_per_visit() -> None:
    """Each visit has its own container: per container number, one announcement, at most
    one arrival and at most one exit."""
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for doc in docs():
        kinds[container_of(doc)][doc["type"]] += 1

    repeated = {c: k for c, k in kinds.items() if max(k.values()) > 1}
    two_arrivals = {c: k for c, k in kinds.items() if k["DISCHARGED"] + k["GATE_IN"] > 1}
    two_exits = {c: k for c, k in kinds.items() if k["GATE_OUT"] + k["LOADED"] > 1}

    assert ({}, {}, {}) == (repeated, two_arrivals, two_exits)
    assert sum(k["EXPECTED"] for k in kinds.values()) == len(kinds)


def test_container_number_is_distinct_and_valid_per_visit_index() -> None:
    """``container_number(i)`` differs for different visits and is always valid."""
    numbers = [container_number(i) for i in [*range(20_000), *range(20_000, 8_000_000, 997)]]

    assert len(numbers) == len(set(numbers))
    assert all(map(iso6346.is_valid, numbers))


# --- open visits --------------------------------------------------------------------


def open_share(lines: tuple[dict[str, Any], ...]) -> tuple[float, int]:
    """Share of visits without an exit, and how many visits were judged: only visits
    whose ELIGIBLE is early enough that their exit, if any, is already in the log."""
    last = when(lines[-1])
    eligible = {container_of(d) for d in lines if d["type"] == "ELIGIBLE"}
    judged = {
        container_of(d)
        for d in lines
        if d["type"] == "ELIGIBLE" and when(d) + EXIT_AFTER_ELIGIBLE < last
    }
    exited = {container_of(d) for d in lines if d["type"] in EXITS}
    assert exited <= eligible  # the simulator only lets cleared containers out
    return len(judged - exited) / len(judged), len(judged)


@pytest.mark.parametrize(
    ("share", "low", "high"),
    [
        pytest.param(0.0, 0.0, 0.0, id="none-open"),
        pytest.param(1 / 3, 0.25, 0.42, id="default-one-third"),
        pytest.param(0.75, 0.67, 0.83, id="three-quarters"),
        pytest.param(1.0, 1.0, 1.0, id="all-open"),
    ],
)
def test_share_of_visits_without_exit_is_near_open_share(
    share: float, low: float, high: float
) -> None:
    """About ``open_share`` of the visits never exit (bounds are many standard deviations
    wide for the ~3,000 visits judged; the log is fixed by its seed anyway)."""
    actual, judged = open_share(docs(spec=LogSpec(open_share=share)))

    assert judged > 1_000
    assert low <= actual <= high


# --- calibration on Quảng Ninh Customs, 2018 ----------------------------------------------


def releases(lines: Iterable[bytes]) -> dict[str, tuple[str, float]]:
    """Per container: direction and release (arrival to ELIGIBLE) in seconds."""
    seen: dict[str, dict[str, Any]] = defaultdict(dict)
    for raw in lines:
        doc = orjson.loads(raw)
        if doc["type"] not in VESSEL_TYPES:
            seen[container_of(doc)][doc["type"]] = doc
    out = {}
    for c, kinds in seen.items():
        arrival = kinds.get("DISCHARGED") or kinds.get("GATE_IN")
        if arrival is None or "ELIGIBLE" not in kinds:
            continue
        release = when(kinds["ELIGIBLE"]) - when(arrival)
        out[c] = (kinds["EXPECTED"]["direction"], release.total_seconds())
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("direction", "target"), [("import", IMPORT_TARGET), ("export", EXPORT_TARGET)]
)
def test_long_run_mean_release_is_the_published_2018_figure(
    direction: str, target: timedelta
) -> None:
    """Imports average 24h00m29s and exports 4h12m11s, within 5 %, over ~50,000 visits
    (the standard error is about 1 % for exports)."""
    got = releases(synthetic_log(300_000, seed=2018))
    values = [seconds for d, seconds in got.values() if d == direction]
    assert len(values) > 15_000
    assert abs(statistics.mean(values) / target.total_seconds() - 1) < 0.05


def test_replay_reports_the_releases_the_simulator_drew() -> None:
    """The tracking core measures each simulated visit's release exactly, so a report
    over a simulated log quotes the simulator's figures."""
    lines = log(20_000)
    drawn = releases(lines)
    records: list[bytes] = []
    replayer = Replayer(on_record=records.append, on_alert=_ignore, on_rejected=_ignore)
    for n, raw in enumerate(lines, 1):
        replayer.feed(raw, line=n)
    replayer.finish()
    measured = {}
    for raw in records:
        record = orjson.loads(raw)
        measured[record["container_no"]] = record["segments"]["release"]
    assert len(measured) > 1_500
    assert {c: drawn[c][1] for c in measured} == measured


def _ignore(_: bytes) -> None:
    pass


def test_channels_mix_green_yellow_red_and_red_is_slowest() -> None:
    """About 55/30/15 % green/yellow/red declarations; red releases take longest."""
    got: dict[str, list[float]] = defaultdict(list)
    channel_of = {container_of(d): d["channel"] for d in docs() if d["type"] == "CHANNEL_ASSIGNED"}
    for c, (_, seconds) in releases(log()).items():
        got[channel_of[c]].append(seconds)
    total = sum(len(v) for v in got.values())
    assert 0.5 < len(got["green"]) / total < 0.6
    assert 0.1 < len(got["red"]) / total < 0.2
    means = {ch: statistics.mean(v) for ch, v in got.items()}
    assert means["green"] < means["yellow"] < means["red"]


# --- faults -------------------------------------------------------------------------------

FAULTY = LogSpec(faults=Faults.realistic())


def test_faults_are_off_by_default_and_present_when_asked() -> None:
    """Duplicates, late exits, disorder, malformed records and unreleased exits."""
    clean = log(20_000)
    faulty = log(20_000, spec=FAULTY)
    assert all(b"received_at" not in line for line in clean)

    parsed = [orjson.loads(x) for x in faulty if _is_json_object(x)]
    malformed = [x for x in faulty if isinstance(parse_event(x), Rejection)]
    ids = Counter(d.get("event_id") for d in parsed)
    late_exits = [
        d
        for d in parsed
        if d.get("type") in EXITS
        and "received_at" in d
        and when({"occurred_at": d["received_at"]}) - when(d) > timedelta(minutes=15)
    ]
    replayer_alerts: list[bytes] = []
    replayer = Replayer(on_record=_ignore, on_alert=replayer_alerts.append, on_rejected=_ignore)
    for n, raw in enumerate(faulty, 1):
        replayer.feed(raw, line=n)
    replayer.finish()
    kinds = Counter(orjson.loads(a)["kind"] for a in replayer_alerts)

    assert sum(n > 1 for n in ids.values()) > 20  # duplicates
    assert len(late_exits) > 20  # Art. 52/52a breaches
    assert 5 <= len(malformed) < 100
    assert kinds["LATE_REPORT"] > 20
    assert kinds["EXIT_WITHOUT_RELEASE"] >= 3


def test_a_faulty_log_comes_in_received_order() -> None:
    """Lines come in the order received (``received_at`` when delayed or resent), so
    some events arrive after later-occurring ones, as from a real feed."""
    events = [
        orjson.loads(x)
        for x in log(20_000, spec=FAULTY)
        if not isinstance(parse_event(x), Rejection)
    ]
    received = [when({"occurred_at": d.get("received_at", d["occurred_at"])}) for d in events]
    occurred = [when(d) for d in events]
    assert [] == [(a, b) for a, b in pairwise(received) if b < a]
    assert sum(b < a for a, b in pairwise(occurred)) > 20


def _is_json_object(raw: bytes) -> bool:
    try:
        return isinstance(orjson.loads(raw), dict)
    except orjson.JSONDecodeError:
        return False


# --- the command ----------------------------------------------------------------------------


def test_command_writes_the_same_log_for_a_seed_and_takes_the_distributions() -> None:
    """`vasscm simulate` is the library: same seed, same bytes; --import-mean moves the
    imports' mean; --faults adds delayed lines."""
    first = vasscm_bytes("simulate", "--events", "30000", "--seed", "3", "--import-mean", "2h")
    again = vasscm_bytes("simulate", "--events", "30000", "--seed", "3", "--import-mean", "2h")
    assert 0 == first.returncode, first.stderr
    assert first.stdout == again.stdout
    values = [s for d, s in releases(first.stdout.splitlines()).values() if d == "import"]
    assert abs(statistics.mean(values) / 7200 - 1) < 0.1
    faulty = vasscm_bytes("simulate", "--events", "3000", "--faults")
    assert b"received_at" in faulty.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sites", "Bad Site"], b"not 'Bad Site'"),
        (["--import-mean", "soon"], b"'soon' is not a duration"),
    ],
)
def test_command_refuses_bad_options_naming_them(args: list[str], message: bytes) -> None:
    done = vasscm_bytes("simulate", "--events", "10", *args)
    assert 2 == done.returncode
    assert message in done.stderr
    assert b"" == done.stdout


# --- vessel calls (contract 7.2) -------------------------------------------------------------


def test_ships_call_at_the_seaport_and_containers_name_the_call_at_berth() -> None:
    """Every discharge and loading at Cái Lân names a voyage whose ship is at berth then;
    the border gate has none (trucks)."""
    calls: dict[str, dict[str, datetime]] = defaultdict(dict)
    for doc in all_docs():
        if doc["type"] in ("VESSEL_ARRIVED", "VESSEL_DEPARTED"):
            calls[doc["voyage"]][doc["type"]] = when(doc)
    named = [d for d in docs() if d["type"] in ("DISCHARGED", "LOADED")]
    at_berth = [
        calls[d["voyage"]]["VESSEL_ARRIVED"] <= when(d) < calls[d["voyage"]]["VESSEL_DEPARTED"]
        for d in named
        if d["voyage"] in calls and len(calls[d["voyage"]]) == 2
    ]

    assert {"cai-lan"} == {d["site"] for d in named}
    assert all(at_berth)
    assert len(at_berth) > 0.9 * len(named) > 1_000


def test_without_faults_both_sides_report_on_time() -> None:
    """The plain simulator gives every notice and exit report in time; its faults give
    a few of each late."""

    def late(spec: LogSpec) -> Counter[str]:
        alerts: list[bytes] = []
        replayer = Replayer(on_record=lambda _: None, on_alert=alerts.append, on_rejected=len)
        for raw in log(N, 7, spec):
            replayer.feed(raw)
        return Counter(
            a["kind"] for a in map(orjson.loads, alerts) if a["kind"].startswith("LATE_")
        )

    plain, faulty = late(DEFAULT_SPEC), late(replace(DEFAULT_SPEC, faults=Faults.realistic()))

    assert Counter() == plain
    assert faulty["LATE_NOTICE"] > 20
    assert faulty["LATE_REPORT"] > 20


def test_the_log_written_as_dcsa_replays_to_the_native_logs_outputs(tmp_path: Path) -> None:
    """`vasscm simulate --dcsa`: the same visits, alerts and rejections when replayed,
    by one process or shared out among two (a vessel call's DCSA event is every
    worker's, an equipment event its container's)."""
    from vasscm.shards import replay_sharded

    spec = replace(DEFAULT_SPEC, faults=Faults.realistic())
    native = list(synthetic_log(4000, seed=9, spec=spec))
    dcsa = list(as_dcsa(native))
    assert sum(b'"eventType"' in line for line in dcsa) > 1500
    outputs = {}
    for name, lines in (("native", native), ("dcsa", dcsa)):
        (tmp_path / f"{name}.jsonl").write_bytes(b"\n".join(lines) + b"\n")
        replay_file(tmp_path / f"{name}.jsonl", tmp_path / name)
        outputs[name] = {
            f: (tmp_path / name / f).read_bytes()
            for f in ("clearances.jsonl", "alerts.jsonl", "state.jsonl")
        }
    replay_sharded(tmp_path / "dcsa.jsonl", tmp_path / "dcsa2", jobs=2)
    sharded = {f: (tmp_path / "dcsa2" / f).read_bytes() for f in outputs["dcsa"]}

    assert outputs["native"] == outputs["dcsa"] == sharded
    assert outputs["native"]["clearances.jsonl"].count(b"\n") > 300
