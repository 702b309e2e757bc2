"""Tests for ``vasscm.tracking`` against contract section 3 (visits, stages, segments) and
section 4 (alerts).

Each rule is checked at a seaport (``cai-lan``: import DISCHARGED..GATE_OUT, export
GATE_IN..LOADED) and at a land border gate (``mong-cai``: GATE_IN..GATE_OUT both ways)
wherever it applies. The property tests at the end pin the contract's central promise:
the same set of events gives the same visit, record, alerts and view whatever order
(and however many times) they arrive, and a state reloaded mid-stream changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from factories import (
    CONTAINER,
    DECLARATION,
    OTHER_CONTAINER,
    OTHER_DECLARATION,
    ROUTES,
    Route,
    Run,
    apply_event,
    at,
    cleared_visit,
    event_doc,
    make_event,
    run_events,
    typical_visit,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from strategies import GeneratedVisit, generated_visits

from vasscm.events import (
    Alert,
    ContainerEvent,
    Rejection,
    Stage,
    VisitState,
    format_ts,
    parse_event,
)
from vasscm.tracking import (
    ContainerState,
    Policy,
    apply,
    check,
    current_view,
    next_deadline,
    published_records,
    resend,
)
from vasscm.tracking.visit import derive, last_chunk

# --- helpers ---------------------------------------------------------------------------

ROUTE = pytest.mark.parametrize("route", list(ROUTES.values()), ids=list(ROUTES))
SEAPORT_IMPORT = ROUTES["cai-lan-import"]
MS = timedelta(milliseconds=1)
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)

#: Contract section 4 default STALLED thresholds, by (stage, direction).
DEFAULT_STALL: dict[tuple[str, str], timedelta] = {
    **{
        (s, d): HOUR * h
        for s, h in [
            ("AWAITING_SCAN", 4),
            ("RELEASED", 72),
            ("HELD", 24),
            ("SUSPENDED", 24),
            ("EXPECTED", 7 * 24),
        ]
        for d in ("import", "export")
    },
    ("AWAITING_RELEASE", "import"): HOUR * 48,
    ("AWAITING_RELEASE", "export"): HOUR * 24,
}
STALL_STAGES = ["AWAITING_SCAN", "AWAITING_RELEASE", "RELEASED", "HELD", "SUSPENDED", "EXPECTED"]


def pick(model: BaseModel, keys: Iterable[str]) -> dict[str, Any]:
    """The named fields of ``model`` (e.g. the keys of an expected dict), as JSON carries them."""
    data = model.model_dump(mode="json")
    return {key: data[key] for key in keys}


def view(run: Run) -> VisitState:
    assert run.state is not None
    current = current_view(run.state)
    assert current is not None
    return current


def record(run: Run) -> dict[str, Any]:
    last = run.last_record()
    assert last is not None, "no clearance record was emitted"
    return last.model_dump(mode="json")


def kinds(alerts: Sequence[Alert], status: str = "firing") -> list[str]:
    return sorted(a.kind.value for a in alerts if a.status == status)


def stall_setup(stage: str, route: Route) -> tuple[list[ContainerEvent], datetime]:
    """Events that put a visit in ``stage``, and the instant the stage began."""
    if stage == "EXPECTED":
        return [route.event("EXPECTED", at())], at()
    trigger = {
        "AWAITING_SCAN": "SCAN_SELECTED",
        "RELEASED": "ELIGIBLE",
        "HELD": "DISCREPANCY",
        "SUSPENDED": "SUSPENDED",
    }.get(stage)
    if trigger is None:
        return [route.arrive(at())], at()
    return [route.arrive(at()), route.event(trigger, at(hours=1))], at(hours=1)


# --- section 3: a visit and its stages --------------------------------------------------


@ROUTE
def test_arrival_opens_a_visit_awaiting_release(route: Route) -> None:
    """DISCHARGED / GATE_IN opens a visit in AWAITING_RELEASE with the arrival's site and
    direction."""
    run = run_events([route.arrive(at())])

    expected = {
        "container_no": CONTAINER,
        "site": route.site,
        "direction": route.direction,
        "stage": "AWAITING_RELEASE",
        "stage_since": format_ts(at()),
        "arrived_at": format_ts(at()),
        "exited_at": None,
        "channel": "unknown",
    }
    assert expected == pick(view(run), expected)


@ROUTE
def test_expected_opens_the_visit_before_arrival(route: Route) -> None:
    """EXPECTED alone opens a visit in stage EXPECTED, direction from the announcement."""
    run = run_events([route.event("EXPECTED", at(days=-1))])

    expected = {
        "site": route.site,
        "direction": route.direction,
        "stage": "EXPECTED",
        "stage_since": format_ts(at(days=-1)),
        "arrived_at": None,
        "declaration_nos": [DECLARATION],
    }
    assert expected == pick(view(run), expected)


@ROUTE
def test_arrival_after_expected_continues_the_same_visit(route: Route) -> None:
    """The arrival moves an EXPECTED visit on to AWAITING_RELEASE; the visit is the same
    one whether the announcement was seen before or after the arrival."""
    announced_first = run_events([route.event("EXPECTED", at(days=-1)), route.arrive(at())])
    arrived_first = run_events([route.arrive(at()), route.event("EXPECTED", at(days=-1))])

    expected = {
        "stage": "AWAITING_RELEASE",
        "stage_since": format_ts(at()),
        "arrived_at": format_ts(at()),
    }
    assert expected == pick(view(announced_first), expected)
    assert view(arrived_first).visit_id == view(announced_first).visit_id


@ROUTE
def test_scan_selection_holds_the_visit_in_awaiting_scan_until_scanned(route: Route) -> None:
    """Selected and not scanned is AWAITING_SCAN; SCANNED returns it to AWAITING_RELEASE."""
    run = run_events([route.arrive(at()), route.event("SCAN_SELECTED", at(hours=1))])
    selected = pick(view(run), ["stage", "stage_since", "selected_for_scan"])

    run_events([route.event("SCANNED", at(hours=2))], run=run)
    scanned = pick(view(run), ["stage", "stage_since", "scanned"])

    assert {
        "stage": "AWAITING_SCAN",
        "stage_since": format_ts(at(hours=1)),
        "selected_for_scan": True,
    } == selected
    assert {
        "stage": "AWAITING_RELEASE",
        "stage_since": format_ts(at(hours=2)),
        "scanned": True,
    } == scanned


@ROUTE
def test_eligible_releases_the_container(route: Route) -> None:
    """ELIGIBLE after arrival: stage RELEASED since the ELIGIBLE."""
    run = run_events([route.arrive(at()), route.event("ELIGIBLE", at(hours=3))])

    expected = {
        "stage": "RELEASED",
        "stage_since": format_ts(at(hours=3)),
        "eligible_at": format_ts(at(hours=3)),
    }
    assert expected == pick(view(run), expected)


@ROUTE
def test_eligible_wins_over_a_pending_scan(route: Route) -> None:
    """AWAITING_SCAN is a kind of 'arrived, not eligible': once eligible the stage is RELEASED."""
    run = run_events(
        [
            route.arrive(at()),
            route.event("SCAN_SELECTED", at(hours=1)),
            route.event("ELIGIBLE", at(hours=2)),
        ]
    )

    assert Stage.RELEASED == view(run).stage


@ROUTE
def test_exit_closes_the_visit_and_emits_its_record(route: Route) -> None:
    """GATE_OUT / LOADED: stage EXITED and one ClearanceRecord, revision 1."""
    run = run_events(cleared_visit(route))

    expected_view = {"stage": "EXITED", "exited_at": format_ts(at(hours=7))}
    expected_record = {
        "container_no": CONTAINER,
        "site": route.site,
        "direction": route.direction,
        "visit_id": view(run).visit_id,
        "arrived_at": format_ts(at()),
        "eligible_at": format_ts(at(hours=5)),
        "exited_at": format_ts(at(hours=7)),
        "channel": "green",
        "declaration_nos": [DECLARATION],
        "scanned": False,
        "scan_result": None,
        "alerts": [],
        "revision": 1,
    }
    assert expected_view == pick(view(run), expected_view)
    assert 1 == len(run.records)
    assert expected_record == pick(run.records[0], expected_record)


BASE_STAGES: dict[str, tuple[Callable[[Route], list[ContainerEvent]], Stage]] = {
    "expected": (lambda r: [r.event("EXPECTED", at(days=-1))], Stage.EXPECTED),
    "awaiting-release": (lambda r: [r.arrive(at())], Stage.AWAITING_RELEASE),
    "awaiting-scan": (
        lambda r: [r.arrive(at()), r.event("SCAN_SELECTED", at(hours=1))],
        Stage.AWAITING_SCAN,
    ),
    "released": (lambda r: [r.arrive(at()), r.event("ELIGIBLE", at(hours=1))], Stage.RELEASED),
}


@ROUTE
@pytest.mark.parametrize("base", list(BASE_STAGES), ids=list(BASE_STAGES))
def test_suspension_overlays_any_stage_until_resumed(route: Route, base: str) -> None:
    """SUSPENDED overlays the stage it finds; RESUMED gives that stage back."""
    build, base_stage = BASE_STAGES[base]
    run = run_events([*build(route), route.event("SUSPENDED", at(hours=4))])
    suspended = (view(run).stage, view(run).stage_since)

    run_events([route.event("RESUMED", at(hours=6))], run=run)

    assert (Stage.SUSPENDED, at(hours=4)) == suspended
    assert (base_stage, at(hours=6)) == (view(run).stage, view(run).stage_since)


@ROUTE
def test_discrepancy_holds_the_container_until_eligible(route: Route) -> None:
    """DISCREPANCY overlays HELD; an ELIGIBLE after it releases the container."""
    run = run_events([route.arrive(at()), route.event("DISCREPANCY", at(hours=1))])
    held = (view(run).stage, view(run).stage_since)

    run_events([route.event("ELIGIBLE", at(hours=3))], run=run)

    assert (Stage.HELD, at(hours=1)) == held
    assert (Stage.RELEASED, at(hours=3)) == (view(run).stage, view(run).stage_since)


def test_an_eligible_before_the_discrepancy_does_not_lift_the_hold() -> None:
    """HELD lasts until an ELIGIBLE *after* the discrepancy."""
    route = SEAPORT_IMPORT
    run = run_events(
        [
            route.arrive(at()),
            route.event("ELIGIBLE", at(hours=1)),
            route.event("DISCREPANCY", at(hours=2)),
        ]
    )

    assert Stage.HELD == view(run).stage


# --- section 3: segments -------------------------------------------------------------


@ROUTE
def test_segments_of_a_completed_visit_in_seconds(route: Route) -> None:
    """release, exit, dwell, scan_wait, lodgement and customs are exact second counts
    between the milestones."""
    run = run_events(
        typical_visit(route)
    )  # selected -6h, arrive 0, channel 1h, scanned 2h, eligible 5h, exit 7h

    expected = {
        "segments": {
            "release": 18000.0,
            "exit": 7200.0,
            "dwell": 25200.0,
            "scan_wait": 7200.0,
            "lodgement": 3600.0,
            "customs": 14400.0,
        },
        "pre_cleared": False,
        "scanned": True,
        "scan_result": "CLEAR",
        "channel": "yellow",
    }
    assert expected == pick(run.records[-1], expected)


def test_scan_wait_starts_at_arrival_when_selected_before_it() -> None:
    """scan_wait runs from the later of SCAN_SELECTED and arrival."""
    route = SEAPORT_IMPORT
    run = run_events(
        [
            route.event("SCAN_SELECTED", at(hours=-2)),
            route.arrive(at()),
            route.event("SCANNED", at(minutes=90)),
            route.event("ELIGIBLE", at(hours=2)),
            route.leave(at(hours=3)),
        ]
    )

    assert 5400.0 == record(run)["segments"]["scan_wait"]


@ROUTE
def test_a_segment_that_did_not_happen_is_absent(route: Route) -> None:
    """No scan, no scan_wait: the segments object only names what happened."""
    run = run_events(cleared_visit(route))

    expected = {
        "release": 18000.0,
        "exit": 7200.0,
        "dwell": 25200.0,
        "lodgement": 1800.0,
        "customs": 16200.0,
    }
    assert expected == record(run)["segments"]


@ROUTE
def test_pre_cleared_visit(route: Route) -> None:
    """ELIGIBLE before arrival: release 0, pre_cleared true, exit measured from arrival."""
    run = run_events(
        [
            route.event("ELIGIBLE", at(hours=-3)),
            route.arrive(at()),
            route.leave(at(hours=2)),
        ]
    )

    expected = {
        "segments": {"release": 0.0, "exit": 7200.0, "dwell": 7200.0},
        "pre_cleared": True,
        "eligible_at": format_ts(at(hours=-3)),
        "alerts": [],
    }
    assert expected == pick(run.records[-1], expected)


def test_eligible_at_the_arrival_instant_is_not_pre_cleared() -> None:
    """'Eligible before arrival' is strict: the same instant gives release 0, not pre-cleared."""
    route = SEAPORT_IMPORT
    run = run_events([route.arrive(at()), route.event("ELIGIBLE", at()), route.leave(at(hours=1))])

    expected = {"segments": {"release": 0.0, "exit": 3600.0, "dwell": 3600.0}, "pre_cleared": False}
    assert expected == pick(run.records[-1], expected)


IN_FORCE_CASES: dict[str, tuple[list[tuple[str, float]], dict[str, Any]]] = {
    # name: ([(type, hours after arrival)], expected record fields); exit at +6h
    "first-of-two-eligibles": (
        [("ELIGIBLE", 1), ("ELIGIBLE", 3)],
        {
            "segments": {"release": 3600.0, "exit": 18000.0, "dwell": 21600.0},
            "eligible_at": format_ts(at(hours=1)),
            "pre_cleared": False,
        },
    ),
    "cancelled-then-reissued": (
        [("ELIGIBLE", 1), ("ELIGIBILITY_CANCELLED", 2), ("ELIGIBLE", 4)],
        {
            "segments": {"release": 14400.0, "exit": 7200.0, "dwell": 21600.0},
            "eligible_at": format_ts(at(hours=4)),
            "pre_cleared": False,
        },
    ),
    "pre-clearance-cancelled-and-reissued-after-arrival": (
        [("ELIGIBLE", -2), ("ELIGIBILITY_CANCELLED", -1), ("ELIGIBLE", 1)],
        {
            "segments": {"release": 3600.0, "exit": 18000.0, "dwell": 21600.0},
            "eligible_at": format_ts(at(hours=1)),
            "pre_cleared": False,
        },
    ),
    "suspended-and-resumed": (
        [("ELIGIBLE", 1), ("SUSPENDED", 2), ("RESUMED", 3)],
        {
            "segments": {"release": 3600.0, "exit": 18000.0, "dwell": 21600.0},
            "eligible_at": format_ts(at(hours=1)),
            "alerts": [],
        },
    ),
}


@ROUTE
@pytest.mark.parametrize("case", list(IN_FORCE_CASES), ids=list(IN_FORCE_CASES))
def test_release_counts_to_the_first_eligible_still_in_force(route: Route, case: str) -> None:
    """A cancelled ELIGIBLE no longer counts; the first one still in force at exit does."""
    steps, expected = IN_FORCE_CASES[case]
    events = [route.arrive(at()), *(route.event(t, at(hours=h)) for t, h in steps)]
    run = run_events([*events, route.leave(at(hours=6))])

    assert expected == pick(run.records[-1], expected)


def test_channel_is_the_latest_assigned_by_event_time() -> None:
    """Channel is the CHANNEL_ASSIGNED latest by occurred_at, not the last to arrive."""
    route = SEAPORT_IMPORT
    run = run_events(
        [
            route.arrive(at()),
            route.event("CHANNEL_ASSIGNED", at(hours=1), channel="green"),
            route.event("CHANNEL_ASSIGNED", at(hours=3), channel="red"),
            route.event("CHANNEL_ASSIGNED", at(hours=2), channel="yellow"),
            route.event("ELIGIBLE", at(hours=4)),
            route.leave(at(hours=5)),
        ]
    )

    assert ("red", "red") == (view(run).channel, record(run)["channel"])


def test_channel_is_unknown_when_none_was_assigned() -> None:
    """No CHANNEL_ASSIGNED: the record says ``unknown``."""
    route = SEAPORT_IMPORT
    run = run_events(
        [route.arrive(at()), route.event("ELIGIBLE", at(hours=1)), route.leave(at(hours=2))]
    )

    assert "unknown" == record(run)["channel"]


def test_declaration_nos_lists_each_declaration_once() -> None:
    """Every declaration that named the container in this visit, once each, sorted."""
    route = SEAPORT_IMPORT
    run = run_events(
        [
            route.event("EXPECTED", at(hours=-5), declaration_no=OTHER_DECLARATION),
            route.arrive(at()),
            route.event("CHANNEL_ASSIGNED", at(hours=1), declaration_no=OTHER_DECLARATION),
            route.event("ELIGIBLE", at(hours=2), declaration_no=DECLARATION),
            route.leave(at(hours=3)),
        ]
    )

    assert sorted([DECLARATION, OTHER_DECLARATION]) == record(run)["declaration_nos"]


# --- section 3: seals ---------------------------------------------------------------------

SEAL_CASES: dict[str, tuple[Callable[[Route], list[ContainerEvent]], str | None, list[str]]] = {
    # name: (events before the exit, exit seal, expected firing kinds)
    "exit-with-the-new-seal": (
        lambda r: [
            r.arrive(at(), seal_no="S1"),
            r.event("SEAL_CHANGED", at(hours=1), seal_no="S2"),
        ],
        "S2",
        [],
    ),
    "exit-with-the-replaced-seal": (
        lambda r: [
            r.arrive(at(), seal_no="S1"),
            r.event("SEAL_CHANGED", at(hours=1), seal_no="S2"),
        ],
        "S1",
        ["SEAL_MISMATCH"],
    ),
    "exit-with-another-seal": (lambda r: [r.arrive(at(), seal_no="S1")], "S3", ["SEAL_MISMATCH"]),
    "exit-with-the-arrival-seal": (lambda r: [r.arrive(at(), seal_no="S1")], "S1", []),
    "exit-without-a-seal": (lambda r: [r.arrive(at(), seal_no="S1")], None, []),
    "exit-seal-differs-from-the-declared": (
        lambda r: [r.event("EXPECTED", at(hours=-9), seal_no="S1"), r.arrive(at())],
        "S9",
        ["SEAL_MISMATCH"],
    ),
}


@ROUTE
@pytest.mark.parametrize("case", list(SEAL_CASES), ids=list(SEAL_CASES))
def test_seal_mismatch_compares_the_exit_seal_with_the_last_known(route: Route, case: str) -> None:
    """SEAL_MISMATCH fires when the exit seal differs from the last known seal, which the
    arrival, a SEAL_CHANGED or a declaration's container entry sets."""
    build, exit_seal, expected = SEAL_CASES[case]
    events = [*build(route), route.event("ELIGIBLE", at(hours=2))]

    run = run_events([*events, route.leave(at(hours=3), seal_no=exit_seal)])

    assert expected == run.firing_kinds()


