"""The core operations: apply an event, check a deadline, resend what went out.

Every operation ends in :func:`settle`: derive the visits that may have changed,
judge their alerts, emit what differs from their books, drop visits past retention.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from datetime import datetime
from typing import Final

import orjson

from vasscm.durations import from_ms, to_ms
from vasscm.events import AlertKind, ContainerEvent, RejectCode, Rejection, Stage
from vasscm.tracking.alerts import (
    STALLED_KEY,
    AlertSpec,
    alert,
    desired_alerts,
    emit_alerts,
    iso,
    retired_alert,
    span,
)
from vasscm.tracking.calls import Call
from vasscm.tracking.codes import DISCHARGED, EXITS, LOADED
from vasscm.tracking.emission import Effects, match_books, record, to_record
from vasscm.tracking.obligations import obligations
from vasscm.tracking.policy import DEFAULT_POLICY, MAX_VISITS, Policy
from vasscm.tracking.state import UNKNOWN, Book, ContainerState, Ev, Facts, compact, digest, order
from vasscm.tracking.visit import Fold, Visit, last_chunk, latest_visit, split


def apply(
    state: ContainerState | None,
    event: ContainerEvent,
    *,
    container_no: str,
    now: datetime | int,
    received_at: datetime | None = None,
    policy: Policy = DEFAULT_POLICY,
    occurred_ms: int | None = None,
    calls: Mapping[str, Call] | None = None,
) -> tuple[ContainerState, Effects]:
    """Apply one container's event; return the new state and what it produced.

    ``now`` is the clock alerts are judged and stamped by (the caller's: wall clock
    live, the event-time watermark in replay), a datetime or epoch milliseconds.
    ``received_at`` overrides the event's. ``occurred_ms``: the event's occurred_at
    in epoch ms, when the caller has converted it already. ``calls``: the vessel
    calls known, by voyage: an event naming one takes a copy of its facts.
    """
    now_ms = now if isinstance(now, int) else to_ms(now)
    received = received_at if received_at is not None else event.received_at
    if occurred_ms is None:
        occurred_ms = to_ms(event.occurred_at)
    if received is None:
        received_ms = None
    elif received is event.occurred_at:  # replay of a log without received_at
        received_ms = occurred_ms
    else:
        received_ms = to_ms(received)
    if received_ms is not None and occurred_ms - received_ms > policy.future_skew:
        # Dated after it reached us: a clock is wrong. Tracking it would stamp the
        # visit with a time that has not come and hold it there.
        return state or ContainerState(container_no=container_no), Effects(
            outcome="future",
            rejection=Rejection(
                code=RejectCode.FUTURE,
                field="occurred_at",
                event_id=event.event_id,
                type=event.type,
                reason=f"{event.type} occurred_at {iso(occurred_ms)} is after it "
                f"was received ({iso(received_ms)}) by more than the allowed clock skew "
                f"of {span(policy.future_skew)}",
            ),
        )
    if state is None:
        state = ContainerState(container_no=container_no)
    ev = compact(event, container_no, occurred_ms, received_ms)
    events = state.events
    for e in events:
        if e.eid == ev.eid:
            return state, Effects(outcome="duplicate")
    if state.horizon is not None and ev.t <= state.horizon:
        return state, Effects(
            outcome="stale",
            rejection=Rejection(
                code=RejectCode.STALE,
                event_id=event.event_id,
                type=event.type,
                reason=f"{event.type} for {container_no} occurred {iso(ev.t)}, in a visit "
                f"that closed by {iso(state.horizon)} and is no longer held",
            ),
        )
    if ev.voyage is not None and calls:
        call = calls.get(ev.voyage)
        if call is not None:
            state.calls[ev.voyage] = call.facts
    key = order(ev)
    if not events or order(events[-1]) <= key:  # in order: the common case
        if events and events[-1].code not in EXITS:  # the open visit goes on
            fold = state.last
            if fold is None:
                fold = Fold(container_no, last_chunk(events))
            events.append(ev)
            fold.add(ev)
            return state, settle(state, now_ms, policy, len(state.books) - 1, fold)
        events.append(ev)  # a new visit begins
        return state, settle(state, now_ms, policy, len(state.books), Fold(container_no, [ev]))
    pos = bisect.bisect_right(events, key, key=order)
    events.insert(pos, ev)
    state.last = None
    # Visits wholly before the event (those whose exit precedes it) cannot change.
    first = sum(1 for e in events[:pos] if e.code in EXITS)
    return state, settle(state, now_ms, policy, first)


def learn(
    state: ContainerState,
    voyage: str,
    facts: Facts,
    *,
    now: datetime | int,
    policy: Policy = DEFAULT_POLICY,
) -> Effects:
    """A vessel call's facts, for a container that names its voyage (contract 7.2):
    the visits that name it are judged again (a departure starts the reporting clock
    of their LOADED, an estimated arrival is what customs' notices are measured by).
    A state whose visits read none of the facts that changed, with nothing the clock
    has changed since it was last judged, only takes the copy: judging it again would
    give what it gave (most of a departure's containers came off the vessel and read
    only its estimated arrival). ``outcome`` is "duplicate" when the state knew these
    facts already, or names no such voyage any more."""
    now_ms = now if isinstance(now, int) else to_ms(now)
    events = state.events
    at = next((i for i, e in enumerate(events) if e.voyage == voyage), None)
    known = state.calls.get(voyage)
    if at is None or known == facts:
        return Effects(outcome="duplicate")
    state.calls[voyage] = facts
    if not _reads_change(events, voyage, known, facts) and _quiet(state, now_ms, policy):
        # Judging again would derive the same visits and alerts: the copy is enough.
        return Effects()
    first = sum(1 for e in events[:at] if e.code in EXITS)  # the visit the event is in
    if first == len(state.books) - 1 and state.last is not None:
        return settle(state, now_ms, policy, first, state.last)  # the open visit: its fold
    state.last = None
    return settle(state, now_ms, policy, first)


_NO_FACTS: Final = Facts(None, None, None)


def _reads_change(events: list[Ev], voyage: str, known: Facts | None, facts: Facts) -> bool:
    """Whether a visit of these events reads a fact of ``voyage`` that differs between
    ``known`` and ``facts`` (vasscm.tracking.obligations): the estimated arrival, by a
    visit discharged from the call; the departure, by one that exited loaded on it.
    Nothing reads the arrival itself."""
    if known is None:
        known = _NO_FACTS
    eta, departed = known.eta != facts.eta, known.departed != facts.departed
    for e in events:
        if e.voyage == voyage and (
            (eta and e.code == DISCHARGED) or (departed and e.code == LOADED)
        ):
            return True
    return False


def _quiet(state: ContainerState, now: int, policy: Policy) -> bool:
    """Whether :func:`settle` at ``now`` would find nothing the clock changed: the
    latest visit's deadline (its stall) not reached, and no older visit to drop."""
    due = next_deadline_ms(state, policy)
    if due is not None and due <= now:
        return False
    if len(state.books) <= 1:  # settle leaves at most MAX_VISITS
        return True
    end = next(e for e in state.events if e.code in EXITS)  # the oldest visit's exit
    return end.t + policy.retention > now


def check(
    state: ContainerState, *, now: datetime | int, policy: Policy = DEFAULT_POLICY
) -> tuple[ContainerState | None, Effects]:
    """Re-judge time-dependent alerts at ``now``; ``None`` when the state has expired.

    A closed visit past its retention leaves a horizon behind for one more retention
    period: an event for it arriving that late, or delivered again after a crash,
    is refused as stale instead of opening a phantom visit. ``now`` as in :func:`apply`.
    """
    now_ms = now if isinstance(now, int) else to_ms(now)
    if not state.events:  # only a horizon is left
        if state.horizon is None or now_ms >= state.horizon + policy.retention:
            return None, Effects()
        return state, Effects()
    last = state.events[-1]
    if last.code in EXITS:  # closed: nothing depends on the clock but expiry
        if now_ms >= last.t + policy.retention:
            state.horizon = last.t
            state.events.clear()
            state.books.clear()
            state.calls.clear()
            state.last = None
            state.due = last.t + 2 * policy.retention
        return state, Effects()
    fold = state.last
    if fold is None:
        fold = Fold(state.container_no, last_chunk(state.events))
    return state, settle(state, now_ms, policy, len(state.books) - 1, fold)


def resend(state: ContainerState, *, now: datetime, policy: Policy = DEFAULT_POLICY) -> Effects:
    """What the state says has gone out, to send again: each visit's latest record
    (its revision and content exactly) and each alert's latest status.

    For the live shell, when an input turns out to be applied already (a duplicate):
    after a crash the input is delivered again, and its state change may have been
    saved while what it produced was lost with the worker. The state is not changed.
    """
    from vasscm.tracking.views import visits_of  # views build on the core's types

    effects = Effects(outcome="duplicate")
    now_ms = to_ms(now)
    for _, v, book in visits_of(state):
        if book is None:
            continue
        for visit_id, key, since in book.retired:  # resolved when the id changed
            kind, stage = key.split("/", 1)
            effects.alert_rows.append(
                retired_alert(visit_id, kind, stage, since, now_ms, [v], book)
            )
        duties = obligations(v, state.calls, policy)
        desired = desired_alerts(v, now_ms, policy, duties)
        for key, (status, since) in book.alerts.items():
            spec = desired.get(key)
            if spec is None or spec.status != status or spec.since != since:
                kind, stage = key.split("/", 1)
                detail = "no longer holds given later-arriving events"
                spec = AlertSpec(AlertKind(kind), Stage(stage), status, since, detail)
            effects.alert_rows.append(alert(v, spec, now_ms))
        if v.closed and book.revision:
            content = record(v, desired, duties)
            if digest(orjson.dumps(content)) == book.digest:  # what went out last
                effects.record_rows.append(to_record(content, book))
    return effects


def next_deadline(state: ContainerState, policy: Policy = DEFAULT_POLICY) -> datetime | None:
    """When :func:`check` next has something to do for this container."""
    due = next_deadline_ms(state, policy)
    return None if due is None else from_ms(due)


def next_deadline_ms(state: ContainerState, policy: Policy = DEFAULT_POLICY) -> int | None:
    """:func:`next_deadline` in epoch ms."""
    if state.due == UNKNOWN and not state.events:
        state.due = None if state.horizon is None else state.horizon + policy.retention
    if state.due == UNKNOWN:
        state.due = deadline(latest_visit(state), state.books[-1] if state.books else None, policy)
    return state.due


def deadline(v: Visit | None, book: Book | None, policy: Policy) -> int | None:
    if v is None:
        return None
    if v.exited is not None:
        return v.exited + policy.retention
    stage, since = v.timeline[-1]
    limit = policy.stall_limits(v.direction)[stage]
    if limit is None:
        return None
    held = book.alerts.get(STALLED_KEY[stage]) if book is not None else None
    if held is not None and held[0] == "f" and held[1] == since:
        return None  # already firing for this stage; it resolves on the next event
    return since + limit + 1


def _fresh_book(books: list[Book], first: int, visit_id: str) -> bool:
    """Whether ``books`` can take the one visit from ``first`` on under ``visit_id``
    without :func:`match_books`, and if so give it its book (what match_books would
    decide, in the cases nearly every event is: the latest visit keeps its id; a new
    visit begins; the open visit takes its arrival's id before anything went out)."""
    held = len(books) - first
    if held == 1:
        book = books[-1]
        if book.visit_id == visit_id:
            return True
        if book.revision or book.aliases or book.retired or _firing(book):
            return False
        if _listed(books, visit_id):
            return False
        books[-1] = Book(visit_id=visit_id)
        return True
    if held == 0 and not _listed(books, visit_id):
        books.append(Book(visit_id=visit_id))
        return True
    return False


def _listed(books: list[Book], visit_id: str) -> bool:
    """Whether match_books has work for ``visit_id`` in these books: one lists it as an
    id its visit was published under (taken up again, the id's new book must go out
    at a revision past that listing), or one holds alerts retired under a changed id
    (match_books forgets those of an id in use again)."""
    return any(visit_id in b.aliases or b.retired for b in books)


def _firing(book: Book) -> bool:
    return any(held[0] == "f" for held in book.alerts.values())


def _emit(
    v: Visit,
    book: Book,
    now: int,
    policy: Policy,
    calls: Mapping[str, Facts],
    effects: Effects,
) -> None:
    """Judge one visit's alerts at ``now``; add to ``effects`` what differs from its book."""
    duties = obligations(v, calls, policy)
    desired = desired_alerts(v, now, policy, duties)
    emit_alerts(v, book, desired, now, effects.alert_rows)
    if v.exited is not None:  # closed
        content = record(v, desired, duties)
        content_digest = digest(orjson.dumps(content))
        if content_digest != book.digest:
            book.revision += 1
            book.digest = content_digest
            effects.record_rows.append(to_record(content, book))


def settle(
    state: ContainerState, now: int, policy: Policy, first: int = 0, fold: Fold | None = None
) -> Effects:
    """Re-derive visits from index ``first`` on, emit what changed, trim old visits.

    Visits before ``first`` are unchanged by the caller's contract, and a closed
    visit's alerts do not depend on the clock, so they are not derived again. With
    ``fold``, only the latest visit changed (``first`` is its index) and ``fold`` is it.
    """
    effects = Effects()
    if fold is None:
        folds = [Fold(state.container_no, chunk) for chunk in list(split(state.events))[first:]]
        fold = folds[-1] if folds else None
        visits = [f.visit for f in folds]
    else:
        visits = [fold.visit]
    state.last = fold if fold is not None and fold.visit.exited is None else None
    books = state.books
    if len(visits) == 1 and _fresh_book(books, first, visits[0].visit_id):
        pass  # the latest visit, under the id it had or with a book nothing went out of
    else:  # carry the books over by id
        kept = books[:first]
        books = kept + match_books(books[first:], visits, effects.alert_rows, now, kept)
    calls = state.calls
    if len(visits) == 1:  # books[first:] is then one book
        _emit(visits[0], books[-1], now, policy, calls, effects)
    else:
        for v, book in zip(visits, books[first:], strict=True):
            _emit(v, book, now, policy, calls, effects)
    # Closed visits take late events for `retention` after their exit (at most
    # MAX_VISITS are held); everything up to a dropped visit's exit is stale.
    events = state.events
    dropped = False
    while len(books) > 1:
        end = next(i for i, e in enumerate(events) if e.code in EXITS)  # the oldest's exit
        if len(books) <= MAX_VISITS and events[end].t + policy.retention > now:
            break
        books.pop(0)
        state.horizon = events[end].t
        del events[: end + 1]
        dropped = True
    state.books = books
    if dropped and state.calls:  # only the calls its visits still name (an event
        # adds only calls it names: a call is left unnamed by dropping events alone)
        named = {e.voyage for e in events if e.voyage is not None}
        if not named.issuperset(state.calls):  # (not by size: some it names have no call)
            state.calls = {k: f for k, f in state.calls.items() if k in named}
    state.due = deadline(visits[-1] if visits else None, books[-1], policy)
    return effects
