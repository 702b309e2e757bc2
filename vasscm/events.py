"""The wire contract in code: input events, per-container fan-out, output records.

Every module imports the contract from here, and ``topics/`` is generated from it
(``vasscm topics export``). Section numbers refer to ``shared/spec/contract.md``.

:func:`parse_event` is the single entry point for untrusted bytes: it returns an
event or a :class:`Rejection` and never raises.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Final, Literal, TypeAlias, Union

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import CoreSchema, core_schema
from stdnum import imo, iso6346
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidFormat,
    InvalidLength,
)
from stdnum.exceptions import (
    ValidationError as StdnumError,
)

from vasscm.durations import format_ts
from vasscm.limits import EARLIEST, LATEST, MAX_EVENT_BYTES, SITE_PATTERN

__all__ = [
    "ARRIVAL_TYPES",
    "CONTRACT_VERSION",
    "CUSTOMS_TYPES",
    "EARLIEST",
    "EXIT_TYPES",
    "INPUT_TOPICS",
    "LATEST",
    "MAX_EVENT_BYTES",
    "PORT_TYPES",
    "SCAN_TYPES",
    "SITE_PATTERN",
    "TOPIC_OF_TYPE",
    "VESSEL_MODELS",
    "VESSEL_TYPES",
    "WAITING_ON",
    "Alert",
    "AlertKind",
    "AlertStatus",
    "Basis",
    "ChannelAssigned",
    "ClearanceRecord",
    "ContainerEvent",
    "ContainerRef",
    "CustomsEvent",
    "DeadLetter",
    "Direction",
    "Discharged",
    "Discrepancy",
    "EligibilityCancelled",
    "Eligible",
    "Event",
    "EventType",
    "Expected",
    "GateIn",
    "GateOut",
    "InputEvent",
    "Loaded",
    "Obligation",
    "PortEvent",
    "RejectCode",
    "Rejection",
    "Resumed",
    "ScanResult",
    "ScanSelected",
    "Scanned",
    "SealChanged",
    "Severity",
    "Stage",
    "StallCheck",
    "Suspended",
    "VesselArrived",
    "VesselDeparted",
    "VesselEvent",
    "VesselExpected",
    "VisitForecast",
    "VisitState",
    "WaitingOn",
    "container_of",
    "containers_named",
    "dead_letter",
    "dump_json",
    "fan_out",
    "format_ts",
    "iso6346_check_digit",
    "parse_container_no",
    "parse_event",
    "trimmed",
]

CONTRACT_VERSION: Final = "1"

# MAX_EVENT_BYTES, EARLIEST, LATEST and SITE_PATTERN are in vasscm.limits, format_ts in
# vasscm.durations: the settings and the report read them without the models.


class EventType(StrEnum):
    DISCHARGED = "DISCHARGED"
    GATE_IN = "GATE_IN"
    GATE_OUT = "GATE_OUT"
    LOADED = "LOADED"
    SEAL_CHANGED = "SEAL_CHANGED"
    DISCREPANCY = "DISCREPANCY"
    SCANNED = "SCANNED"
    EXPECTED = "EXPECTED"
    SCAN_SELECTED = "SCAN_SELECTED"
    CHANNEL_ASSIGNED = "CHANNEL_ASSIGNED"
    ELIGIBLE = "ELIGIBLE"
    SUSPENDED = "SUSPENDED"
    RESUMED = "RESUMED"
    ELIGIBILITY_CANCELLED = "ELIGIBILITY_CANCELLED"
    VESSEL_EXPECTED = "VESSEL_EXPECTED"
    VESSEL_ARRIVED = "VESSEL_ARRIVED"
    VESSEL_DEPARTED = "VESSEL_DEPARTED"


class Direction(StrEnum):
    IMPORT = "import"
    EXPORT = "export"


class Stage(StrEnum):
    """Stage of a visit (contract section 3); SUSPENDED and HELD overlay the others."""

    EXPECTED = "EXPECTED"
    AWAITING_SCAN = "AWAITING_SCAN"
    AWAITING_RELEASE = "AWAITING_RELEASE"
    RELEASED = "RELEASED"
    HELD = "HELD"
    SUSPENDED = "SUSPENDED"
    EXITED = "EXITED"


class AlertKind(StrEnum):
    EXIT_WITHOUT_RELEASE = "EXIT_WITHOUT_RELEASE"
    UNSCANNED_EXIT = "UNSCANNED_EXIT"
    SEAL_MISMATCH = "SEAL_MISMATCH"
    STALLED = "STALLED"
    LATE_REPORT = "LATE_REPORT"
    LATE_NOTICE = "LATE_NOTICE"  # contract 7.2: a customs notice short of its lead time


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


ScanResult: TypeAlias = Literal["CLEAR", "SUSPECT", "INCONCLUSIVE"]
Channel: TypeAlias = Literal["green", "yellow", "red"]
#: Contract 8.1: the party an open visit waits on, in the order it is judged.
WaitingOn: TypeAlias = Literal["declarant", "scan", "customs", "owner"]
WAITING_ON: Final[tuple[WaitingOn, ...]] = ("declarant", "scan", "customs", "owner")
Basis: TypeAlias = Literal["cleared", "released", "storage"]

PORT_TYPES: Final = frozenset(
    {"DISCHARGED", "GATE_IN", "GATE_OUT", "LOADED", "SEAL_CHANGED", "DISCREPANCY"}
)
SCAN_TYPES: Final = frozenset({"SCANNED"})
CUSTOMS_TYPES: Final = frozenset(
    {
        "EXPECTED",
        "SCAN_SELECTED",
        "CHANNEL_ASSIGNED",
        "ELIGIBLE",
        "SUSPENDED",
        "RESUMED",
        "ELIGIBILITY_CANCELLED",
    }
)
#: Contract 7.2: a vessel call's estimated arrival, arrival and departure.
VESSEL_TYPES: Final = frozenset({"VESSEL_EXPECTED", "VESSEL_ARRIVED", "VESSEL_DEPARTED"})
ARRIVAL_TYPES: Final = frozenset({"DISCHARGED", "GATE_IN"})
EXIT_TYPES: Final = frozenset({"GATE_OUT", "LOADED"})

INPUT_TOPICS: Final = {
    "vasscm.port-events": PORT_TYPES,
    "vasscm.scan-events": SCAN_TYPES,
    "vasscm.customs-events": CUSTOMS_TYPES,
    "vasscm.vessel-events": VESSEL_TYPES,
}
TOPIC_OF_TYPE: Final = {t: topic for topic, types in INPUT_TOPICS.items() for t in types}


# --- field types ----------------------------------------------------------------------


_RFC3339: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?", re.ASCII
)
_EXAMPLE_TS: Final = "e.g. 2018-03-01T08:00:00+07:00"


def _timestamp_text(value: Any) -> Any:
    # pydantic alone would take a number, or a numeric string, as seconds since the
    # epoch, and a date as midnight: the contract says RFC 3339 date-time text.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"must be an RFC 3339 timestamp string with an offset, {_EXAMPLE_TS}")
    if not _RFC3339.fullmatch(value):
        raise ValueError(
            f"{value[:40]!r} is not an RFC 3339 date-time with an offset, {_EXAMPLE_TS}"
        )
    return value


def _timestamp_range(value: datetime) -> datetime:
    # The core counts in milliseconds; dropping finer digits here keeps a value
    # equal to itself after a trip through the outputs or the repartition topic.
    micro = value.microsecond
    if micro % 1000:
        value = value.replace(microsecond=micro - micro % 1000)
    if not EARLIEST <= value < LATEST:
        raise ValueError(
            f"timestamp {value.isoformat()} is outside the accepted range "
            f"{EARLIEST.year}..{LATEST.year - 1}"
        )
    return value


class _TimestampRules:
    """The contract's timestamp rules in pydantic-core alone (no Python call per value).

    A datetime object, or RFC 3339 date-time text (the regex above, checked in Rust)
    read by pydantic's own parser; aware; within EARLIEST..LATEST. Any failure is one
    ``timestamp`` error, worded by :func:`timestamp_error` with the checks below, so
    the messages stay what they were when the checks ran in Python on every value.
    Finer digits than milliseconds are kept on input; the core counts in whole
    milliseconds and the outputs write them (:func:`format_ts`).
    """

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> CoreSchema:
        bounds = {"tz_constraint": "aware", "ge": EARLIEST, "lt": LATEST}
        text = core_schema.chain_schema(
            [
                core_schema.str_schema(pattern=f"^(?:{_RFC3339.pattern})$"),
                core_schema.datetime_schema(**bounds),  # type: ignore[arg-type]
            ]
        )
        return core_schema.custom_error_schema(
            core_schema.json_or_python_schema(
                # From JSON bytes only text (a strict datetime would take any form
                # pydantic's parser reads, "2018-01-01T00:00Z" among them).
                json_schema=text,
                python_schema=core_schema.union_schema(
                    [core_schema.datetime_schema(strict=True, **bounds), text],  # type: ignore[arg-type]
                    mode="left_to_right",
                ),
            ),
            custom_error_type="timestamp",
            custom_error_message="invalid RFC 3339 timestamp",
        )


_CheckedTimestamp: TypeAlias = Annotated[
    AwareDatetime, BeforeValidator(_timestamp_text), AfterValidator(_timestamp_range)
]
_TIMESTAMP_CHECK: Final[TypeAdapter[datetime]] = TypeAdapter(_CheckedTimestamp)


def timestamp_error(value: Any) -> tuple[str, str]:
    """The (error type, message) the checks above give for a refused timestamp."""
    try:
        _TIMESTAMP_CHECK.validate_python(value)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        return err["type"], err["msg"]
    return "timestamp", "invalid RFC 3339 timestamp"  # not reached: the rules agree


Timestamp: TypeAlias = Annotated[
    datetime,
    _TimestampRules,
    PlainSerializer(format_ts, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="validation"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


def parse_container_no(value: Any) -> str:
    """Validate an ISO 6346 container number with python-stdnum; return it upper-cased."""
    if not isinstance(value, str):
        raise ValueError("must be a string like CSQU3054383")
    return _container_no(value)


_ISO6346: Final = re.compile(r"[A-Z]{3}[UJZR][0-9]{7}", re.ASCII)
# ISO 6346's letter values (multiples of 11 skipped), as python-stdnum spells them.
_ISO6346_VALUE: Final = {
    c: i for i, c in enumerate("0123456789A BCDEFGHIJK LMNOPQRSTU VWXYZ") if c != " "
}
# The weighted sum (character value times 2 ** position) in three parts: the owner
# code and category (positions 0-3, by code, filled as codes are met: at most 26 ** 3
# * 4 of them), and each half of the serial (positions 4-6 and 7-9, all 1,000 of each
# made here).
_OWNER_SUM: Final[dict[str, int]] = {}
_SERIAL_SUMS: Final = tuple(
    {f"{n:03d}": sum(int(d) << (start + i) for i, d in enumerate(f"{n:03d}")) for n in range(1000)}
    for start in (4, 7)
)


def iso6346_check_digit(prefix: str) -> str:
    """The check digit of a canonical 10-character owner code and serial (as matched by
    ``_ISO6346``): what ``stdnum.iso6346.calc_check_digit`` gives, from tables (met on
    nearly every event of a long log, whose containers outnumber any cache)."""
    owner = prefix[:4]
    head = _OWNER_SUM.get(owner)
    if head is None:
        head = _OWNER_SUM[owner] = sum(_ISO6346_VALUE[c] << i for i, c in enumerate(owner))
    high, low = _SERIAL_SUMS
    return str((head + high[prefix[4:7]] + low[prefix[7:10]]) % 11 % 10)


@lru_cache(maxsize=1 << 16)  # a container's number recurs in every event of its visit
def _container_no(value: str) -> str:
    if _ISO6346.fullmatch(value) and iso6346_check_digit(value[:10]) == value[10]:
        return value  # already in canonical form (nearly every event): what validate gives
    compact = iso6346.compact(value)
    if len(compact) == 11 and not _ISO6346.fullmatch(compact):
        raise ValueError(
            f"{value!r} is not ISO 6346: 3-letter owner code, category U/J/Z/R, "
            "6 digits, check digit"
        )
    try:
        return str(iso6346.validate(value))
    except InvalidChecksum:
        compact = iso6346.compact(value)
        expected = iso6346.calc_check_digit(compact[:-1])
        raise ValueError(
            f"{value!r} has a wrong ISO 6346 check digit (last digit should be {expected})"
        ) from None
    except InvalidLength:
        raise ValueError(
            f"{value!r} must be 11 characters: owner code, category, 6 digits, check digit"
        ) from None
    except InvalidFormat:
        raise ValueError(
            f"{value!r} is not ISO 6346: 3-letter owner code, category U/J/Z/R, "
            "6 digits, check digit"
        ) from None
    except StdnumError as exc:  # any future stdnum error class
        raise ValueError(f"{value!r} is not a valid ISO 6346 number: {exc}") from None


ContainerNo: TypeAlias = Annotated[
    str,
    BeforeValidator(parse_container_no),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[A-Za-z]{3}[UJZRujzr] ?[0-9]{6} ?[0-9]$",
            "description": "ISO 6346 container number (owner code, category U/J/Z/R, "
            "6 digits, check digit); upper-cased on input, a wrong check digit is rejected",
            "examples": ["CSQU3054383"],
        },
        mode="validation",
    ),
]
Site: TypeAlias = Annotated[str, Field(pattern=SITE_PATTERN)]
# Free text is one line of printable characters: no control characters (NUL, escape
# sequences, newlines), which have no business in an identifier or a gate name and
# would reach logs and screens.
_CC: Final = r"\u0000-\u001f\u007f-\u009f"  # Unicode's control characters (Cc)
_PRINTABLE: Final = rf"^[^{_CC}]*[^{_CC}\s][^{_CC}]*$"  # Rust, Python and ECMA regex alike
EventId: TypeAlias = Annotated[str, Field(min_length=1, max_length=64, pattern=_PRINTABLE)]
ShortText: TypeAlias = Annotated[str, Field(min_length=1, max_length=256, pattern=_PRINTABLE)]
#: Contract 7.2: a vessel call (one arrival, one departure at one site).
Voyage: TypeAlias = Annotated[str, Field(min_length=1, max_length=64, pattern=_PRINTABLE)]
_IMO_LIKE: Final = re.compile(r"(?:IMO ?)?[0-9]{7}", re.IGNORECASE)


def _vessel(value: str) -> str:
    """An IMO number (its check digit checked, written as its 7 digits) or a name."""
    if not _IMO_LIKE.fullmatch(value):
        return value
    number = imo.compact(value)
    if not imo.is_valid(number):
        raise ValueError(
            f"{value!r} reads as an IMO number and its check digit is wrong "
            f"(last digit should be {imo.calc_check_digit(number[:6])}); a vessel without "
            "an IMO number is named by its name"
        )
    return str(number)


Vessel: TypeAlias = Annotated[
    ShortText,
    AfterValidator(_vessel),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": 256,
            "description": "the vessel's IMO number (7 digits, check digit checked; an "
            "'IMO' prefix is dropped) or, failing that, its name",
            "examples": ["9074729", "HAI PHONG 08"],
        },
        mode="validation",
    ),
]


# --- input events (contract sections 1 and 2) ---------------------------------------


class _Envelope(BaseModel):
    """Fields of every input event (contract section 1). Unknown fields are kept."""

    model_config = ConfigDict(extra="allow", frozen=True, str_strip_whitespace=False)

    event_id: EventId
    occurred_at: Timestamp
    site: Site
    source: ShortText | None = None
    # Stamped by the processor (Kafka record timestamp) or carried by a recorded log
    # line; the live processor overwrites whatever a producer puts here.
    received_at: Timestamp | None = Field(
        default=None,
        description="set by the processor from the Kafka record timestamp; a producer's "
        "value is ignored on the live topics (recorded logs for replay may carry it)",
    )


class _ContainerLevel(_Envelope):
    container_no: ContainerNo


class Discharged(_ContainerLevel):
    """Form 14: an import container landed in the port yard (arrival)."""

    type: Literal["DISCHARGED"]
    direction: Literal["import"]
    seal_no: ShortText | None = None
    vessel: ShortText | None = None
    voyage: Voyage | None = None  # contract 7.2: the vessel call that brought it


class GateIn(_ContainerLevel):
    """Form 14: a container entered the port or control area by road (arrival).

    The contract names ``export``; a land border gate also takes imports in by road,
    so ``import`` is accepted as an extension.
    """

    type: Literal["GATE_IN"]
    direction: Direction
    gate: ShortText
    seal_no: ShortText | None = None
    vehicle_plate: ShortText | None = None


class GateOut(_ContainerLevel):
    """Form 21: the container left the supervision area by road (exit)."""

    type: Literal["GATE_OUT"]
    gate: ShortText
    seal_no: ShortText | None = None
    vehicle_plate: ShortText | None = None


class Loaded(_ContainerLevel):
    """Form 21: the container was loaded on a vessel or barge (export exit)."""

    type: Literal["LOADED"]
    vessel: ShortText | None = None
    seal_no: ShortText | None = None
    voyage: Voyage | None = None  # contract 7.2: its departure starts the reporting clock


class SealChanged(_ContainerLevel):
    """Form 24: a new seal number."""

    type: Literal["SEAL_CHANGED"]
    seal_no: ShortText


class Discrepancy(_ContainerLevel):
    """Form 18: number, seal or condition mismatch found by the port."""

    type: Literal["DISCREPANCY"]
    reason: ShortText


class Scanned(_ContainerLevel):
    """The container went through an NII scanner."""

    type: Literal["SCANNED"]
    scanner: ShortText
    result: ScanResult
    image_ref: ShortText | None = None


class ContainerRef(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    container_no: ContainerNo
    seal_no: ShortText | None = None


class _Customs(_Envelope):
    declaration_no: Annotated[str, Field(min_length=1, max_length=64, pattern=_PRINTABLE)]
    containers: Annotated[list[ContainerRef], Field(min_length=1, max_length=500)]


class Expected(_Customs):
    """Forms 01/02: containers announced before arrival."""

    type: Literal["EXPECTED"]
    direction: Direction
    eta: Timestamp | None = None


class ScanSelected(_Customs):
    """Form 03: containers selected for scanning."""

    type: Literal["SCAN_SELECTED"]


class ChannelAssigned(_Customs):
    """The declaration's risk channel."""

    type: Literal["CHANNEL_ASSIGNED"]
    channel: Channel


