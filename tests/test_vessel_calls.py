"""Vessel calls and the reporting clocks of both sides (contract 7.2), through replay.

Each scenario is a log in received order (each line carries its ``received_at``), run
by the same Replayer ``vasscm replay`` runs; what is asserted is what a reader of its
outputs would see: alerts and clearance records.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from factories import CONTAINER, LAND_GATE, VOYAGE, at, container_no, event_doc, vessel_doc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vasscm.events import parse_event
from vasscm.replay import Replayer
from vasscm.tracking import ContainerState, Effects, Policy
from vasscm.tracking.codes import EXITS
from vasscm.tracking.core import settle
from vasscm.tracking.state import STATE_VERSION, Facts

MIN = timedelta(minutes=1)


class Log:
    """A replay over documents fed in the order given."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.alerts: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self.replayer = Replayer(
            on_record=lambda b: self.records.append(orjson.loads(b)),
            on_alert=lambda b: self.alerts.append(orjson.loads(b)),
            on_rejected=lambda b: self.rejected.append(orjson.loads(b)),
        )

    def feed(self, *docs: dict[str, Any]) -> Log:
        for doc in docs:
            self.replayer.feed(orjson.dumps(doc))
        return self

    def finish(self) -> Log:
        self.replayer.finish()
        return self

    def firing(self) -> dict[str, dict[str, Any]]:
        """The final state of each alert, those firing, by alert id."""
        latest = {a["alert_id"]: a for a in self.alerts}
        return {k: a for k, a in latest.items() if a["status"] == "firing"}

    def firing_kinds(self) -> list[str]:
        return sorted(a["kind"] for a in self.firing().values())

    def record(self) -> dict[str, Any]:
        return self.records[-1]

    def duty(self, form: str) -> dict[str, Any] | None:
        return next((d for d in self.record()["obligations"] if d["form"] == form), None)


def received(doc: dict[str, Any], when: datetime) -> dict[str, Any]:
    return doc | {"received_at": when}


def export_visit(loaded: datetime, *, voyage: str | None = VOYAGE) -> list[dict[str, Any]]:
    """A released export at Cai Lan, gated in at T0 and loaded at ``loaded`` (reported
    then, unless the caller stamps it otherwise)."""
    extra = {} if voyage is None else {"voyage": voyage}
    return [
        received(event_doc("GATE_IN", at(), direction="export", gate="g1"), at()),
        received(event_doc("ELIGIBLE", at(hours=1)), at(hours=1)),
        event_doc("LOADED", loaded, **extra),
    ]


def departed(when: datetime, received_at: datetime | None = None) -> dict[str, Any]:
    return received(vessel_doc("VESSEL_DEPARTED", when), received_at or when)


# --- the LOADED clock runs from the vessel's departure ----------------------------------------


def test_a_loading_reported_2h_after_it_but_10_min_after_departure_is_on_time() -> None:
    loaded = at(hours=3)
    *visit, loading = export_visit(loaded)
    log = Log().feed(
        *visit,
        departed(at(hours=4, minutes=50)),
        received(loading, loaded + timedelta(hours=2)),  # 10 min after the departure
    )

    assert [] == log.firing_kinds()
    duty = log.duty("LOADED")
    assert duty is not None
    assert (True, "port", "2025-03-03T12:50:00.000Z") == (
        duty["on_time"],
        duty["party"],
        duty["reference_at"],
    )


def test_a_loading_reported_40_min_after_departure_is_late() -> None:
    loaded = at(hours=3)
    *visit, loading = export_visit(loaded)
    log = Log().feed(
        *visit,
        departed(at(hours=3, minutes=20)),
        received(loading, at(hours=4)),  # 40 min after the departure
    )

    (alert,) = log.firing().values()
    assert ("LATE_REPORT", "warning", "EXITED") == (
        alert["kind"],
        alert["severity"],
        alert["stage"],
    )
    assert "40m00s after its vessel departed" in alert["detail"]
    assert VOYAGE in alert["detail"]
    assert ["LATE_REPORT"] == log.record()["alerts"]


