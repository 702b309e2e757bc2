"""A waiting container's forecast exit as a DCSA T&T 2.2 estimated equipment event
(``EST`` ``GTOT`` or ``LOAD``, contract 8.2). Pure.

Read off the ``forecast`` of a ``vasscm.container-state`` record, as the milestones
are (:mod:`vasscm.dcsa.milestones`): the exit's median is the event's
``eventDateTime``, its 90th percentile and what the forecast rests on ride along as
``vasscm`` fields. The exit is a loading (``LOAD``) for an export at a seaport, else a
gate-out (``GTOT``), as the tracker expects it.

A forecast moves a little with every record of the container. An estimate is sent
again only when its median moved by more than a setting (``dcsa_est_move``, 30 min)
from the last one sent for the visit (:func:`worth_sending`), so a subscriber hears of
a real change, not of every recomputation. Its ``eventID`` is a UUID5 of the
container, visit, code and instant: sent again after a crash, it keeps its id.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from vasscm.dcsa.codes import NAMESPACE, PACKAGED
from vasscm.dcsa.milestones import equipment_event, with_visit
from vasscm.durations import to_ms
from vasscm.sites import Registry

__all__ = ["Estimate", "estimate", "estimate_doc", "worth_sending"]


class Estimate(NamedTuple):
    visit_id: str
    code: str  # GTOT or LOAD
    at: str  # the exit's median, the view's RFC 3339 instant
    at_ms: int


def _exit_code(view: Mapping[str, Any], sites: Registry) -> str:
    seaport = sites.get(view["site"]).kind == "seaport"
    return "LOAD" if seaport and view.get("direction") == "export" else "GTOT"


def estimate(view: Mapping[str, Any] | None, sites: Registry | None = None) -> Estimate | None:
    """The exit a container-state record forecasts (None: exited, or no forecast)."""
    if view is None or view.get("exited_at"):
        return None
    forecast = view.get("forecast")
    at = None if not forecast else forecast.get("exit_p50")
    if at is None:
        return None
    code = _exit_code(view, sites or PACKAGED)
    return Estimate(view["visit_id"], code, at, to_ms(datetime.fromisoformat(at)))


def worth_sending(last: Estimate | None, now: Estimate, move_ms: int) -> bool:
    """Whether ``now`` is news after ``last``, the estimate last sent for the
    container: another visit or exit, or a median moved by more than ``move_ms``."""
    if last is None or last.visit_id != now.visit_id or last.code != now.code:
        return True
    return abs(now.at_ms - last.at_ms) > move_ms


def estimate_id(container_no: str, e: Estimate) -> str:
    return str(uuid.uuid5(NAMESPACE, f"estimate/{container_no}/{e.visit_id}/{e.code}/{e.at}"))


def estimate_doc(
    view: Mapping[str, Any], e: Estimate, created: str, sites: Registry | None = None
) -> dict[str, Any]:
    """The DCSA T&T 2.2 equipment event of ``e`` (``created``: the container-state
    record's time, RFC 3339)."""
    doc = equipment_event(
        view,
        event_id=estimate_id(view["container_no"], e),
        created=created,
        classifier="EST",
        at=e.at,
        code=e.code,
        sites=sites,
    )
    with_visit(doc, view)
    forecast = view["forecast"]
    doc["vasscmEstimateP90"] = forecast.get("exit_p90")
    doc["vasscmForecastBasis"] = forecast["basis"]
    doc["vasscmForecastAsOf"] = forecast["as_of"]
    return doc
