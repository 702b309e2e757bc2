"""DCSA T&T events in: :func:`from_dcsa` (vasscm.dcsa says which specs and choices)."""

from __future__ import annotations

from typing import Any, Literal, NoReturn, cast

import orjson
from pydantic import ValidationError
from stdnum import imo

from vasscm.dcsa.codes import (
    CLASSIFIERS,
    EQUIPMENT,
    METADATA,
    PACKAGED,
    TIMESTAMP,
    UNMAPPED,
)
from vasscm.events import (
    InputEvent,
    RejectCode,
    Rejection,
    parse_container_no,
    parse_event,
    timestamp_error,
)
from vasscm.sites import Registry

__all__ = ["from_dcsa"]


class _Refused(Exception):
    def __init__(self, code: RejectCode, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.code, self.field, self.reason = code, field, reason


class _Reader:
    """One DCSA document, flat (2.x) or ``metadata``/``payload`` (3.0), read by the
    paths of the flat shape; :meth:`path` gives the path as the document spells it."""

    def __init__(self, doc: dict[str, Any]) -> None:
        meta = doc.get("metadata")
        self.v3 = isinstance(meta, dict)
        self.meta: dict[str, Any] = meta if isinstance(meta, dict) else {}
        body = doc.get("payload", {}) if self.v3 else doc
        self.body: dict[str, Any] = body if isinstance(body, dict) else {}
        self.kind: str | None = None
        self.origin: dict[str, str] = {}  # contract field -> DCSA path
        eid = self.get("eventID")
        self.event_id = eid if isinstance(eid, str) else None
        if self.v3 and not isinstance(doc.get("payload"), dict):
            if "retractedEventID" in self.meta:
                self.refuse(
                    RejectCode.UNKNOWN_TYPE,
                    "retractedEventID",
                    "a retraction of an "
                    "earlier event has no contract event; correct it at the source",
                )
            self.refuse(RejectCode.MISSING_FIELD, "payload", "required field is missing")

    def path(self, key: str) -> str:
        if not self.v3 or key in ("metadata", "payload"):
            return key
        return ("metadata." if key.split(".")[0] in METADATA else "payload.") + key

    def get(self, key: str) -> Any:
        node: Any = self.meta if self.v3 and key.split(".")[0] in METADATA else self.body
        for part in key.split("."):
            if isinstance(node, dict):
                node = node.get(part)
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return None
        return node

    def refuse(self, code: RejectCode, key: str | None, problem: str) -> NoReturn:
        where = self.path(key) if key is not None else None
        raise _Refused(code, where, f"DCSA field '{where}': {problem}" if where else problem)

    def text(self, key: str, *, required: bool = False, to: str | None = None) -> str | None:
        value = self.get(key)
        if value is None:
            if required:
                self.refuse(RejectCode.MISSING_FIELD, key, "required field is missing")
            return None
        if not isinstance(value, str) or not value.strip():
            self.refuse(
                RejectCode.INVALID_FIELD, key, f"must be a non-empty string, got {value!r:.40}"
            )
        if to is not None:
            self.origin[to] = self.path(key)
        return value

    def first(self, keys: tuple[str, ...], to: str) -> str | None:
        for key in keys:
            value = self.text(key, to=to)
            if value is not None:
                return value
        return None

    def when(self, key: str, to: str) -> str:
        value = cast(str, self.text(key, required=True, to=to))
        try:
            TIMESTAMP.validate_python(value)
        except ValidationError:
            self.refuse(RejectCode.INVALID_FIELD, key, timestamp_error(value)[1])
        return value

    def classifier(self) -> str:
        value = cast(str, self.text("eventClassifierCode", required=True))
        if value not in CLASSIFIERS:
            self.refuse(
                RejectCode.INVALID_FIELD,
                "eventClassifierCode",
                f"{value!r:.20} is not ACT, PLN or EST",
            )
        return value

    def container(self) -> str:
        value = cast(str, self.text("equipmentReference", required=True, to="container_no"))
        try:
            return parse_container_no(value)
        except ValueError as exc:
            self.refuse(RejectCode.INVALID_FIELD, "equipmentReference", str(exc))

    def seal(self, to: str) -> str | None:
        seals = self.get("seals")
        if seals is None or seals == []:
            return None
        if not isinstance(seals, list) or not isinstance(seals[0], dict):
            self.refuse(RejectCode.INVALID_FIELD, "seals", "must be a list of seal objects")
        return self.first(("seals.0.sealNumber", "seals.0.number"), to)

    def vessel(self, *, required: bool) -> str | None:
        key = "transportCall.vessel.vesselIMONumber"
        number = self.text(key, to="vessel")
        if number is not None:
            if not (len(number) == 7 and number.isdigit() and imo.is_valid(number)):
                expected = imo.calc_check_digit(number[:6]) if number[:6].isdigit() else "?"
                self.refuse(
                    RejectCode.INVALID_FIELD,
                    key,
                    f"{number!r:.20} is not an IMO number: "
                    f"7 digits, the last a check digit (here it should be {expected})",
                )
            return number
        names = ("transportCall.vessel.vesselName", "transportCall.vessel.name", "vasscmVessel")
        name = self.first(names, "vessel")
        if name is None and required:
            self.refuse(
                RejectCode.MISSING_FIELD,
                key,
                "required field is missing: a vessel event "
                "names its vessel (vesselIMONumber, else vesselName)",
            )
        return name

    def voyage(self, side: Literal["Import", "Export"], *, required: bool) -> str | None:
        keys = (
            f"transportCall.{side.lower()}VoyageNumber",
            f"transportCall.carrier{side}VoyageNumber",
            "transportCall.carrierVoyageNumber",
        )
        value = self.first(keys, "voyage")
        if value is None and required:
            self.refuse(
                RejectCode.MISSING_FIELD,
                keys[1] if self.v3 else keys[0],
                f"required field is missing: the {side.lower()} voyage names the vessel call",
            )
        return value

    def site(self, site: str | None, default: str | None, sites: Registry) -> str:
        if site is not None:
            self.origin["site"] = "site (argument)"
            return site
        own = self.text("vasscmSite", to="site")
        if own is not None:
            return own
        keys = (
            "transportCall.UNLocationCode",
            "transportCall.location.UNLocationCode",
            "eventLocation.UNLocationCode",
        )
        for key in keys:
            code = self.text(key, to="site")
            if code is not None:
                known = sites.locodes
                if code.upper() in known:
                    return known[code.upper()]
                if default is not None:
                    return default
                listed = ", ".join(f"{c} {s}" for c, s in known.items())
                self.refuse(
                    RejectCode.INVALID_FIELD,
                    key,
                    f"UN/LOCODE {code!r:.20} is not a vasscm site's ({listed}); the site "
                    "registry (VASSCM_SITES_FILE) names a site's UN/LOCODE, VASSCM_DCSA_SITE "
                    "the site of events from elsewhere",
                )
        if default is not None:
            return default
        where = keys[1 if self.v3 else 0] if "transportCall" in self.body else keys[2]
        self.refuse(
            RejectCode.MISSING_FIELD,
            where,
            "required field is missing: no UN/LOCODE gives the site, and no site= was passed",
        )

    def declaration(self, code: str) -> str:
        for key, kind, value in (
            ("relatedDocumentReferences", "type", "value"),
            ("documentReferences", "documentReferenceType", "documentReferenceValue"),
        ):
            refs = self.get(key)
            for i, ref in enumerate(refs if isinstance(refs, list) else []):
                if isinstance(ref, dict) and str(ref.get(kind, "")).split(" ")[0] == "CUC":
                    return cast(
                        str, self.text(f"{key}.{i}.{value}", required=True, to="declaration_no")
                    )
        key = "relatedDocumentReferences" if self.v3 else "documentReferences"
        self.refuse(
            RejectCode.MISSING_FIELD,
            key,
            f"{code} needs the customs declaration number: an "
            "entry of type CUC (Customs Clearance) is missing (DCSA references FF, SI, PO, CR, "
            "AAO, EQ hold none; CR is the customer's reference)",
        )


def _equipment(r: _Reader, direction: str, trust_customs: bool) -> dict[str, Any]:
    code = cast(str, r.text("equipmentEventTypeCode", required=True))
    if code == "CUSI":
        r.refuse(
            RejectCode.UNKNOWN_TYPE,
            "equipmentEventTypeCode",
            "CUSI (Customs Selected for "
            "Inspection) has no contract event: an inspection is no contract stage, and "
            "taking it for a scan selection (CUSS) would invent one",
        )
    kind = EQUIPMENT.get(code)
    if kind is None:
        known = f"DCSA's {UNMAPPED[code]}" if code in UNMAPPED else "not a DCSA code"
        r.refuse(
            RejectCode.UNKNOWN_TYPE,
            "equipmentEventTypeCode",
            f"{code!r:.20} ({known}) has no contract event; mapped are {', '.join(EQUIPMENT)}",
        )
    r.kind = kind
    classifier = r.classifier()
    if classifier != "ACT":
        r.refuse(
            RejectCode.INVALID_FIELD,
            "eventClassifierCode",
            f"{code} with {classifier} is a "
            "plan or an estimate, not an actual movement: only ACT equipment events map",
        )
    out: dict[str, Any] = {"type": kind, "occurred_at": r.when("eventDateTime", "occurred_at")}
    container = r.container()
    if kind in ("SCAN_SELECTED", "ELIGIBLE"):
        if not trust_customs:
            r.refuse(
                RejectCode.UNKNOWN_TYPE,
                "equipmentEventTypeCode",
                f"{code} is refused from "
                "this feed: customs status is taken only from a customs source",
            )
        ref = {"container_no": container}
        seal = r.seal("containers.0.seal_no")
        if seal is not None:
            ref["seal_no"] = seal
        out.update(declaration_no=r.declaration(code), containers=[ref])
        if kind == "ELIGIBLE":
            out["basis"] = r.text("vasscmBasis", to="basis") or "released"
        return out
    out["container_no"] = container
    out["seal_no"] = r.seal("seal_no")
    if kind in ("GATE_IN", "GATE_OUT"):
        keys = (
            "vasscmGate",
            "transportCall.facilityCode",
            "eventLocation.facilityCode",
            "transportCall.otherFacility",
        )
        out["gate"] = r.first(keys, "gate")
        if out["gate"] is None:
            r.refuse(
                RejectCode.MISSING_FIELD,
                "transportCall.facilityCode",
                f"{code} needs the gate "
                "(facilityCode of transportCall or eventLocation, or transportCall.otherFacility)",
            )
        out["vehicle_plate"] = r.text("vasscmVehiclePlate", to="vehicle_plate")
        if kind == "GATE_IN":
            out["direction"] = r.text("vasscmDirection", to="direction") or direction
    else:
        out["direction"] = "import" if kind == "DISCHARGED" else None
        out["vessel"] = r.vessel(required=False)
        out["voyage"] = r.voyage("Import" if kind == "DISCHARGED" else "Export", required=False)
    return out


def _transport(r: _Reader) -> dict[str, Any]:
    code = cast(str, r.text("transportEventTypeCode", required=True))
    if code not in ("ARRI", "DEPA"):
        r.refuse(
            RejectCode.UNKNOWN_TYPE, "transportEventTypeCode", f"{code!r:.20} is not ARRI or DEPA"
        )
    classifier = r.classifier()
    if code == "DEPA" and classifier != "ACT":
        r.refuse(
            RejectCode.UNKNOWN_TYPE,
            "eventClassifierCode",
            f"DEPA with {classifier}: a planned "
            "or estimated departure has no contract event (only arrivals are expected)",
        )
    if not isinstance(r.get("transportCall"), dict):
        problem = (
            "required field is missing" if r.get("transportCall") is None else "must be an object"
        )
        r.refuse(
            RejectCode.MISSING_FIELD, "transportCall", f"{problem}: a vessel event needs its call"
        )
    out: dict[str, Any]
    if classifier == "ACT":
        r.kind = "VESSEL_ARRIVED" if code == "ARRI" else "VESSEL_DEPARTED"
        out = {"type": r.kind, "occurred_at": r.when("eventDateTime", "occurred_at")}
    else:
        r.kind = "VESSEL_EXPECTED"
        out = {
            "type": r.kind,
            "eta": r.when("eventDateTime", "eta"),
            "occurred_at": r.when("eventCreatedDateTime", "occurred_at"),
        }
    out["vessel"] = r.vessel(required=True)
    out["voyage"] = r.voyage("Import" if code == "ARRI" else "Export", required=True)
    return out


def from_dcsa(
    doc: Any,
    *,
    site: str | None = None,
    source: str | None = None,
    direction: Literal["import", "export"] = "export",
    trust_customs: bool = True,
    default_site: str | None = None,
    sites: Registry | None = None,
) -> InputEvent | Rejection:
    """The contract event of one DCSA T&T event (a dict, or its JSON text), checked by
    :func:`vasscm.events.parse_event`, or a :class:`Rejection` naming the DCSA field.
    Never raises. ``trust_customs=False`` refuses CUSS and CUSR, for a feed that is
    not customs' own (DCSA's publishers are carriers and service providers).

    The site: ``site`` when given; else the one the registry (``sites``, by default the
    packaged one) knows the document's UN/LOCODE for; else ``default_site``."""
    reader: _Reader | None = None
    try:
        if isinstance(doc, (bytes, str)):
            doc = orjson.loads(doc)
        if not isinstance(doc, dict):
            return Rejection(
                code=RejectCode.NOT_OBJECT,
                reason=f"expected a JSON object (one DCSA event), got {type(doc).__name__}",
            )
        reader = _Reader(doc)
        return _map(reader, site, source, direction, trust_customs, default_site, sites)
    except _Refused as exc:
        return Rejection(
            code=exc.code,
            field=exc.field,
            reason=exc.reason[:500],
            event_id=reader.event_id if reader else None,
            type=reader.kind if reader else None,
        )
    except orjson.JSONDecodeError as exc:
        return Rejection(code=RejectCode.INVALID_JSON, reason=f"invalid JSON: {exc}")
    except Exception as exc:  # the promise is "never raises"
        return Rejection(
            code=RejectCode.INVALID_FIELD,
            reason=f"could not be mapped: {type(exc).__name__}: {exc}"[:500],
        )


def _map(
    r: _Reader,
    site: str | None,
    source: str | None,
    direction: str,
    trust_customs: bool,
    default_site: str | None = None,
    sites: Registry | None = None,
) -> InputEvent | Rejection:
    kind = r.text("eventType", required=True)
    if kind == "EQUIPMENT":
        out = _equipment(r, direction, trust_customs)
    elif kind == "TRANSPORT":
        out = _transport(r)
    else:
        r.refuse(
            RejectCode.UNKNOWN_TYPE,
            "eventType",
            f"{kind!r:.20} has no contract event "
            "(EQUIPMENT and TRANSPORT map; a SHIPMENT event is about documents)",
        )
    out["event_id"] = r.text("vasscmEventID", to="event_id") or r.text("eventID", to="event_id")
    if out["event_id"] is None:
        r.refuse(
            RejectCode.MISSING_FIELD,
            "eventID",
            "required field is missing: the contract's event_id (for idempotency) is the eventID",
        )
    out["site"] = r.site(site, default_site, sites or PACKAGED)
    out["source"] = r.text("vasscmSource", to="source") or source
    out["received_at"] = r.text("vasscmReceivedAt", to="received_at")
    event = parse_event(orjson.dumps({k: v for k, v in out.items() if v is not None}))
    if isinstance(event, Rejection):
        head = (event.field or "").split(".")[0]
        where = r.origin.get(event.field or "") or r.origin.get(head) or event.field
        return event.model_copy(
            update={
                "field": where,
                "event_id": r.event_id,
                "reason": f"DCSA field '{where}': {event.reason}"[:500],
            }
        )
    return event
