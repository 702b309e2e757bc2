"""Hypothesis strategies shared by the tracking and consumer-view properties."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from factories import DECLARATION, OTHER_DECLARATION, ROUTES, Route, at, make_event
from hypothesis import strategies as st

from vasscm.events import ContainerEvent


@dataclass(frozen=True)
class GeneratedVisit:
    events: list[ContainerEvent]
    as_of: datetime


_SLOT = timedelta(minutes=30)  # a coarse grid, so events often share an instant


@st.composite
def generated_visits(draw: st.DrawFn) -> GeneratedVisit:
    """A random but valid set of events for one visit of one container."""
    route: Route = draw(st.sampled_from(list(ROUTES.values())))
    seals = st.sampled_from(["S1", "S2", "S3"])
    decls = st.sampled_from([DECLARATION, OTHER_DECLARATION])
    slot = st.integers(-48, 192).map(lambda k: at() + _SLOT * k)  # -1 day .. +4 days
    specs: list[tuple[str, datetime, dict[str, Any]]] = []

    def customs(type: str, **fields: Any) -> None:
        specs.append((type, draw(slot), {"declaration_no": draw(decls), **fields}))

    if draw(st.booleans()):
        specs.append(
            (
                "EXPECTED",
                at() - timedelta(hours=draw(st.integers(0, 200))),
                {"direction": route.direction, "seal_no": draw(st.none() | seals)},
            )
        )
    if draw(st.integers(0, 9)) > 0:
        specs.append(
            (
                route.arrival_type,
                at(),
                {"direction": route.direction, "seal_no": draw(st.none() | seals)},
            )
        )
    for _ in range(draw(st.integers(0, 2))):
        customs("CHANNEL_ASSIGNED", channel=draw(st.sampled_from(["green", "yellow", "red"])))
    if draw(st.booleans()):
        customs("SCAN_SELECTED")
    if draw(st.booleans()):
        specs.append(
            (
                "SCANNED",
                draw(slot),
                {"result": draw(st.sampled_from(["CLEAR", "SUSPECT", "INCONCLUSIVE"]))},
            )
        )
    for _ in range(draw(st.integers(0, 2))):
        customs("ELIGIBLE")
    if draw(st.booleans()):
        customs("ELIGIBILITY_CANCELLED")
    if draw(st.booleans()):
        customs("SUSPENDED")
        if draw(st.booleans()):
            customs("RESUMED")
    if draw(st.booleans()):
        specs.append(("DISCREPANCY", draw(slot), {}))
    if draw(st.booleans()):
        specs.append(("SEAL_CHANGED", draw(slot), {"seal_no": draw(seals)}))
    if not specs:
        specs.append((route.arrival_type, at(), {"direction": route.direction}))
    last = max(when for _, when, _ in specs)
    if draw(st.booleans()):
        exited = last + _SLOT * draw(st.integers(0, 100))
        lag = timedelta(minutes=draw(st.sampled_from([0, 10, 20, 40])))
        specs.append(
            (
                route.exit_type,
                exited,
                {"seal_no": draw(st.none() | seals), "received_at": exited + lag},
            )
        )
        last = exited
    events = [
        make_event(type, when, site=route.site, event_id=f"e{i}", **fields)
        for i, (type, when, fields) in enumerate(specs)
    ]
    # Within the 7-day retention of an exit, so the state is still there to compare.
    as_of = last + timedelta(hours=draw(st.integers(0, 120)))
    return GeneratedVisit(sorted(events, key=lambda e: e.occurred_at), as_of)
