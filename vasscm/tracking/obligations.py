"""Both sides' reporting obligations for a visit (contract 7.2, Art. 52 and 52a).

The port reports each exit within a deadline that runs from what starts its clock:

=========================  ============  ==========================================
exit                       reported in   clock starts at
=========================  ============  ==========================================
``GATE_OUT`` of an import  15 min        the gate-out
``GATE_OUT`` of an export  30 min        the gate-out (a truck at a land border)
``LOADED``                 30 min        the ``VESSEL_DEPARTED`` of its voyage
=========================  ============  ==========================================

A ``LOADED`` whose voyage's departure is not known (not yet, or no voyage named) is
not judged: a loading reported after the ship sails is what the circular allows, and
the loading alone says nothing of when it sailed.

Customs gives notice ahead of the vessel's arrival: ``EXPECTED`` (form 01, goods
expected to be discharged) at least 8 h, ``SCAN_SELECTED`` (form 03) at least 4 h
before it. The arrival is the latest estimate (``VESSEL_EXPECTED`` eta) of the call
the container is discharged from, else its ``DISCHARGED``. A container that comes by
road (``GATE_IN``) has no vessel arrival to precede: its notices are not judged.
Each form is judged by its first notice received in the visit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from vasscm.durations import iso_ms
from vasscm.tracking.codes import EXPECTED, GATE_OUT, SCAN_SELECTED, TYPE_OF_CODE
from vasscm.tracking.policy import Policy
from vasscm.tracking.state import Facts
from vasscm.tracking.visit import Visit

__all__ = ["Obligation", "obligations"]


class Obligation(NamedTuple):
    """One report or notice that was due, and when it came."""

    form: int  # the event's code: GATE_OUT, LOADED, EXPECTED, SCAN_SELECTED
    party: str  # "port" (exit reports) or "customs" (notices)
    reference: int  # ms: the clock's start (a report), or the arrival (a notice)
    received: int  # ms
    due: int  # ms: received by then is on time
    voyage: str | None = None  # the call whose departure or eta is the reference, if one

    @property
    def on_time(self) -> bool:
        return self.received <= self.due

    @property
    def type(self) -> str:
        return TYPE_OF_CODE[self.form]

    def row(self) -> dict[str, Any]:
        """As the clearance record writes it."""
        return {
            "form": self.type,
            "party": self.party,
            "reference_at": iso_ms(self.reference),
            "received_at": iso_ms(self.received),
            "due_at": iso_ms(self.due),
            "on_time": self.on_time,
        }


def obligations(v: Visit, calls: Mapping[str, Facts], policy: Policy) -> list[Obligation]:
    """What was due for this visit, as far as it is known: notices first, then the
    exit's report."""
    out: list[Obligation] = []
    if v.expected_rx is not None or v.selected_rx is not None:
        voyage, arrival = arrival_reference(v, calls)
        if arrival is not None:
            for form, received, lead in (
                (EXPECTED, v.expected_rx, policy.notice_expected),
                (SCAN_SELECTED, v.selected_rx, policy.notice_scan_selected),
            ):
                if received is not None:
                    out.append(
                        Obligation(form, "customs", arrival, received, arrival - lead, voyage)
                    )
    if v.exited is not None and v.exit_code is not None:
        received = v.exited + v.exit_lag
        if v.exit_code == GATE_OUT:
            limit = policy.late_gate_out_export if v.direction == "export" else policy.late_gate_out
            out.append(Obligation(GATE_OUT, "port", v.exited, received, v.exited + limit))
        else:  # LOADED: from its voyage's departure, once that is known
            facts = calls.get(v.voyage_out) if v.voyage_out is not None else None
            if facts is not None and facts.departed is not None:
                start = facts.departed
                out.append(
                    Obligation(
                        v.exit_code,
                        "port",
                        start,
                        received,
                        start + policy.late_loaded,
                        v.voyage_out,
                    )
                )
    return out


def arrival_reference(v: Visit, calls: Mapping[str, Facts]) -> tuple[str | None, int | None]:
    """(voyage, instant) that customs' notices must precede: the estimated arrival of
    the call the container is discharged from, else (None, its discharge)."""
    voyage = v.voyage_in
    if voyage is not None:
        facts = calls.get(voyage)
        if facts is not None and facts.eta is not None:
            return voyage, facts.eta
    return None, v.discharged