# --- section 3: duplicates, new visits, late events ------------------------------------


TYPICAL = typical_visit(SEAPORT_IMPORT)
DUPLICATE_CASES = [
    pytest.param(closed, index, id=f"{'closed' if closed else 'open'}-visit-{event.type}")
    for closed in (False, True)
    for index, event in enumerate(TYPICAL if closed else TYPICAL[:-1])
]


@pytest.mark.parametrize(("closed", "index"), DUPLICATE_CASES)
def test_a_duplicate_changes_nothing(closed: bool, index: int) -> None:
    """Re-applying an event (same event_id): outcome ``duplicate``, no effects, same state."""
    run = run_events(TYPICAL if closed else TYPICAL[:-1])
    assert run.state is not None
    before = run.state.to_json()

    state, effects = apply(run.state, TYPICAL[index], container_no=CONTAINER, now=at(hours=8))

    assert ("duplicate", [], []) == (effects.outcome, effects.records, effects.alerts)
    assert before == state.to_json()


@pytest.mark.parametrize("late", [False, True], ids=["in-order", "late-eligible"])
def test_resend_repeats_what_went_out(late: bool) -> None:
    """After a crash the shell sends again what the state says went out: each visit's
    latest record with its revision and content exactly, each alert's latest status;
    the state is left as it was."""
    route = SEAPORT_IMPORT
    events = cleared_visit(route)
    if late:  # exits without release (alert, revision 1), then ELIGIBLE (revision 2)
        events = [events[0], events[1], events[3], events[2]]
    run = run_events(events)
    assert run.state is not None
    before = run.state.to_json()

    effects = resend(run.state, now=at(hours=9))

    assert before == run.state.to_json()
    assert [run.last_record()] == effects.records
    assert run.alert_status() == {a.alert_id: a.status for a in effects.alerts}


