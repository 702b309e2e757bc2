"""Contract 7.1: a container under several declarations (consolidated cargo, Art. 52a.5)
is released only when every declaration that names it in a release decision
(``CHANNEL_ASSIGNED``, ``ELIGIBLE``, ``SUSPENDED``, ``ELIGIBILITY_CANCELLED``) is eligible
and none is suspended; its release segment ends when the last became eligible; an exit
before that is ``EXIT_WITHOUT_RELEASE`` naming the declarations not yet eligible."""

from __future__ import annotations

import itertools
import random

import pytest
from factories import DECLARATION, OTHER_DECLARATION, ROUTES, Route, at, run_events

from vasscm.events import ContainerEvent, Stage, format_ts
from vasscm.tracking import current_view

ROUTE = pytest.mark.parametrize("route", list(ROUTES.values()), ids=list(ROUTES))
THIRD_DECLARATION = "105077777770"
D1, D2, D3 = DECLARATION, OTHER_DECLARATION, THIRD_DECLARATION


def _decisions(route: Route, steps: list[tuple[str, str, float]]) -> list[ContainerEvent]:
    return [route.event(kind, at(hours=h), declaration_no=d) for kind, d, h in steps]


def _exit_alert_detail(run) -> str:  # type: ignore[no-untyped-def]
    (alert,) = [a for a in run.latest_alerts().values() if a.kind == "EXIT_WITHOUT_RELEASE"]
    return alert.detail


@ROUTE
def test_two_declarations_release_when_the_second_is_eligible(route: Route) -> None:
    events = [
        route.arrive(at()),
        *_decisions(route, [("CHANNEL_ASSIGNED", D1, 0.5), ("CHANNEL_ASSIGNED", D2, 0.5)]),
        *_decisions(route, [("ELIGIBLE", D1, 1), ("ELIGIBLE", D2, 3)]),
    ]
    before = run_events(events[:-1])
    assert before.state is not None
    view = current_view(before.state)
    assert view is not None
    assert Stage.AWAITING_RELEASE == view.stage  # one of two eligible: not released

    run = run_events([*events, route.leave(at(hours=5))])
    record = run.records[-1]
    assert [] == run.firing_kinds()
    assert format_ts(at(hours=3)) == format_ts(record.eligible_at)
    expected = {
        "release": 10800.0,
        "exit": 7200.0,
        "dwell": 18000.0,
        "lodgement": 1800.0,  # both channelled half an hour after arrival (contract 8.1)
        "customs": 9000.0,
    }
    assert expected == record.segments
    assert sorted([D1, D2]) == record.declaration_nos


@ROUTE
def test_an_exit_with_one_of_two_declarations_eligible_is_without_release(route: Route) -> None:
    run = run_events(
        [
            route.arrive(at()),
            *_decisions(route, [("CHANNEL_ASSIGNED", D2, 0.5), ("ELIGIBLE", D1, 1)]),
            route.leave(at(hours=2)),
        ]
    )
    assert ["EXIT_WITHOUT_RELEASE"] == run.firing_kinds()
    assert D2 in _exit_alert_detail(run)
    assert D1 not in _exit_alert_detail(run)
    record = run.records[-1]
    assert record.eligible_at is None
    assert "release" not in record.segments


def test_three_declarations_one_suspended() -> None:
    route = ROUTES["cai-lan-import"]
    eligible = [("ELIGIBLE", D1, 1), ("ELIGIBLE", D2, 2), ("ELIGIBLE", D3, 3)]
    suspended = [("SUSPENDED", D2, 3.5)]
    run = run_events(
        [route.arrive(at()), *_decisions(route, eligible + suspended), route.leave(at(hours=4))]
    )
    assert ["EXIT_WITHOUT_RELEASE"] == run.firing_kinds()
    assert "suspended" in _exit_alert_detail(run)

    resumed = [("RESUMED", D2, 3.75)]
    run = run_events(
        [
            route.arrive(at()),
            *_decisions(route, eligible + suspended + resumed),
            route.leave(at(hours=4)),
        ]
    )
    assert [] == run.firing_kinds()
    assert {"release": 10800.0, "exit": 3600.0, "dwell": 14400.0} == run.records[-1].segments


def test_three_declarations_one_cancelled() -> None:
    route = ROUTES["cai-lan-import"]
    steps = [
        ("ELIGIBLE", D1, 1),
        ("ELIGIBLE", D2, 2),
        ("ELIGIBLE", D3, 3),
        ("ELIGIBILITY_CANCELLED", D1, 3.5),
    ]
    run = run_events([route.arrive(at()), *_decisions(route, steps), route.leave(at(hours=4))])
    assert ["EXIT_WITHOUT_RELEASE"] == run.firing_kinds()
    detail = _exit_alert_detail(run)
    assert D1 in detail
    assert D2 not in detail
    assert D3 not in detail


def test_a_late_eligible_of_the_second_declaration_resolves_the_page() -> None:
    """The second declaration's ELIGIBLE, occurred before the exit but read after it,
    resolves the EXIT_WITHOUT_RELEASE and revises the record's release segment."""
    route = ROUTES["cai-lan-import"]
    run = run_events(
        [
            route.arrive(at()),
            *_decisions(route, [("ELIGIBLE", D1, 1), ("CHANNEL_ASSIGNED", D2, 1.5)]),
            route.leave(at(hours=4)),
            *_decisions(route, [("ELIGIBLE", D2, 3)]),
        ]
    )
    assert [] == run.firing_kinds()
    assert {"release": 10800.0, "exit": 3600.0, "dwell": 14400.0} == run.records[-1].segments
    assert 2 == len(run.records)  # the first, then its revision


def test_the_result_is_the_same_in_any_order() -> None:
    route = ROUTES["cai-lan-import"]
    events = [
        route.arrive(at()),
        *_decisions(
            route,
            [
                ("CHANNEL_ASSIGNED", D1, 0.5),
                ("ELIGIBLE", D1, 1),
                ("ELIGIBLE", D2, 2),
                ("SUSPENDED", D3, 2.5),
                ("ELIGIBLE", D3, 2.6),
                ("RESUMED", D3, 3),
            ],
        ),
        route.leave(at(hours=4)),
    ]
    in_order = run_events(events)
    final = (in_order.records[-1].segments, in_order.firing_kinds())
    assert ({"release": 9360.0, "exit": 5040.0, "dwell": 14400.0}, []) == final
    rng = random.Random(71)
    orders = list(itertools.permutations(events))
    for order in rng.sample(orders, 300):
        run = run_events(list(order))
        assert final == (run.records[-1].segments, run.firing_kinds())
