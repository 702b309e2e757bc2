"""From a visit's events to the visit: arrival, release, exit, stage timeline.

:class:`Fold` derives a visit one event at a time, in time order; :func:`derive`
folds a whole visit. The core keeps the open visit's fold on its state, so an event
that arrives in order (nearly all of them) costs one step of the fold rather than a
derivation of the visit from its first event. Anything else (an event that arrives
out of order, a reload, an expiry) drops the fold and the visit is derived again from
its events: one code path both ways, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from vasscm.durations import basic_stamp
from vasscm.events import Stage
from vasscm.tracking.codes import (
    ARRIVALS,
    CHANNEL_ASSIGNED,
    DECISIONS,
    DISCHARGED,
    DISCREPANCY,
    ELIGIBILITY_CANCELLED,
    ELIGIBLE,
    EXITS,
    EXPECTED,
    RESUMED,
    SCAN_SELECTED,
    SCANNED,
    SUSPENDED,
)
from vasscm.tracking.stages import stage_of
from vasscm.tracking.state import ContainerState, Ev


@dataclass(slots=True)
class Visit:
    """A visit as derived from its sorted events."""

    events: list[Ev]
    container_no: str
    visit_id: str = ""
    site: str = ""
    direction: str = "unknown"
    arrived: int | None = None
    eligible: int | None = None  # when every deciding declaration was eligible
    exited: int | None = None
    exit_code: int | None = None
    exit_seal: str | None = None
    exit_lag: int = 0
    seal: str | None = None  # last known seal before exit
    channel: str = "unknown"
    channel_at: int | None = None  # when the channel in force was assigned
    # Contract 8.1: when every deciding declaration had a channel (the declarant's
    # part ended); None while one has none, or none is known.
    lodged: int | None = None
    decls: tuple[str, ...] = ()  # sorted
    selected: int | None = None
    scanned: int | None = None
    scan_result: str | None = None
    suspended: bool = False
    pending: tuple[str, ...] = ()  # at exit: deciding declarations not eligible, sorted
    not_released: bool = True  # at exit: not eligible, or suspended
    timeline: list[tuple[Stage, int]] = field(default_factory=list)
    # Contract 7.2: the vessel calls and the notices whose deadlines are judged.
    discharged: int | None = None  # the DISCHARGED (the vessel's arrival, failing its eta)
    voyage_in: str | None = None  # the call it was discharged from
    voyage_out: str | None = None  # the call it was loaded on (at a LOADED exit)
    expected_rx: int | None = None  # first form 01 (EXPECTED) received, ms
    selected_rx: int | None = None  # first form 03 (SCAN_SELECTED) received, ms

    @property
    def stage(self) -> Stage:
        return self.timeline[-1][0]

    @property
    def stage_since(self) -> int:
        return self.timeline[-1][1]

    @property
    def closed(self) -> bool:
        return self.exited is not None


def split(events: list[Ev]) -> Iterator[list[Ev]]:
    """The visits of a container's sorted events: each ends at an exit."""
    start = 0
    for i, ev in enumerate(events):
        if ev.code in EXITS:
            yield events[start : i + 1]
            start = i + 1
    if start < len(events):
        yield events[start:]


def last_chunk(events: list[Ev]) -> list[Ev]:
    """The events of the latest visit (after the last exit, or the last closed visit)."""
    end = len(events)
    i = end - 1
    if i >= 0 and events[i].code in EXITS:
        i -= 1  # the latest visit is a closed one: it ends at this exit
    while i >= 0 and events[i].code not in EXITS:
        i -= 1
    return events[i + 1 : end]