def test_a_departure_that_arrives_after_the_report_judges_it_then() -> None:
    loaded = at(hours=3)
    *visit, loading = export_visit(loaded)
    log = Log().feed(*visit, received(loading, at(hours=4)))
    assert [] == log.firing_kinds()
    assert None is log.duty("LOADED")  # no judgement before the departure is known
    assert 1 == log.record()["revision"]

    log.feed(departed(at(hours=3, minutes=10), received_at=at(hours=5)))

    assert ["LATE_REPORT"] == log.firing_kinds()
    assert (2, ["LATE_REPORT"]) == (log.record()["revision"], log.record()["alerts"])
    duty = log.duty("LOADED")
    assert duty is not None
    assert not duty["on_time"]


def test_a_departure_after_the_report_records_it_on_time() -> None:
    *visit, loading = export_visit(at(hours=3))
    log = Log().feed(*visit, received(loading, at(hours=3, minutes=1)))

    log.feed(departed(at(hours=6)))

    assert [] == log.firing_kinds()
    duty = log.duty("LOADED")
    assert duty is not None
    assert duty["on_time"]


def test_a_loading_without_a_voyage_is_never_judged() -> None:
    """Its departure can never be known: reported hours after the loading, no alert."""
    *visit, loading = export_visit(at(hours=3), voyage=None)
    log = Log().feed(*visit, received(loading, at(hours=9))).finish()

    assert [] == log.firing_kinds()
    assert [] == log.record()["obligations"]


def test_an_export_gate_out_at_a_land_border_25_min_late_is_on_time() -> None:
    site = {"site": LAND_GATE}
    log = Log().feed(
        received(event_doc("GATE_IN", at(), direction="export", gate="g1", **site), at()),
        received(event_doc("ELIGIBLE", at(hours=1), **site), at(hours=1)),
        received(event_doc("GATE_OUT", at(hours=2), gate="g2", **site), at(hours=2) + 25 * MIN),
    )

    assert [] == log.firing_kinds()
    duty = log.duty("GATE_OUT")
    assert duty is not None
    assert (True, "2025-03-03T10:30:00.000Z") == (duty["on_time"], duty["due_at"])


# --- customs' notices against the vessel's arrival ---------------------------------------------


def import_visit(selected: datetime, *, eta: datetime) -> list[dict[str, Any]]:
    """A vessel expected at ``eta``, a form 03 received at ``selected``, the discharge at
    T0 + 10 h from that voyage, released and gated out."""
    return [
        received(vessel_doc("VESSEL_EXPECTED", at(hours=-24), eta=eta), at(hours=-24)),
        received(event_doc("SCAN_SELECTED", selected), selected),
        received(
            event_doc("DISCHARGED", at(hours=10), direction="import", voyage=VOYAGE), at(hours=10)
        ),
        received(event_doc("SCANNED", at(hours=11), scanner="n1", result="CLEAR"), at(hours=11)),
        received(event_doc("ELIGIBLE", at(hours=12)), at(hours=12)),
        received(event_doc("GATE_OUT", at(hours=13), gate="g1"), at(hours=13)),
    ]


def test_a_form_03_received_3h_before_the_eta_is_a_late_notice() -> None:
    log = Log().feed(*import_visit(at(hours=7), eta=at(hours=10)))

    (alert,) = log.firing().values()
    assert ("LATE_NOTICE", "warning", "AWAITING_SCAN") == (
        alert["kind"],
        alert["severity"],
        alert["stage"],
    )
    assert alert["detail"].startswith("SCAN_SELECTED (form 03) received 3h00m00s before")
    duty = log.duty("SCAN_SELECTED")
    assert duty is not None
    assert ("customs", False) == (duty["party"], duty["on_time"])


def test_a_form_03_received_5h_before_the_eta_is_on_time() -> None:
    log = Log().feed(*import_visit(at(hours=5), eta=at(hours=10)))

    assert [] == log.firing_kinds()
    duty = log.duty("SCAN_SELECTED")
    assert duty is not None
    assert duty["on_time"]