class Eligible(_Customs):
    """Forms 04/05: containers may pass the supervision area."""

    type: Literal["ELIGIBLE"]
    basis: Basis


class Suspended(_Customs):
    """Form 06: declaration suspended; containers may not pass."""

    type: Literal["SUSPENDED"]
    reason: ShortText | None = None


class Resumed(_Customs):
    """Form 06: suspension lifted."""

    type: Literal["RESUMED"]


class EligibilityCancelled(_Customs):
    """Forms 06/07: an earlier ELIGIBLE is withdrawn."""

    type: Literal["ELIGIBILITY_CANCELLED"]
    reason: ShortText | None = None


class _VesselLevel(_Envelope):
    vessel: Vessel
    voyage: Voyage


class VesselExpected(_VesselLevel):
    """A vessel call's estimated arrival (may be repeated: the latest received counts)."""

    type: Literal["VESSEL_EXPECTED"]
    eta: Timestamp


class VesselArrived(_VesselLevel):
    """The vessel berthed (its actual arrival): ``occurred_at``."""

    type: Literal["VESSEL_ARRIVED"]


class VesselDeparted(_VesselLevel):
    """The vessel sailed (its actual departure): ``occurred_at``. The reporting clock of
    every LOADED of its voyage starts here (Art. 52a)."""

    type: Literal["VESSEL_DEPARTED"]