class Fold:
    """A visit derived one event at a time, in time order (see the module docstring).

    Per declaration: a RESUMED lifts only its own declaration's suspension, and a
    cancellation withdraws only its own declaration's ELIGIBLE. The container is
    released when every declaration that names it in a release decision is eligible,
    none suspended (contract 7.1, Art. 52a.5): ``visit.eligible`` is then when the last
    of them became so (each declaration's first ELIGIBLE still in force).
    """

    __slots__ = (
        "_anchor",
        "_channel_by",
        "_channel_t",
        "_deciding",
        "_eligible_by",
        "_expected_direction",
        "_held",
        "_suspended_by",
        "visit",
    )

    def __init__(self, container_no: str, events: list[Ev] | None = None) -> None:
        self.visit = Visit(events=[] if events is None else events, container_no=container_no)
        # Made when first needed, small otherwise: an open visit's fold is kept per
        # container, and a yard holds tens of thousands of them.
        self._eligible_by: dict[str, int] | None = None  # first ELIGIBLE in force, by decl
        self._suspended_by: set[str] | None = None
        self._channel_by: dict[str, int] | None = None  # first CHANNEL_ASSIGNED, by decl
        self._deciding: list[str] = []  # declarations named by CHANNEL_ASSIGNED .. CANCELLED
        self._held = False
        self._expected_direction: str | None = None
        self._channel_t = -1
        self._anchor: int | None = None
        if events:
            for ev in events:
                self._step(ev)

    def add(self, ev: Ev) -> Visit:
        """Extend the visit with an event at or after its latest one."""
        self.visit.events.append(ev)
        self._step(ev)
        return self.visit

    def _step(self, ev: Ev) -> None:
        v = self.visit
        code = ev.code
        decl = ev.decl
        if decl is not None and decl not in v.decls:
            v.decls = tuple(sorted((*v.decls, decl)))
        if ev.seal is not None and code not in EXITS:
            v.seal = ev.seal
        if self._anchor is None:  # the first event: the visit's site and id until arrival
            v.site = ev.site
            self._set_anchor(ev.t)
        if code in ARRIVALS:
            if code == DISCHARGED and v.discharged is None:
                v.discharged, v.voyage_in = ev.t, ev.voyage
            if v.arrived is None:
                v.arrived = ev.t
                v.direction = ev.val or "unknown"
                v.site = ev.site
                self._set_anchor(ev.t)
        elif code == EXPECTED:
            rx = ev.t + ev.lag
            if v.expected_rx is None or rx < v.expected_rx:
                v.expected_rx = rx
            if self._expected_direction is None:
                self._expected_direction = ev.val
                if v.arrived is None and ev.val is not None:
                    v.direction = ev.val
        elif code == CHANNEL_ASSIGNED:  # the latest decision counts
            self._decides(decl)
            if ev.t >= self._channel_t:
                v.channel, self._channel_t = ev.val or "unknown", ev.t
                v.channel_at = ev.t
            if self._channel_by is None:
                self._channel_by = {}
            self._channel_by.setdefault(decl or "", ev.t)
        elif code == SCAN_SELECTED:
            if v.selected is None:
                v.selected = ev.t
            rx = ev.t + ev.lag
            if v.selected_rx is None or rx < v.selected_rx:
                v.selected_rx = rx
        elif code == SCANNED:
            if v.scanned is None:
                v.scanned = ev.t
            v.scan_result = ev.val
        elif code == DISCREPANCY:
            self._held = True
        elif code == ELIGIBLE:
            self._decides(decl)
            if self._eligible_by is None:
                self._eligible_by = {}
            self._eligible_by.setdefault(decl or "", ev.t)
        elif code == SUSPENDED:
            self._decides(decl)
            if self._suspended_by is None:
                self._suspended_by = set()
            self._suspended_by.add(decl or "")
            v.suspended = True
        elif code == RESUMED:
            if self._suspended_by is not None:
                self._suspended_by.discard(decl or "")
            v.suspended = bool(self._suspended_by)
        elif code == ELIGIBILITY_CANCELLED:
            self._decides(decl)
            if self._eligible_by is not None:
                self._eligible_by.pop(decl or "", None)
        if code in DECISIONS:
            v.eligible = _latest_of_all(self._deciding, self._eligible_by)
            v.lodged = _latest_of_all(self._deciding, self._channel_by)
            if code == ELIGIBLE and v.eligible is not None:
                self._held = False  # a discrepancy holds until the container is eligible
        elif code in EXITS:
            v.exited, v.exit_code, v.exit_seal, v.exit_lag = ev.t, code, ev.seal, ev.lag
            v.voyage_out = ev.voyage
            v.not_released = v.eligible is None or v.suspended
            eligible = self._eligible_by or {}
            v.pending = tuple(sorted(d for d in self._deciding if d not in eligible))
        stage = stage_of(v, v.eligible is not None, self._held)
        timeline = v.timeline
        if not timeline or timeline[-1][0] is not stage:
            timeline.append((stage, ev.t))

    def _decides(self, decl: str | None) -> None:
        if (decl or "") not in self._deciding:
            self._deciding.append(decl or "")

    def _set_anchor(self, t: int) -> None:
        if t != self._anchor:
            self._anchor = t
            self.visit.visit_id = f"{self.visit.container_no}-{basic_stamp(t)}"


def derive(events: list[Ev], container_no: str) -> Visit:
    """The visit of a container's sorted events (one visit's worth)."""
    return Fold(container_no, events).visit


def _latest_of_all(deciding: list[str], at_by: dict[str, int] | None) -> int | None:
    """When the last deciding declaration got what ``at_by`` holds (its eligibility, its
    channel); None while one has not."""
    if not at_by:
        return None
    latest = -1
    for d in deciding:
        t = at_by.get(d)
        if t is None:
            return None
        latest = max(latest, t)
    return latest


def latest_visit(state: ContainerState) -> Visit | None:
    """Only the latest visit, derived: the earlier ones cannot change what it is."""
    if state.last is not None:
        return state.last.visit
    chunk = last_chunk(state.events)
    return derive(chunk, state.container_no) if chunk else None
