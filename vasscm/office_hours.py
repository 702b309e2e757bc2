"""Office hours, and time counted only in them.

A customs officer's decision (a document check, an inspection) waits for the office
to be open; an automatic one (a green channel) does not. Where a step waits for
staff, its duration is steadier counted in office time: a declaration that needs four
office hours and arrives on a Friday at 16:00 is decided on Monday at 11:00.
"""

from __future__ import annotations

from typing import Final

__all__ = ["OfficeClock"]

_HOUR: Final = 3_600_000
_DAY: Final = 24 * _HOUR
#: Office hours: Monday to Friday, 08:00 to 17:00 local time.
_OPEN: Final = 8 * _HOUR
_CLOSE: Final = 17 * _HOUR
_WEEK: Final = 7 * _DAY
_OFFICE_WEEK: Final = 5 * (_CLOSE - _OPEN)
_MONDAY: Final = 4 * _DAY  # 1970-01-05, the first Monday after the epoch (local)


class OfficeClock:
    """Time counted only in office hours, at ``offset_ms`` from UTC (Vietnam: +7 h):
    where a decision waits for staff, its duration is steadier on this clock."""

    __slots__ = ("offset",)

    def __init__(self, offset_ms: int = 7 * _HOUR) -> None:
        self.offset = offset_ms

    def at(self, t: int) -> int:
        """Office milliseconds from a Monday before any input to ``t`` (epoch ms)."""
        local = t + self.offset - _MONDAY + 520 * _WEEK  # positive from 1960 on
        weeks, rest = divmod(local, _WEEK)
        day, into = divmod(rest, _DAY)
        office = weeks * _OFFICE_WEEK + min(day, 5) * (_CLOSE - _OPEN)
        if day < 5:
            office += min(max(into - _OPEN, 0), _CLOSE - _OPEN)
        return office

    def instant(self, office: int) -> int:
        """The first instant (epoch ms) at which :meth:`at` reaches ``office``: a
        day's close, not the next opening, when it falls on the boundary."""
        office -= 1  # the millisecond before, then one on: inside an office day
        weeks, rest = divmod(office, _OFFICE_WEEK)
        day, into = divmod(rest, _CLOSE - _OPEN)
        local = weeks * _WEEK + day * _DAY + _OPEN + into + 1
        return local - 520 * _WEEK + _MONDAY - self.offset

    def inside(self, t: int) -> bool:
        local = (t + self.offset - _MONDAY) % _WEEK
        day, into = divmod(local, _DAY)
        return day < 5 and _OPEN <= into < _CLOSE
