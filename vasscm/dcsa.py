"""DCSA Track & Trace events to and from the contract's input events. Pure: no I/O.

A terminal or carrier that speaks DCSA T&T can feed vasscm through :func:`from_dcsa`,
and the simulator's log can be written as DCSA with :func:`to_dcsa`; the round trip
gives back the contract events (tested on a simulated log).

Specs followed, from github.com/dcsaorg/DCSA-OpenAPI at commit 5d0f8337a994:

- ``tnt/v2/test/tnt_v2.2.0.yaml``: T&T 2.2.0 with Event Domain 1.0.4 resolved (the
  ``tnt/v2/TNT_v2.2.0.yaml`` beside it only points at SwaggerHub). Flat events:
  ``eventType``, ``eventClassifierCode``, ``equipmentEventTypeCode`` /
  ``transportEventTypeCode``, ``transportCall`` with ``UNLocationCode``,
  ``importVoyageNumber``, ``exportVoyageNumber``, ``vessel.vesselIMONumber``. The
  output of :func:`to_dcsa` is this shape.
- ``tnt/v2/tnt_v2.3.0.yaml`` (Event Domain 2.0.0): ``transportCall.location.UNLocationCode``
  replaces ``transportCall.UNLocationCode``; both are read.
- ``tnt/v3/tnt.yaml``, which is 3.0.0-Beta-1 (Event Domain 3.1.0), the only 3.x T&T in
  that repository: an event is ``{"metadata": {...}, "payload": {...}}``, the vessel's
  name is ``name``, a seal's number ``number``, the voyages
  ``carrierImportVoyageNumber`` / ``carrierExportVoyageNumber``, document links
  ``relatedDocumentReferences`` of ``type``/``value``. Read by :func:`from_dcsa`, with
  rejections naming ``payload.…`` / ``metadata.…``. Its codes are still the four-letter
  ones; no full-word enums (``GATED_OUT``…) exist in that repository, so none are read.
- ``domain/event/event_domain_v3.1.0.yaml``: the customs codes ``CUSS`` (selected for
  scan), ``CUSI`` (selected for inspection), ``CUSR`` (released), and the document type
  ``CUC`` (Customs Clearance) that carries the declaration number.

Choices, each because DCSA has no place for what the contract needs:

- Only ``ACT`` equipment events map: a planned or estimated move is not a movement.
  ``ARRI`` ``EST``/``PLN`` is a ``VESSEL_EXPECTED`` (``eta`` = ``eventDateTime``,
  ``occurred_at`` = ``eventCreatedDateTime``); ``DEPA`` ``EST``/``PLN`` has no contract
  event and is refused. ``CUSI`` is refused: a physical inspection is no contract
  stage, and reading it as a scan selection would invent one.
- The voyage is the import voyage for ``DISC`` and ``ARRI`` and the export voyage for
  ``LOAD`` and ``DEPA`` (``carrierVoyageNumber``, deprecated in 2.x, failing both): each
  pairing the core makes (a discharge with its arrival, a loading with its departure)
  then reads the same number. A carrier whose two numbers differ puts a call's
  arrival and departure under two voyages.
- ``GTIN`` needs a direction DCSA does not give (``emptyIndicatorCode`` and
  ``modeOfTransport`` do not tell import from export): the ``direction`` argument,
  ``"export"`` by default, a gate-in at a seaport being an export's arrival.
- The gate of ``GTIN``/``GTOT`` is ``transportCall.facilityCode`` or
  ``eventLocation.facilityCode`` or ``transportCall.otherFacility``; an event with none
  is refused rather than given a made-up gate.
- ``declaration_no`` is the ``CUC`` document reference. DCSA 2.2's ``references``
  types (FF, SI, PO, CR, AAO, EQ) hold no customs reference (CR is the customer's), so
  a 2.x document gives it as ``documentReferences`` with ``documentReferenceType``
  ``CUC``, outside the 2.2 enum (which lists only BKG and TRD).
- The site is the ``site`` argument, else the UN/LOCODE through :data:`SITE_OF_LOCODE`.
- Contract fields without a DCSA field travel as vendor fields ``vasscm…`` (the 2.2
  schemas do not forbid extra properties): the contract ``event_id`` (DCSA's
  ``eventID`` must be a UUID: a UUID5 of it), ``received_at``, ``source``, a GATE_IN's
  direction, gate and plate, ELIGIBLE's basis (``released`` when absent), a vessel
  known only by name (2.2's ``vessel`` requires the IMO number), a site without a
  UN/LOCODE. They win over the arguments, so a log written as DCSA reads back as it was.
- :func:`to_dcsa` writes ``emptyIndicatorCode`` ``LADEN`` and ``sealType`` ``BLT``,
  required by 2.2 and unknown to the contract.
"""

from __future__ import annotations

