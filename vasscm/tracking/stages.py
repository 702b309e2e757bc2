"""The state machine of a container visit: which stage it is in.

A visit's stage is a function of what its events so far have established, checked
in this order (the first that holds wins)::

    EXPECTED ─arrival─▶ AWAITING_RELEASE ─every deciding declaration ELIGIBLE─▶ RELEASED
                         │            ▲                                          │   │
                   SCAN_SELECTED   SCANNED        ◀─ ELIGIBILITY_CANCELLED ──────┘   │
                         ▼            │                                              │
                         AWAITING_SCAN ─┘                             GATE_OUT / LOADED
                                                                                     ▼
    Any stage but EXITED gives way to SUSPENDED (a declaration                    EXITED
    suspended, until RESUMED), then to HELD (a DISCREPANCY, until the
    container is eligible); EXITED overrides everything.

The derivation (:mod:`.visit`) calls :func:`stage_of` after every event and records
each change in the visit's timeline; stall alerts judge the time spent in each stage.

:func:`waiting_on` says whose move it is (contract 8.1), for people, not for alerts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from vasscm.events import Stage, WaitingOn

if TYPE_CHECKING:
    from vasscm.tracking.visit import Visit


# Module constants: reading an enum member off its class costs ~13 times a global's.
_EXITED: Final = Stage.EXITED
_SUSPENDED: Final = Stage.SUSPENDED
_HELD: Final = Stage.HELD
_EXPECTED: Final = Stage.EXPECTED
_RELEASED: Final = Stage.RELEASED
_AWAITING_SCAN: Final = Stage.AWAITING_SCAN
_AWAITING_RELEASE: Final = Stage.AWAITING_RELEASE


def stage_of(v: Visit, eligible_on: bool, held: bool) -> Stage:
    if v.exited is not None:
        return _EXITED
    if v.suspended:
        return _SUSPENDED
    if held:
        return _HELD
    if v.arrived is None:
        return _EXPECTED
    if eligible_on:
        return _RELEASED
    if v.selected is not None and v.scanned is None:
        return _AWAITING_SCAN
    return _AWAITING_RELEASE


def waiting_on(v: Visit) -> WaitingOn | None:
    """The party an open visit waits on now (contract 8.1), judged in this order: none
    before arrival or after exit; the owner once released; the declarant while some
    deciding declaration has no channel (or none is known); the scanner while selected
    and not scanned; customs otherwise (a channel assigned, suspended or held)."""
    if v.exited is not None or v.arrived is None:
        return None
    if v.stage is _RELEASED:
        return "owner"
    if v.lodged is None:
        return "declarant"
    if v.selected is not None and v.scanned is None:
        return "scan"
    return "customs"