def test_resend_repeats_the_resolution_of_an_alert_under_an_earlier_visit_id() -> None:
    """An exit read before its arrival fires EXIT_WITHOUT_RELEASE under a provisional
    visit id; the arrival changes the id and resolves that alert. After a crash that
    lost the resolution (the state saved, the output not), resend sends it again: the
    consumer would otherwise keep the old page firing for good (the five-kill test's
    stray EXIT_WITHOUT_RELEASE under a visit id no record uses)."""
    route = SEAPORT_IMPORT
    leave = route.leave(at(hours=3))
    run = run_events([leave, route.arrive(at()), route.event("ELIGIBLE", at(hours=2))])
    assert run.state is not None
    old_ids = {a.alert_id for a in run.alerts} - {a.alert_id for a in run.alerts[-1:]}
    assert any(not i.startswith(run.state.books[-1].visit_id) for i in old_ids)

    effects = resend(run.state, now=at(hours=4))

    assert run.alert_status() == {a.alert_id: a.status for a in effects.alerts}
    assert {"firing"} != {a.status for a in effects.alerts}


def test_resend_of_an_open_visit_repeats_its_alerts_and_no_record() -> None:
    run = run_events([SEAPORT_IMPORT.arrive(at())], as_of=at(days=3))
    assert run.state is not None
    assert run.firing()

    effects = resend(run.state, now=at(days=3))

    assert [] == effects.records
    assert run.alert_status() == {a.alert_id: a.status for a in effects.alerts}


