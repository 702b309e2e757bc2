"""Builders of valid contract events, visit scenarios and tracking runs for the tests.

Every event goes through :func:`vasscm.events.parse_event`, so a test can only build
events the contract accepts; a builder that produces a rejected event raises
:class:`ValueError` with the rejection's reason.

Typical use::

    route = ROUTES["cai-lan-import"]
    events = [route.arrive(at()), make_event("ELIGIBLE", at(hours=5)), route.leave(at(hours=7))]
    run = run_events(events)
    run.last_record().segments
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson
from stdnum import iso6346

from vasscm.events import (
    CUSTOMS_TYPES,
    Alert,
    AlertStatus,
    ClearanceRecord,
    ContainerEvent,
    Rejection,
    parse_event,
)
from vasscm.tracking import DEFAULT_POLICY, ContainerState, Effects, Policy, apply, check

__all__ = [
    "CONTAINER",
    "DECLARATION",
    "LAND_GATE",
    "OTHER_CONTAINER",
    "OTHER_DECLARATION",
    "ROUTES",
    "SEAPORT",
    "T0",
    "VESSEL",
    "VOYAGE",
    "Route",
    "Run",
    "apply_event",
    "at",
    "cleared_visit",
    "event_doc",
    "make_event",
    "run_events",
    "typical_visit",
    "vessel_doc",
]

VESSEL: Final = "9074729"  # an IMO number with a valid check digit
VOYAGE: Final = "CL-2025-031"

#: A Monday morning at the port, in UTC; every scenario is built relative to it.
T0: Final = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
CONTAINER: Final = "CSQU3054383"
OTHER_CONTAINER: Final = "MSCU1234566"
DECLARATION: Final = "105012345670"
OTHER_DECLARATION: Final = "305098765430"
SEAPORT: Final = "cai-lan"
LAND_GATE: Final = "mong-cai"

# Required fields a test rarely cares about, per event type.
_DEFAULTS: Final[dict[str, dict[str, Any]]] = {
    "DISCHARGED": {"direction": "import"},
    "GATE_IN": {"direction": "export", "gate": "gate-1"},
    "GATE_OUT": {"gate": "gate-1"},
    "LOADED": {},
    "SEAL_CHANGED": {"seal_no": "VN-SEAL-2"},
    "DISCREPANCY": {"reason": "seal number differs from the manifest"},
    "SCANNED": {"scanner": "nii-1", "result": "CLEAR"},
    "EXPECTED": {"direction": "import"},
    "SCAN_SELECTED": {},
    "CHANNEL_ASSIGNED": {"channel": "green"},
    "ELIGIBLE": {"basis": "cleared"},
    "SUSPENDED": {},
    "RESUMED": {},
    "ELIGIBILITY_CANCELLED": {},
}


def container_no(stem: str) -> str:
    """An ISO 6346 number: a 10-character stem (owner, category, serial) and its check digit."""
    return stem + iso6346.calc_check_digit(stem)


def numbered(i: int, owner: str = "TGHU") -> str:
    """The ``i``-th container number of ``owner`` (a 4-letter prefix)."""
    return container_no(f"{owner}{i:06d}")


def at(*, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    """An instant relative to :data:`T0`."""
    return T0 + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def event_doc(
    type: str,
    at: datetime,
    *,
    container_no: str = CONTAINER,
    site: str = SEAPORT,
    event_id: str | None = None,
    declaration_no: str = DECLARATION,
    seal_no: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """The JSON document of one event as a producer would send it.

    Customs events carry ``declaration_no`` and a one-entry ``containers`` list (the
    form they have after fan-out); ``seal_no`` goes into that entry for them, on the
    envelope for port events. The default ``event_id`` is unique per type, container,
    instant (and declaration): pass one to build a duplicate or a collision.
    """
    stamp = int(at.timestamp() * 1000)
    doc: dict[str, Any] = {"type": type, "occurred_at": at, "site": site, **_DEFAULTS[type]}
    if type in CUSTOMS_TYPES:
        ref: dict[str, Any] = {"container_no": container_no}
        if seal_no is not None:
            ref["seal_no"] = seal_no
        doc |= {"declaration_no": declaration_no, "containers": [ref]}
        doc["event_id"] = event_id or f"{type}:{container_no}:{stamp}:{declaration_no}"
    else:
        doc["container_no"] = container_no
        if seal_no is not None:
            doc["seal_no"] = seal_no
        doc["event_id"] = event_id or f"{type}:{container_no}:{stamp}"
    doc |= fields
    return doc


def vessel_doc(
    type: str,
    at: datetime,
    *,
    voyage: str = VOYAGE,
    vessel: str = VESSEL,
    site: str = SEAPORT,
    event_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A vessel call's event (contract 7.2) as its producer would send it."""
    stamp = int(at.timestamp() * 1000)
    doc: dict[str, Any] = {
        "type": type,
        "event_id": event_id or f"{type}:{voyage}:{stamp}",
        "occurred_at": at,
        "site": site,
        "vessel": vessel,
        "voyage": voyage,
    }
    return doc | fields


