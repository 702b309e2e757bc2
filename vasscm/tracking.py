"""The tracking core: container visits, stages, segments and alerts (contract 3 and 4).

Pure Python: no Kafka, faust, aiohttp or Prometheus, no clock and no environment.
The live agents and ``vasscm replay`` both call :func:`apply` and :func:`check`, so
they agree by construction.

How it stays order-independent
    A container's state keeps the compact events of its recent visits (a visit is
    ~10 events, well under 1 KiB serialised). Everything else, the split into
    visits, stages, segments and which alerts hold, is *derived* from those events
    sorted by event time. So the same set of events gives the same visits whatever
    order they arrived in; only what was *emitted* along the way (revisions,
    transient alerts later resolved) remembers the arrival order.

Visit boundaries
    A visit ends at an exit (``GATE_OUT``/``LOADED``); an event that occurred after
    it starts the next visit. The last closed visit is kept so a late event can
    revise its record; older ones are dropped and everything at or before their exit
    is then refused as stale. A closed visit is forgotten ``retention`` after exit.

Identity
    ``visit_id`` is the container number and the arrival instant, or the earliest
    known event until the arrival is known. When a late arrival changes it, the new
    record lists the old id in ``supersedes`` and alerts under the old id resolve.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from sys import intern
from typing import Any, Final, Literal, NamedTuple

import orjson

from vasscm.durations import duration_text, from_ms, to_ms
from vasscm.events import (
    Alert,
    AlertKind,
    AlertStatus,
    ClearanceRecord,
    ContainerEvent,
    RejectCode,
    Rejection,
    Severity,
    Stage,
    VisitState,
    trimmed,
)

__all__ = [
    "DEFAULT_POLICY",
    "SEVERITY",
    "ContainerState",
    "Effects",
    "Policy",
    "apply",
    "check",
    "current_view",
    "latest_stage",
    "next_deadline",
    "open_view",
    "published_records",
    "resend",
    "timelines",
    "visit_views",
]

_MS: Final = 1000
_HOUR: Final = 3600 * _MS
_UNKNOWN: Final = -1  # ContainerState.due not computed yet
_MAX_VISITS: Final = 4  # visits one container's state holds, the open one included


# --- policy -----------------------------------------------------------------------


def _default_stall() -> dict[str, int]:
    return {
        "AWAITING_SCAN": 4 * _HOUR,
        "AWAITING_RELEASE:import": 48 * _HOUR,
        "AWAITING_RELEASE:export": 24 * _HOUR,
        "AWAITING_RELEASE": 48 * _HOUR,  # direction not known yet
        "RELEASED": 72 * _HOUR,
        "HELD": 24 * _HOUR,
        "SUSPENDED": 24 * _HOUR,
        "EXPECTED": 7 * 24 * _HOUR,
    }


@dataclass(frozen=True, slots=True)
class Policy:
    """Thresholds the core applies, in milliseconds. Built from settings by the shell.

    ``stall`` keys are ``STAGE`` or ``STAGE:direction``; the latter wins.
    """

    stall: dict[str, int] = field(default_factory=_default_stall)
    late_gate_out: int = 15 * 60 * _MS  # Art. 52: GATE_OUT reported within 15 min
    late_loaded: int = 30 * 60 * _MS  # Art. 52a: LOADED reported within 30 min
    retention: int = 7 * 24 * _HOUR  # how long a closed visit accepts late events
    future_skew: int = _HOUR  # an event may occur this much after it was received

    def stall_after(self, stage: str, direction: str) -> int | None:
        return self.stall.get(f"{stage}:{direction}", self.stall.get(stage))


DEFAULT_POLICY: Final = Policy()


# --- compact events -----------------------------------------------------------------

# Type codes; the second digit of the rank orders events that share an instant:
# arrivals first, exits last, so an exit at the same millisecond as an ELIGIBLE
# sees it, and a cancellation at the same instant as an ELIGIBLE wins.
_CODES: Final = {
    "EXPECTED": 0,
    "DISCHARGED": 1,
    "GATE_IN": 2,
    "CHANNEL_ASSIGNED": 3,
    "SCAN_SELECTED": 4,
    "SCANNED": 5,
    "SEAL_CHANGED": 6,
    "DISCREPANCY": 7,
    "ELIGIBLE": 8,
    "SUSPENDED": 9,
    "RESUMED": 10,
    "ELIGIBILITY_CANCELLED": 11,
    "GATE_OUT": 12,
    "LOADED": 13,
}
_TYPES: Final = {code: name for name, code in _CODES.items()}
_ARRIVALS: Final = frozenset({1, 2})
_EXITS: Final = frozenset({12, 13})


class Ev(NamedTuple):
    """One event as the state keeps it (a JSON array of 8 items)."""

    t: int  # occurred_at, epoch ms
    code: int
    eid: int  # 64-bit digest of event_id: duplicates are recognised by it
    site: str
    val: str | None  # direction, channel, basis or scan result, by type
    seal: str | None
    decl: str | None  # declaration_no of customs events
    lag: int  # received_at - occurred_at, ms (exits only; 0 elsewhere)


_ms = to_ms
_dt = from_ms


def _digest(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def _compact(event: ContainerEvent, container_no: str, received: datetime | None) -> Ev:
    kind = event.type
    code = _CODES[kind]
    occurred = _ms(event.occurred_at)
    val: str | None = None
    # Only fields the event's model declares: unknown fields are kept on the model
    # (extra="allow") but never validated, so a port event carrying its own
    # "declaration_no" or "containers" must not be read as a customs one (found by
    # the fuzzer, tests/fuzz/parse_and_track.py).
    declared = type(event).model_fields
    seal: str | None = event.seal_no if "seal_no" in declared else None  # type: ignore[union-attr]
    decl: str | None = event.declaration_no if "declaration_no" in declared else None  # type: ignore[union-attr]
    lag = 0
    if kind in ("DISCHARGED", "GATE_IN", "EXPECTED"):
        val = str(event.direction)  # type: ignore[union-attr]
    elif kind == "CHANNEL_ASSIGNED":
        val = event.channel  # type: ignore[union-attr]
    elif kind == "ELIGIBLE":
        val = event.basis  # type: ignore[union-attr]
    elif kind == "SCANNED":
        val = event.result  # type: ignore[union-attr]
    if decl is not None:
        for ref in event.containers:  # type: ignore[union-attr]
            if ref.container_no == container_no:
                seal = ref.seal_no
                break
    if code in _EXITS:
        when = received if received is not None else event.received_at
        if when is not None:
            lag = _ms(when) - occurred
    # Interned: a visit repeats its site, seal and declaration in every event, and
    # a yard holds hundreds of thousands of visits.
    return Ev(
        occurred,
        code,
        _digest(event.event_id.encode()),
        intern(event.site),
        _intern(val),
        _intern(seal),
        _intern(decl),
        lag,
    )


def _intern(text: str | None) -> str | None:
    return None if text is None else intern(text)


def _order(ev: Ev) -> tuple[int, int, int]:
    return (ev.t, ev.code, ev.eid)


# --- state ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Book:
    """What has been emitted for one visit: kept so changes, not repeats, are emitted."""

    visit_id: str = ""
    revision: int = 0
    digest: int = 0
    aliases: list[str] = field(default_factory=list)
    # alert key "KIND/STAGE" -> [status "f"/"r", since ms]
    alerts: dict[str, list[Any]] = field(default_factory=dict)
    # Alerts resolved because the visit changed id: [old visit id, "KIND/STAGE", since
    # ms]. Kept so a resend after a crash can repeat their resolution.
    retired: list[list[Any]] = field(default_factory=list)


@dataclass(slots=True)
class ContainerState:
    """Everything the tracker holds for one container: its recent visits' events."""

    container_no: str
    events: list[Ev] = field(default_factory=list)  # sorted by _order
    books: list[_Book] = field(default_factory=list)  # one per visit, oldest first
    horizon: int | None = None  # events at or before this instant are stale
    # Next deadline as of the last settle: serialised, so rebuilding a deadline
    # index after a restart reads it instead of deriving every visit again.
    due: int | None = field(default=_UNKNOWN, compare=False)

    def to_json(self) -> bytes:
        """The state as stored in the table: exact-size bytes (an ``orjson.dumps``
        result keeps an allocation of several KB whatever its length, and a worker
        holds one per container)."""
        return trimmed(
            orjson.dumps(
                {
                    "c": self.container_no,
                    "h": self.horizon,
                    "d": self.due,
                    "e": self.events,
                    "b": [
                        [b.visit_id, b.revision, b.digest, b.aliases, b.alerts]
                        + ([b.retired] if b.retired else [])
                        for b in self.books
                    ],
                },
                default=tuple,  # Ev is a NamedTuple: stored as a plain array
            )
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> ContainerState:
        doc = orjson.loads(data)
        return cls(
            container_no=doc["c"],
            horizon=doc["h"],
            due=doc.get("d", _UNKNOWN),
            events=[Ev(*e) for e in doc["e"]],
            books=[_Book(*b) for b in doc["b"]],
        )

    @property
    def event_count(self) -> int:
        return len(self.events)


# --- derivation: from events to a visit -------------------------------------------------


@dataclass(slots=True)
class _AlertSpec:
    kind: AlertKind
    stage: Stage
    status: str  # "f" firing / "r" resolved
    since: int
    detail: str


@dataclass(slots=True)
class _Visit:
    """A visit as derived from its sorted events."""

    events: list[Ev]
    container_no: str
    visit_id: str = ""
    site: str = ""
    direction: str = "unknown"
    arrived: int | None = None
    eligible: int | None = None  # first ELIGIBLE still in force (at exit, or now)
    exited: int | None = None
    exit_code: int | None = None
    exit_seal: str | None = None
    exit_lag: int = 0
    seal: str | None = None  # last known seal before exit
    channel: str = "unknown"
    decls: list[str] = field(default_factory=list)
    selected: int | None = None
    scanned: int | None = None
    scan_result: str | None = None
    suspended: bool = False
    pending: list[str] = field(default_factory=list)  # at exit: deciding decls not eligible
    not_released: bool = True  # at exit: not eligible, or suspended
    timeline: list[tuple[Stage, int]] = field(default_factory=list)

    @property
    def stage(self) -> Stage:
        return self.timeline[-1][0]

    @property
    def stage_since(self) -> int:
        return self.timeline[-1][1]

    @property
    def closed(self) -> bool:
        return self.exited is not None


def _split(events: list[Ev]) -> Iterator[list[Ev]]:
    start = 0
    for i, ev in enumerate(events):
        if ev.code in _EXITS:
            yield events[start : i + 1]
            start = i + 1
    if start < len(events):
        yield events[start:]


def _derive(events: list[Ev], container_no: str) -> _Visit:
    v = _Visit(events=events, container_no=container_no)
    # Per declaration: a RESUMED lifts only its own declaration's suspension, and a
    # cancellation withdraws only its own declaration's ELIGIBLE. The container is
    # released when every declaration that names it in a release decision is eligible,
    # none suspended (contract 7.1, Art. 52a.5): ``v.eligible`` is then when the last
    # of them became so (each declaration's first ELIGIBLE still in force).
    eligible_by: dict[str, int] = {}
    suspended_by: set[str] = set()
    deciding: set[str] = set()  # declarations named by CHANNEL_ASSIGNED .. CANCELLED
    held = False
    expected_direction: str | None = None
    arrival_site: str | None = None
    channel_t = -1
    decls: set[str] = set()
    for ev in events:
        code = ev.code
        if ev.decl is not None:
            decls.add(ev.decl)
        if ev.seal is not None and code not in _EXITS:
            v.seal = ev.seal
        if code in _ARRIVALS:
            if v.arrived is None:
                v.arrived = ev.t
                v.direction = ev.val or v.direction
                arrival_site = ev.site
        elif code == 0:  # EXPECTED
            if expected_direction is None:
                expected_direction = ev.val
        elif code == 3:  # CHANNEL_ASSIGNED: the latest decision counts
            deciding.add(ev.decl or "")
            if ev.t >= channel_t:
                v.channel, channel_t = ev.val or "unknown", ev.t
        elif code == 4:
            if v.selected is None:
                v.selected = ev.t
        elif code == 5:
            if v.scanned is None:
                v.scanned = ev.t
            v.scan_result = ev.val
        elif code == 7:
            held = True
        elif code == 8:  # ELIGIBLE
            deciding.add(ev.decl or "")
            eligible_by.setdefault(ev.decl or "", ev.t)
        elif code == 9:
            deciding.add(ev.decl or "")
            suspended_by.add(ev.decl or "")
            v.suspended = True
        elif code == 10:
            suspended_by.discard(ev.decl or "")
            v.suspended = bool(suspended_by)
        elif code == 11:  # ELIGIBILITY_CANCELLED
            deciding.add(ev.decl or "")
            eligible_by.pop(ev.decl or "", None)
        if code in _DECISIONS:
            v.eligible = _all_eligible(deciding, eligible_by)
            if code == 8 and v.eligible is not None:
                held = False  # a discrepancy holds until the container is eligible
        elif code in _EXITS:
            v.exited, v.exit_code, v.exit_seal, v.exit_lag = ev.t, code, ev.seal, ev.lag
            v.not_released = v.eligible is None or v.suspended
            v.pending = sorted(deciding - eligible_by.keys())
        stage = _stage(v, v.eligible is not None, held)
        if not v.timeline or v.timeline[-1][0] != stage:
            v.timeline.append((stage, ev.t))
    if v.arrived is None and expected_direction is not None:
        v.direction = expected_direction
    v.site = arrival_site or events[0].site
    v.decls = sorted(decls)
    anchor = v.arrived if v.arrived is not None else events[0].t
    v.visit_id = f"{container_no}-{_dt(anchor):%Y%m%dT%H%M%SZ}"
    return v


_DECISIONS: Final = frozenset({3, 8, 9, 11})  # the events that name a deciding declaration


def _all_eligible(deciding: set[str], eligible_by: dict[str, int]) -> int | None:
    """When the last deciding declaration became eligible; None while one is not."""
    if not eligible_by or not deciding <= eligible_by.keys():
        return None
    return max(eligible_by[d] for d in deciding)


def _stage(v: _Visit, eligible_on: bool, held: bool) -> Stage:
    if v.exited is not None:
        return Stage.EXITED
    if v.suspended:
        return Stage.SUSPENDED
    if held:
        return Stage.HELD
    if v.arrived is None:
        return Stage.EXPECTED
    if eligible_on:
        return Stage.RELEASED
    if v.selected is not None and v.scanned is None:
        return Stage.AWAITING_SCAN
    return Stage.AWAITING_RELEASE


def _desired_alerts(v: _Visit, now: int, policy: Policy) -> dict[str, _AlertSpec]:
    """Which alerts hold for this visit given everything known, judged at ``now``."""
    out: dict[str, _AlertSpec] = {}
    if v.closed:
        assert v.exited is not None
        exited = v.exited
        if v.not_released:
            if v.suspended:
                why = "suspended"
            elif len(v.decls) > 1 and v.pending:  # contract 7.1: name what was missing
                why = f"not eligible (declarations not yet eligible: {', '.join(v.pending)})"
            else:
                why = "not eligible (no ELIGIBLE in force)"
            out["EXIT_WITHOUT_RELEASE/EXITED"] = _AlertSpec(
                AlertKind.EXIT_WITHOUT_RELEASE, Stage.EXITED, "f", exited, f"exited while {why}"
            )
        if v.selected is not None and v.scanned is None:
            out["UNSCANNED_EXIT/EXITED"] = _AlertSpec(
                AlertKind.UNSCANNED_EXIT,
                Stage.EXITED,
                "f",
                exited,
                f"selected for scan at {_iso(v.selected)} and exited unscanned",
            )
        if v.exit_seal is not None and v.seal is not None and v.exit_seal != v.seal:
            out["SEAL_MISMATCH/EXITED"] = _AlertSpec(
                AlertKind.SEAL_MISMATCH,
                Stage.EXITED,
                "f",
                exited,
                f"exit seal {v.exit_seal!r} differs from last known seal {v.seal!r}",
            )
        limit = policy.late_gate_out if v.exit_code == 12 else policy.late_loaded
        if v.exit_lag > limit:
            out["LATE_REPORT/EXITED"] = _AlertSpec(
                AlertKind.LATE_REPORT,
                Stage.EXITED,
                "f",
                exited,
                f"{_TYPES[v.exit_code or 12]} reported {_span(v.exit_lag)} after it occurred "
                f"(deadline {_span(limit)})",
            )
    timeline = v.timeline
    for i, (stage, start) in enumerate(timeline):
        if stage is Stage.EXITED:
            continue
        limit_ms = policy.stall_after(stage, v.direction)
        if limit_ms is None:
            continue
        current = i == len(timeline) - 1
        end = now if current else timeline[i + 1][1]
        if end - start <= limit_ms:
            continue
        key = f"STALLED/{stage}"
        status = "f" if current else "r"
        prior = out.get(key)
        if prior is not None and prior.status == "f":
            continue
        if prior is not None and status == "r":
            continue  # keep the first interval that stalled
        out[key] = _AlertSpec(
            AlertKind.STALLED,
            stage,
            status,
            start,
            f"in {stage} for more than {_span(limit_ms)}",
        )
    return out


def _span(ms: int) -> str:
    return duration_text(ms / 1000)


def _iso(ms: int) -> str:
    return _dt(ms).isoformat(timespec="seconds").replace("+00:00", "Z")


def _record(v: _Visit, desired: dict[str, _AlertSpec]) -> dict[str, Any]:
    """The record content (no revision): its digest decides whether to re-emit."""
    assert v.exited is not None
    segments: dict[str, float] = {}
    pre_cleared = v.eligible is not None and v.arrived is not None and v.eligible < v.arrived
    if v.eligible is not None:
        if v.arrived is not None:
            segments["release"] = max(0, v.eligible - v.arrived) / 1000
        start = v.arrived if pre_cleared and v.arrived is not None else v.eligible
        segments["exit"] = max(0, v.exited - start) / 1000
    if v.arrived is not None:
        segments["dwell"] = max(0, v.exited - v.arrived) / 1000
    if v.scanned is not None:
        froms = [t for t in (v.selected, v.arrived) if t is not None]
        if froms:
            segments["scan_wait"] = max(0, v.scanned - max(froms)) / 1000
    kinds = sorted({spec.kind.value for spec in desired.values()})
    return {
        "container_no": v.container_no,
        "site": v.site,
        "direction": v.direction,
        "visit_id": v.visit_id,
        "declaration_nos": v.decls,
        "channel": v.channel,
        "arrived_at": v.arrived,
        "eligible_at": v.eligible,
        "exited_at": v.exited,
        "segments": segments,
        "pre_cleared": pre_cleared,
        "scanned": v.scanned is not None,
        "scan_result": v.scan_result,
        "alerts": kinds,
    }


# --- effects --------------------------------------------------------------------------------


Outcome = Literal["accepted", "duplicate", "stale", "future"]


@dataclass(slots=True)
class Effects:
    """What applying an event (or a check) produced, for the shell to publish."""

    outcome: Outcome = "accepted"
    records: list[ClearanceRecord] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    rejection: Rejection | None = None  # why a "stale" event was refused


# --- the core operations ------------------------------------------------------------------


def apply(
    state: ContainerState | None,
    event: ContainerEvent,
    *,
    container_no: str,
    now: datetime,
    received_at: datetime | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> tuple[ContainerState, Effects]:
    """Apply one container's event; return the new state and what it produced.

    ``now`` is the clock alerts are judged and stamped by (the caller's: wall clock
    live, the event-time watermark in replay). ``received_at`` overrides the event's.
    """
    received = received_at if received_at is not None else event.received_at
    if received is not None and _ms(event.occurred_at) - _ms(received) > policy.future_skew:
        # Dated after it reached us: a clock is wrong. Tracking it would stamp the
        # visit with a time that has not come and hold it there.
        return state or ContainerState(container_no=container_no), Effects(
            outcome="future",
            rejection=Rejection(
                code=RejectCode.FUTURE,
                field="occurred_at",
                event_id=event.event_id,
                type=event.type,
                reason=f"{event.type} occurred_at {_iso(_ms(event.occurred_at))} is after it "
                f"was received ({_iso(_ms(received))}) by more than the allowed clock skew "
                f"of {_span(policy.future_skew)}",
            ),
        )
    if state is None:
        state = ContainerState(container_no=container_no)
    ev = _compact(event, container_no, received_at)
    if any(e.eid == ev.eid for e in state.events):
        return state, Effects(outcome="duplicate")
    if state.horizon is not None and ev.t <= state.horizon:
        return state, Effects(
            outcome="stale",
            rejection=Rejection(
                code=RejectCode.STALE,
                event_id=event.event_id,
                type=event.type,
                reason=f"{event.type} for {container_no} occurred {_iso(ev.t)}, in a visit "
                f"that closed by {_iso(state.horizon)} and is no longer held",
            ),
        )
    events = state.events
    key = _order(ev)
    if not events or _order(events[-1]) <= key:
        pos = len(events)  # the common case: the newest event of the container
        events.append(ev)
    else:
        pos = bisect.bisect_right(events, key, key=_order)
        events.insert(pos, ev)
    # Visits wholly before the event (those whose exit precedes it) cannot change.
    first = sum(1 for e in events[:pos] if e.code in _EXITS)
    return state, _settle(state, _ms(now), policy, first)


def check(
    state: ContainerState, *, now: datetime, policy: Policy = DEFAULT_POLICY
) -> tuple[ContainerState | None, Effects]:
    """Re-judge time-dependent alerts at ``now``; ``None`` when the state has expired.

    A closed visit past its retention leaves a horizon behind for one more retention
    period: an event for it arriving that late, or delivered again after a crash,
    is refused as stale instead of opening a phantom visit.
    """
    now_ms = _ms(now)
    if not state.events:  # only a horizon is left
        if state.horizon is None or now_ms >= state.horizon + policy.retention:
            return None, Effects()
        return state, Effects()
    last = state.events[-1]
    if last.code in _EXITS:  # closed: nothing depends on the clock but expiry
        if now_ms >= last.t + policy.retention:
            state.horizon = last.t
            state.events.clear()
            state.books.clear()
            state.due = last.t + 2 * policy.retention
        return state, Effects()
    return state, _settle(state, now_ms, policy, len(state.books) - 1)


def resend(state: ContainerState, *, now: datetime, policy: Policy = DEFAULT_POLICY) -> Effects:
    """What the state says has gone out, to send again: each visit's latest record
    (its revision and content exactly) and each alert's latest status.

    For the live shell, when an input turns out to be applied already (a duplicate):
    after a crash the input is delivered again, and its state change may have been
    saved while what it produced was lost with the worker. The state is not changed.
    """
    effects = Effects(outcome="duplicate")
    now_ms = _ms(now)
    for _, v, book in _visits(state):
        if book is None:
            continue
        for visit_id, key, since in book.retired:  # resolved when the id changed
            kind, stage = key.split("/", 1)
            effects.alerts.append(_alert_from_book(visit_id, kind, stage, since, now_ms, [v], book))
        desired = _desired_alerts(v, now_ms, policy)
        for key, (status, since) in book.alerts.items():
            spec = desired.get(key)
            if spec is None or spec.status != status or spec.since != since:
                kind, stage = key.split("/", 1)
                detail = "no longer holds given later-arriving events"
                spec = _AlertSpec(AlertKind(kind), Stage(stage), status, since, detail)
            effects.alerts.append(_alert(v, spec, now_ms))
        if v.closed and book.revision:
            content = _record(v, desired)
            if _digest(orjson.dumps(content)) == book.digest:  # what went out last
                effects.records.append(_to_record(content, book))
    return effects


def next_deadline(state: ContainerState, policy: Policy = DEFAULT_POLICY) -> datetime | None:
    """When :func:`check` next has something to do for this container."""
    if state.due == _UNKNOWN and not state.events:
        state.due = None if state.horizon is None else state.horizon + policy.retention
    if state.due == _UNKNOWN:
        last = _latest_visit(state)
        state.due = _deadline(last, state.books[-1] if state.books else None, policy)
    return None if state.due is None else _dt(state.due)


def _deadline(v: _Visit | None, book: _Book | None, policy: Policy) -> int | None:
    if v is None:
        return None
    if v.exited is not None:
        return v.exited + policy.retention
    limit = policy.stall_after(v.stage, v.direction)
    if limit is None:
        return None
    held = book.alerts.get(f"STALLED/{v.stage}") if book is not None else None
    if held is not None and held[0] == "f" and held[1] == v.stage_since:
        return None  # already firing for this stage; it resolves on the next event
    return v.stage_since + limit + 1


def _settle(state: ContainerState, now: int, policy: Policy, first: int = 0) -> Effects:
    """Re-derive visits from index ``first`` on, emit what changed, trim old visits.

    Visits before ``first`` are unchanged by the caller's contract, and a closed
    visit's alerts do not depend on the clock, so they are not derived again.
    """
    effects = Effects()
    chunks = list(_split(state.events))
    visits = [_derive(chunk, state.container_no) for chunk in chunks[first:]]
    books = state.books[:first] + _match_books(state.books[first:], visits, effects, now)
    for v, book in zip(visits, books[first:], strict=True):
        desired = _desired_alerts(v, now, policy)
        _emit_alerts(v, book, desired, now, effects)
        if v.closed:
            content = _record(v, desired)
            digest = _digest(orjson.dumps(content))
            if digest != book.digest:
                book.revision += 1
                book.digest = digest
                effects.records.append(_to_record(content, book))
    # Closed visits take late events for `retention` after their exit (at most
    # _MAX_VISITS are held); everything up to a dropped visit's exit is stale.
    while len(chunks) > 1 and (
        len(chunks) > _MAX_VISITS or chunks[0][-1].t + policy.retention <= now
    ):
        dropped = chunks.pop(0)
        books.pop(0)
        state.horizon = dropped[-1].t
        del state.events[: len(dropped)]
    state.books = books
    state.due = _deadline(visits[-1] if visits else None, books[-1], policy)
    return effects


def _match_books(old: list[_Book], visits: list[_Visit], effects: Effects, now: int) -> list[_Book]:
    """Carry each visit's emission history over by visit id.

    A visit whose id changed (its arrival became known, or a late exit split it)
    takes the history of the old visit that held its first event, lists the old id
    in ``supersedes`` when a record went out under it, and resolves alerts still
    firing under the old id.
    """
    by_id = {b.visit_id: b for b in old}
    out: list[_Book] = []
    for v in visits:
        book = by_id.pop(v.visit_id, None)
        if book is None:
            book = _Book(visit_id=v.visit_id)
            for other in (*old, *out):
                if v.visit_id in other.aliases:  # the id is its own visit again
                    other.aliases.remove(v.visit_id)
                    book.revision = max(book.revision, other.revision)
                other.retired = [r for r in other.retired if r[0] != v.visit_id]
        out.append(book)
    if by_id:  # ids no longer in use
        for stale in by_id.values():
            if not stale.revision and all(a[0] != "f" for a in stale.alerts.values()):
                continue  # nothing went out under the old id
            target = _owner(stale, visits, out)
            if stale.revision and target is not None:
                known = {*target.aliases, stale.visit_id, *stale.aliases}
                target.aliases = sorted(known - {target.visit_id})
                target.revision = max(target.revision, stale.revision)
            for key, (status, since) in stale.alerts.items():
                if status == "f":
                    kind, stage = key.split("/", 1)
                    effects.alerts.append(
                        _alert_from_book(stale.visit_id, kind, stage, since, now, visits, target)
                    )
                    if target is not None:
                        target.retired.append([stale.visit_id, key, since])
            if target is not None:
                target.retired.extend(stale.retired)
    return out


def _owner(stale: _Book, visits: list[_Visit], books: list[_Book]) -> _Book | None:
    # The id encodes the anchor instant; the visit whose span covers it took over.
    for v, b in zip(visits, books, strict=True):
        if v.events[0].t <= _anchor_of(stale.visit_id) <= v.events[-1].t:
            return b
    return books[-1] if books else None


def _anchor_of(visit_id: str) -> int:
    stamp = visit_id.rsplit("-", 1)[1]
    return _ms(datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC))


def _alert_from_book(
    visit_id: str,
    kind: str,
    stage: str,
    since: int,
    now: int,
    visits: list[_Visit],
    target: _Book | None,
) -> Alert:
    v = visits[-1]
    for cand in visits:
        if target is not None and cand.visit_id == target.visit_id:
            v = cand
    return Alert(
        alert_id=f"{visit_id}/{kind}/{stage}",
        kind=AlertKind(kind),
        severity=SEVERITY[AlertKind(kind)],
        status=AlertStatus.RESOLVED,
        container_no=v.container_no,
        site=v.site,
        direction=v.direction,
        stage=Stage(stage),
        since=_dt(since),
        detected_at=_dt(max(now, since)),
        detail=f"visit re-identified as {v.visit_id}",
        visit_id=visit_id,
    )


SEVERITY: Final = {
    AlertKind.EXIT_WITHOUT_RELEASE: Severity.CRITICAL,
    AlertKind.UNSCANNED_EXIT: Severity.CRITICAL,
    AlertKind.SEAL_MISMATCH: Severity.WARNING,
    AlertKind.STALLED: Severity.WARNING,
    AlertKind.LATE_REPORT: Severity.WARNING,
}


def _emit_alerts(
    v: _Visit, book: _Book, desired: dict[str, _AlertSpec], now: int, effects: Effects
) -> None:
    for key, spec in desired.items():
        held = book.alerts.get(key)
        if held is not None and (
            held == [spec.status, spec.since] or held[0] == spec.status == "r"
        ):
            continue
        book.alerts[key] = [spec.status, spec.since]
        effects.alerts.append(_alert(v, spec, now))
    for key, held in book.alerts.items():
        if held[0] == "f" and key not in desired:
            held[0] = "r"
            kind, stage = key.split("/", 1)
            spec = _AlertSpec(
                AlertKind(kind),
                Stage(stage),
                "r",
                held[1],
                "no longer holds given later-arriving events",
            )
            effects.alerts.append(_alert(v, spec, now))


def _alert(v: _Visit, spec: _AlertSpec, now: int) -> Alert:
    return Alert(
        alert_id=f"{v.visit_id}/{spec.kind}/{spec.stage}",
        kind=spec.kind,
        severity=SEVERITY[spec.kind],
        status=AlertStatus.FIRING if spec.status == "f" else AlertStatus.RESOLVED,
        container_no=v.container_no,
        site=v.site,
        direction=v.direction,
        stage=spec.stage,
        since=_dt(spec.since),
        detected_at=_dt(max(now, spec.since)),
        detail=spec.detail,
        visit_id=v.visit_id,
    )


def _to_record(content: dict[str, Any], book: _Book) -> ClearanceRecord:
    return ClearanceRecord(
        **{
            **content,
            "arrived_at": _opt_dt(content["arrived_at"]),
            "eligible_at": _opt_dt(content["eligible_at"]),
            "exited_at": _dt(content["exited_at"]),
        },
        revision=book.revision,
        supersedes=book.aliases,
    )


def _opt_dt(ms: int | None) -> datetime | None:
    return None if ms is None else _dt(ms)


# --- views ----------------------------------------------------------------------------------


def _visits(state: ContainerState) -> Iterator[tuple[list[Ev], _Visit, _Book | None]]:
    """Each visit the state holds, oldest first: its events, what they derive to, and
    its emission book (None before anything went out for it)."""
    books = {b.visit_id: b for b in state.books}
    for chunk in _split(state.events):
        v = _derive(chunk, state.container_no)
        yield chunk, v, books.get(v.visit_id)


def _latest_visit(state: ContainerState) -> _Visit | None:
    """Only the latest visit, derived: the earlier ones cannot change what it is."""
    chunks = list(_split(state.events))
    return _derive(chunks[-1], state.container_no) if chunks else None


def visit_views(state: ContainerState) -> Iterable[VisitState]:
    """Every visit the state holds, oldest first."""
    for _, v, book in _visits(state):
        yield _view(v, book)


def published_records(
    state: ContainerState, policy: Policy = DEFAULT_POLICY
) -> dict[str, ClearanceRecord]:
    """The clearance record of each closed visit as last published, by visit id.

    A state is settled after every apply/check, so a closed visit's derived record is
    the one last emitted for it. The shell reads this from the state *before* an event
    that revises a record, to withdraw the old record's figures from its metrics.
    """
    out: dict[str, ClearanceRecord] = {}
    for _, v, book in _visits(state):
        if v.closed and book is not None and book.revision > 0:
            assert v.exited is not None
            # A closed visit's alerts do not depend on the clock: judge at its exit.
            out[v.visit_id] = _to_record(_record(v, _desired_alerts(v, v.exited, policy)), book)
    return out


def timelines(state: ContainerState) -> Iterable[tuple[VisitState, list[dict[str, Any]]]]:
    """Every visit the state holds, oldest first, with its events in time order: what a
    person looking one container up wants to see. Event fields are the kept ones."""
    for chunk, v, book in _visits(state):
        events = [
            {
                "type": _TYPES[e.code],
                "occurred_at": _dt(e.t),
                "site": e.site,
                "value": e.val,
                "seal_no": e.seal,
                "declaration_no": e.decl,
            }
            for e in chunk
        ]
        yield _view(v, book), events


def latest_stage(state: ContainerState) -> tuple[str, str, Stage, int] | None:
    """The latest visit's (site, direction, stage, stage since in ms): what a board of
    open visits needs, without building the full view (a rebuild does this a million
    times)."""
    v = _latest_visit(state)
    return None if v is None else (v.site, v.direction, v.stage, v.stage_since)


def current_view(state: ContainerState) -> VisitState | None:
    """The latest visit (open, else the last closed one)."""
    v = _latest_visit(state)
    if v is None:
        return None
    return _view(v, next((b for b in state.books if b.visit_id == v.visit_id), None))


def open_view(state: ContainerState) -> VisitState | None:
    """The open visit, if the container is in the yard (or expected)."""
    view = current_view(state)
    return view if view is not None and view.stage is not Stage.EXITED else None


def _view(v: _Visit, book: _Book | None) -> VisitState:
    firing = sorted(
        k.split("/", 1)[0] for k, h in (book.alerts.items() if book else ()) if h[0] == "f"
    )
    return VisitState(
        container_no=v.container_no,
        visit_id=v.visit_id,
        site=v.site,
        direction=v.direction,
        stage=v.stage,
        stage_since=_dt(v.stage_since),
        arrived_at=_opt_dt(v.arrived),
        eligible_at=_opt_dt(v.eligible),
        exited_at=_opt_dt(v.exited),
        declaration_nos=v.decls,
        channel=v.channel,
        selected_for_scan=v.selected is not None,
        scanned=v.scanned is not None,
        seal_no=v.seal,
        alerts_firing=firing,
        events=len(v.events),
    )