def test_the_same_event_id_with_other_content_is_still_a_duplicate() -> None:
    """Idempotency is on event_id alone: a re-sent event with changed fields is ignored."""
    route = SEAPORT_IMPORT
    run = run_events([route.arrive(at()), route.event("ELIGIBLE", at(hours=1), event_id="e-1")])
    assert run.state is not None
    before = run.state.to_json()

    state, effects = apply(
        run.state,
        route.event("SUSPENDED", at(hours=2), event_id="e-1"),
        container_no=CONTAINER,
        now=at(hours=2),
    )

    assert ("duplicate", before) == (effects.outcome, state.to_json())


@ROUTE
def test_an_event_after_the_exit_opens_a_new_visit(route: Route) -> None:
    """The next arrival after an exit is a new visit with a new visit_id; the closed
    visit's record is not re-emitted."""
    run = run_events(cleared_visit(route))
    first_id = view(run).visit_id

    effects = apply_event(run, route.arrive(at(days=2)))

    expected = {"stage": "AWAITING_RELEASE", "arrived_at": format_ts(at(days=2)), "exited_at": None}
    assert expected == pick(view(run), expected)
    assert first_id != view(run).visit_id
    assert [] == effects.records


def test_a_customs_event_after_the_exit_opens_a_new_expected_visit() -> None:
    """Any event that occurred after the exit, not only an arrival, opens the next visit."""
    route = SEAPORT_IMPORT
    run = run_events(cleared_visit(route))
    first_id = view(run).visit_id

    apply_event(run, route.event("EXPECTED", at(days=3)))

    assert (Stage.EXPECTED, None) == (view(run).stage, view(run).arrived_at)
    assert first_id != view(run).visit_id


@ROUTE
def test_a_late_event_for_a_closed_visit_reemits_its_record(route: Route) -> None:
    """A late event that occurred inside a closed visit re-emits its record, revision + 1."""
    run = run_events(cleared_visit(route))  # channel green at +30 min
    visit_id = record(run)["visit_id"]

    late_channel = apply_event(run, route.event("CHANNEL_ASSIGNED", at(hours=1), channel="red"))
    late_scan = apply_event(run, route.event("SCANNED", at(hours=2), result="SUSPECT"))

    assert [(visit_id, 2, "red")] == [
        (r.visit_id, r.revision, r.channel) for r in late_channel.records
    ]
    assert [(visit_id, 3, "SUSPECT")] == [
        (r.visit_id, r.revision, r.scan_result) for r in late_scan.records
    ]


def test_a_late_event_reaches_the_closed_visit_while_the_next_is_open() -> None:
    """With the next visit already open, a late event of the previous one still revises it."""
    route = SEAPORT_IMPORT
    run = run_events([*cleared_visit(route), route.arrive(at(days=2))])
    closed_id = record(run)["visit_id"]

    effects = apply_event(run, route.event("CHANNEL_ASSIGNED", at(hours=1), channel="yellow"))

    assert [(closed_id, 2, "yellow")] == [
        (r.visit_id, r.revision, r.channel) for r in effects.records
    ]
    assert at(days=2) == view(run).arrived_at


# --- section 4: exit alerts -------------------------------------------------------------

UNRELEASED: dict[str, list[tuple[str, float]]] = {
    "never-eligible": [],
    "suspended": [("ELIGIBLE", 1), ("SUSPENDED", 2)],
    "eligibility-cancelled": [("ELIGIBLE", 1), ("ELIGIBILITY_CANCELLED", 2)],
    "cancelled-while-suspended": [("SUSPENDED", 1), ("ELIGIBILITY_CANCELLED", 2)],
}


@ROUTE
@pytest.mark.parametrize("case", list(UNRELEASED), ids=list(UNRELEASED))
def test_exit_without_release(route: Route, case: str) -> None:
    """Exit while not eligible, suspended or with eligibility cancelled: a critical
    EXIT_WITHOUT_RELEASE on the EXITED stage, listed in the record's alerts."""
    events = [route.arrive(at()), *(route.event(t, at(hours=h)) for t, h in UNRELEASED[case])]
    run = run_events([*events, route.leave(at(hours=5))])

    alerts = [a for a in run.alerts if a.kind == "EXIT_WITHOUT_RELEASE"]
    assert [("critical", "firing", Stage.EXITED, at(hours=5))] == [
        (a.severity, a.status, a.stage, a.since) for a in alerts
    ]
    assert ["EXIT_WITHOUT_RELEASE"] == record(run)["alerts"]


@ROUTE
def test_released_exit_raises_nothing(route: Route) -> None:
    """An eligible, unsuspended, unselected exit on time raises no alert at all."""
    run = run_events(cleared_visit(route))

    assert [] == run.alerts


@ROUTE
def test_unscanned_exit(route: Route) -> None:
    """Selected for scan and exited unscanned: a critical UNSCANNED_EXIT."""
    run = run_events(
        [
            route.event("SCAN_SELECTED", at(hours=-5)),  # form 03, in time (contract 7.2)
            route.arrive(at()),
            route.event("ELIGIBLE", at(hours=2)),
            route.leave(at(hours=3)),
        ]
    )

    assert [("UNSCANNED_EXIT", "critical", "firing", Stage.EXITED)] == [
        (a.kind, a.severity, a.status, a.stage) for a in run.alerts
    ]


@ROUTE
def test_seal_mismatch_is_a_warning(route: Route) -> None:
    """SEAL_MISMATCH has severity warning and stage EXITED."""
    run = run_events(
        [
            route.arrive(at(), seal_no="S1"),
            route.event("ELIGIBLE", at(hours=1)),
            route.leave(at(hours=2), seal_no="S2"),
        ]
    )

    assert [("SEAL_MISMATCH", "warning", "firing", Stage.EXITED)] == [
        (a.kind, a.severity, a.status, a.stage) for a in run.alerts
    ]


# --- section 4: STALLED -------------------------------------------------------------------


@ROUTE
@pytest.mark.parametrize("stage", STALL_STAGES)
@pytest.mark.parametrize(
    ("offset", "fires"),
    [(-SECOND, False), (timedelta(0), False), (SECOND, True)],
    ids=["just-under", "at-threshold", "just-over"],
)
def test_stalled_fires_past_the_default_threshold(
    route: Route, stage: str, offset: timedelta, fires: bool
) -> None:
    """STALLED fires once a stage is *older than* its default threshold (per direction for
    AWAITING_RELEASE), as a warning naming the stage and when it began."""
    events, since = stall_setup(stage, route)
    run = run_events(events)
    assert run.state is not None
    now = since + DEFAULT_STALL[stage, route.direction] + offset

    _, effects = check(run.state, now=now)

    expected = [("STALLED", "warning", "firing", Stage(stage), since, now)] if fires else []
    assert expected == [
        (a.kind, a.severity, a.status, a.stage, a.since, a.detected_at) for a in effects.alerts
    ]


@ROUTE
def test_stalled_fires_once_per_visit_and_stage(route: Route) -> None:
    """Checking again and again while the stage lasts raises no second STALLED."""
    run = run_events([route.arrive(at())])
    assert run.state is not None
    threshold = DEFAULT_STALL["AWAITING_RELEASE", route.direction]

    fired = [check(run.state, now=at() + threshold + HOUR * h)[1].alerts for h in (1, 2, 30)]

    assert [1, 0, 0] == [len(alerts) for alerts in fired]
    assert ["STALLED"] == view(run).alerts_firing