def test_a_late_notice_is_raised_once_the_container_names_its_call() -> None:
    """At the discharge (a notice names no voyage): before the visit closes, with the
    notice's receipt as ``since``."""
    visit = import_visit(at(hours=7), eta=at(hours=10))
    log = Log().feed(*visit[:2])
    assert [] == log.firing_kinds()

    log.feed(visit[2])

    (alert,) = log.firing().values()
    assert ("2025-03-03T15:00:00.000Z", "2025-03-03T18:00:00.000Z") == (
        alert["since"],
        alert["detected_at"],
    )


def test_a_later_eta_resolves_a_late_notice() -> None:
    visit = import_visit(at(hours=7), eta=at(hours=10))
    log = Log().feed(*visit[:3])
    assert ["LATE_NOTICE"] == log.firing_kinds()

    log.feed(received(vessel_doc("VESSEL_EXPECTED", at(hours=9), eta=at(hours=12)), at(hours=9)))

    assert [] == log.firing_kinds()


def test_without_an_eta_the_discharge_is_the_arrival() -> None:
    """A form 01 received 6 h before the discharge of a container whose voyage is not
    announced: late (due 8 h before)."""
    log = Log().feed(
        received(event_doc("EXPECTED", at(hours=-6), direction="import"), at(hours=-6)),
        received(event_doc("DISCHARGED", at(), direction="import"), at()),
    )

    (alert,) = log.firing().values()
    assert ("LATE_NOTICE", "EXPECTED") == (alert["kind"], alert["stage"])
    assert "6h00m00s before the discharge at 2025-03-03T08:00:00Z" in alert["detail"]


# --- order does not matter --------------------------------------------------------------------


def scenario() -> list[dict[str, Any]]:
    """An import with a late form 03 and an export loaded late on a voyage that departs,
    both naming the same call, every line stamped with its received time."""
    other = {"container_no": "MSCU1234566"}
    return [
        *import_visit(at(hours=7), eta=at(hours=10)),
        received(event_doc("GATE_IN", at(hours=1), direction="export", gate="g", **other), at()),
        received(event_doc("ELIGIBLE", at(hours=2), **other), at(hours=2)),
        received(event_doc("LOADED", at(hours=14), voyage=VOYAGE, **other), at(hours=16)),
        departed(at(hours=15), received_at=at(hours=15, minutes=5)),
        received(vessel_doc("VESSEL_ARRIVED", at(hours=10)), at(hours=10)),
    ]


def final(log: Log) -> tuple[list[str], dict[str, Any]]:
    """What the order may not change: the alerts firing in the end, and each visit's
    latest record (revisions and superseded ids remember the order; contract 3, 4)."""
    superseded = {old for r in log.records for old in r["supersedes"]}
    records = {
        r["visit_id"]: {k: v for k, v in r.items() if k not in ("revision", "supersedes")}
        for r in log.records
        if r["visit_id"] not in superseded
    }
    return sorted(log.firing()), records


@pytest.mark.parametrize("seed", range(40))
def test_the_same_events_in_any_order_give_the_same_results(seed: int) -> None:
    docs = scenario()
    shuffled = docs[:]
    random.Random(seed).shuffle(shuffled)

    expected = final(Log().feed(*docs).finish())
    got = final(Log().feed(*shuffled).finish())

    assert expected == got
    kinds = sorted({a["kind"] for a in Log().feed(*docs).finish().firing().values()})
    assert ["LATE_NOTICE", "LATE_REPORT"] == kinds


def test_a_repeated_vessel_event_changes_nothing() -> None:
    docs = scenario()
    once = Log().feed(*docs)
    twice = Log().feed(*docs, *docs[-2:])

    assert (once.records, once.alerts) == (twice.records, twice.alerts)
    assert 2 == twice.replayer.summary.duplicates


