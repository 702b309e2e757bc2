"""Vessel calls (contract 7.2): what is known of a voyage's arrival and departure.

A call is one vessel's visit to one site under one ``voyage``: its estimated arrival
(``VESSEL_EXPECTED``, may be repeated), its arrival and its departure. Containers
name their voyage on ``DISCHARGED`` and ``LOADED``; the departure starts the
reporting clock of every ``LOADED`` of the voyage, and the estimated arrival is what
customs' notices are measured against.

Each fact keeps the report received last (ties: the later event id digest), so a
call is a function of the set of its events, whatever order they are read in: the
same in replay, in every partition of the live worker, and after a restart.

A container's state keeps a copy of the facts of the voyages its visits name
(:attr:`~vasscm.tracking.state.ContainerState.calls`), so judging a visit needs
nothing outside its state; the yard (vasscm.yard) keeps the calls themselves and
hands a fact to the containers that name the voyage when it changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NamedTuple

import orjson

from vasscm.durations import to_ms
from vasscm.events import VesselArrived, VesselDeparted, VesselEvent, VesselExpected, trimmed
from vasscm.tracking.state import Facts, digest

__all__ = ["CALL_KEY", "Call", "Facts", "Report", "call_key", "parse_call_key"]

#: Prefix of a call's key in the live visits table (never a container number).
CALL_KEY: Final = "~call"


class Report(NamedTuple):
    """One fact as reported: its value, when it was received, which event said it."""

    value: int  # ms: the estimated arrival, or the arrival or departure itself
    received: int  # ms
    eid: int  # digest of the event id


@dataclass(slots=True)
class Call:
    voyage: str
    vessel: str
    site: str
    eta: Report | None = None
    arrived: Report | None = None
    departed: Report | None = None

    def take(self, event: VesselEvent, *, occurred: int, received: int) -> bool:
        """Take one report; whether it changed a fact (False: a repeat, or older)."""
        value = occurred
        if isinstance(event, VesselExpected):
            field, value = "eta", to_ms(event.eta)
        elif isinstance(event, VesselArrived):
            field = "arrived"
        else:
            assert isinstance(event, VesselDeparted)
            field = "departed"
        report = Report(value, received, digest(event.event_id.encode()))
        known: Report | None = getattr(self, field)
        if known is not None and (known.received, known.eid) >= (received, report.eid):
            return False
        setattr(self, field, report)
        self.vessel, self.site = event.vessel, event.site
        return True

    @property
    def facts(self) -> Facts:
        return Facts(
            None if self.eta is None else self.eta.value,
            None if self.arrived is None else self.arrived.value,
            None if self.departed is None else self.departed.value,
        )

    @property
    def latest(self) -> int:
        """The latest instant the call speaks of (it is forgotten a while after)."""
        return max(r.value for r in (self.eta, self.arrived, self.departed) if r is not None)

    def to_json(self) -> bytes:
        return trimmed(
            orjson.dumps(
                {
                    "v": 1,
                    "voyage": self.voyage,
                    "vessel": self.vessel,
                    "site": self.site,
                    "eta": self.eta,
                    "arrived": self.arrived,
                    "departed": self.departed,
                },
                default=tuple,
            )
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> Call:
        doc = orjson.loads(data)
        if doc.get("v") != 1:
            raise ValueError(f"vessel call version {doc.get('v')!r} is not one this release reads")

        def report(item: list[int] | None) -> Report | None:
            return None if item is None else Report(*item)

        return cls(
            voyage=doc["voyage"],
            vessel=doc["vessel"],
            site=doc["site"],
            eta=report(doc["eta"]),
            arrived=report(doc["arrived"]),
            departed=report(doc["departed"]),
        )


def call_key(partition: int, voyage: str) -> str:
    """The key a partition's copy of a call is stored under in the visits table."""
    return f"{CALL_KEY}:{partition}:{voyage}"


def parse_call_key(key: str) -> tuple[int, str] | None:
    """(partition, voyage) of a call's key; None for a container's."""
    if not key.startswith(CALL_KEY + ":"):
        return None
    _, partition, voyage = key.split(":", 2)
    return int(partition), voyage