STAGE_CHANGES: dict[str, Callable[[Route, datetime], ContainerEvent]] = {
    "eligible": lambda r, t: r.event("ELIGIBLE", t),
    "suspended": lambda r, t: r.event("SUSPENDED", t),
    "scan-selected": lambda r, t: r.event("SCAN_SELECTED", t),
    "discrepancy": lambda r, t: r.event("DISCREPANCY", t),
    "exit": lambda r, t: r.leave(t),
}


@pytest.mark.parametrize("change", list(STAGE_CHANGES), ids=list(STAGE_CHANGES))
def test_stalled_resolves_when_the_stage_changes(change: str) -> None:
    """A firing STALLED is resolved (same alert_id, status resolved) when the stage changes."""
    route = SEAPORT_IMPORT
    run = run_events([route.arrive(at())])
    assert run.state is not None
    _, fired = check(run.state, now=at(hours=49))
    (stalled,) = fired.alerts

    effects = apply_event(run, STAGE_CHANGES[change](route, at(hours=50)), now=at(hours=50))

    resolved = [a for a in effects.alerts if a.alert_id == stalled.alert_id]
    assert [("resolved", Stage.AWAITING_RELEASE, at())] == [
        (a.status, a.stage, a.since) for a in resolved
    ]
    assert "STALLED" not in view(run).alerts_firing


def test_stalled_thresholds_come_from_the_policy() -> None:
    """A custom Policy sets the threshold per stage; ``STAGE:direction`` wins over ``STAGE``."""
    policy = Policy(stall={"AWAITING_RELEASE": 10 * 3600_000, "AWAITING_RELEASE:export": 3600_000})
    fired: dict[str, list[bool]] = {}
    for route in (ROUTES["mong-cai-import"], ROUTES["mong-cai-export"]):
        run = run_events([route.arrive(at())], policy=policy)
        assert run.state is not None
        fired[route.direction] = [
            bool(check(run.state, now=at() + delay, policy=policy)[1].alerts)
            for delay in (HOUR, HOUR + SECOND, HOUR * 10, HOUR * 10 + SECOND)
        ]

    assert {"import": [False, False, False, True], "export": [False, True, False, False]} == fired


def test_a_stage_without_a_policy_threshold_never_stalls() -> None:
    """A stage the policy leaves out is not watched."""
    policy = Policy(stall={"RELEASED": 3600_000})
    run = run_events([SEAPORT_IMPORT.arrive(at())], policy=policy)
    assert run.state is not None

    _, effects = check(run.state, now=at(days=30), policy=policy)

    assert ([], None) == (effects.alerts, next_deadline(run.state, policy))


@ROUTE
@pytest.mark.parametrize("stage", STALL_STAGES)
def test_next_deadline_is_the_instant_check_fires(route: Route, stage: str) -> None:
    """next_deadline names the first instant at which check raises STALLED: a check one
    millisecond earlier raises nothing."""
    events, since = stall_setup(stage, route)
    run = run_events(events)
    assert run.state is not None
    threshold = DEFAULT_STALL[stage, route.direction]

    deadline = next_deadline(run.state)
    assert deadline is not None
    _, before = check(run.state, now=deadline - MS)
    _, on_time = check(run.state, now=deadline)

    assert ([], ["STALLED"]) == (kinds(before.alerts), kinds(on_time.alerts))
    assert since + threshold < deadline <= since + threshold + SECOND


def test_next_deadline_follows_the_stage() -> None:
    """After a stage change the deadline is the new stage's: RELEASED waits 72 h."""
    route = SEAPORT_IMPORT
    run = run_events([route.arrive(at())])
    assert run.state is not None
    first = next_deadline(run.state)

    run_events([route.event("ELIGIBLE", at(hours=2))], run=run)
    second = next_deadline(run.state)

    assert first is not None
    assert second is not None
    assert (at(hours=48), at(hours=74)) == (first - MS, second - MS)


def test_next_deadline_follows_a_custom_policy() -> None:
    """The deadline uses the policy check will use."""
    policy = Policy(stall={"EXPECTED": 600_000})
    run = run_events([SEAPORT_IMPORT.event("EXPECTED", at())], policy=policy)
    assert run.state is not None

    deadline = next_deadline(run.state, policy)
    assert deadline is not None
    _, effects = check(run.state, now=deadline, policy=policy)

    assert (["STALLED"], at(minutes=10)) == (kinds(effects.alerts), deadline - MS)


def test_a_closed_visit_never_stalls() -> None:
    """Once exited, no check raises STALLED however late it runs."""
    run = run_events(cleared_visit(SEAPORT_IMPORT))
    assert run.state is not None

    _, effects = check(run.state, now=at(days=6))

    assert [] == effects.alerts


# --- section 4: LATE_REPORT ------------------------------------------------------------

LAGS = {
    "on-time": timedelta(0),
    "20-min": timedelta(minutes=20),
    "at-deadline": None,  # the exit type's deadline exactly
    "just-over": SECOND,  # the deadline plus this
}


@ROUTE
@pytest.mark.parametrize("lag_name", list(LAGS), ids=list(LAGS))
def test_late_report(route: Route, lag_name: str) -> None:
    """An import's GATE_OUT received more than 15 min after it occurred, an export's
    more than 30 min (contract 7.2): a LATE_REPORT warning on the EXITED stage
    (``received_at`` as the processor stamps it). A LOADED runs from its vessel's
    departure, unknown here: never judged (tests/test_vessel_calls.py)."""
    import_gate_out = route.exit_type == "GATE_OUT" and route.direction == "import"
    deadline = timedelta(minutes=15 if import_gate_out else 30)
    lag = {"at-deadline": deadline, "just-over": deadline + SECOND}.get(lag_name, LAGS[lag_name])
    assert lag is not None
    run = run_events([route.arrive(at()), route.event("ELIGIBLE", at(hours=1))])
    exited = at(hours=2)

    effects = apply_event(run, route.leave(exited), now=exited + lag, received_at=exited + lag)

    judged = route.exit_type == "GATE_OUT"
    expected = (
        [("LATE_REPORT", "warning", Stage.EXITED, exited)] if judged and lag > deadline else []
    )
    assert expected == [(a.kind, a.severity, a.stage, a.since) for a in effects.alerts]


@pytest.mark.parametrize(
    ("route_id", "minutes", "late"),
    [
        ("mong-cai-export", 25, False),  # contract 7.2: a truck passing a land border, 30 min
        ("mong-cai-export", 35, True),
        ("mong-cai-import", 20, True),  # Art. 52: an import's gate-out, 15 min
        ("cai-lan-import", 14, False),
    ],
)
def test_the_gate_out_clock_depends_on_the_direction(
    route_id: str, minutes: int, late: bool
) -> None:
    route = ROUTES[route_id]
    run = run_events([route.arrive(at()), route.event("ELIGIBLE", at(hours=1))])
    exited = at(hours=2)
    received = exited + timedelta(minutes=minutes)
    effects = apply_event(run, route.leave(exited), now=received, received_at=received)
    assert kinds(effects.alerts) == (["LATE_REPORT"] if late else [])
    if late:
        limit = "0h30m00s" if route.direction == "export" else "0h15m00s"
        assert f"deadline {limit}" in effects.alerts[0].detail