def test_a_departure_delivered_again_reaches_a_container_whose_state_missed_it() -> None:
    """The crash window of the live worker: the call's new facts were stored, the state
    of a container naming it was not (kill -9 between the two writes); the departure,
    delivered again, tells the call nothing new, and must still reach the container and
    judge its LOADED, as replay did. Seen as a kill -9 test's divergence (obligations [])
    in a CI run."""
    *visit, loading = export_visit(at(hours=3))
    departure = departed(at(hours=3, minutes=20))
    log = Log().feed(*visit, loading)
    assert log.duty("LOADED") is None  # the departure is not known yet
    states = log.replayer.states
    before = ContainerState.from_json(states[CONTAINER].to_json())
    log.feed(departure)
    judged = log.record()
    assert judged["obligations"]

    states[CONTAINER] = before  # the container's state as it was before the crash
    log.records.clear()
    log.feed(departure)

    assert [judged] == log.records  # the same record again: revision and content


# --- the events themselves -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "field", "words"),
    [
        (vessel_doc("VESSEL_EXPECTED", at()), "eta", "required field is missing"),
        (vessel_doc("VESSEL_ARRIVED", at(), vessel="9074728"), "vessel", "check digit"),
        (vessel_doc("VESSEL_DEPARTED", at(), voyage=""), "voyage", "at least 1 character"),
        ({**vessel_doc("VESSEL_ARRIVED", at()), "voyage": None}, "voyage", "string"),
    ],
)
def test_a_malformed_vessel_event_is_refused_naming_its_field(
    doc: dict[str, Any], field: str, words: str
) -> None:
    rejection = parse_event(orjson.dumps(doc))

    assert field == getattr(rejection, "field", None)
    assert words in getattr(rejection, "reason", "")


def test_a_vessel_is_an_imo_number_or_a_name() -> None:
    named = parse_event(orjson.dumps(vessel_doc("VESSEL_ARRIVED", at(), vessel="HAI PHONG 08")))
    imo = parse_event(orjson.dumps(vessel_doc("VESSEL_ARRIVED", at(), vessel="IMO 9074729")))

    assert ("HAI PHONG 08", "9074729") == (
        getattr(named, "vessel", None),
        getattr(imo, "vessel", None),
    )


def test_a_state_keeps_the_facts_of_its_calls_and_reads_version_1() -> None:
    log = Log().feed(*scenario()[:3])
    state = log.replayer.states[CONTAINER]
    assert state.calls  # the eta, copied at the discharge

    again = ContainerState.from_json(state.to_json())
    old = orjson.loads(state.to_json())
    old["v"] = 1
    old.pop("k")
    old["e"] = [e[:8] for e in old["e"]]
    v1 = ContainerState.from_json(orjson.dumps(old))

    assert (2, state.calls, state.events) == (STATE_VERSION, again.calls, again.events)
    assert ({}, [None] * len(v1.events)) == (v1.calls, [e.voyage for e in v1.events])


def test_calls_are_forgotten_long_after_they_were_last_heard_of() -> None:
    log = Log().feed(departed(at()))
    log.feed(departed(at(days=30)) | {"voyage": "OTHER-1", "event_id": "d2"})

    assert ["OTHER-1"] == list(log.replayer.yard.calls)


@st.composite
def _call_reports(draw: st.DrawFn) -> list[tuple[str, str, float, float]]:
    """Vessel reports of three voyages over two months, each received after the one
    before (so the later report of a kind is the one a call keeps), each
    (voyage, type, hours its value lies from the start, hours received): an estimated
    arrival revised earlier lowers what the call speaks of latest."""
    out = []
    received_h = 0.0
    for _ in range(draw(st.integers(1, 25))):
        received_h += draw(st.floats(0.01, 24 * 6, allow_nan=False))  # the later counts
        voyage = draw(st.sampled_from(("V-A", "V-B", "V-C")))
        kind = draw(st.sampled_from(("VESSEL_EXPECTED", "VESSEL_ARRIVED", "VESSEL_DEPARTED")))
        value_h = received_h + draw(st.floats(-24 * 20, 24 * 20, allow_nan=False))
        out.append((voyage, kind, value_h, received_h))
    return out