VesselEvent: TypeAlias = VesselExpected | VesselArrived | VesselDeparted
VESSEL_MODELS: Final = (VesselExpected, VesselArrived, VesselDeparted)  # for isinstance
PortEvent: TypeAlias = Discharged | GateIn | GateOut | Loaded | SealChanged | Discrepancy
CustomsEvent: TypeAlias = (
    Expected
    | ScanSelected
    | ChannelAssigned
    | Eligible
    | Suspended
    | Resumed
    | EligibilityCancelled
)
#: What the tracker consumes: one container's event. A customs event qualifies once
#: :func:`fan_out` has narrowed its ``containers`` to the one container.
ContainerEvent: TypeAlias = PortEvent | Scanned | CustomsEvent
#: What an input topic carries: a container's event, a declaration, or a vessel call's.
InputEvent: TypeAlias = ContainerEvent | VesselEvent

_MODELS: Final[tuple[type[_Envelope], ...]] = (
    Discharged,
    GateIn,
    GateOut,
    Loaded,
    SealChanged,
    Discrepancy,
    Scanned,
    Expected,
    ScanSelected,
    ChannelAssigned,
    Eligible,
    Suspended,
    Resumed,
    EligibilityCancelled,
    VesselExpected,
    VesselArrived,
    VesselDeparted,
)
MODEL_OF_TYPE: Final = {m.model_fields["type"].annotation.__args__[0]: m for m in _MODELS}  # type: ignore[union-attr]