def make_event(type: str, at: datetime, **kwargs: Any) -> ContainerEvent:
    """One parsed, contract-valid event (see :func:`event_doc` for the arguments)."""
    parsed = parse_event(orjson.dumps(event_doc(type, at, **kwargs)))
    if isinstance(parsed, Rejection):
        raise ValueError(f"factory built an invalid {type}: {parsed.reason}")
    return parsed


@dataclass(frozen=True, slots=True)
class Route:
    """How a container of one direction enters and leaves one site."""

    site: str
    direction: str
    arrival_type: str
    exit_type: str

    @property
    def id(self) -> str:
        return f"{self.site}-{self.direction}"

    def event(self, type: str, when: datetime, **fields: Any) -> ContainerEvent:
        """Any event at this route's site (``EXPECTED`` gets the route's direction)."""
        if type == "EXPECTED":
            fields.setdefault("direction", self.direction)
        return make_event(type, when, site=self.site, **fields)

    def arrive(self, when: datetime, **fields: Any) -> ContainerEvent:
        """The arrival: ``DISCHARGED`` at a seaport import, else ``GATE_IN``."""
        return self.event(self.arrival_type, when, direction=self.direction, **fields)

    def leave(self, when: datetime, **fields: Any) -> ContainerEvent:
        """The exit: ``LOADED`` at a seaport export, else ``GATE_OUT``."""
        return self.event(self.exit_type, when, **fields)


ROUTES: Final = {
    r.id: r
    for r in (
        Route(SEAPORT, "import", "DISCHARGED", "GATE_OUT"),
        Route(SEAPORT, "export", "GATE_IN", "LOADED"),
        Route(LAND_GATE, "import", "GATE_IN", "GATE_OUT"),
        Route(LAND_GATE, "export", "GATE_IN", "GATE_OUT"),
    )
}


def cleared_visit(
    route: Route,
    start: datetime = T0,
    *,
    release: timedelta = timedelta(hours=5),
    exit: timedelta = timedelta(hours=2),
    channel: str = "green",
) -> list[ContainerEvent]:
    """Arrival, channel, ``ELIGIBLE`` after ``release``, exit ``exit`` later: no alerts."""
    return [
        route.arrive(start),
        route.event("CHANNEL_ASSIGNED", start + timedelta(minutes=30), channel=channel),
        route.event("ELIGIBLE", start + release),
        route.leave(start + release + exit),
    ]


def typical_visit(route: Route, start: datetime = T0) -> list[ContainerEvent]:
    """Eight events of an ordinary scanned visit with a re-seal, exiting with the new seal."""
    return [
        route.event("EXPECTED", start - timedelta(days=1), seal_no="VN-SEAL-1"),
        route.arrive(start, seal_no="VN-SEAL-1"),
        route.event("SCAN_SELECTED", start - timedelta(hours=6)),  # form 03, in time
        route.event("CHANNEL_ASSIGNED", start + timedelta(hours=1), channel="yellow"),
        route.event("SCANNED", start + timedelta(hours=2), result="CLEAR"),
        route.event("SEAL_CHANGED", start + timedelta(hours=2, minutes=10), seal_no="VN-SEAL-2"),
        route.event("ELIGIBLE", start + timedelta(hours=5)),
        route.leave(start + timedelta(hours=7), seal_no="VN-SEAL-2"),
    ]


