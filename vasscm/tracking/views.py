"""What a state looks like to people and to the shells: visits, records, timelines."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from vasscm.durations import from_ms, iso_ms
from vasscm.events import ClearanceRecord, Stage, VisitState
from vasscm.tracking.alerts import Row, desired_alerts
from vasscm.tracking.codes import TYPE_OF_CODE
from vasscm.tracking.emission import record, to_record
from vasscm.tracking.obligations import obligations
from vasscm.tracking.policy import DEFAULT_POLICY, Policy
from vasscm.tracking.stages import waiting_on
from vasscm.tracking.state import Book, ContainerState, Ev
from vasscm.tracking.visit import Visit, derive, latest_visit, split


def visits_of(state: ContainerState) -> Iterator[tuple[list[Ev], Visit, Book | None]]:
    """Each visit the state holds, oldest first: its events, what they derive to, and
    its emission book (None before anything went out for it)."""
    books = {b.visit_id: b for b in state.books}
    for chunk in split(state.events):
        v = derive(chunk, state.container_no)
        yield chunk, v, books.get(v.visit_id)


def published_records(
    state: ContainerState, policy: Policy = DEFAULT_POLICY
) -> dict[str, ClearanceRecord]:
    """The clearance record of each closed visit as last published, by visit id.

    A state is settled after every apply/check, so a closed visit's derived record is
    the one last emitted for it. The shell reads this from the state *before* an event
    that revises a record, to withdraw the old record's figures from its metrics.
    """
    out: dict[str, ClearanceRecord] = {}
    for _, v, book in visits_of(state):
        if v.closed and book is not None and book.revision > 0:
            assert v.exited is not None
            # A closed visit's alerts do not depend on the clock: judge at its exit.
            duties = obligations(v, state.calls, policy)
            desired = desired_alerts(v, v.exited, policy, duties)
            row = to_record(record(v, desired, duties), book)
            out[v.visit_id] = ClearanceRecord.model_validate(row)
    return out


def timelines(state: ContainerState) -> Iterable[tuple[VisitState, list[dict[str, Any]]]]:
    """Every visit the state holds, oldest first, with its events in time order: what a
    person looking one container up wants to see. Event fields are the kept ones."""
    for chunk, v, book in visits_of(state):
        events = [
            {
                "type": TYPE_OF_CODE[e.code],
                "occurred_at": from_ms(e.t),
                "site": e.site,
                "value": e.val,
                "seal_no": e.seal,
                "declaration_no": e.decl,
            }
            for e in chunk
        ]
        yield _view(v, book), events


class Latest(NamedTuple):
    """What a board of open visits holds of a container's latest visit."""

    site: str
    direction: str
    stage: Stage
    since: int  # stage since, epoch ms
    waiting_on: str | None
    arrived: int | None
    released: int | None  # eligible_at once released (contract 8.2's "released")
    channel: str


def latest_stage(state: ContainerState) -> Latest | None:
    """The latest visit as a board of open visits holds it, without building the full
    view (a rebuild does this a million times)."""
    v = latest_visit(state)
    if v is None:
        return None
    released = v.eligible if v.stage is Stage.RELEASED else None
    return Latest(
        v.site, v.direction, v.stage, v.stage_since, waiting_on(v), v.arrived, released, v.channel
    )


def current_view(state: ContainerState) -> VisitState | None:
    """The latest visit (open, else the last closed one)."""
    v = latest_visit(state)
    return None if v is None else _view(v, _book_of(state, v))


def open_row(state: ContainerState) -> Row | None:
    """The open visit (in the yard, or expected) as plain data, what replay writes to
    state.jsonl; None when the latest visit has exited."""
    v = latest_visit(state)
    if v is None or v.stage is Stage.EXITED:
        return None
    return view_row(v, _book_of(state, v))


def _book_of(state: ContainerState, v: Visit) -> Book | None:
    return next((b for b in state.books if b.visit_id == v.visit_id), None)


def _view(v: Visit, book: Book | None) -> VisitState:
    return VisitState.model_validate(view_row(v, book))


def view_row(v: Visit, book: Book | None) -> Row:
    """A visit as :class:`VisitState` plain data, in its field order."""
    firing = sorted(
        k.split("/", 1)[0] for k, h in (book.alerts.items() if book else ()) if h[0] == "f"
    )
    return {
        "container_no": v.container_no,
        "visit_id": v.visit_id,
        "site": v.site,
        "direction": v.direction,
        "stage": v.stage.value,
        "stage_since": iso_ms(v.stage_since),
        "arrived_at": None if v.arrived is None else iso_ms(v.arrived),
        "eligible_at": None if v.eligible is None else iso_ms(v.eligible),
        "exited_at": None if v.exited is None else iso_ms(v.exited),
        "declaration_nos": list(v.decls),
        "channel": v.channel,
        "selected_for_scan": v.selected is not None,
        "scanned": v.scanned is not None,
        "seal_no": v.seal,
        "alerts_firing": firing,
        "events": len(v.events),
        "selected_at": None if v.selected is None else iso_ms(v.selected),
        "channel_at": None if v.channel_at is None else iso_ms(v.channel_at),
        "exit_type": None if v.exit_code is None else TYPE_OF_CODE[v.exit_code],
        "waiting_on": waiting_on(v),
    }