def test_late_report_uses_a_recorded_received_at() -> None:
    """Without a ``received_at`` argument, the one the event carries (a replayed log line)
    counts; an argument overrides it."""
    route = SEAPORT_IMPORT
    late_exit = route.leave(at(hours=2), received_at=at(hours=3))
    base = [route.arrive(at()), route.event("ELIGIBLE", at(hours=1))]

    recorded = apply_event(run_events(base), late_exit)
    overridden = apply_event(run_events(base), late_exit, received_at=at(hours=2, minutes=1))

    assert (["LATE_REPORT"], []) == (kinds(recorded.alerts), kinds(overridden.alerts))


# --- section 4: alerts follow late events -------------------------------------------------

LATE_RESOLUTIONS: dict[
    str, tuple[list[tuple[str, float, dict[str, Any]]], tuple[str, float, dict[str, Any]], str]
] = {
    # name: (events before the exit at +5h, late event, alert kind it resolves)
    "eligible-resolves-exit-without-release": ([], ("ELIGIBLE", 3, {}), "EXIT_WITHOUT_RELEASE"),
    "resumed-resolves-exit-without-release": (
        [("ELIGIBLE", 1, {}), ("SUSPENDED", 2, {})],
        ("RESUMED", 3, {}),
        "EXIT_WITHOUT_RELEASE",
    ),
    "scanned-resolves-unscanned-exit": (
        [("ELIGIBLE", 1, {}), ("SCAN_SELECTED", -5, {})],
        ("SCANNED", 3, {}),
        "UNSCANNED_EXIT",
    ),
    "seal-changed-resolves-seal-mismatch": (
        [("ELIGIBLE", 1, {}), ("SEAL_CHANGED", 2, {"seal_no": "S1"})],
        ("SEAL_CHANGED", 3, {"seal_no": "S2"}),
        "SEAL_MISMATCH",
    ),
}


@ROUTE
@pytest.mark.parametrize("case", list(LATE_RESOLUTIONS), ids=list(LATE_RESOLUTIONS))
def test_a_late_event_resolves_an_exit_alert(route: Route, case: str) -> None:
    """An event that occurred before the exit but arrives after it, and shows the alert no
    longer holds, resolves it: same alert_id, status resolved; the record is re-emitted
    without it."""
    before, (late_type, late_h, late_fields), kind = LATE_RESOLUTIONS[case]
    run = run_events(
        [
            route.arrive(at()),
            *(route.event(t, at(hours=h), **f) for t, h, f in before),
            route.leave(at(hours=5), seal_no="S2"),
        ]
    )
    (raised,) = [a for a in run.alerts if a.kind == kind]

    effects = apply_event(run, route.event(late_type, at(hours=late_h), **late_fields))

    assert [(raised.alert_id, "resolved", raised.since)] == [
        (a.alert_id, a.status, a.since) for a in effects.alerts
    ]
    assert [(2, [])] == [(r.revision, r.alerts) for r in effects.records]


@ROUTE
def test_a_late_suspension_raises_exit_without_release(route: Route) -> None:
    """Late events can also raise: a SUSPENDED that occurred before the exit."""
    run = run_events(cleared_visit(route))

    effects = apply_event(run, route.event("SUSPENDED", at(hours=6)))

    assert ["EXIT_WITHOUT_RELEASE"] == kinds(effects.alerts)
    assert [(2, ["EXIT_WITHOUT_RELEASE"])] == [(r.revision, r.alerts) for r in effects.records]


def test_alert_ids_are_deterministic() -> None:
    """Two runs over the same events give the same alert ids; ids differ by kind and by
    container."""
    route = SEAPORT_IMPORT

    def alert_ids(container_no: str) -> list[str]:
        events = [
            route.arrive(at(), seal_no="S1", container_no=container_no),
            route.event("SCAN_SELECTED", at(hours=-5), container_no=container_no),
            route.leave(at(hours=2), seal_no="S2", container_no=container_no),
        ]
        return [a.alert_id for a in run_events(events, container_no=container_no).alerts]

    first, second, other = alert_ids(CONTAINER), alert_ids(CONTAINER), alert_ids(OTHER_CONTAINER)

    assert first == second
    assert 3 == len(set(first))  # EXIT_WITHOUT_RELEASE, UNSCANNED_EXIT, SEAL_MISMATCH
    assert set() == set(first) & set(other)


def test_alert_record_fields() -> None:
    """An alert carries kind, severity, status, container, site, direction, stage, since,
    detected_at and a readable detail."""
    route = ROUTES["mong-cai-export"]
    run = run_events([route.arrive(at())])
    assert run.state is not None

    _, effects = check(run.state, now=at(hours=30))
    (alert,) = effects.alerts

    expected = {
        "kind": "STALLED",
        "severity": "warning",
        "status": "firing",
        "container_no": CONTAINER,
        "site": "mong-cai",
        "direction": "export",
        "stage": "AWAITING_RELEASE",
        "since": format_ts(at()),
        "detected_at": format_ts(at(hours=30)),
        "visit_id": view(run).visit_id,
    }
    assert expected == pick(alert, expected)
    assert alert.alert_id
    assert alert.detail


# --- state -------------------------------------------------------------------------------


@ROUTE
@pytest.mark.parametrize("closed", [False, True], ids=["open-visit", "closed-visit"])
def test_state_round_trip(route: Route, closed: bool) -> None:
    """to_json / from_json keeps everything: same bytes, same view, same next deadline."""
    events = typical_visit(route)
    run = run_events(events if closed else events[:-1])
    assert run.state is not None

    loaded = ContainerState.from_json(run.state.to_json())

    assert run.state.to_json() == loaded.to_json()
    assert current_view(run.state) == current_view(loaded)
    assert next_deadline(run.state) == next_deadline(loaded)


@ROUTE
def test_state_of_a_typical_visit_is_under_1_kib(route: Route) -> None:
    """A typical 8-event visit, with an alert on record, serialises to less than 1 KiB."""
    events = typical_visit(route)
    run = run_events(
        [
            *events[:-1],
            route.leave(at(hours=7, minutes=40), seal_no="VN-SEAL-9", received_at=at(hours=9)),
        ]
    )
    assert run.state is not None

    size = len(run.state.to_json())

    assert size < 1024, f"{size} bytes"
    # A LOADED is judged from its vessel's departure, not known here (contract 7.2).
    late = [] if route.exit_type == "LOADED" else ["LATE_REPORT"]
    assert [*late, "SEAL_MISMATCH"] == run.firing_kinds()


# --- contract rules found unmet in review, now met -------------------------------------------


def test_resumed_for_another_declaration_does_not_lift_a_suspension() -> None:
    """A container under two declarations stays SUSPENDED until the suspended one resumes."""
    route = SEAPORT_IMPORT
    run = run_events(
        [
            route.arrive(at()),
            route.event("ELIGIBLE", at(hours=1)),
            route.event("SUSPENDED", at(hours=2), declaration_no=DECLARATION),
            route.event("RESUMED", at(hours=3), declaration_no=OTHER_DECLARATION),
            route.leave(at(hours=4)),
        ]
    )

    assert ["EXIT_WITHOUT_RELEASE"] == run.firing_kinds()


