"""Contract 8.1, segments by party: whose time the release was (``lodgement`` the
declarant's, ``customs`` customs'), ``pre_lodged``, and ``waiting_on`` on open visits.

Each case is run in time order and in a scrambled arrival order: like every segment,
these are derived from the events, so the order they were read in changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from factories import (
    DECLARATION,
    OTHER_DECLARATION,
    ROUTES,
    Route,
    at,
    run_events,
)

from vasscm.events import ContainerEvent
from vasscm.tracking import current_view

ROUTE = pytest.mark.parametrize("route", list(ROUTES.values()), ids=list(ROUTES))
H = 3600.0


def records_both_ways(events: list[ContainerEvent]) -> dict[str, Any]:
    """The final record in time order, after checking a reversed arrival order gives
    the same one (revision aside)."""
    in_order = run_events(sorted(events, key=lambda e: e.occurred_at)).last_record()
    backwards = run_events(list(reversed(events))).last_record()
    assert in_order is not None
    assert backwards is not None
    keep = {"revision", "supersedes"}
    assert in_order.model_dump(exclude=keep) == backwards.model_dump(exclude=keep)
    return in_order.model_dump(mode="json")


def parties(record: dict[str, Any]) -> tuple[float | None, float | None, float | None, bool]:
    segments = record["segments"]
    return (
        segments.get("lodgement"),
        segments.get("customs"),
        segments.get("release"),
        record["pre_lodged"],
    )


@ROUTE
def test_lodgement_and_customs_split_the_release_at_the_channel(route: Route) -> None:
    """Arrival 0, channel at 3 h, release at 10 h: 3 h the declarant's, 7 h customs'."""
    record = records_both_ways(
        [
            route.arrive(at()),
            route.event("CHANNEL_ASSIGNED", at(hours=3), channel="yellow"),
            route.event("ELIGIBLE", at(hours=10)),
            route.leave(at(hours=12)),
        ]
    )
    assert (3 * H, 7 * H, 10 * H, False) == parties(record)


def test_a_channel_before_arrival_is_pre_lodged() -> None:
    """Every deciding declaration had its channel before the arrival: lodgement 0, and
    all of the release is customs' time."""
    route = ROUTES["cai-lan-import"]
    record = records_both_ways(
        [
            route.event("CHANNEL_ASSIGNED", at(hours=-5), channel="green"),
            route.arrive(at()),
            route.event("ELIGIBLE", at(hours=2)),
            route.leave(at(hours=4)),
        ]
    )
    assert (0.0, 2 * H, 2 * H, True) == parties(record)


def test_the_later_of_two_declarations_channels_ends_the_lodgement() -> None:
    """A container under two declarations (contract 7.1): the declarant's part lasts
    until both have a channel; one channelled before arrival is not pre-lodged alone."""
    route = ROUTES["cai-lan-export"]
    record = records_both_ways(
        [
            route.event(
                "CHANNEL_ASSIGNED", at(hours=-1), declaration_no=DECLARATION, channel="green"
            ),
            route.arrive(at()),
            route.event(
                "CHANNEL_ASSIGNED", at(hours=4), declaration_no=OTHER_DECLARATION, channel="red"
            ),
            route.event("ELIGIBLE", at(hours=1), declaration_no=DECLARATION),
            route.event("ELIGIBLE", at(hours=9), declaration_no=OTHER_DECLARATION),
            route.leave(at(hours=10)),
        ]
    )
    assert (4 * H, 5 * H, 9 * H, False) == parties(record)


def test_a_second_channel_for_the_same_declaration_does_not_move_the_lodgement() -> None:
    """A re-assigned channel (yellow, then red) changes the channel, not the moment the
    declarant's part ended: that was when the declaration first had one."""
    route = ROUTES["mong-cai-import"]
    record = records_both_ways(
        [
            route.arrive(at()),
            route.event("CHANNEL_ASSIGNED", at(hours=2), channel="yellow"),
            route.event("CHANNEL_ASSIGNED", at(hours=5), channel="red"),
            route.event("ELIGIBLE", at(hours=8)),
            route.leave(at(hours=9)),
        ]
    )
    assert (2 * H, 6 * H, 8 * H, False) == parties(record)
    assert "red" == record["channel"]


def test_a_channel_after_the_release_is_clamped_to_it() -> None:
    """A channel recorded after the release (a late or back-dated decision) ends the
    lodgement at the release: all of it the declarant's, none customs'."""
    route = ROUTES["cai-lan-import"]
    record = records_both_ways(
        [
            route.arrive(at()),
            route.event("ELIGIBLE", at(hours=6)),
            route.event("CHANNEL_ASSIGNED", at(hours=7), channel="green"),
            route.leave(at(hours=8)),
        ]
    )
    assert (6 * H, 0.0, 6 * H, False) == parties(record)