@dataclass(slots=True)
class Run:
    """A container's state after a sequence of events, and everything emitted on the way."""

    state: ContainerState | None = None
    effects: list[Effects] = field(default_factory=list)
    watermark: datetime | None = None  # latest occurred_at applied so far

    @property
    def records(self) -> list[ClearanceRecord]:
        return [r for e in self.effects for r in e.records]

    @property
    def alerts(self) -> list[Alert]:
        return [a for e in self.effects for a in e.alerts]

    def last_record(self) -> ClearanceRecord | None:
        return self.records[-1] if self.records else None

    def alert_status(self) -> dict[str, AlertStatus]:
        """Each alert id's latest status."""
        return {a.alert_id: a.status for a in self.alerts}

    def latest_alerts(self) -> dict[str, Alert]:
        """Each alert id's latest record."""
        return {a.alert_id: a for a in self.alerts}

    def firing(self) -> set[str]:
        return {i for i, s in self.alert_status().items() if s is AlertStatus.FIRING}

    def firing_kinds(self) -> list[str]:
        return sorted(a.kind.value for a in self.latest_alerts().values() if a.status == "firing")


def apply_event(
    run: Run,
    event: ContainerEvent,
    *,
    now: datetime | None = None,
    received_at: datetime | None = None,
    policy: Policy = DEFAULT_POLICY,
    container_no: str = CONTAINER,
) -> Effects:
    """Apply one event to ``run`` and record its effects.

    ``now`` defaults to the watermark: the latest ``occurred_at`` applied so far, as
    replay does.
    """
    seen = event.occurred_at
    run.watermark = seen if run.watermark is None else max(run.watermark, seen)
    run.state, effects = apply(
        run.state,
        event,
        container_no=container_no,
        now=run.watermark if now is None else now,
        received_at=received_at,
        policy=policy,
    )
    run.effects.append(effects)
    return effects


def run_events(
    events: Iterable[ContainerEvent],
    *,
    as_of: datetime | None = None,
    policy: Policy = DEFAULT_POLICY,
    container_no: str = CONTAINER,
    run: Run | None = None,
) -> Run:
    """Apply ``events`` in the given (arrival) order, then :func:`check` at ``as_of``.

    Each event is applied with the watermark as ``now`` (see :func:`apply_event`). Pass
    ``run`` to continue an earlier run. ``state`` becomes ``None`` if the check finds
    the state expired.
    """
    run = run if run is not None else Run()
    for event in events:
        apply_event(run, event, policy=policy, container_no=container_no)
    if as_of is not None:
        assert run.state is not None, "check needs a state: apply an event first"
        run.state, effects = check(run.state, now=as_of, policy=policy)
        run.effects.append(effects)
    return run


def clearance_record(
    serial: int,
    *,
    segments: dict[str, float] | None = None,
    exited_at: str = "2018-03-10T03:00:00Z",
    **fields: Any,
) -> ClearanceRecord:
    """A valid clearance record as replay writes it; keyword arguments override fields."""
    exited = datetime.fromisoformat(exited_at)
    segs = {"release": 7200.0, "dwell": 18000.0} if segments is None else segments
    data: dict[str, Any] = {
        "container_no": "CSQU3054383",
        "site": "cai-lan",
        "direction": "import",
        "visit_id": f"CSQU3054383-{serial:04d}",
        "declaration_nos": ["101234567890"],
        "channel": "green",
        "arrived_at": exited - timedelta(seconds=segs.get("dwell", 0)),
        "eligible_at": None,
        "exited_at": exited,
        "segments": segs,
        "pre_cleared": False,
        "scanned": False,
        "scan_result": None,
        "alerts": [],
        "revision": 1,
    }
    data.update(fields)
    return ClearanceRecord.model_validate(data)
