"""What the tracker holds for one container, and its stored (versioned) JSON form.

A container's state is its recent visits' events in compact form (:class:`Ev`,
sorted by event time), one emission book per visit (what went out for it), and the
horizon before which events are stale. Stored in the live table and its changelog
as :meth:`ContainerState.to_json`; the format carries a version so a later release
can read what this one wrote.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from sys import intern
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import orjson
from pydantic import BaseModel

from vasscm.events import MODEL_OF_TYPE, ContainerEvent, trimmed
from vasscm.tracking.codes import CODE_OF_TYPE, EXITS, NOTICES

#: Events whose received time the state keeps (as Ev.lag): the reports and notices
#: whose deadlines are judged (contract 7.2).
LAGGED: Final = EXITS | NOTICES

if TYPE_CHECKING:
    from vasscm.tracking.visit import Fold


class Facts(NamedTuple):
    """What is known of a vessel call (vasscm.tracking.calls): epoch ms or None."""

    eta: int | None
    arrived: int | None
    departed: int | None


#: Version of the stored form. 1: {c, h, d, e, b}; a state without "v" is version 1.
#: 2: events carry a voyage (a ninth item), and {k}: facts of the vessel calls named.
STATE_VERSION: Final = 2
_READS: Final = frozenset({1, 2})
UNKNOWN: Final = -1  # ContainerState.due not computed yet


class Ev(NamedTuple):
    """One event as the state keeps it (a JSON array of 9 items; 8 in version 1)."""

    t: int  # occurred_at, epoch ms
    code: int
    eid: int  # 64-bit digest of event_id: duplicates are recognised by it
    site: str
    val: str | None  # direction, channel, basis or scan result, by type
    seal: str | None
    decl: str | None  # declaration_no of customs events
    lag: int  # received_at - occurred_at, ms (exits and notices only; 0 elsewhere)
    voyage: str | None = None  # the vessel call of DISCHARGED and LOADED (contract 7.2)


def digest(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


_VALUE_FIELD: Final = {
    "DISCHARGED": "direction",
    "GATE_IN": "direction",
    "EXPECTED": "direction",
    "CHANNEL_ASSIGNED": "channel",
    "ELIGIBLE": "basis",
    "SCANNED": "result",
}


class _Shape(NamedTuple):
    """What compact() reads of one event model."""

    code: int
    value: str | None  # the field kept as Ev.val
    seal: bool  # declares seal_no
    customs: bool  # declares declaration_no and containers
    voyage: bool  # declares voyage


def _shape(kind: str, model: type[BaseModel]) -> _Shape:
    # Only fields the event's model declares: unknown fields are kept on the model
    # (extra="allow") but never validated, so a port event carrying its own
    # "declaration_no" or "containers" must not be read as a customs one (found by
    # the fuzzer, tests/fuzz/parse_and_track.py).
    declared = model.model_fields
    seal, customs = "seal_no" in declared, "declaration_no" in declared
    return _Shape(CODE_OF_TYPE[kind], _VALUE_FIELD.get(kind), seal, customs, "voyage" in declared)


_SHAPES: Final[dict[type, _Shape]] = {
    model: _shape(kind, model) for kind, model in MODEL_OF_TYPE.items() if kind in CODE_OF_TYPE
}


def compact(event: ContainerEvent, container_no: str, occurred: int, received: int | None) -> Ev:
    """The event as the state keeps it: ``occurred`` and ``received`` (or None) are its
    occurred_at and received_at in epoch ms, converted once by the caller."""
    shape = _SHAPES[type(event)]
    code = shape.code
    val: str | None = None if shape.value is None else str(getattr(event, shape.value))
    seal: str | None = event.seal_no if shape.seal else None  # type: ignore[union-attr]
    decl: str | None = None
    if shape.customs:
        decl = event.declaration_no  # type: ignore[union-attr]
        for ref in event.containers:  # type: ignore[union-attr]
            if ref.container_no == container_no:
                seal = ref.seal_no
                break
    lag = received - occurred if code in LAGGED and received is not None else 0
    voyage: str | None = event.voyage if shape.voyage else None  # type: ignore[union-attr]
    # Interned: a visit repeats its site, seal and declaration in every event, and
    # a yard holds hundreds of thousands of visits.
    return _new(
        Ev,
        (
            occurred,
            code,
            digest(event.event_id.encode()),
            intern(event.site),
            None if val is None else intern(val),
            None if seal is None else intern(seal),
            None if decl is None else intern(decl),
            lag,
            None if voyage is None else intern(voyage),
        ),
    )


#: An Ev made from a tuple of its nine items: NamedTuple's own constructor goes through
#: a Python-level __new__, 2.5 times the cost (one Ev per event).
_new: Final = tuple.__new__


def order(ev: Ev) -> tuple[int, int, int]:
    return (ev.t, ev.code, ev.eid)


@dataclass(slots=True)
class Book:
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
    events: list[Ev] = field(default_factory=list)  # sorted by order()
    books: list[Book] = field(default_factory=list)  # one per visit, oldest first
    horizon: int | None = None  # events at or before this instant are stale
    # Next deadline as of the last settle: serialised, so rebuilding a deadline
    # index after a restart reads it instead of deriving every visit again.
    due: int | None = field(default=UNKNOWN, compare=False)
    # Facts of the vessel calls its events name, by voyage (vasscm.tracking.calls):
    # a copy, so that judging a visit needs nothing outside its state.
    calls: dict[str, Facts] = field(default_factory=dict)
    # The open visit folded so far (never stored): an event that arrives in order
    # extends it instead of deriving the visit again. None when not known.
    last: Fold | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> bytes:
        """The state as stored in the table: exact-size bytes (an ``orjson.dumps``
        result keeps an allocation of several KB whatever its length, and a worker
        holds one per container)."""
        return trimmed(
            orjson.dumps(
                {
                    "v": STATE_VERSION,
                    "c": self.container_no,
                    "h": self.horizon,
                    "d": self.due,
                    "e": self.events,
                    "b": [
                        [b.visit_id, b.revision, b.digest, b.aliases, b.alerts]
                        + ([b.retired] if b.retired else [])
                        for b in self.books
                    ],
                    **({"k": self.calls} if self.calls else {}),
                },
                default=tuple,  # Ev is a NamedTuple: stored as a plain array
            )
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> ContainerState:
        doc = orjson.loads(data)
        version = doc.get("v", 1)
        if version not in _READS:
            raise ValueError(
                f"container state version {version!r} is not one this release reads "
                f"(it reads {STATE_VERSION}); was it written by a newer vasscm?"
            )
        return cls(
            container_no=doc["c"],
            horizon=doc["h"],
            due=doc.get("d", UNKNOWN),
            events=[Ev(*e) for e in doc["e"]],
            books=[Book(*b) for b in doc["b"]],
            calls={voyage: Facts(*facts) for voyage, facts in doc.get("k", {}).items()},
        )