def test_cancelling_one_declarations_eligibility_leaves_the_other_in_force() -> None:
    """A cancellation withdraws only its own declaration's ELIGIBLE; the container, under
    both, is then not released (contract 7.1), and the other's ELIGIBLE still stands
    once the cancelled one is re-issued."""
    route = SEAPORT_IMPORT
    events = [
        route.arrive(at()),
        route.event("ELIGIBLE", at(hours=1), declaration_no=DECLARATION),
        route.event("ELIGIBLE", at(hours=2), declaration_no=OTHER_DECLARATION),
        route.event("ELIGIBILITY_CANCELLED", at(hours=3), declaration_no=OTHER_DECLARATION),
    ]
    run = run_events([*events, route.leave(at(hours=4))])
    assert ["EXIT_WITHOUT_RELEASE"] == run.firing_kinds()

    reissued = route.event("ELIGIBLE", at(hours=3.5), declaration_no=OTHER_DECLARATION)
    run = run_events([*events, reissued, route.leave(at(hours=4))])
    expected = {
        "alerts": [],
        "eligible_at": format_ts(at(hours=3.5)),
        "segments": {"release": 12600.0, "exit": 1800.0, "dwell": 14400.0},
    }
    assert expected == pick(run.records[-1], expected)


def test_a_late_eligible_resolves_the_previous_visit_after_the_next_one_closed() -> None:
    """A shuttle at a land border gate: out (export) and back (import) within hours. The
    ELIGIBLE of the first trip, delayed in the customs system, still resolves its
    EXIT_WITHOUT_RELEASE after the second trip has closed."""
    out, back = ROUTES["mong-cai-export"], ROUTES["mong-cai-import"]
    run = run_events(
        [
            out.arrive(at()),
            out.leave(at(hours=2)),
            back.arrive(at(hours=6)),
            back.event("ELIGIBLE", at(hours=7), declaration_no=OTHER_DECLARATION),
            back.leave(at(hours=8)),
        ]
    )
    (raised,) = [a for a in run.alerts if a.kind == "EXIT_WITHOUT_RELEASE"]

    effects = apply_event(run, out.event("ELIGIBLE", at(hours=1)))

    assert ("accepted", [(raised.alert_id, "resolved")]) == (
        effects.outcome,
        [(a.alert_id, a.status) for a in effects.alerts],
    )


def test_revisions_of_a_visit_only_increase_when_the_earlier_visit_arrives_late() -> None:
    """The whole earlier visit arrives after the later one: each visit_id's records still
    go out with increasing revisions, and no record claims to supersede a visit that
    stands on its own."""
    route = SEAPORT_IMPORT
    run = run_events(
        [
            route.arrive(at(hours=10), event_id="b-in"),
            route.leave(at(hours=12), event_id="b-out"),
            route.arrive(at(), event_id="a-in"),
            route.leave(at(hours=2), event_id="a-out"),
        ]
    )
    revisions: dict[str, list[int]] = {}
    for r in run.records:
        revisions.setdefault(r.visit_id, []).append(r.revision)
    latest = {r.visit_id: r for r in run.records}

    assert {k: sorted(set(v)) for k, v in revisions.items()} == revisions
    assert set() == {alias for r in latest.values() for alias in r.supersedes} & set(latest)


#: Instants whose float epoch seconds * 1000 fall just below the integer millisecond.
MS_EDGE = [
    datetime(2004, 1, 12, 6, 21, 11, 396000, tzinfo=UTC),
    datetime(2038, 8, 30, 14, 30, 50, 568000, tzinfo=UTC),
]


@pytest.mark.parametrize("arrival", MS_EDGE, ids=[d.isoformat() for d in MS_EDGE])
def test_milestones_keep_millisecond_timestamps_exactly(arrival: datetime) -> None:
    """arrived_at and exited_at are the events' occurred_at, to the millisecond."""
    route = SEAPORT_IMPORT
    run = run_events(
        [
            route.event("ELIGIBLE", arrival - HOUR),
            route.arrive(arrival),
            route.leave(arrival + HOUR),
        ]
    )

    expected = {"arrived_at": format_ts(arrival), "exited_at": format_ts(arrival + HOUR)}
    assert expected == pick(run.records[-1], expected)


# --- properties: order, duplicates, reload -----------------------------------------------


def outcome(run: Run) -> tuple[Any, ...]:
    """What must not depend on arrival order: the final record, firing alerts, the view."""
    last = run.last_record()
    assert run.state is not None
    return (
        None if last is None else last.model_dump(exclude={"revision", "supersedes"}),
        run.firing(),
        current_view(run.state),
    )


PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(visit=generated_visits(), data=st.data())
def test_any_arrival_order_gives_the_same_visit(visit: GeneratedVisit, data: st.DataObject) -> None:
    """Any permutation of a visit's events gives the same record (revision aside), the same
    firing alert ids and the same current view."""
    order = data.draw(st.permutations(visit.events), label="arrival order")

    in_time_order = run_events(visit.events, as_of=visit.as_of)
    shuffled = run_events(order, as_of=visit.as_of)

    assert outcome(in_time_order) == outcome(shuffled)


@PROPERTY_SETTINGS
@given(visit=generated_visits(), data=st.data())
def test_duplicates_anywhere_change_nothing(visit: GeneratedVisit, data: st.DataObject) -> None:
    """Re-applying already applied events, anywhere in the stream, emits nothing and leaves
    the state as the run without them."""
    order = data.draw(st.permutations(visit.events), label="arrival order")
    n = len(order)
    inserts = data.draw(
        st.lists(st.tuples(st.integers(1, n), st.integers(0, n - 1)), max_size=12),
        label="duplicates (after how many events, which one)",
    )
    stream: list[ContainerEvent] = []
    for k in range(1, n + 1):
        stream.append(order[k - 1])
        stream += [order[pick_ % k] for after, pick_ in inserts if after == k]

    clean = run_events(order, as_of=visit.as_of)
    noisy = run_events(stream, as_of=visit.as_of)

    assert clean.effects == [e for e in noisy.effects if e.outcome != "duplicate"]
    assert all((e.records, e.alerts) == ([], []) for e in noisy.effects if e.outcome == "duplicate")
    assert len(stream) - n == sum(e.outcome == "duplicate" for e in noisy.effects)
    assert clean.state is not None
    assert noisy.state is not None
    assert clean.state.to_json() == noisy.state.to_json()


@PROPERTY_SETTINGS
@given(visit=generated_visits(), data=st.data())
def test_reloading_the_state_mid_stream_changes_nothing(
    visit: GeneratedVisit, data: st.DataObject
) -> None:
    """Apply a prefix, serialise and reload the state, apply the rest: the same effects,
    state and next deadline as applying everything in one go."""
    order = data.draw(st.permutations(visit.events), label="arrival order")
    split = data.draw(st.integers(0, len(order)), label="reload after")

    whole = run_events(order, as_of=visit.as_of)
    resumed = run_events(order[:split])
    if resumed.state is not None:
        resumed.state = ContainerState.from_json(resumed.state.to_json())
    run_events(order[split:], as_of=visit.as_of, run=resumed)

    assert whole.effects == resumed.effects
    assert whole.state is not None
    assert resumed.state is not None
    assert whole.state.to_json() == resumed.state.to_json()
    assert next_deadline(whole.state) == next_deadline(resumed.state)


@PROPERTY_SETTINGS
@given(visit=generated_visits(), data=st.data())
def test_the_fold_of_the_open_visit_equals_deriving_it_again(
    visit: GeneratedVisit, data: st.DataObject
) -> None:
    """An event that arrives in order extends the open visit's fold; the oracle forgets
    the fold before every event, so its visits are derived from their events each time.
    Both give the same effects and state after every event, and the fold kept is the
    visit its events derive to."""
    order = data.draw(st.permutations(visit.events), label="arrival order")
    fast, oracle = Run(), Run()
    for event in order:
        apply_event(fast, event)
        if oracle.state is not None:
            oracle.state.last = None
        apply_event(oracle, event)
        assert fast.effects[-1] == oracle.effects[-1]
        assert fast.state is not None
        assert oracle.state is not None
        assert fast.state.to_json() == oracle.state.to_json()
        kept = fast.state.last
        if kept is not None:
            assert not kept.visit.closed
            assert kept.visit == derive(last_chunk(fast.state.events), CONTAINER)
    if visit.as_of is not None:
        assert fast.state is not None
        assert oracle.state is not None
        oracle.state.last = None
        assert check(fast.state, now=visit.as_of) == check(oracle.state, now=visit.as_of)


