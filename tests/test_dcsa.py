"""Tests for ``vasscm.dcsa``: DCSA Track & Trace events to and from contract events.

The round trip runs over a simulated log (every line with a DCSA counterpart must come
back as the same contract event); the official examples of the DCSA specs are mapped
or refused as the module's docstring says; malformed documents are refused with the
DCSA field named; and what ``to_dcsa`` writes validates against the T&T 2.2 schemas.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator, FormatChecker  # type: ignore[import-untyped]

from vasscm.dcsa import LOCODE_OF_SITE, SITE_OF_LOCODE, event_uuid, from_dcsa, to_dcsa
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
    VesselArrived,
    VesselDeparted,
    VesselExpected,
    fan_out,
    parse_event,
)
from vasscm.simulate import Faults, LogSpec, synthetic_log

DATA = Path(__file__).parent / "data" / "dcsa"
EXAMPLES = Path(__file__).parent.parent / "topics" / "examples"
#: Contract types with no DCSA counterpart: excluded from the round trip, knowingly.
NO_COUNTERPART = {
    "EXPECTED",
    "CHANNEL_ASSIGNED",
    "SUSPENDED",
    "RESUMED",
    "ELIGIBILITY_CANCELLED",
    "SEAL_CHANGED",
    "DISCREPANCY",
    "SCANNED",
}
MAPPED = {
    "GATE_IN",
    "GATE_OUT",
    "LOADED",
    "DISCHARGED",
    "SCAN_SELECTED",
    "ELIGIBLE",
    "VESSEL_EXPECTED",
    "VESSEL_ARRIVED",
    "VESSEL_DEPARTED",
}


def _load(name: str) -> Any:
    return orjson.loads((DATA / name).read_bytes())


def _event(raw: bytes) -> InputEvent:
    event = parse_event(raw)
    assert not isinstance(event, Rejection), event
    return event


def _expected_back(event: InputEvent) -> list[InputEvent]:
    """What ``from_dcsa`` gives for each DCSA document of ``event``: the event itself,
    or, for a customs event, its copy per container (as the tracker sees it)."""
    if isinstance(event, (ScanSelected, Eligible)):
        return [one for _, one in fan_out(event)]
    return [event]


def _round_trip(event: InputEvent) -> list[InputEvent | Rejection]:
    # Through JSON bytes, as a DCSA log on disk would be.
    return [from_dcsa(orjson.loads(orjson.dumps(doc))) for doc in to_dcsa(event)]


# --- the round trip over a simulated log ---------------------------------------------


@pytest.mark.parametrize(
    "spec", [LogSpec(), LogSpec(faults=Faults.realistic())], ids=["clean", "realistic-faults"]
)
def test_a_simulated_log_written_as_dcsa_reads_back_as_the_same_contract_events(
    spec: LogSpec,
) -> None:
    seen: set[str] = set()
    skipped: set[str] = set()
    late = 0
    for line in synthetic_log(5000, seed=3, spec=spec):
        event = parse_event(line)
        if isinstance(event, Rejection):
            continue  # the faulty log's malformed lines: not events
        docs = to_dcsa(event)
        if event.type in NO_COUNTERPART:
            assert docs == []
            skipped.add(event.type)
            continue
        assert docs, event.type
        back = _round_trip(event)
        assert back == _expected_back(event)
        assert all(isinstance(got, type(event)) for got in back)
        seen.add(event.type)
        late += event.received_at is not None
    assert seen == MAPPED  # every mapped type was exercised
    assert skipped == NO_COUNTERPART - {"SEAL_CHANGED", "ELIGIBILITY_CANCELLED"}  # not simulated
    if spec.faults.disorder:
        assert late > 0  # received_at was carried through


@pytest.mark.parametrize("kind", sorted(MAPPED | NO_COUNTERPART))
def test_each_contract_example_maps_to_dcsa_and_back(kind: str) -> None:
    event = _event((EXAMPLES / f"{kind}.json").read_bytes())
    if kind in NO_COUNTERPART:
        assert to_dcsa(event) == []
        return
    assert _round_trip(event) == _expected_back(event)


def test_a_customs_event_becomes_one_dcsa_document_per_container_with_distinct_ids() -> None:
    event = _event((EXAMPLES / "ELIGIBLE.json").read_bytes())
    assert isinstance(event, Eligible)
    docs = to_dcsa(event)
    assert [d["equipmentReference"] for d in docs] == ["CSQU3054383", "MSKU7210940"]
    assert len({d["eventID"] for d in docs}) == 2
    assert {d["vasscmEventID"] for d in docs} == {event.event_id}
    assert docs[0]["documentReferences"] == [
        {"documentReferenceType": "CUC", "documentReferenceValue": "104583920150"}
    ]
    back = [from_dcsa(d) for d in docs]
    assert all(isinstance(b, Eligible) and b.event_id == event.event_id for b in back)
    assert [b.containers for b in back if isinstance(b, Eligible)] == [
        [ref] for ref in event.containers
    ]


def test_event_ids_are_uuid5_derived_deterministically() -> None:
    assert event_uuid("dis-12-1") == event_uuid("dis-12-1")
    assert event_uuid("dis-12-1") != event_uuid("dis-12-2")
    assert event_uuid("e", "CSQU3054383") != event_uuid("e")
    assert event_uuid("dis-12-1")[14] == "5"  # version 5


def test_to_dcsa_writes_only_version_2_2() -> None:
    event = _event((EXAMPLES / "GATE_OUT.json").read_bytes())
    with pytest.raises(ValueError, match=r"2\.2"):
        to_dcsa(event, version="3.0")  # type: ignore[arg-type]


# --- the official examples ---------------------------------------------------------


def test_the_official_vessel_arrival_estimate_maps_to_vessel_expected() -> None:
    event = from_dcsa(_load("v3-transport-ARRI-EST-vessel.json"), site="cai-lan")
    assert isinstance(event, VesselExpected)
    assert event.event_id == "c0ea5971-bd21-4749-a7ce-8f8d1dc562e2"
    assert event.vessel == "9321483"
    assert event.voyage == "2103N"  # the import voyage, for an arrival
    assert event.eta.isoformat() == "2022-11-12T07:41:00+08:30"  # eventDateTime
    assert event.occurred_at.isoformat() == "2022-10-03T02:55:00+03:00"  # eventCreatedDateTime
    assert event.site == "cai-lan"


@pytest.mark.parametrize(
    ("name", "code", "field"),
    [
        # An estimate of a loading is no movement.
        (
            "v3-equipment-LOAD-EST-transshipment.json",
            "invalid_field",
            "payload.eventClassifierCode",
        ),
        ("v3-equipment-DROP-ACT.json", "unknown_type", "payload.equipmentEventTypeCode"),
        # A train's arrival names no vessel.
        (
            "v3-transport-ARRI-EST-rail.json",
            "missing_field",
            "payload.transportCall.vessel.vesselIMONumber",
        ),
        ("v3-transport-retracted.json", "unknown_type", "metadata.retractedEventID"),
        ("v22-shipment-ISSU.json", "unknown_type", "eventType"),
    ],
)
def test_the_other_official_examples_are_refused_naming_the_field(
    name: str, code: str, field: str
) -> None:
    rejection = from_dcsa(_load(name), site="cai-lan")
    assert isinstance(rejection, Rejection)
    assert (rejection.code, rejection.field) == (code, field)
    assert field in rejection.reason


def _adapted(name: str, **payload: Any) -> dict[str, Any]:
    """An official 3.0.0-Beta-1 example with some payload fields changed."""
    doc: dict[str, Any] = _load(name)
    doc["payload"].update(payload)
    return doc


def test_official_examples_adapted_to_actual_moves_map_with_their_fields() -> None:
    # The transshipment example, as an actual loading and an actual discharge.
    name = "v3-equipment-LOAD-EST-transshipment.json"
    loaded = from_dcsa(_adapted(name, eventClassifierCode="ACT"), site="cai-lan")
    assert isinstance(loaded, Loaded)
    assert (loaded.container_no, loaded.seal_no) == ("APZU4812090", "133534")
    assert (loaded.vessel, loaded.voyage) == ("9321483", "2103S")  # the export voyage
    assert loaded.occurred_at.isoformat() == "2019-11-12T07:41:00+08:30"
    discharged = from_dcsa(
        _adapted(name, eventClassifierCode="ACT", equipmentEventTypeCode="DISC"), site="cai-lan"
    )
    assert isinstance(discharged, Discharged)
    assert (discharged.direction, discharged.voyage) == ("import", "2103N")
    # The vessel's arrival estimate, as an actual departure, at a site of ours.
    arrival = _adapted(
        "v3-transport-ARRI-EST-vessel.json",
        eventClassifierCode="ACT",
        transportEventTypeCode="DEPA",
    )
    arrival["payload"]["transportCall"]["location"]["UNLocationCode"] = "VNHPH"
    departed = from_dcsa(arrival)
    assert isinstance(departed, VesselDeparted)
    assert (departed.site, departed.voyage) == ("hai-phong", "2103S")


# --- DCSA 2.2 documents as a terminal would send them (no vendor fields) -----------------


def _disc() -> dict[str, Any]:
    return {
        "eventID": "3cecb101-7a1a-43a4-9d62-e88a131651e2",
        "eventCreatedDateTime": "2024-03-12T07:45:00+07:00",
        "eventType": "EQUIPMENT",
        "eventClassifierCode": "ACT",
        "eventDateTime": "2024-03-12T07:42:10+07:00",
        "equipmentEventTypeCode": "DISC",
        "equipmentReference": "CSQU3054383",
        "emptyIndicatorCode": "LADEN",
        "transportCall": {
            "transportCallID": "VNCLN-HAV-2411S",
            "modeOfTransport": "VESSEL",
            "UNLocationCode": "VNCLN",
            "importVoyageNumber": "HAV-2411N",
            "exportVoyageNumber": "HAV-2411S",
            "vessel": {"vesselIMONumber": "9667904", "vesselName": "HAIAN VIEW"},
        },
        "seals": [{"sealNumber": "VNCL2481573", "sealType": "BLT"}],
    }


def _gtot() -> dict[str, Any]:
    doc = _disc()
    doc.update(equipmentEventTypeCode="GTOT", eventLocation={"UNLocationCode": "VNCLN"})
    doc["transportCall"] = {
        "transportCallID": "truck-1",
        "modeOfTransport": "TRUCK",
        "facilityCode": "GATE2",
    }
    return doc


def _arri(classifier: str = "ACT") -> dict[str, Any]:
    return {
        "eventID": "7a9d8f1e-0c1b-4a43-9d62-e88a131651e2",
        "eventCreatedDateTime": "2024-03-11T09:00:00+07:00",
        "eventType": "TRANSPORT",
        "eventClassifierCode": classifier,
        "eventDateTime": "2024-03-13T23:40:00+07:00",
        "transportEventTypeCode": "ARRI",
        "transportCall": {
            "transportCallID": "VNCLN-HAV-2411",
            "modeOfTransport": "VESSEL",
            "location": {"UNLocationCode": "VNCLN"},  # 2.3's place for it
            "importVoyageNumber": "HAV-2411N",
            "vessel": {"vesselIMONumber": "9667904"},
        },
    }


def _cusr() -> dict[str, Any]:
    doc = _disc()
    del doc["transportCall"]
    doc.update(
        equipmentEventTypeCode="CUSR",
        eventLocation={"UNLocationCode": "VNCLN"},
        documentReferences=[
            {"documentReferenceType": "CUC", "documentReferenceValue": "104583920150"}
        ],
    )
    return doc


def test_a_terminals_discharge_maps_with_vessel_voyage_seal_and_site() -> None:
    event = from_dcsa(_disc(), source="tos-cai-lan")
    assert isinstance(event, Discharged)
    assert event.event_id == "3cecb101-7a1a-43a4-9d62-e88a131651e2"
    assert (event.site, event.container_no, event.seal_no) == (
        "cai-lan",
        "CSQU3054383",
        "VNCL2481573",
    )
    assert (event.vessel, event.voyage, event.direction) == ("9667904", "HAV-2411N", "import")
    assert event.source == "tos-cai-lan"


def test_a_vessel_without_imo_number_is_named_by_its_name() -> None:
    doc = _disc()
    doc["transportCall"]["vessel"] = {"vesselName": "HAIAN VIEW"}
    event = from_dcsa(doc)
    assert isinstance(event, Discharged)
    assert event.vessel == "HAIAN VIEW"


def test_a_gate_out_takes_its_gate_from_the_facility_code() -> None:
    event = from_dcsa(_gtot())
    assert isinstance(event, GateOut)
    assert (event.gate, event.site) == ("GATE2", "cai-lan")


def test_a_gate_in_is_an_export_unless_told_otherwise() -> None:
    doc = _gtot()
    doc["equipmentEventTypeCode"] = "GTIN"
    default = from_dcsa(doc)
    told = from_dcsa(doc, direction="import")
    assert isinstance(default, GateIn)
    assert isinstance(told, GateIn)
    assert (default.direction, told.direction) == ("export", "import")


def test_arrivals_actual_and_estimated() -> None:
    arrived = from_dcsa(_arri("ACT"))
    expected = from_dcsa(_arri("PLN"))
    assert isinstance(arrived, VesselArrived)
    assert arrived.occurred_at.isoformat() == "2024-03-13T23:40:00+07:00"
    assert isinstance(expected, VesselExpected)
    assert expected.eta.isoformat() == "2024-03-13T23:40:00+07:00"
    assert expected.occurred_at.isoformat() == "2024-03-11T09:00:00+07:00"


def test_customs_release_and_scan_selection() -> None:
    released = from_dcsa(_cusr(), source="vnaccs")
    assert isinstance(released, Eligible)
    assert (released.basis, released.declaration_no) == ("released", "104583920150")
    assert [(c.container_no, c.seal_no) for c in released.containers] == [
        ("CSQU3054383", "VNCL2481573")
    ]
    selected = from_dcsa({**_cusr(), "equipmentEventTypeCode": "CUSS"})
    assert isinstance(selected, ScanSelected)
    refused = from_dcsa(_cusr(), trust_customs=False)
    assert isinstance(refused, Rejection)
    assert refused.field == "equipmentEventTypeCode"


def test_the_site_argument_wins_over_the_un_locode() -> None:
    event = from_dcsa(_disc(), site="hai-phong")
    assert isinstance(event, Discharged)
    assert event.site == "hai-phong"


def test_the_site_table_is_consistent() -> None:
    assert all(SITE_OF_LOCODE[code] == site for site, code in LOCODE_OF_SITE.items())


def test_the_site_registry_names_the_un_locodes_and_a_default_site_the_rest(
    tmp_path: Path,
) -> None:
    """A deployment's registry (VASSCM_SITES_FILE) adds its sites' UN/LOCODEs; an
    event from a place no site is known by takes the default site, when there is one."""
    from vasscm.sites import load_registry

    path = tmp_path / "sites.toml"
    path.write_text('[nghi-son]\nname.vi = "Cảng Nghi Sơn"\nname.en = "Nghi Son port"\n'
                    'kind = "seaport"\nunlocode = "VNNGH"\n', encoding="utf-8")  # fmt: skip
    ours = load_registry(path)
    elsewhere = _disc()
    elsewhere["transportCall"] = {**elsewhere["transportCall"], "UNLocationCode": "VNNGH"}

    mapped = from_dcsa(elsewhere, sites=ours)
    refused = from_dcsa(elsewhere)
    defaulted = from_dcsa(elsewhere, default_site="cai-lan")

    assert "nghi-son" == getattr(mapped, "site", None)
    assert isinstance(refused, Rejection)
    assert "transportCall.UNLocationCode" == refused.field
    assert "cai-lan" == getattr(defaulted, "site", None)


# --- malformed documents ------------------------------------------------------------


def _without(doc: dict[str, Any], *path: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    node = doc
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return doc


def _with(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


MALFORMED: list[tuple[str, Any, RejectCode, str]] = [
    ("missing eventType", _without(_disc(), "eventType"), RejectCode.MISSING_FIELD, "eventType"),
    (
        "eventType a number",
        _with(_disc(), ("eventType",), 7),
        RejectCode.INVALID_FIELD,
        "eventType",
    ),
    (
        "shipment event",
        _with(_disc(), ("eventType",), "SHIPMENT"),
        RejectCode.UNKNOWN_TYPE,
        "eventType",
    ),
    (
        "unknown equipmentEventTypeCode",
        _with(_disc(), ("equipmentEventTypeCode",), "TELE"),
        RejectCode.UNKNOWN_TYPE,
        "equipmentEventTypeCode",
    ),
    (
        "stuffing: DCSA's, not ours",
        _with(_disc(), ("equipmentEventTypeCode",), "STUF"),
        RejectCode.UNKNOWN_TYPE,
        "equipmentEventTypeCode",
    ),
    (
        "planned equipment event",
        _with(_disc(), ("eventClassifierCode",), "PLN"),
        RejectCode.INVALID_FIELD,
        "eventClassifierCode",
    ),
    (
        "unknown classifier",
        _with(_disc(), ("eventClassifierCode",), "ACTUAL"),
        RejectCode.INVALID_FIELD,
        "eventClassifierCode",
    ),
    (
        "missing equipmentReference",
        _without(_disc(), "equipmentReference"),
        RejectCode.MISSING_FIELD,
        "equipmentReference",
    ),
    (
        "bad ISO 6346 check digit",
        _with(_disc(), ("equipmentReference",), "CSQU3054384"),
        RejectCode.INVALID_FIELD,
        "equipmentReference",
    ),
    (
        "naive eventDateTime",
        _with(_disc(), ("eventDateTime",), "2024-03-12T07:42:10"),
        RejectCode.INVALID_FIELD,
        "eventDateTime",
    ),
    (
        "missing eventDateTime",
        _without(_disc(), "eventDateTime"),
        RejectCode.MISSING_FIELD,
        "eventDateTime",
    ),
    (
        "ARRI without transportCall",
        _without(_arri(), "transportCall"),
        RejectCode.MISSING_FIELD,
        "transportCall",
    ),
    (
        "unknown UN/LOCODE, no site",
        _with(_disc(), ("transportCall", "UNLocationCode"), "NLRTM"),
        RejectCode.INVALID_FIELD,
        "transportCall.UNLocationCode",
    ),
    (
        "no location at all, no site",
        _with(_without(_gtot(), "transportCall"), ("eventLocation",), {"facilityCode": "G2"}),
        RejectCode.MISSING_FIELD,
        "eventLocation.UNLocationCode",
    ),
    (
        "CUSR without a customs reference",
        _with(
            _without(_cusr(), "documentReferences"),
            ("references",),
            [{"referenceType": "CR", "referenceValue": "104583920150"}],
        ),
        RejectCode.MISSING_FIELD,
        "documentReferences",
    ),
    (
        "CUSI",
        _with(_cusr(), ("equipmentEventTypeCode",), "CUSI"),
        RejectCode.UNKNOWN_TYPE,
        "equipmentEventTypeCode",
    ),
    (
        "DEPA EST",
        _with(_with(_arri(), ("transportEventTypeCode",), "DEPA"), ("eventClassifierCode",), "EST"),
        RejectCode.UNKNOWN_TYPE,
        "eventClassifierCode",
    ),
    (
        "vesselIMONumber with a bad check digit",
        _with(_arri(), ("transportCall", "vessel", "vesselIMONumber"), "9667905"),
        RejectCode.INVALID_FIELD,
        "transportCall.vessel.vesselIMONumber",
    ),
    (
        "ARRI without a voyage",
        _without(_arri(), "transportCall", "importVoyageNumber"),
        RejectCode.MISSING_FIELD,
        "transportCall.importVoyageNumber",
    ),
    (
        "ARRI EST without eventCreatedDateTime",
        _without(_arri("EST"), "eventCreatedDateTime"),
        RejectCode.MISSING_FIELD,
        "eventCreatedDateTime",
    ),
    (
        "GTOT without a gate",
        _without(_gtot(), "transportCall", "facilityCode"),
        RejectCode.MISSING_FIELD,
        "transportCall.facilityCode",
    ),
    ("missing eventID", _without(_disc(), "eventID"), RejectCode.MISSING_FIELD, "eventID"),
    (
        "seals not a list",
        _with(_disc(), ("seals",), "VNCL2481573"),
        RejectCode.INVALID_FIELD,
        "seals",
    ),
    (
        "seal number with a newline (refused by the contract)",
        _with(_disc(), ("seals",), [{"sealNumber": "VNCL\n2481573", "sealType": "BLT"}]),
        RejectCode.INVALID_FIELD,
        "seals.0.sealNumber",
    ),
    (
        "unknown transportEventTypeCode",
        _with(_arri(), ("transportEventTypeCode",), "BERT"),
        RejectCode.UNKNOWN_TYPE,
        "transportEventTypeCode",
    ),
    (
        "3.0 event without payload",
        {"metadata": {"eventID": "x", "eventType": "EQUIPMENT"}},
        RejectCode.MISSING_FIELD,
        "payload",
    ),
]


def test_there_are_at_least_twenty_malformed_documents() -> None:
    assert len(MALFORMED) >= 20


@pytest.mark.parametrize(
    ("doc", "code", "field"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_a_malformed_document_is_refused_naming_the_dcsa_field(
    doc: Any, code: RejectCode, field: str
) -> None:
    rejection = from_dcsa(doc)
    assert isinstance(rejection, Rejection)
    assert (rejection.code, rejection.field) == (code, field)
    assert field in rejection.reason


@pytest.mark.parametrize("doc", [[_disc()], "CUSR", None, 3, b"{not json"])
def test_what_is_not_a_json_object_is_refused(doc: Any) -> None:
    rejection = from_dcsa(doc)
    assert isinstance(rejection, Rejection)
    assert rejection.code in (RejectCode.NOT_OBJECT, RejectCode.INVALID_JSON)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    base=st.sampled_from([_disc(), _gtot(), _arri(), _arri("EST"), _cusr()]),
    key=st.sampled_from(
        [
            "eventType",
            "eventDateTime",
            "equipmentReference",
            "transportCall",
            "seals",
            "documentReferences",
            "eventClassifierCode",
            "eventID",
            "vasscmGate",
            "vasscmReceivedAt",
        ]
    ),
    value=_JSON,
)
def test_from_dcsa_never_raises(base: dict[str, Any], key: str, value: Any) -> None:
    result = from_dcsa({**base, key: value})
    if not isinstance(result, Rejection):  # what comes out is a contract event
        assert parse_event(orjson.dumps(result.model_dump(mode="json"))) == result


# --- the output validates against the T&T 2.2 schemas ---------------------------------


def _validator(schemas: dict[str, Any], name: str) -> Draft7Validator:
    return Draft7Validator(
        {"$ref": f"#/components/schemas/{name}", "components": schemas["components"]},
        format_checker=FormatChecker(),
    )


def _customs_widened(schemas: dict[str, Any]) -> dict[str, Any]:
    """The 2.2 schemas with Event Domain 3.x's customs codes, and the CUC document type,
    added to the enums: 2.2 itself has neither (see the module docstring)."""
    wide = copy.deepcopy(schemas)
    found = wide["components"]["schemas"]
    found["equipmentEventTypeCode"]["enum"] += ["CUSS", "CUSI", "CUSR"]
    found["documentReferences_inner"]["properties"]["documentReferenceType"]["enum"] += ["CUC"]
    return wide


def test_to_dcsa_output_validates_against_the_tnt_2_2_schemas() -> None:
    schemas = _load("tnt_v2.2.0-event-schemas.json")
    strict = {n: _validator(schemas, n) for n in ("equipmentEvent", "transportEvent")}
    widened = _validator(_customs_widened(schemas), "equipmentEvent")
    logs = [*synthetic_log(3000, seed=3), *((EXAMPLES / f"{k}.json").read_bytes() for k in MAPPED)]
    checked: set[str] = set()
    for line in logs:
        event = parse_event(line)
        if isinstance(event, Rejection):
            continue
        for doc in to_dcsa(event):
            kind = "equipmentEvent" if doc["eventType"] == "EQUIPMENT" else "transportEvent"
            if doc.get("equipmentEventTypeCode") in ("CUSS", "CUSR"):
                assert list(strict[kind].iter_errors(doc)), "2.2 would take customs codes?"
                errors = list(widened.iter_errors(doc))
            else:
                errors = list(strict[kind].iter_errors(doc))
            assert errors == [], (event.type, doc, [e.message for e in errors])
            checked.add(event.type)
    assert checked == MAPPED


def test_the_schema_check_catches_a_missing_required_field() -> None:
    schemas = _load("tnt_v2.2.0-event-schemas.json")
    doc = to_dcsa(_event((EXAMPLES / "DISCHARGED.json").read_bytes()))[0]
    assert list(_validator(schemas, "equipmentEvent").iter_errors(doc)) == []
    del doc["emptyIndicatorCode"]
    assert list(_validator(schemas, "equipmentEvent").iter_errors(doc))
    bad_id = {**to_dcsa(_event((EXAMPLES / "DISCHARGED.json").read_bytes()))[0], "eventID": "dis-1"}
    assert list(_validator(schemas, "equipmentEvent").iter_errors(bad_id))  # format: uuid