@settings(max_examples=150, deadline=None)
@given(reports=_call_reports())
def test_calls_are_forgotten_as_a_look_at_every_call_at_every_report_would(
    reports: list[tuple[str, str, float, float]],
) -> None:
    """The yard looks at its calls only when one may have passed the horizon (twice
    the retention before the report's clock); which are forgotten, report by report,
    is what looking at every call at every report gives."""
    log = Log()
    latest: dict[str, dict[str, float]] = {}  # the oracle: voyage -> kind -> instant (h)
    horizon_h = 2 * 7 * 24  # twice the retention
    clock_h = float("-inf")
    for n, (voyage, kind, value_h, received_h) in enumerate(reports):
        value = at(hours=value_h)
        doc = (
            vessel_doc(kind, at(hours=received_h), voyage=voyage, eta=value, event_id=f"e{n}")
            if kind == "VESSEL_EXPECTED"
            else vessel_doc(kind, value, voyage=voyage, event_id=f"e{n}")
        )
        log.feed(received(doc, at(hours=received_h)))
        occurred_h = received_h if kind == "VESSEL_EXPECTED" else value_h
        clock_h = max(clock_h, occurred_h)
        latest.setdefault(voyage, {})[kind] = value_h
        edge = clock_h - horizon_h
        gone = [v for v, vs in latest.items() if v != voyage and max(vs.values()) < edge]
        for v in gone:
            del latest[v]
        assert sorted(log.replayer.yard.calls) == sorted(latest), n


# --- a vessel event judges again only what it can change ---------------------------------

_OTHER_VOYAGE = "OTHER-0001"
_KINDS = ("DISCHARGED", "GATE_IN", "EXPECTED", "SCAN_SELECTED", "SCANNED")
_KINDS += ("CHANNEL_ASSIGNED", "ELIGIBLE", "GATE_OUT", "LOADED")


def _judge_all(
    state: ContainerState, voyage: str, facts: Facts, *, now: int, policy: Policy
) -> Effects:
    """The oracle: every container naming the voyage judged again, its visits derived
    again from their events (what learn did before it skipped anything)."""
    events = state.events
    at_ = next((i for i, e in enumerate(events) if e.voyage == voyage), None)
    if at_ is None or state.calls.get(voyage) == facts:
        return Effects(outcome="duplicate")
    state.calls[voyage] = facts
    state.last = None
    first = sum(1 for e in events[:at_] if e.code in EXITS)
    return settle(state, now, policy, first)


@st.composite
def _port_log(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A few containers' visits over up to three weeks, some discharged from or loaded
    on the call, some not, with the call's reports among them in any order."""
    docs: list[dict[str, Any]] = []
    hours = st.floats(min_value=0, max_value=21 * 24, allow_nan=False)
    lag = st.floats(min_value=0, max_value=3, allow_nan=False)
    for stem in ("TGHU000010", "TGHU000020", "TGHU000030"):
        number = container_no(stem)
        for _ in range(draw(st.integers(1, 7))):
            kind = draw(st.sampled_from(_KINDS))
            when = at(hours=draw(hours))
            fields: dict[str, Any] = {"container_no": number}
            if kind in ("DISCHARGED", "LOADED"):
                fields["voyage"] = draw(st.sampled_from([VOYAGE, _OTHER_VOYAGE]))
            later = when + timedelta(hours=draw(lag))
            docs.append(received(event_doc(kind, when, **fields), later))
    for kind in draw(st.lists(st.sampled_from(["EXPECTED", "ARRIVED", "DEPARTED"]), max_size=5)):
        when = at(hours=draw(hours))
        extra = {"eta": at(hours=draw(hours))} if kind == "EXPECTED" else {}
        docs.append(received(vessel_doc(f"VESSEL_{kind}", when, **extra), when))
    return draw(st.permutations(docs))


def _judged_both_ways(docs: list[dict[str, Any]]) -> Log:
    """Replay ``docs`` as learn does and as the oracle does; assert the outputs, line by
    line, and the states equal; the first replay."""
    fast = Log().feed(*docs).finish()
    oracle = Log()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("vasscm.yard.learn", _judge_all)
        oracle.feed(*docs).finish()
    assert fast.records == oracle.records
    assert fast.alerts == oracle.alerts
    assert {k: s.to_json() for k, s in fast.replayer.states.items()} == {
        k: s.to_json() for k, s in oracle.replayer.states.items()
    }
    for state in fast.replayer.states.values():  # only the calls its visits name
        assert set(state.calls) <= {e.voyage for e in state.events}
    return fast


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=_port_log())
def test_a_vessel_event_skips_only_containers_whose_judgement_cannot_change(
    docs: list[dict[str, Any]],
) -> None:
    """A container that reads nothing the report changed (the arrival itself; a
    departure, when none of its visits was loaded on the call) and has nothing due
    keeps its judgement and only takes the facts: the outputs, line by line, and the
    states are those of judging every container naming the voyage again, its visits
    derived from their events; a state holds only the calls its events name."""
    _judged_both_ways(docs)