def test_lodgement_and_customs_add_up_to_the_release_to_the_millisecond() -> None:
    """lodgement + customs = release, exactly, with milliseconds on every milestone."""
    route = ROUTES["cai-lan-import"]
    record = records_both_ways(
        [
            route.arrive(at(seconds=0.123)),
            route.event("CHANNEL_ASSIGNED", at(hours=1, seconds=0.456), channel="green"),
            route.event("ELIGIBLE", at(hours=3, seconds=0.789)),
            route.leave(at(hours=4)),
        ]
    )
    lodgement, customs, release, _ = parties(record)
    assert lodgement is not None
    assert customs is not None
    assert release is not None
    assert round((lodgement + customs) * 1000) == round(release * 1000) == 10800666
    assert round(lodgement * 1000) == 3600333


@pytest.mark.parametrize("case", ["no channel", "one of two declarations", "never released"])
def test_lodgement_and_customs_are_absent_without_a_channel_for_every_declaration(
    case: str,
) -> None:
    """No channel at all, a channel for only one of two deciding declarations, or no
    release: neither segment, and not pre-lodged."""
    route = ROUTES["cai-lan-import"]
    events = [route.arrive(at()), route.leave(at(hours=9))]
    if case == "no channel":
        events.append(route.event("ELIGIBLE", at(hours=5)))
    elif case == "one of two declarations":
        events += [
            route.event("CHANNEL_ASSIGNED", at(hours=-2), channel="green"),
            route.event("ELIGIBLE", at(hours=3)),
            route.event("ELIGIBLE", at(hours=5), declaration_no=OTHER_DECLARATION),
        ]
    else:
        events.append(route.event("CHANNEL_ASSIGNED", at(hours=-2), channel="green"))
    record = records_both_ways(events)
    lodgement, customs, release, pre_lodged = parties(record)
    assert (lodgement, customs) == (None, None)
    assert (release is None) == (case == "never released")
    assert pre_lodged is (case == "never released")  # channelled before arrival, no release


def test_waiting_on_follows_a_visit_through_its_life() -> None:
    """Expected: nobody yet. Arrived without a channel: the declarant. Channelled and
    selected: the scanner. Scanned: customs. Suspended after release: customs again.
    Resumed: the owner. Exited: nobody."""
    route = ROUTES["cai-lan-import"]
    steps: list[tuple[ContainerEvent, str | None]] = [
        (route.event("EXPECTED", at(hours=-10)), None),
        (route.arrive(at()), "declarant"),
        (route.event("SCAN_SELECTED", at(hours=1)), "declarant"),  # no channel yet
        (route.event("CHANNEL_ASSIGNED", at(hours=2), channel="red"), "scan"),
        (route.event("SCANNED", at(hours=3)), "customs"),
        (route.event("ELIGIBLE", at(hours=5)), "owner"),
        (route.event("SUSPENDED", at(hours=6)), "customs"),
        (route.event("RESUMED", at(hours=7)), "owner"),
        (route.event("DISCREPANCY", at(hours=8)), "customs"),  # held by the port's finding
        (route.leave(at(hours=9)), None),
    ]
    seen: list[str | None] = []
    events: list[ContainerEvent] = []
    for event, _ in steps:
        events.append(event)
        run = run_events(events)
        assert run.state is not None
        view = current_view(run.state)
        assert view is not None
        seen.append(view.waiting_on)
    assert [want for _, want in steps] == seen


def test_waiting_on_a_second_declaration_without_a_channel_is_the_declarants() -> None:
    """One declaration channelled and released, another naming the container with no
    channel: the container waits on the declarant of the second."""
    route = ROUTES["cai-lan-export"]
    run = run_events(
        [
            route.arrive(at()),
            route.event("CHANNEL_ASSIGNED", at(hours=1), channel="green"),
            route.event("ELIGIBLE", at(hours=2)),
            route.event("SUSPENDED", at(hours=3), declaration_no=OTHER_DECLARATION),
            route.event("RESUMED", at(hours=4), declaration_no=OTHER_DECLARATION),
        ]
    )
    assert run.state is not None
    view = current_view(run.state)
    assert view is not None
    assert view.stage == "AWAITING_RELEASE"
    assert "declarant" == view.waiting_on
    assert view.model_dump(mode="json")["waiting_on"] == "declarant"