#: Any input event: a union told apart by ``type`` (in Rust, from JSON bytes too: the
#: parser's fast path, :func:`_parse_fast`).
Event = Annotated[Union[_MODELS], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007

EVENT_ADAPTER: Final[TypeAdapter[InputEvent]] = TypeAdapter(Event)


def container_of(event: ContainerEvent) -> str:
    """The container a one-container event is about (a fanned-out customs event's
    first and only entry)."""
    if isinstance(event, _Customs):
        return event.containers[0].container_no
    return event.container_no


def fan_out(event: ContainerEvent) -> list[tuple[str, ContainerEvent]]:
    """Split an event into ``(container_no, event)`` pairs, one per container.

    Port and scan events already name one container. A customs event becomes one copy
    per listed container, each with ``containers`` narrowed to that entry, so the
    copies are still valid contract events (the live repartition topic carries them)
    and keep the declaration's ``event_id`` (idempotency is per container).
    """
    if isinstance(event, _Customs):
        seen: dict[str, ContainerRef] = {}
        for ref in event.containers:
            seen.setdefault(ref.container_no, ref)  # a container listed twice counts once
        if len(event.containers) == 1:
            return [(event.containers[0].container_no, event)]
        return [(no, event.model_copy(update={"containers": [ref]})) for no, ref in seen.items()]
    return [(event.container_no, event)]


def containers_named(doc: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The containers a raw event (a JSON object, not yet parsed) names, as
    :func:`fan_out` gives them once it is parsed: upper-cased, each once, in order;
    None for a vessel call's event (it reaches every container naming its voyage).
    Raises (KeyError, TypeError, ValueError) where the parser would refuse the event.
    For routing a line before it is parsed (vasscm.shards); tested equal to fan_out."""
    kind = doc.get("type")
    if kind in VESSEL_TYPES:
        return None
    refs = doc.get("containers")
    if kind in CUSTOMS_TYPES and isinstance(refs, list):
        return tuple(dict.fromkeys(parse_container_no(ref["container_no"]) for ref in refs))
    return (parse_container_no(doc["container_no"]),)


# --- parsing untrusted bytes ---------------------------------------------------------


class RejectCode(StrEnum):
    """Bounded set of rejection reasons: safe as a metric label."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    TOO_DEEP = "too_deep"
    NOT_OBJECT = "not_object"
    MISSING_TYPE = "missing_type"
    UNKNOWN_TYPE = "unknown_type"
    WRONG_TOPIC = "wrong_topic"
    WRONG_KEY = "wrong_key"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    STALE = "stale"
    INTERNAL = "internal_error"
    FUTURE = "future"


class Rejection(BaseModel):
    """Why an input was refused, in words a person can act on."""

    model_config = ConfigDict(frozen=True)

    code: RejectCode
    reason: str
    field: str | None = None
    event_id: str | None = None
    type: str | None = None


_KNOWN_TYPES: Final = ", ".join(sorted(TOPIC_OF_TYPE))


def parse_event(
    raw: bytes | bytearray | memoryview | str,
    *,
    topic: str | None = None,
    max_bytes: int = MAX_EVENT_BYTES,
) -> InputEvent | Rejection:
    """Parse one input record. Returns the event or a :class:`Rejection`; never raises.

    ``topic`` (when known) must be the input topic the event type belongs to.
    """
    try:
        return _parse(raw, topic, max_bytes)
    except Exception as exc:  # the promise is "never raises": a bug becomes a rejection
        return Rejection(
            code=RejectCode.INVALID_FIELD,
            reason=f"could not be parsed: {type(exc).__name__}: {exc}"[:500],
        )


def _parse(
    raw: bytes | bytearray | memoryview | str, topic: str | None, max_bytes: int
) -> InputEvent | Rejection:
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    if not data or data.isspace():
        return Rejection(code=RejectCode.EMPTY, reason="empty record: expected one JSON object")
    if len(data) > max_bytes:
        return Rejection(
            code=RejectCode.TOO_LARGE,
            reason=f"record is {len(data):,} bytes; the limit is {max_bytes:,}",
        )
    fast = _parse_fast(data, topic)
    if fast is not None:
        return fast
    try:
        doc = orjson.loads(data)  # refuses invalid UTF-8 too: told apart below
    except orjson.JSONDecodeError as exc:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            return Rejection(
                code=RejectCode.INVALID_UTF8,
                reason=f"not UTF-8: byte 0x{data[bad.start]:02x} at offset {bad.start} "
                f"({bad.reason})",
            )
        if "depth" in str(exc) or "recursion" in str(exc):
            return Rejection(code=RejectCode.TOO_DEEP, reason=f"JSON nested too deeply: {exc}")
        return Rejection(code=RejectCode.INVALID_JSON, reason=f"invalid JSON: {exc}")
    return _parse_document(doc, topic)


def _parse_fast(data: bytes, topic: str | None) -> InputEvent | None:
    """The event, read and checked in one pass in pydantic-core; None when the slow
    path must decide (and word the error): anything refused, anything carrying
    unknown fields (their check is in Python, and JSON parsers differ at the edges
    of what they take: big numbers, NaN), an event on the wrong topic."""
    try:
        event = EVENT_ADAPTER.validate_json(data)
    except ValidationError:
        return None
    if event.__pydantic_extra__:
        return None
    if isinstance(event, _Customs) and any(ref.__pydantic_extra__ for ref in event.containers):
        return None
    if topic is not None and topic in INPUT_TOPICS and TOPIC_OF_TYPE[event.type] != topic:
        return None
    return event


def _parse_document(doc: Any, topic: str | None) -> InputEvent | Rejection:
    if not isinstance(doc, dict):
        return Rejection(
            code=RejectCode.NOT_OBJECT,
            reason=f"expected a JSON object, got a JSON {_json_kind(doc)}",
        )
    event_id = doc.get("event_id") if isinstance(doc.get("event_id"), str) else None
    kind = doc.get("type")
    if kind is None:
        return Rejection(
            code=RejectCode.MISSING_TYPE,
            field="type",
            event_id=event_id,
            reason=f"field 'type' is missing; expected one of {_KNOWN_TYPES}",
        )
    if not isinstance(kind, str):
        return Rejection(
            code=RejectCode.UNKNOWN_TYPE,
            field="type",
            event_id=event_id,
            reason=f"field 'type' must be a string naming the event type, got a JSON "
            f"{_json_kind(kind)}; expected one of {_KNOWN_TYPES}",
        )
    if kind not in TOPIC_OF_TYPE:
        return Rejection(
            code=RejectCode.UNKNOWN_TYPE,
            field="type",
            event_id=event_id,
            type=str(kind)[:64],
            reason=f"field 'type': unknown event type {str(kind)[:64]!r}; "
            f"expected one of {_KNOWN_TYPES}",
        )
    if topic is not None and topic in INPUT_TOPICS and TOPIC_OF_TYPE[kind] != topic:
        return Rejection(
            code=RejectCode.WRONG_TOPIC,
            field="type",
            event_id=event_id,
            type=kind,
            reason=f"{kind} belongs on topic {TOPIC_OF_TYPE[kind]}, not {topic}",
        )
    try:
        event: InputEvent = MODEL_OF_TYPE[kind].model_validate(doc)  # type: ignore[assignment]
    except ValidationError as exc:
        return _rejection_from(exc, kind, event_id)
    where = _unknown_text_fault(event)
    if where is not None:
        return Rejection(
            code=RejectCode.INVALID_FIELD,
            field=where,
            event_id=event_id,
            type=kind,
            reason=f"{kind}: field '{where}': must be text without control characters "
            "(NUL, ESC, newlines and the like are refused, in unknown fields too)",
        )
    return event


_CONTROL: Final = re.compile(f"[{_CC}]")


def _unknown_text_fault(event: InputEvent) -> str | None:
    """The path of the first unknown field, of the event or of one of its container
    entries, that holds a control character; None when there is none."""
    extra = event.__pydantic_extra__
    where = _control_characters_in(extra) if extra else None
    if where is None and isinstance(event, _Customs):
        for i, ref in enumerate(event.containers):
            found = _control_characters_in(ref.__pydantic_extra__ or {})
            if found is not None:
                return f"containers.{i}.{found}"
    return where


def _control_characters_in(extra: dict[str, Any]) -> str | None:
    """The path of the first unknown field holding a control character (in a key or a
    string, however deep): the fields an event passes through reach logs and screens
    as much as the ones it declares."""
    stack: list[tuple[str, str, Any]] = [("", k, v) for k, v in reversed(extra.items())]
    while stack:
        parent, key, value = stack.pop()
        path = f"{parent}{_escaped(key)}"
        if _CONTROL.search(key) or (isinstance(value, str) and _CONTROL.search(value)):
            return path
        if isinstance(value, dict):
            stack.extend((f"{path}.", k, v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{path}.", str(i), v) for i, v in reversed(list(enumerate(value))))
    return None


def _escaped(text: str) -> str:
    """``text`` with its control characters written as escapes, fit for a reason."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)[:64]


def _json_kind(doc: object) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(doc), "number"
    )


def _rejection_from(exc: ValidationError, kind: str, event_id: str | None) -> Rejection:
    errors = exc.errors(include_url=False)
    for err in errors:
        if err["type"] == "timestamp":  # worded as the Python checks word it
            err["type"], err["msg"] = timestamp_error(err.get("input"))
    first = errors[0]
    field = ".".join(str(p) for p in first["loc"]) or None
    missing = [e for e in errors if e["type"] == "missing"]
    code = RejectCode.MISSING_FIELD if missing and first in missing else RejectCode.INVALID_FIELD
    parts = []
    for err in errors[:3]:
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "timezone_aware":  # not reached for text: the regex sees it first
            msg = "timestamp has no UTC offset (naive timestamps are rejected); add Z or +07:00"
        elif err["type"] == "string_pattern_mismatch" and _PRINTABLE in msg:
            msg = (
                "must be printable text on one line, with a visible character "
                "(control characters such as NUL, ESC or newlines are refused)"
            )
        parts.append(f"field '{loc}': {msg}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return Rejection(
        code=code,
        field=field,
        event_id=event_id,
        type=kind,
        reason=f"{kind}: " + "; ".join(parts) + more,
    )


# --- outputs (contract sections 4 and 5) ------------------------------------------


class _Output(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Obligation(_Output):
    """A report or notice that was due for a visit, and when it came (contract 7.2)."""

    form: Literal["GATE_OUT", "LOADED", "EXPECTED", "SCAN_SELECTED"]
    party: Literal["port", "customs"]
    reference_at: Timestamp = Field(
        description="what the deadline runs from: the exit or the vessel's departure (a "
        "report), or the vessel's estimated arrival or the discharge (a notice)"
    )
    received_at: Timestamp
    due_at: Timestamp
    on_time: bool


class ClearanceRecord(_Output):
    """One completed visit (``vasscm.clearances``), re-emitted with ``revision`` + 1
    when a late event changes it."""

    container_no: str
    site: str
    direction: Direction | Literal["unknown"]
    visit_id: str
    declaration_nos: list[str]
    channel: Channel | Literal["unknown"]
    arrived_at: Timestamp | None
    eligible_at: Timestamp | None
    exited_at: Timestamp
    segments: dict[
        Literal["release", "exit", "dwell", "scan_wait", "lodgement", "customs"], float
    ] = Field(
        description="seconds per segment (contract 3; lodgement and customs: 8.1, "
        "lodgement + customs = release); a segment that did not happen is absent"
    )
    pre_cleared: bool
    pre_lodged: bool = Field(
        default=False,
        description="contract 8.1: every deciding declaration had its channel by the arrival",
    )
    scanned: bool
    scan_result: ScanResult | None
    alerts: list[AlertKind]
    obligations: list[Obligation] = Field(
        default_factory=list,
        description="contract 7.2: the exit's report and customs' notices that were due, "
        "as far as known (a LOADED whose vessel's departure is not known is not judged)",
    )
    revision: int = Field(ge=1)
    supersedes: list[str] = Field(
        default_factory=list,
        description="visit ids this visit was published under before its arrival was known",
    )


class Alert(_Output):
    """An alert raised or resolved on a visit (``vasscm.alerts``)."""

    alert_id: str
    kind: AlertKind
    severity: Severity
    status: AlertStatus
    container_no: str
    site: str
    direction: Direction | Literal["unknown"]
    stage: Stage
    since: Timestamp
    detected_at: Timestamp
    detail: str
    visit_id: str


class VisitForecast(_Output):
    """Contract 8.2: when an open visit will be released and will leave."""

    release_p50: Timestamp | None = Field(
        description="released by then with probability 0.5; null once released, or "
        "beyond what the window has seen"
    )
    release_p90: Timestamp | None
    exit_p50: Timestamp | None
    exit_p90: Timestamp | None
    basis: int = Field(ge=0, description="completed visits the forecast rests on")
    as_of: Timestamp = Field(description="the processor clock the forecast was made at")


class VisitState(_Output):
    """The current visit of a container (``vasscm.container-state``, replay's state.jsonl)."""

    container_no: str
    visit_id: str
    site: str
    direction: Direction | Literal["unknown"]
    stage: Stage
    stage_since: Timestamp
    arrived_at: Timestamp | None
    eligible_at: Timestamp | None
    exited_at: Timestamp | None
    declaration_nos: list[str]
    channel: Channel | Literal["unknown"]
    selected_for_scan: bool
    scanned: bool
    seal_no: str | None
    alerts_firing: list[str]
    events: int
    # Added for the customs milestones published as DCSA events (vasscm.dcsa.milestones);
    # absent from a view written before them.
    selected_at: Timestamp | None = Field(
        default=None, description="when customs selected the container for scanning (form 03)"
    )
    channel_at: Timestamp | None = Field(
        default=None, description="when the channel in force was assigned"
    )
    exit_type: Literal["GATE_OUT", "LOADED"] | None = Field(
        default=None, description="how the visit ended, once it has"
    )
    waiting_on: WaitingOn | None = Field(
        default=None,
        description="contract 8.1: the party an open visit waits on now; null before "
        "arrival and once exited",
    )
    forecast: VisitForecast | None = Field(
        default=None,
        description="contract 8.2: when it will be released and leave; null before "
        "arrival, once exited, or with nothing learned (replay's state.jsonl has it)",
    )


class StallCheck(_Output):
    """A tick asking the tracker to judge one container's deadlines (internal topic)."""

    requested_at: Timestamp


class DeadLetter(_Output):
    """A rejected input (``vasscm.dead-letter``, replay's rejected.jsonl)."""

    reason: str
    code: RejectCode
    field: str | None = None
    event_id: str | None = None
    type: str | None = None
    raw: str
    raw_encoding: Literal["utf-8", "base64"]
    raw_size: int
    raw_truncated: bool
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    line: int | None = None
    received_at: Timestamp | None = None


#: A dead letter keeps at most this much of the raw record, so a 10 MB poison pill
#: does not become a 10 MB dead letter (the size is recorded beside it).
DEAD_LETTER_RAW_LIMIT: Final = 64 * 1024


def dead_letter(
    raw: bytes | str,
    rejection: Rejection,
    *,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    line: int | None = None,
    received_at: datetime | None = None,
    size: int | None = None,
) -> DeadLetter:
    """The dead-letter record of a rejected input. ``size`` is the original size when
    ``raw`` is already only the head of a record too large to hold."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    size = len(data) if size is None else size
    kept = data[:DEAD_LETTER_RAW_LIMIT]
    try:
        text, encoding = kept.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if len(kept) < len(data) and exc.start >= len(kept) - 3 and exc.end == len(kept):
            # the cut split a multi-byte character (Vietnamese text): keep it as text
            text, encoding = kept[: exc.start].decode("utf-8", "replace"), "utf-8"
        else:
            text, encoding = base64.b64encode(kept).decode("ascii"), "base64"
    return DeadLetter(
        reason=rejection.reason,
        code=rejection.code,
        field=rejection.field,
        event_id=rejection.event_id,
        type=rejection.type,
        raw=text,
        raw_encoding=encoding,
        raw_size=size,
        raw_truncated=len(kept) < size,
        topic=topic,
        partition=partition,
        offset=offset,
        line=line,
        received_at=received_at,
    )


def dump_json(model: BaseModel, *, exclude_none: bool = False) -> bytes:
    """One compact JSON document for a model (timestamps in UTC, ``Z``), exact-size
    (see :func:`trimmed`): outputs wait in the outbox, a backlog's worth of them."""
    return trimmed(orjson.dumps(model.model_dump(mode="json", exclude_none=exclude_none)))


def trimmed(data: bytes) -> bytes:
    """A copy of ``data`` in an allocation of its own size. An ``orjson.dumps`` result
    sits in one of several KB whatever its length (measured: 16 KB for a 319-byte
    document); held by the thousand, that slack is most of a process's memory."""
    return bytes(memoryview(data))
