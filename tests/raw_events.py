"""Raw event records for the tests: a valid example of every type (:func:`encode`),
and bad input of every kind the contract rejects with the code and reason expected
(:data:`BAD`), shared by the parser's, the fuzzer's and the live worker's tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import orjson
from factories import container_no
from pydantic import BaseModel

from vasscm.events import (
    MAX_EVENT_BYTES,
    ChannelAssigned,
    Discharged,
    Discrepancy,
    EligibilityCancelled,
    Eligible,
    Expected,
    GateIn,
    GateOut,
    Loaded,
    RejectCode,
    Rejection,
    Resumed,
    Scanned,
    ScanSelected,
    SealChanged,
    Suspended,
    VesselArrived,
    VesselDeparted,
    VesselExpected,
    parse_event,
)

# --- valid records ---------------------------------------------------------------------------

#: Marks a field to drop in :func:`event_doc` overrides.
DROP: Any = object()


CN_A = container_no("CSQU305438")  # the ISO 6346 textbook example, CSQU3054383
CN_B = container_no("MSCU123456")
CN_C = container_no("TGHU987654")
CN_R = container_no("MAEU700012")  # a different owner, for the reefer-ish variety

#: One realistic, valid example per event type (contract section 2).
VALID: dict[str, dict[str, Any]] = {
    "DISCHARGED": {
        "site": "cai-lan",
        "occurred_at": "2024-03-01T08:15:30+07:00",
        "container_no": CN_A,
        "direction": "import",
        "seal_no": "VN1234567",
        "vessel": "SITC HAIPHONG",
    },
    "GATE_IN": {
        "site": "cai-lan",
        "occurred_at": "2024-03-01T01:15:30.250Z",
        "container_no": CN_B,
        "direction": "export",
        "gate": "gate-3",
        "vehicle_plate": "14C-123.45",
    },
    "GATE_OUT": {
        "site": "mong-cai",
        "occurred_at": "2024-03-02T14:00:00+07:00",
        "container_no": CN_A,
        "gate": "km3-4",
        "seal_no": "VN1234567",
        "vehicle_plate": "14C-123.45",
    },
    "LOADED": {
        "site": "cai-lan",
        "occurred_at": "2024-03-02T23:59:59Z",
        "container_no": CN_B,
        "vessel": "HAIAN PARK",
    },
    "SEAL_CHANGED": {
        "site": "cai-lan",
        "occurred_at": "2024-03-01T10:00:00+07:00",
        "container_no": CN_A,
        "seal_no": "VN7654321",
    },
    "DISCREPANCY": {
        "site": "mong-cai",
        "occurred_at": "2024-03-01T11:30:00+07:00",
        "container_no": CN_C,
        "reason": "seal number differs from manifest",
    },
    "SCANNED": {
        "site": "cai-lan",
        "occurred_at": "2024-03-01T09:00:00.125+07:00",
        "container_no": CN_A,
        "scanner": "nii-1",
        "result": "SUSPECT",
        "image_ref": "nii-1/2024/03/01/000123",
    },
    "EXPECTED": {
        "site": "cai-lan",
        "occurred_at": "2024-02-28T16:00:00+07:00",
        "declaration_no": "105123456780",
        "containers": [{"container_no": CN_A, "seal_no": "VN1234567"}, {"container_no": CN_B}],
        "direction": "import",
        "eta": "2024-03-01T06:00:00+07:00",
    },
    "SCAN_SELECTED": {
        "site": "cai-lan",
        "occurred_at": "2024-03-01T08:30:00+07:00",
        "declaration_no": "105123456780",
        "containers": [{"container_no": CN_A}],
    },
    "CHANNEL_ASSIGNED": {
        "site": "mong-cai",
        "occurred_at": "2024-03-01T08:20:00Z",
        "declaration_no": "305000111222",
        "containers": [{"container_no": CN_C}],
        "channel": "red",
    },
    "ELIGIBLE": {
        "site": "cai-lan",
        "occurred_at": "2024-03-01T13:45:00+07:00",
        "declaration_no": "105123456780",
        "containers": [{"container_no": CN_A}, {"container_no": CN_B}],
        "basis": "released",
    },
    "SUSPENDED": {
        "site": "cai-lan",
        "occurred_at": "2024-03-01T12:00:00+07:00",
        "declaration_no": "105123456780",
        "containers": [{"container_no": CN_A}],
        "reason": "documents under review",
    },
    "RESUMED": {
        "site": "cai-lan",
        "occurred_at": "2024-03-01T12:30:00+07:00",
        "declaration_no": "105123456780",
        "containers": [{"container_no": CN_A}],
    },
    "ELIGIBILITY_CANCELLED": {
        "site": "mong-cai",
        "occurred_at": "2024-03-01T15:00:00Z",
        "declaration_no": "305000111222",
        "containers": [{"container_no": CN_C}],
        "reason": "declaration amended",
    },
    "VESSEL_EXPECTED": {
        "site": "cai-lan",
        "occurred_at": "2024-03-01T09:00:00+07:00",
        "vessel": "9667904",
        "voyage": "HAV-2411S",
        "eta": "2024-03-02T22:00:00+07:00",
    },
    "VESSEL_ARRIVED": {
        "site": "cai-lan",
        "occurred_at": "2024-03-02T23:40:00+07:00",
        "vessel": "IMO 9667904",
        "voyage": "HAV-2411S",
    },
    "VESSEL_DEPARTED": {
        "site": "cai-lan",
        "occurred_at": "2024-03-03T06:10:00+07:00",
        "vessel": "HAIAN VIEW",
        "voyage": "HAV-2411S",
    },
}

MODEL_OF: dict[str, type[BaseModel]] = {
    "DISCHARGED": Discharged,
    "GATE_IN": GateIn,
    "GATE_OUT": GateOut,
    "LOADED": Loaded,
    "SEAL_CHANGED": SealChanged,
    "DISCREPANCY": Discrepancy,
    "SCANNED": Scanned,
    "EXPECTED": Expected,
    "SCAN_SELECTED": ScanSelected,
    "CHANNEL_ASSIGNED": ChannelAssigned,
    "ELIGIBLE": Eligible,
    "SUSPENDED": Suspended,
    "RESUMED": Resumed,
    "ELIGIBILITY_CANCELLED": EligibilityCancelled,
    "VESSEL_EXPECTED": VesselExpected,
    "VESSEL_ARRIVED": VesselArrived,
    "VESSEL_DEPARTED": VesselDeparted,
}
EVENT_MODELS = tuple(MODEL_OF.values())
CUSTOMS = [t for t, fields in VALID.items() if "containers" in fields]
VESSEL = [t for t, fields in VALID.items() if "voyage" in fields and "vessel" in fields]
CONTAINER_LEVEL = [t for t in VALID if t not in CUSTOMS and t not in VESSEL]
TOPIC_OF = {
    **{t: "vasscm.port-events" for t in CONTAINER_LEVEL if t != "SCANNED"},
    "SCANNED": "vasscm.scan-events",
    **dict.fromkeys(CUSTOMS, "vasscm.customs-events"),
    **dict.fromkeys(VESSEL, "vasscm.vessel-events"),
}


def event_doc(kind: str = "DISCHARGED", **overrides: Any) -> dict[str, Any]:
    """A valid event of ``kind`` as a dict; ``field=DROP`` removes a field."""
    doc: dict[str, Any] = {"event_id": f"{kind.lower()}-0001", "type": kind, **VALID[kind]}
    for key, value in overrides.items():
        if value is DROP:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def encode(kind: str = "DISCHARGED", **overrides: Any) -> bytes:
    """:func:`event_doc` as the bytes a producer would send."""
    return orjson.dumps(event_doc(kind, **overrides))


def parsed(raw: bytes | str, **kwargs: Any) -> BaseModel:
    """Parse input that must be accepted; fail with the rejection reason otherwise."""
    result = parse_event(raw, **kwargs)
    assert not isinstance(result, Rejection), result.reason
    return result


# --- bad records ---------------------------------------------------------------------


class Bad(NamedTuple):
    """One kind of bad input: the record, the expected code and substrings of the reason."""

    raw: bytes | str | Callable[[], bytes]
    code: RejectCode
    needles: tuple[str, ...]
    topic: str | None = None
    field: str | None = None


_TOO_MANY = [{"container_no": container_no(f"CSQU{i:06d}")} for i in range(10_000)]

BAD: dict[str, Bad] = {
    "empty-bytes": Bad(b"", RejectCode.EMPTY, ("empty", "JSON object")),
    "whitespace-only": Bad(b" \r\n\t ", RejectCode.EMPTY, ("empty",)),
    "invalid-utf8": Bad(
        b'{"type": "DISCHARGED", "site": "c\xe1i-l\xe2n"}',
        RejectCode.INVALID_UTF8,
        ("not UTF-8", "0xe1", "offset 33"),
    ),
    "lone-surrogate-str": Bad(
        '{"event_id": "e-\ud800"}', RejectCode.INVALID_UTF8, ("not UTF-8", "offset 16")
    ),
    "lone-surrogate-escape": Bad(
        b'{"event_id": "e-\\ud800"}', RejectCode.INVALID_JSON, ("invalid JSON", "surrogate")
    ),
    "json-array": Bad(b"[" + encode() + b"]", RejectCode.NOT_OBJECT, ("JSON object", "array")),
    "json-string": Bad(b'"DISCHARGED"', RejectCode.NOT_OBJECT, ("JSON object", "string")),
    "json-number": Bad(b"42", RejectCode.NOT_OBJECT, ("JSON object", "number")),
    "json-null": Bad(b"null", RejectCode.NOT_OBJECT, ("JSON object", "null")),
    "json-true": Bad(b"true", RejectCode.NOT_OBJECT, ("JSON object", "boolean")),
    "truncated": Bad(encode()[:-7], RejectCode.INVALID_JSON, ("invalid JSON", "end of data")),
    "trailing-garbage": Bad(
        encode() + b" }garbage", RejectCode.INVALID_JSON, ("invalid JSON", "after document")
    ),
    "two-documents": Bad(
        encode() + b"\n" + encode(), RejectCode.INVALID_JSON, ("invalid JSON", "after document")
    ),
    "nan-literal": Bad(
        encode()[:-1] + b', "x": NaN}', RejectCode.INVALID_JSON, ("invalid JSON", "column")
    ),
    "infinity-literal": Bad(
        encode()[:-1] + b', "x": Infinity}', RejectCode.INVALID_JSON, ("invalid JSON",)
    ),
    "1e999": Bad(
        encode()[:-1] + b', "x": 1e999}', RejectCode.INVALID_JSON, ("invalid JSON", "infinity")
    ),
    "deep-nesting-arrays": Bad(
        b"[" * 5000 + b"]" * 5000, RejectCode.TOO_DEEP, ("nested too deeply",)
    ),
    "deep-nesting-objects": Bad(
        b'{"a":' * 5000 + b"1" + b"}" * 5000, RejectCode.TOO_DEEP, ("nested too deeply",)
    ),
    "10MB-text": Bad(
        lambda: encode(reason="x" * 10_000_000),
        RejectCode.TOO_LARGE,
        ("10,000,", "bytes", f"limit is {MAX_EVENT_BYTES:,}"),
    ),
    "missing-type": Bad(
        encode(type=DROP),
        RejectCode.MISSING_TYPE,
        ("'type'", "missing", "DISCHARGED"),
        field="type",
    ),
    "unknown-type": Bad(
        encode(type="TELEPORTED"),
        RejectCode.UNKNOWN_TYPE,
        ("'type'", "unknown event type 'TELEPORTED'", "GATE_OUT"),
        field="type",
    ),
    "lower-case-type": Bad(
        encode(type="discharged"),
        RejectCode.UNKNOWN_TYPE,
        ("'type'", "'discharged'"),
        field="type",
    ),
    "type-not-a-string": Bad(
        encode(type=["DISCHARGED"]),
        RejectCode.UNKNOWN_TYPE,
        ("'type'", "must be a string", "array"),
        field="type",
    ),
    "missing-event-id": Bad(
        encode(event_id=DROP),
        RejectCode.MISSING_FIELD,
        ("DISCHARGED", "'event_id'", "missing"),
        field="event_id",
    ),
    "empty-event-id": Bad(
        encode(event_id=""),
        RejectCode.INVALID_FIELD,
        ("'event_id'", "at least 1 character"),
        field="event_id",
    ),
    "event-id-65-chars": Bad(
        encode(event_id="e" * 65),
        RejectCode.INVALID_FIELD,
        ("'event_id'", "at most 64 characters"),
        field="event_id",
    ),
    "event-id-number": Bad(
        encode(event_id=1234),
        RejectCode.INVALID_FIELD,
        ("'event_id'", "valid string"),
        field="event_id",
    ),
    "missing-occurred-at": Bad(
        encode(occurred_at=DROP),
        RejectCode.MISSING_FIELD,
        ("'occurred_at'", "missing"),
        field="occurred_at",
    ),
    "naive-timestamp": Bad(
        encode(occurred_at="2024-03-01T08:15:30"),
        RejectCode.INVALID_FIELD,
        ("'occurred_at'", "no UTC offset", "+07:00"),
        field="occurred_at",
    ),
    "epoch-number-timestamp": Bad(
        encode(occurred_at=1709255730),
        RejectCode.INVALID_FIELD,
        ("'occurred_at'", "RFC 3339", "offset"),
        field="occurred_at",
    ),
    "date-only-timestamp": Bad(
        encode(occurred_at="2024-03-01"),
        RejectCode.INVALID_FIELD,
        ("'occurred_at'", "date-time"),
        field="occurred_at",
    ),
    "not-a-timestamp": Bad(
        encode(occurred_at="yesterday"),
        RejectCode.INVALID_FIELD,
        ("'occurred_at'", "'yesterday'", "RFC 3339"),
        field="occurred_at",
    ),
    "year-1969": Bad(
        encode(occurred_at="1969-12-31T23:59:59Z"),
        RejectCode.INVALID_FIELD,
        ("'occurred_at'", "1969-12-31", "outside the accepted range 2000..2099"),
        field="occurred_at",
    ),
    "year-9999": Bad(
        encode(occurred_at="9999-12-31T23:59:59+07:00"),
        RejectCode.INVALID_FIELD,
        ("'occurred_at'", "9999-12-31", "outside the accepted range"),
        field="occurred_at",
    ),
    "eta-year-9999": Bad(
        encode("EXPECTED", eta="9999-12-31T00:00:00Z"),
        RejectCode.INVALID_FIELD,
        ("'eta'", "outside the accepted range"),
        field="eta",
    ),
    "missing-site": Bad(
        encode(site=DROP), RejectCode.MISSING_FIELD, ("'site'", "missing"), field="site"
    ),
    "site-upper-case": Bad(
        encode(site="Cai-Lan"), RejectCode.INVALID_FIELD, ("'site'", "pattern"), field="site"
    ),
    "site-underscore": Bad(
        encode(site="cai_lan"), RejectCode.INVALID_FIELD, ("'site'", "pattern"), field="site"
    ),
    "site-33-chars": Bad(
        encode(site="c" * 33), RejectCode.INVALID_FIELD, ("'site'", "{0,31}"), field="site"
    ),
    "site-leading-dash": Bad(
        encode(site="-cai-lan"), RejectCode.INVALID_FIELD, ("'site'", "pattern"), field="site"
    ),
    "wrong-check-digit": Bad(
        encode(container_no="CSQU3054384"),
        RejectCode.INVALID_FIELD,
        ("'container_no'", "'CSQU3054384'", "check digit", "should be 3"),
        field="container_no",
    ),
    "wrong-category-letter": Bad(
        encode(container_no=container_no("CSQX305438")),
        RejectCode.INVALID_FIELD,
        ("'container_no'", "category U/J/Z/R"),
        field="container_no",
    ),
    "container-no-too-short": Bad(
        encode(container_no="CSQU305438"),
        RejectCode.INVALID_FIELD,
        ("'container_no'", "'CSQU305438'", "11 characters"),
        field="container_no",
    ),
    "container-no-not-a-string": Bad(
        encode(container_no=3054383),
        RejectCode.INVALID_FIELD,
        ("'container_no'", "must be a string"),
        field="container_no",
    ),
    "missing-container-no": Bad(
        encode(container_no=DROP),
        RejectCode.MISSING_FIELD,
        ("'container_no'", "missing"),
        field="container_no",
    ),
    "discharged-export": Bad(
        encode(direction="export"),
        RejectCode.INVALID_FIELD,
        ("DISCHARGED", "'direction'", "'import'"),
        field="direction",
    ),
    "gate-out-without-gate": Bad(
        encode("GATE_OUT", gate=DROP),
        RejectCode.MISSING_FIELD,
        ("GATE_OUT", "'gate'", "missing"),
        field="gate",
    ),
    "scanned-result-maybe": Bad(
        encode("SCANNED", result="MAYBE"),
        RejectCode.INVALID_FIELD,
        ("'result'", "'CLEAR'", "'INCONCLUSIVE'"),
        field="result",
    ),
    "channel-blue": Bad(
        encode("CHANNEL_ASSIGNED", channel="blue"),
        RejectCode.INVALID_FIELD,
        ("'channel'", "'green'", "'red'"),
        field="channel",
    ),
    "eligible-without-basis": Bad(
        encode("ELIGIBLE", basis=DROP),
        RejectCode.MISSING_FIELD,
        ("ELIGIBLE", "'basis'", "missing"),
        field="basis",
    ),
    "customs-0-containers": Bad(
        encode("ELIGIBLE", containers=[]),
        RejectCode.INVALID_FIELD,
        ("'containers'", "at least 1 item"),
        field="containers",
    ),
    "customs-501-containers": Bad(
        encode("ELIGIBLE", containers=_TOO_MANY[:501]),
        RejectCode.INVALID_FIELD,
        ("'containers'", "at most 500 items", "501"),
        field="containers",
    ),
    "customs-10000-containers": Bad(
        lambda: encode("SCAN_SELECTED", containers=_TOO_MANY),
        RejectCode.INVALID_FIELD,
        ("'containers'", "at most 500 items", "10000"),
        field="containers",
    ),
    "customs-containers-not-a-list": Bad(
        encode("ELIGIBLE", containers=CN_A),
        RejectCode.INVALID_FIELD,
        ("'containers'", "valid list"),
        field="containers",
    ),
    "customs-entry-without-container-no": Bad(
        encode("ELIGIBLE", containers=[{"container_no": CN_A}, {"seal_no": "VN1"}]),
        RejectCode.MISSING_FIELD,
        ("'containers.1.container_no'", "missing"),
        field="containers.1.container_no",
    ),
    "customs-entry-bad-check-digit": Bad(
        encode("EXPECTED", containers=[{"container_no": "CSQU3054380"}]),
        RejectCode.INVALID_FIELD,
        ("'containers.0.container_no'", "check digit"),
        field="containers.0.container_no",
    ),
    "nul-in-gate": Bad(
        encode("GATE_IN", gate="G1\u0000"),
        RejectCode.INVALID_FIELD,
        ("gate", "control characters"),
        field="gate",
    ),
    "escape-sequence-in-reason": Bad(
        encode("DISCREPANCY", reason="\u001b[2J\u001b[31mcleared"),
        RejectCode.INVALID_FIELD,
        ("reason", "printable text on one line"),
        field="reason",
    ),
    "newline-in-event-id": Bad(
        encode("GATE_IN", event_id="a\nb"),
        RejectCode.INVALID_FIELD,
        ("event_id", "control characters"),
        field="event_id",
    ),
    "nul-and-escape-in-a-field-the-event-passes-through": Bad(
        encode("DISCHARGED", gate="G1\u0000\u001b[31m"),  # gate is not a DISCHARGED field
        RejectCode.INVALID_FIELD,
        ("DISCHARGED", "'gate'", "control characters", "unknown fields too"),
        field="gate",
    ),
    "escape-deep-in-an-unknown-field": Bad(
        encode("SCANNED", operator={"notes": ["ok", "\u001b]0;pwned\u0007"]}),
        RejectCode.INVALID_FIELD,
        ("'operator.notes.1'", "control characters"),
        field="operator.notes.1",
    ),
    "newline-in-an-unknown-field-name": Bad(
        encode("ELIGIBLE", **{"remark\nForged: yes": "x"}),
        RejectCode.INVALID_FIELD,
        ("'remark\\u000aForged: yes'", "control characters"),
        field="remark\\u000aForged: yes",
    ),
    "escape-in-an-unknown-field-of-a-container-entry": Bad(
        encode("ELIGIBLE", containers=[{"container_no": CN_A, "note": "ok\u001b[2J"}]),
        RejectCode.INVALID_FIELD,
        ("ELIGIBLE", "'containers.0.note'", "control characters"),
        field="containers.0.note",
    ),
    "timestamp-without-seconds": Bad(
        encode("GATE_OUT", occurred_at="2024-03-01T08:15+07:00"),
        RejectCode.INVALID_FIELD,
        ("'occurred_at'", "not an RFC 3339 date-time"),
        field="occurred_at",
    ),
    "timestamp-offset-without-colon": Bad(
        encode("GATE_OUT", occurred_at="2024-03-01T08:15:30+0700"),
        RejectCode.INVALID_FIELD,
        ("'occurred_at'", "not an RFC 3339 date-time"),
        field="occurred_at",
    ),
    "missing-declaration-no": Bad(
        encode("RESUMED", declaration_no=DROP),
        RejectCode.MISSING_FIELD,
        ("'declaration_no'", "missing"),
        field="declaration_no",
    ),
    "discharged-on-scan-topic": Bad(
        encode(),
        RejectCode.WRONG_TOPIC,
        ("DISCHARGED", "vasscm.port-events", "not vasscm.scan-events"),
        topic="vasscm.scan-events",
        field="type",
    ),
    "eligible-on-port-topic": Bad(
        encode("ELIGIBLE"),
        RejectCode.WRONG_TOPIC,
        ("ELIGIBLE", "vasscm.customs-events", "not vasscm.port-events"),
        topic="vasscm.port-events",
        field="type",
    ),
}