@PROPERTY_SETTINGS
@given(visit=generated_visits(), data=st.data())
def test_revisions_of_a_visit_only_increase(visit: GeneratedVisit, data: st.DataObject) -> None:
    """Whatever the arrival order, each visit_id's records go out with strictly increasing
    revisions, so a consumer can keep the highest."""
    order = data.draw(st.permutations(visit.events), label="arrival order")
    run = run_events(order, as_of=visit.as_of)

    revisions: dict[str, list[int]] = {}
    for r in run.records:
        revisions.setdefault(r.visit_id, []).append(r.revision)

    assert {k: sorted(set(v)) for k, v in revisions.items()} == revisions


@PROPERTY_SETTINGS
@given(visit=generated_visits(), data=st.data())
def test_next_deadline_is_when_check_next_has_work(
    visit: GeneratedVisit, data: st.DataObject
) -> None:
    """For any open visit, a check just before next_deadline raises nothing new and a check
    at it raises STALLED for the current stage."""
    order = data.draw(st.permutations(visit.events), label="arrival order")
    run = run_events(order)
    assert run.state is not None
    deadline = next_deadline(run.state)
    current = current_view(run.state)
    if deadline is None or current is None or current.stage is Stage.EXITED:
        return

    early = ContainerState.from_json(run.state.to_json())
    _, before = check(early, now=deadline - MS)
    _, on_time = check(run.state, now=deadline)

    assert [] == kinds(before.alerts)
    assert [("STALLED", current.stage)] == [
        (a.kind, a.stage) for a in on_time.alerts if a.status == "firing"
    ]


@pytest.mark.parametrize(
    "now",
    [datetime(2000, 1, 1, tzinfo=UTC), at(days=-30)],
    ids=["no-time-known-yet", "clock-behind-the-events"],
)
def test_a_clock_behind_the_events_still_gives_valid_alerts(now: datetime) -> None:
    """A worker that knows no time yet (just restarted) judges with a clock behind the
    events; alerts resolved when a visit is re-identified must still be valid records
    (found live: detected_at fell before 2000 and the Alert failed validation)."""
    exit_ = make_event("GATE_OUT", at(hours=30), container_no=CONTAINER, gate="G2")
    arrival = make_event("DISCHARGED", at(), container_no=CONTAINER, direction="import")
    state, first = apply(None, exit_, container_no=CONTAINER, now=at(hours=30))
    assert ["EXIT_WITHOUT_RELEASE"] == kinds(first.alerts)

    state, effects = apply(state, arrival, container_no=CONTAINER, now=now)

    resolved = [a for a in effects.alerts if a.status == "resolved"]
    assert [first.alerts[0].alert_id] == [a.alert_id for a in resolved]
    assert all(a.detected_at >= a.since for a in effects.alerts)


def test_an_event_for_an_expired_visit_is_refused_as_stale() -> None:
    """Past its retention a closed visit leaves only a horizon: an event that occurred
    before it (late, or delivered again after a crash) is refused with a reason,
    instead of opening a phantom visit; after another retention period it is gone."""
    policy = Policy(retention=int(timedelta(days=7) / MS))
    events = [
        make_event("DISCHARGED", at(), container_no=CONTAINER, direction="import"),
        make_event("GATE_OUT", at(hours=30), container_no=CONTAINER, gate="G2"),
    ]
    state = None
    for event in events:
        state, _ = apply(state, event, container_no=CONTAINER, now=event.occurred_at, policy=policy)
    assert state is not None
    state, _ = check(state, now=at(hours=30, days=7), policy=policy)
    assert state is not None
    assert [] == state.events

    late = make_event("SCANNED", at(hours=2), container_no=CONTAINER, scanner="X", result="CLEAR")
    state, effects = apply(state, late, container_no=CONTAINER, now=at(days=8), policy=policy)

    assert "stale" == effects.outcome
    assert effects.rejection is not None
    assert "stale" == effects.rejection.code
    assert CONTAINER in effects.rejection.reason
    assert [] == state.events
    gone, _ = check(state, now=at(hours=30, days=14), policy=policy)
    assert gone is None


def test_published_records_are_the_records_last_emitted() -> None:
    """Before a late ELIGIBLE revises a record, the state yields the record as it was
    published (the shell withdraws its figures from the metrics)."""
    route = ROUTES["cai-lan-import"]
    run = run_events([route.arrive(at()), route.leave(at(hours=7))])
    assert run.state is not None
    [first] = run.records
    assert {first.visit_id: first} == published_records(run.state)
    before = published_records(ContainerState.from_json(run.state.to_json()))
    run_events([route.event("ELIGIBLE", at(hours=5))], run=run)
    revised = run.records[-1]
    assert 2 == revised.revision
    assert first == before[revised.visit_id]
    assert {revised.visit_id: revised} == published_records(run.state)


def test_unknown_fields_named_like_customs_fields_are_not_read() -> None:
    """Found by the fuzzer: a port event carrying its own "declaration_no" and
    "containers" (kept, unvalidated, as unknown fields) is tracked as the port event
    it is; the core reads only the fields its model declares."""
    doc = event_doc("DISCHARGED", at(), direction="import")
    doc |= {"declaration_no": 7, "containers": [{"container_no": 1}]}
    parsed = parse_event(orjson.dumps(doc))
    assert not isinstance(parsed, Rejection)
    run = run_events([parsed])
    view = current_view(run.state)  # type: ignore[arg-type]
    assert view is not None
    assert ("AWAITING_RELEASE", [], None) == (view.stage, view.declaration_nos, view.seal_no)


def test_an_event_dated_after_it_was_received_is_refused_as_future() -> None:
    """Occurred 2 h after it reached us: a wrong clock, refused with the times and the
    allowed skew; within the skew it is tracked. The state is unchanged."""
    run = run_events([SEAPORT_IMPORT.arrive(at())])
    assert run.state is not None
    before = run.state.to_json()
    ahead = SEAPORT_IMPORT.event("ELIGIBLE", at(hours=3))
    effects = apply_event(run, ahead, received_at=at(hours=1))
    assert effects.rejection is not None
    assert ("future", "occurred_at") == (effects.rejection.code, effects.rejection.field)
    assert "allowed clock skew of 1h00m00s" in effects.rejection.reason
    assert before == run.state.to_json()
    within = apply_event(run, ahead, received_at=at(hours=2, minutes=30))
    assert (None, "accepted") == (within.rejection, within.outcome)


def test_stored_state_takes_no_more_memory_than_its_length() -> None:
    """A worker holds one serialised state per container (the table), replay one output
    line per open visit: each must sit in an allocation of about its own size, not in
    the several KB an ``orjson.dumps`` result keeps (measured: 16 KB for 319 bytes)."""
    import tracemalloc

    states = []
    for i in range(300):
        run = run_events(typical_visit(SEAPORT_IMPORT, at(hours=i))[:-1])
        assert run.state is not None
        states.append(run.state)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        held = [s.to_json() for s in states]
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    length = sum(len(h) for h in held)
    assert after - before < 1.5 * length + 100 * len(held), (after - before, length)
