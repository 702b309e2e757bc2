"""Late by forecast: open visits whose median forecast already lies past their target
(contract 8.2, the dashboard's late list and ``vasscm_forecast_late_containers``).

The target is the stall threshold the operator already set for what the visit waits
for (:class:`~vasscm.tracking.Policy`, contract section 4):

- not released: ``release_p50`` after arrival + the ``AWAITING_RELEASE`` threshold of
  its direction (48 h import, 24 h export by default); a visit whose median lies beyond
  everything the window has seen (``release_p50`` null with a basis) is late too;
- released: ``exit_p50`` after the release + the ``RELEASED`` threshold (72 h).

So the list names the containers that will stall, by the forecast, before they stall:
a duty officer can look at them first. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from vasscm.board import Entry
from vasscm.durations import from_ms
from vasscm.events import format_ts
from vasscm.forecast import Forecast, Observation
from vasscm.tracking import Policy

__all__ = ["Late", "late", "late_rows"]


class Late(NamedTuple):
    container_no: str
    site: str
    direction: str
    stage: str
    waiting_on: str
    of: str  # "release" or "exit": which forecast is past its target
    due: int  # the target instant, epoch ms
    p50: int | None  # None: beyond what the window has seen
    p90: int | None

    @property
    def by_ms(self) -> int | None:
        """How far past the target the median lies (None: beyond the window)."""
        return None if self.p50 is None else self.p50 - self.due


def late(
    container_no: str, obs: Observation, entry: Entry, forecast: Forecast | None, policy: Policy
) -> Late | None:
    """The visit as a late-list entry, or None when its median is within target."""
    if forecast is None:
        return None
    g = entry.group
    if obs.released is None:
        of, start, stage = "release", obs.arrived, "AWAITING_RELEASE"
        p50, p90 = forecast.release_p50, forecast.release_p90
    else:
        of, start, stage = "exit", obs.released, "RELEASED"
        p50, p90 = forecast.exit_p50, forecast.exit_p90
    after = policy.stall_after(stage, obs.direction)
    if after is None:
        return None
    due = start + after
    if p50 is not None and p50 <= due:
        return None
    return Late(container_no, g.site, g.direction, g.stage, g.waiting_on, of, due, p50, p90)


def _order(entry: Late) -> tuple[int, int, str]:
    # beyond the window first, then the latest past target; by container for ties
    by = entry.by_ms
    return (0 if by is None else 1, -(by or 0), entry.container_no)


def late_rows(
    entries: Iterable[Late],
    limit: int,
    *,
    site: str | None = None,
    direction: str | None = None,
) -> dict[str, Any]:
    """The late list (JSON-ready), latest past target first: ``late`` (at most
    ``limit`` rows), ``total`` and ``by_site`` (counts of those matching the
    direction filter, per site)."""
    chosen = [e for e in entries if direction is None or e.direction == direction]
    by_site: dict[str, int] = {}
    for e in chosen:
        by_site[e.site] = by_site.get(e.site, 0) + 1
    if site is not None:
        chosen = [e for e in chosen if e.site == site]
    chosen.sort(key=_order)
    rows = [
        {
            "container_no": e.container_no,
            "site": e.site,
            "direction": e.direction,
            "stage": e.stage,
            "waiting_on": e.waiting_on or None,
            "of": e.of,
            "target": format_ts(from_ms(e.due)),
            "p50": None if e.p50 is None else format_ts(from_ms(e.p50)),
            "p90": None if e.p90 is None else format_ts(from_ms(e.p90)),
            "late_seconds": None if e.by_ms is None else e.by_ms / 1000,
        }
        for e in chosen[:limit]
    ]
    return {"late": rows, "total": len(chosen), "by_site": dict(sorted(by_site.items()))}