import uuid
from typing import Any, Final, Literal, NoReturn, cast

import orjson
from pydantic import TypeAdapter, ValidationError
from stdnum import imo

from vasscm.events import (
    Discharged,
    Eligible,
    GateIn,
    GateOut,
    InputEvent,
    Loaded,
    RejectCode,
    Rejection,
    ScanSelected,
    Timestamp,
    VesselArrived,
    VesselDeparted,
    VesselExpected,
    fan_out,
    parse_container_no,
    parse_event,
    timestamp_error,
)

__all__ = ["LOCODE_OF_SITE", "NAMESPACE", "SITE_OF_LOCODE", "event_uuid", "from_dcsa", "to_dcsa"]

#: UN/LOCODEs of the sites. VNCLN (Cai Lan) and VNCLI (Cat Lai) are in UN/LOCODE;
#: VNHPH is Haiphong as carriers write it (VNHAP, UN/LOCODE's Hai Phong, read too);
#: VNMOC for Mong Cai is not confirmed against the UN/LOCODE table.
SITE_OF_LOCODE: Final = {
    "VNCLN": "cai-lan",
    "VNHPH": "hai-phong",
    "VNHAP": "hai-phong",
    "VNCLI": "cat-lai",
    "VNMOC": "mong-cai",
}
LOCODE_OF_SITE: Final = {
    "cai-lan": "VNCLN",
    "hai-phong": "VNHPH",
    "cat-lai": "VNCLI",
    "mong-cai": "VNMOC",
}
#: UUID5 namespace of the DCSA ``eventID`` made from a contract ``event_id``.
NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "urn:vasscm:dcsa:eventID")

_EQUIPMENT: Final = {
    "GTIN": "GATE_IN",
    "GTOT": "GATE_OUT",
    "LOAD": "LOADED",
    "DISC": "DISCHARGED",
    "CUSS": "SCAN_SELECTED",
    "CUSR": "ELIGIBLE",
}
_CODE_OF: Final = {kind: code for code, kind in _EQUIPMENT.items()}
_UNMAPPED: Final = {  # Event Domain 3.1.0's other equipmentEventTypeCodes
    "STUF": "Stuffed",
    "STRP": "Stripped",
    "PICK": "Pick-up",
    "AVPU": "Available for Pick-up",
    "DROP": "Drop-off",
    "AVDO": "Available for Drop-off",
    "INSP": "Inspected",
    "RSEA": "Resealed",
    "RMVD": "Removed",
    "CROS": "Crossed",
}
_CLASSIFIERS: Final = ("ACT", "PLN", "EST")
_METADATA: Final = frozenset({"eventID", "eventCreatedDateTime", "eventType", "retractedEventID"})
_TIMESTAMP: Final[TypeAdapter[Any]] = TypeAdapter(Timestamp)


