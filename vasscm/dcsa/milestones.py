"""A container's customs milestones as DCSA T&T 2.2 equipment events (DCSA out). Pure.

The milestones are read off the tracker's view of the container's visit
(:class:`~vasscm.events.VisitState`, the ``vasscm.container-state`` record), so a
subscriber learns what the tracker concluded, in the order it concluded it, whatever
the lag (contract 7.3), not every raw event a feed sent:

- ``CUSS`` selected for scanning, at ``selected_at`` (form 03);
- ``CUSI`` selected for physical inspection: the red channel, at ``channel_at``;
- ``CUSR`` released: every deciding declaration eligible, at ``eligible_at``;
- the exit: ``GTOT`` (gate-out) or ``LOAD`` (loaded on a ship), at ``exited_at``.

A milestone is its code and instant. Its ``eventID`` is a UUID5 of the container, the
code and the instant, so a milestone sent again (after a crash, or a visit published
under a provisional id first) carries the same id, and a subscriber drops it as seen.
A release that moves (a later declaration makes the container eligible later) is a
new milestone: DCSA 2.2 has no retraction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from vasscm.dcsa.codes import NAMESPACE, PACKAGED
from vasscm.sites import Registry

__all__ = [
    "MILESTONE_CODES",
    "DcsaMilestone",
    "Milestone",
    "equipment_event",
    "milestone_doc",
    "milestone_id",
    "milestones",
    "new_milestones",
    "with_visit",
]

#: Every equipmentEventTypeCode DCSA out sends.
MILESTONE_CODES: Final = ("CUSS", "CUSI", "CUSR", "GTOT", "LOAD")
_EXIT_CODE: Final = {"GATE_OUT": "GTOT", "LOADED": "LOAD"}


class Milestone(NamedTuple):
    code: str  # one of MILESTONE_CODES
    at: str  # the view's RFC 3339 instant, UTC with milliseconds


def milestones(view: Mapping[str, Any]) -> tuple[Milestone, ...]:
    """The milestones a container-state record shows, in the order they happen."""
    found: list[Milestone] = []
    if view.get("selected_at"):
        found.append(Milestone("CUSS", view["selected_at"]))
    if view.get("channel") == "red" and view.get("channel_at"):
        found.append(Milestone("CUSI", view["channel_at"]))
    if view.get("eligible_at"):
        found.append(Milestone("CUSR", view["eligible_at"]))
    exit_code = _EXIT_CODE.get(view.get("exit_type") or "")
    if exit_code is not None and view.get("exited_at"):
        found.append(Milestone(exit_code, view["exited_at"]))
    found.sort(key=lambda m: m.at)  # same format and zone: text order is time order
    return tuple(found)


def new_milestones(seen: Iterable[Milestone], shown: Iterable[Milestone]) -> tuple[Milestone, ...]:
    """The milestones a record ``shown`` (its :func:`milestones`; none for a record
    without value) that ``seen``, those of the container's record before it, did not."""
    before = set(seen)
    return tuple(m for m in shown if m not in before)


def milestone_id(container_no: str, m: Milestone) -> str:
    return str(uuid.uuid5(NAMESPACE, f"milestone/{container_no}/{m.code}/{m.at}"))


def equipment_event(
    view: Mapping[str, Any],
    *,
    event_id: str,
    created: str,
    classifier: str,
    at: str,
    code: str,
    sites: Registry | None = None,
) -> dict[str, Any]:
    """What every DCSA equipment event vasscm sends of a container-state record
    begins with: the event, the container, the site's UN/LOCODE (milestones here,
    estimated exits in vasscm.dcsa.estimates); :func:`with_visit` ends it."""
    doc: dict[str, Any] = {
        "eventID": event_id,
        "eventCreatedDateTime": created,
        "eventType": "EQUIPMENT",
        "eventClassifierCode": classifier,
        "eventDateTime": at,
        "equipmentEventTypeCode": code,
        "equipmentReference": view["container_no"],
        "emptyIndicatorCode": "LADEN",
    }
    locode = (sites or PACKAGED).locode_of(view["site"])
    if locode is not None:
        doc["eventLocation"] = {"UNLocationCode": locode}
    return doc


def with_visit(doc: dict[str, Any], view: Mapping[str, Any]) -> dict[str, Any]:
    """``doc`` with vasscm's fields naming the site, the visit and its direction."""
    doc["vasscmSite"] = view["site"]
    doc["vasscmVisitID"] = view["visit_id"]
    if view.get("direction") in ("import", "export"):
        doc["vasscmDirection"] = view["direction"]
    return doc


def milestone_doc(
    view: Mapping[str, Any], m: Milestone, created: str, sites: Registry | None = None
) -> dict[str, Any]:
    """The DCSA T&T 2.2 equipment event of one milestone of ``view``. ``created`` is
    when vasscm concluded it (the container-state record's time), RFC 3339."""
    doc = equipment_event(
        view,
        event_id=milestone_id(view["container_no"], m),
        created=created,
        classifier="ACT",
        at=m.at,
        code=m.code,
        sites=sites,
    )
    if view.get("seal_no"):
        doc["seals"] = [{"sealNumber": view["seal_no"], "sealType": "BLT"}]
    decls = view.get("declaration_nos") or ()
    if decls:  # a customs declaration is a CUC reference (vasscm.dcsa, as read in)
        doc["documentReferences"] = [
            {"documentReferenceType": "CUC", "documentReferenceValue": d} for d in decls
        ]
    with_visit(doc, view)
    if m.code == "CUSI":
        doc["vasscmChannel"] = "red"
    return doc


class _Location(BaseModel):
    UNLocationCode: str


class _Seal(BaseModel):
    sealNumber: str
    sealType: str


class _Reference(BaseModel):
    documentReferenceType: Literal["CUC"]
    documentReferenceValue: str


class DcsaMilestone(BaseModel):
    """A customs milestone of a container as a DCSA T&T 2.2 equipment event
    (``vasscm.dcsa-out``, and the body of each webhook delivery, as an array)."""

    model_config = ConfigDict(extra="forbid")

    eventID: str = Field(description="UUID5 of the container, code and instant: a resend keeps it")
    eventCreatedDateTime: str = Field(description="when vasscm concluded it")
    eventType: Literal["EQUIPMENT"]
    eventClassifierCode: Literal["ACT", "EST"] = Field(
        description="ACT: a milestone reached; EST: the exit as forecast (contract 8.2, "
        "only to subscriptions that ask for EST)"
    )
    eventDateTime: str = Field(description="when it happened")
    equipmentEventTypeCode: Literal["CUSS", "CUSI", "CUSR", "GTOT", "LOAD"]
    equipmentReference: str = Field(description="the container number")
    emptyIndicatorCode: Literal["LADEN"]
    eventLocation: _Location | None = Field(default=None, description="the site's UN/LOCODE")
    seals: list[_Seal] | None = None
    documentReferences: list[_Reference] | None = Field(
        default=None, description="the customs declarations (CUC) of the visit"
    )
    vasscmSite: str = Field(description="the site code (vasscm's registry)")
    vasscmVisitID: str
    vasscmDirection: Literal["import", "export"] | None = None
    vasscmChannel: Literal["red"] | None = Field(default=None, description="CUSI: the red channel")
    vasscmEstimateP90: str | None = Field(
        default=None, description="EST: the exit by then with probability 0.9 (eventDateTime: 0.5)"
    )
    vasscmForecastBasis: int | None = Field(
        default=None, description="EST: completed visits the forecast rests on"
    )
    vasscmForecastAsOf: str | None = Field(
        default=None, description="EST: the processor clock the forecast was made at"
    )