_IMPORT = container_no("TGHU000010")
_EXPORT = container_no("TGHU000020")


def test_a_container_whose_stall_fell_due_is_judged_by_the_departure_in_its_turn() -> None:
    """An import off the call (it reads nothing of a departure) whose stall fell due by
    the departure's instant is still judged in container order, so its alert goes out
    before the late loading's of a container that sorts after it, as it always did."""
    log = _judged_both_ways(
        [
            event_doc("DISCHARGED", at(), voyage=VOYAGE, container_no=_IMPORT),
            event_doc("GATE_IN", at(), direction="export", container_no=_EXPORT),
            event_doc("ELIGIBLE", at(hours=1), container_no=_EXPORT),
            received(
                event_doc("LOADED", at(hours=10), voyage=VOYAGE, container_no=_EXPORT),
                at(hours=50),
            ),
            departed(at(hours=49)),
        ]
    )
    assert [(a["container_no"], a["kind"]) for a in log.alerts] == [
        (_IMPORT, "STALLED"),
        (_EXPORT, "LATE_REPORT"),
    ]


def test_a_container_with_a_visit_to_drop_is_judged_by_the_departure() -> None:
    """An import off the call that came back within a week of leaving: the departure,
    a week after it left, drops the old visit (as any judgement then would), though
    nothing it reads changed and its stall is not due."""
    log = _judged_both_ways(
        [
            event_doc("DISCHARGED", at(), voyage=_OTHER_VOYAGE, container_no=_IMPORT),
            event_doc("ELIGIBLE", at(minutes=30), container_no=_IMPORT),
            event_doc("GATE_OUT", at(hours=1), container_no=_IMPORT),
            event_doc("DISCHARGED", at(hours=150), voyage=VOYAGE, container_no=_IMPORT),
            event_doc("ELIGIBLE", at(hours=151), container_no=_IMPORT),
            departed(at(hours=170)),
        ]
    )
    state = log.replayer.states[_IMPORT]
    assert len(state.books) == 1
    assert state.horizon is not None


def test_a_dropped_visits_call_goes_with_it_though_another_is_named_without_a_call() -> None:
    """A container discharged from the call, then back off another voyage no report
    has named: a week on, the call's arrival drops the first visit, and with it the
    call's copy (a count of the voyages named, one either way, kept it)."""
    log = _judged_both_ways(
        [
            event_doc("DISCHARGED", at(hours=1), voyage=_OTHER_VOYAGE, container_no=_IMPORT),
            event_doc("DISCHARGED", at(), voyage=VOYAGE, container_no=_IMPORT),
            event_doc("GATE_OUT", at(minutes=30), container_no=_IMPORT),
            received(vessel_doc("VESSEL_ARRIVED", at(days=7, hours=1)), at(days=7, hours=1)),
        ]
    )
    state = log.replayer.states[_IMPORT]
    assert [e.voyage for e in state.events] == [_OTHER_VOYAGE]
    assert state.calls == {}