class _Refused(Exception):
    def __init__(self, code: RejectCode, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.code, self.field, self.reason = code, field, reason


def event_uuid(event_id: str, container_no: str | None = None) -> str:
    """The DCSA ``eventID`` of a contract event (of one container of a customs event:
    each DCSA document is one message and needs its own id)."""
    name = event_id if container_no is None else f"{event_id}/{container_no}"
    return str(uuid.uuid5(NAMESPACE, name))


# --- inbound ------------------------------------------------------------------------


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
        return ("metadata." if key.split(".")[0] in _METADATA else "payload.") + key

    def get(self, key: str) -> Any:
        node: Any = self.meta if self.v3 and key.split(".")[0] in _METADATA else self.body
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
            _TIMESTAMP.validate_python(value)
        except ValidationError:
            self.refuse(RejectCode.INVALID_FIELD, key, timestamp_error(value)[1])
        return value

    def classifier(self) -> str:
        value = cast(str, self.text("eventClassifierCode", required=True))
        if value not in _CLASSIFIERS:
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

    def site(self, site: str | None) -> str:
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
                if code.upper() not in SITE_OF_LOCODE:
                    known = ", ".join(f"{c} {s}" for c, s in SITE_OF_LOCODE.items())
                    self.refuse(
                        RejectCode.INVALID_FIELD,
                        key,
                        f"UN/LOCODE {code!r:.20} is not a "
                        f"vasscm site ({known}); pass site= for events from elsewhere",
                    )
                return SITE_OF_LOCODE[code.upper()]
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
    kind = _EQUIPMENT.get(code)
    if kind is None:
        known = f"DCSA's {_UNMAPPED[code]}" if code in _UNMAPPED else "not a DCSA code"
        r.refuse(
            RejectCode.UNKNOWN_TYPE,
            "equipmentEventTypeCode",
            f"{code!r:.20} ({known}) has no contract event; mapped are {', '.join(_EQUIPMENT)}",
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
) -> InputEvent | Rejection:
    """The contract event of one DCSA T&T event (a dict, or its JSON text), checked by
    :func:`vasscm.events.parse_event`, or a :class:`Rejection` naming the DCSA field.
    Never raises. ``trust_customs=False`` refuses CUSS and CUSR, for a feed that is
    not customs' own (DCSA's publishers are carriers and service providers)."""
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
        return _map(reader, site, source, direction, trust_customs)
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
    r: _Reader, site: str | None, source: str | None, direction: str, trust_customs: bool
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
    out["site"] = r.site(site)
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


# --- outbound -----------------------------------------------------------------------


def _stamp(value: Any) -> str:
    """RFC 3339 in the event's own offset (DCSA's date-times are local ones)."""
    spec = "microseconds" if value.microsecond % 1000 else "milliseconds"
    return cast(str, value.isoformat(timespec=spec)).replace("+00:00", "Z")


def _base(
    event: InputEvent, kind: str, classifier: str, at: Any, container: str | None
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
    if event.site not in LOCODE_OF_SITE:
        doc["vasscmSite"] = event.site
    return doc


def _call(
    doc: dict[str, Any], site: str, vessel: str | None, voyage: str | None, side: str
) -> None:
    call: dict[str, Any] = {
        "transportCallID": f"{site}/{voyage or vessel}"[:100],
        "modeOfTransport": "VESSEL",
    }
    if site in LOCODE_OF_SITE:
        call["UNLocationCode"] = LOCODE_OF_SITE[site]
    if voyage is not None:
        call[f"{side}VoyageNumber"] = voyage
    if vessel is not None and len(vessel) == 7 and vessel.isdigit() and imo.is_valid(vessel):
        call["vessel"] = {"vesselIMONumber": vessel}
    elif vessel is not None:  # 2.2's vessel requires the IMO number
        doc["vasscmVessel"] = vessel
    doc["transportCall"] = call


def _equipment_doc(event: Any, container: str, seal: str | None, customs: bool) -> dict[str, Any]:
    doc = _base(event, "EQUIPMENT", "ACT", event.occurred_at, container if customs else None)
    doc.update(
        equipmentEventTypeCode=_CODE_OF[event.type],
        equipmentReference=container,
        emptyIndicatorCode="LADEN",
    )
    if event.site in LOCODE_OF_SITE:
        doc["eventLocation"] = {"UNLocationCode": LOCODE_OF_SITE[event.site]}
    if seal is not None:
        doc["seals"] = [{"sealNumber": seal, "sealType": "BLT"}]
    return doc


def to_dcsa(event: InputEvent, *, version: Literal["2.2"] = "2.2") -> list[dict[str, Any]]:
    """The DCSA T&T 2.2 documents of a contract event: one, one per container of a
    customs event, or none for a type without a DCSA counterpart (EXPECTED,
    CHANNEL_ASSIGNED, SUSPENDED, RESUMED, ELIGIBILITY_CANCELLED, SEAL_CHANGED,
    DISCREPANCY, SCANNED)."""
    if version != "2.2":
        raise ValueError(f"DCSA T&T version {version!r} is not written; 2.2 is")
    if isinstance(event, (ScanSelected, Eligible)):
        docs = []
        for no, one in fan_out(event):
            ref = cast(ScanSelected | Eligible, one).containers[0]
            doc = _equipment_doc(one, no, ref.seal_no, customs=True)
            doc["documentReferences"] = [
                {"documentReferenceType": "CUC", "documentReferenceValue": event.declaration_no}
            ]
            if isinstance(one, Eligible):
                doc["vasscmBasis"] = one.basis
            docs.append(doc)
        return docs
    if isinstance(event, (GateIn, GateOut, Loaded, Discharged)):
        doc = _equipment_doc(event, event.container_no, event.seal_no, customs=False)
        if isinstance(event, (GateIn, GateOut)):
            doc["vasscmGate"] = event.gate
            if event.vehicle_plate is not None:
                doc["vasscmVehiclePlate"] = event.vehicle_plate
            if isinstance(event, GateIn):
                doc["vasscmDirection"] = event.direction
        elif event.vessel is not None or event.voyage is not None:
            side = "import" if isinstance(event, Discharged) else "export"
            _call(doc, event.site, event.vessel, event.voyage, side)
        return [doc]
    if isinstance(event, (VesselArrived, VesselDeparted, VesselExpected)):
        arrival = not isinstance(event, VesselDeparted)
        at = event.eta if isinstance(event, VesselExpected) else event.occurred_at
        classifier = "EST" if isinstance(event, VesselExpected) else "ACT"
        doc = _base(event, "TRANSPORT", classifier, at, None)
        doc["transportEventTypeCode"] = "ARRI" if arrival else "DEPA"
        _call(doc, event.site, event.vessel, event.voyage, "import" if arrival else "export")
        return [doc]
    return []
