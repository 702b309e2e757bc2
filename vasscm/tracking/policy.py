"""The thresholds the core applies, in milliseconds (built from settings by the shell)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from vasscm.events import Stage

MS: Final = 1000
HOUR: Final = 3600 * MS
#: Visits one container's state holds, the open one included.
MAX_VISITS: Final = 4


def _default_stall() -> dict[str, int]:
    return {
        "AWAITING_SCAN": 4 * HOUR,
        "AWAITING_RELEASE:import": 48 * HOUR,
        "AWAITING_RELEASE:export": 24 * HOUR,
        "AWAITING_RELEASE": 48 * HOUR,  # direction not known yet
        "RELEASED": 72 * HOUR,
        "HELD": 24 * HOUR,
        "SUSPENDED": 24 * HOUR,
        "EXPECTED": 7 * 24 * HOUR,
    }


@dataclass(frozen=True, slots=True)
class Policy:
    """Thresholds the core applies, in milliseconds. Built from settings by the shell.

    ``stall`` keys are ``STAGE`` or ``STAGE:direction``; the latter wins.
    """

    stall: dict[str, int] = field(default_factory=_default_stall)
    late_gate_out: int = 15 * 60 * MS  # Art. 52: GATE_OUT reported within 15 min
    # Contract 7.2: the GATE_OUT of an export (a truck passing a land border's
    # supervision area, form 21/22) within 30 min.
    late_gate_out_export: int = 30 * 60 * MS
    # Art. 52a, contract 7.2: LOADED reported within 30 min of its voyage's departure.
    late_loaded: int = 30 * 60 * MS
    # Contract 7.2: customs' notices, due this long before the vessel's arrival.
    notice_expected: int = 8 * HOUR  # form 01
    notice_scan_selected: int = 4 * HOUR  # form 03
    retention: int = 7 * 24 * HOUR  # how long a closed visit accepts late events
    future_skew: int = HOUR  # an event may occur this much after it was received
    # stall_after's answers by (stage, direction): asked at every event and check.
    _limits: dict[tuple[str, str], int | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _by_direction: dict[str, dict[str, int | None]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def stall_limits(self, direction: str) -> dict[str, int | None]:
        """:meth:`stall_after` of every stage but EXITED (never stalled) for one
        direction, by stage: read at every event, for each stage of the visit."""
        try:
            return self._by_direction[direction]
        except KeyError:
            limits: dict[str, int | None] = {s: self.stall_after(s, direction) for s in Stage}
            limits[Stage.EXITED] = None
            self._by_direction[direction] = limits
            return limits

    def stall_after(self, stage: str, direction: str) -> int | None:
        key = (stage, direction)
        try:
            return self._limits[key]
        except KeyError:
            limit = self.stall.get(f"{stage}:{direction}", self.stall.get(stage))
            self._limits[key] = limit
            return limit


DEFAULT_POLICY: Final = Policy()
