"""DCSA T&T events out: :func:`to_dcsa` writes a contract event as DCSA T&T 2.2."""

from __future__ import annotations

from typing import Any, Literal, cast

from stdnum import imo

from vasscm.dcsa.codes import CODE_OF, PACKAGED, event_uuid
from vasscm.events import (
    Discharged,
    Eligible,
    GateIn,
    GateOut,
    InputEvent,
    Loaded,
    ScanSelected,
    VesselArrived,
    VesselDeparted,
    VesselExpected,
    fan_out,
)
from vasscm.sites import Registry

__all__ = ["to_dcsa"]


def _stamp(value: Any) -> str:
    """RFC 3339 in the event's own offset (DCSA's date-times are local ones)."""
    spec = "microseconds" if value.microsecond % 1000 else "milliseconds"
    return cast(str, value.isoformat(timespec=spec)).replace("+00:00", "Z")


def _base(
    event: InputEvent,
    kind: str,
    classifier: str,
    at: Any,
    container: str | None,
    locode: str | None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "eventID": event_uuid(event.event_id, container),
        "eventCreatedDateTime": _stamp(event.occurred_at),
        "eventType": kind,
        "eventClassifierCode": classifier,
        "eventDateTime": _stamp(at),
        "vasscmEventID": event.event_id,
    }
    if event.received_at is not None:
        doc["vasscmReceivedAt"] = _stamp(event.received_at)
    if event.source is not None:
        doc["vasscmSource"] = event.source
    if locode is None:  # a site the registry knows no UN/LOCODE of
        doc["vasscmSite"] = event.site
    return doc


def _call(
    doc: dict[str, Any],
    site: str,
    locode: str | None,
    vessel: str | None,
    voyage: str | None,
    side: str,
) -> None:
    call: dict[str, Any] = {
        "transportCallID": f"{site}/{voyage or vessel}"[:100],
        "modeOfTransport": "VESSEL",
    }
    if locode is not None:
        call["UNLocationCode"] = locode
    if voyage is not None:
        call[f"{side}VoyageNumber"] = voyage
    if vessel is not None and len(vessel) == 7 and vessel.isdigit() and imo.is_valid(vessel):
        call["vessel"] = {"vesselIMONumber": vessel}
    elif vessel is not None:  # 2.2's vessel requires the IMO number
        doc["vasscmVessel"] = vessel
    doc["transportCall"] = call


def _equipment_doc(
    event: Any, container: str, seal: str | None, customs: bool, locode: str | None
) -> dict[str, Any]:
    doc = _base(
        event, "EQUIPMENT", "ACT", event.occurred_at, container if customs else None, locode
    )
    doc.update(
        equipmentEventTypeCode=CODE_OF[event.type],
        equipmentReference=container,
        emptyIndicatorCode="LADEN",
    )
    if locode is not None:
        doc["eventLocation"] = {"UNLocationCode": locode}
    if seal is not None:
        doc["seals"] = [{"sealNumber": seal, "sealType": "BLT"}]
    return doc


def to_dcsa(
    event: InputEvent, *, version: Literal["2.2"] = "2.2", sites: Registry | None = None
) -> list[dict[str, Any]]:
    """The DCSA T&T 2.2 documents of a contract event: one, one per container of a
    customs event, or none for a type without a DCSA counterpart (EXPECTED,
    CHANNEL_ASSIGNED, SUSPENDED, RESUMED, ELIGIBILITY_CANCELLED, SEAL_CHANGED,
    DISCREPANCY, SCANNED)."""
    if version != "2.2":
        raise ValueError(f"DCSA T&T version {version!r} is not written; 2.2 is")
    locode = (sites or PACKAGED).locode_of(event.site)
    if isinstance(event, (ScanSelected, Eligible)):
        docs = []
        for no, one in fan_out(event):
            ref = cast(ScanSelected | Eligible, one).containers[0]
            doc = _equipment_doc(one, no, ref.seal_no, True, locode)
            doc["documentReferences"] = [
                {"documentReferenceType": "CUC", "documentReferenceValue": event.declaration_no}
            ]
            if isinstance(one, Eligible):
                doc["vasscmBasis"] = one.basis
            docs.append(doc)
        return docs
    if isinstance(event, (GateIn, GateOut, Loaded, Discharged)):
        doc = _equipment_doc(event, event.container_no, event.seal_no, False, locode)
        if isinstance(event, (GateIn, GateOut)):
            doc["vasscmGate"] = event.gate
            if event.vehicle_plate is not None:
                doc["vasscmVehiclePlate"] = event.vehicle_plate
            if isinstance(event, GateIn):
                doc["vasscmDirection"] = event.direction
        elif event.vessel is not None or event.voyage is not None:
            side = "import" if isinstance(event, Discharged) else "export"
            _call(doc, event.site, locode, event.vessel, event.voyage, side)
        return [doc]
    if isinstance(event, (VesselArrived, VesselDeparted, VesselExpected)):
        arrival = not isinstance(event, VesselDeparted)
        at = event.eta if isinstance(event, VesselExpected) else event.occurred_at
        classifier = "EST" if isinstance(event, VesselExpected) else "ACT"
        doc = _base(event, "TRANSPORT", classifier, at, None, locode)
        doc["transportEventTypeCode"] = "ARRI" if arrival else "DEPA"
        side = "import" if arrival else "export"
        _call(doc, event.site, locode, event.vessel, event.voyage, side)
        return [doc]
    return []
