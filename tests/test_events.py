"""Tests for ``vasscm.events``: the wire contract (sections 1, 2 and 5) and ``parse_event``.

``parse_event`` is the one door for untrusted bytes, so most of this file is about what it
refuses and how it says so: every rejection must carry a :class:`RejectCode` that is safe as a
metric label and a reason that names the field and what is wrong with it.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from factories import container_no
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from raw_events import (
    BAD,
    CN_A,
    CN_B,
    CN_C,
    CONTAINER_LEVEL,
    CUSTOMS,
    DROP,
    EVENT_MODELS,
    MODEL_OF,
    TOPIC_OF,
    VALID,
    VESSEL,
    Bad,
    encode,
    event_doc,
    parsed,
)
from stdnum import iso6346

from vasscm.events import (
    DEAD_LETTER_RAW_LIMIT,
    Alert,
    ClearanceRecord,
    DeadLetter,
    Discharged,
    EventType,
    RejectCode,
    Rejection,
    _parse_document,
    containers_named,
    dead_letter,
    dump_json,
    fan_out,
    iso6346_check_digit,
    parse_event,
)


@pytest.fixture
def make_event() -> Callable[..., bytes]:
    """Factory fixture: ``make_event("GATE_OUT", gate=DROP)`` -> encoded event."""
    return encode


# --- valid events: every type ----------------------------------------------------------


def test_every_event_type_has_an_example() -> None:
    """The examples here cover exactly the 14 types of contract section 2 and the 3 of
    section 7.2."""
    assert set(EventType) == set(VALID) == set(MODEL_OF)


@pytest.mark.parametrize("kind", list(VALID))
def test_valid_event_parses_to_its_model(kind: str, make_event: Callable[..., bytes]) -> None:
    """A valid example of each type parses, on its own topic, to that type's model."""
    event = parsed(make_event(kind), topic=TOPIC_OF[kind])

    assert MODEL_OF[kind] is type(event)
    assert kind == event.type  # type: ignore[attr-defined]
    assert VALID[kind]["site"] == event.site  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", list(VALID))
def test_round_trip(kind: str, make_event: Callable[..., bytes]) -> None:
    """``parse_event(dump_json(event))`` gives back an equal event (timestamps re-serialised
    in UTC compare equal as instants)."""
    event = parsed(make_event(kind))

    assert event == parsed(dump_json(event))
    assert event == parsed(dump_json(event, exclude_none=True))


@pytest.mark.parametrize("kind", list(VALID))
def test_unknown_fields_kept_through_round_trip(kind: str) -> None:
    """Unknown extra fields (any JSON value) are kept, never fatal, and survive a round trip."""
    extras = {
        "terminal": "CICT",
        "x_weight_kg": 24_500.5,
        "x_flags": [True, None, {"nested": ["ả", 1]}],
    }
    event = parsed(encode(kind, **extras))

    again = parsed(dump_json(event))

    assert extras == event.model_extra
    assert extras == again.model_extra
    assert extras.items() <= orjson.loads(dump_json(event)).items()


@pytest.mark.parametrize("kind", list(VALID))
def test_timestamps_reserialised_in_utc(kind: str) -> None:
    """``dump_json`` writes ``occurred_at`` in UTC with ``Z``, the same instant as the input."""
    event = parsed(encode(kind))

    written = orjson.loads(dump_json(event))["occurred_at"]

    assert written.endswith("Z")
    assert datetime.fromisoformat(VALID[kind]["occurred_at"]) == datetime.fromisoformat(written)


@pytest.mark.parametrize(
    "raw_type",
    [bytes, bytearray, memoryview, lambda b: b.decode("utf-8")],
    ids=["bytes", "bytearray", "memoryview", "str"],
)
def test_parse_accepts_every_raw_form(raw_type: Callable[[bytes], Any]) -> None:
    """bytes, bytearray, memoryview and str all parse to the same event."""
    expected = parsed(encode())

    assert expected == parsed(raw_type(encode()))


@pytest.mark.parametrize("kind", CONTAINER_LEVEL)
def test_container_no_upper_cased(kind: str) -> None:
    """A lower-case ``container_no`` is accepted and comes back upper-case."""
    lower = VALID[kind]["container_no"].lower()

    event = parsed(encode(kind, container_no=lower))

    assert lower.upper() == event.container_no  # type: ignore[attr-defined]


def test_customs_container_no_upper_cased() -> None:
    """Container numbers inside a declaration are upper-cased too."""
    event = parsed(encode("ELIGIBLE", containers=[{"container_no": CN_A.lower()}]))

    assert [CN_A] == [ref.container_no for ref in event.containers]  # type: ignore[attr-defined]


# --- fan-out ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CUSTOMS)
def test_fan_out_customs_one_event_per_container(kind: str) -> None:
    """A customs event fans out to one event per container, keyed by container_no, each
    narrowed to its container and keeping the declaration's event_id."""
    declaration = parsed(
        encode(kind, containers=[{"container_no": CN_A}, {"container_no": CN_B.lower()}])
    )

    pairs = fan_out(declaration)  # type: ignore[arg-type]

    assert [CN_A, CN_B] == [key for key, _ in pairs]
    for key, event in pairs:
        assert type(declaration) is type(event)
        assert declaration.event_id == event.event_id
        assert [key] == [ref.container_no for ref in event.containers]  # type: ignore[union-attr]
        assert event == parsed(dump_json(event))


def test_fan_out_container_listed_twice_counts_once() -> None:
    """A container listed twice in a declaration yields one per-container event."""
    declaration = parsed(
        encode(
            "ELIGIBLE",
            containers=[{"container_no": CN_A}, {"container_no": CN_B}, {"container_no": CN_A}],
        )
    )

    assert [CN_A, CN_B] == [key for key, _ in fan_out(declaration)]  # type: ignore[arg-type]


def test_fan_out_single_duplicated_container_is_narrowed() -> None:
    """Every fanned-out event lists exactly one container, even [A, A]."""
    declaration = parsed(
        encode("ELIGIBLE", containers=[{"container_no": CN_A}, {"container_no": CN_A}])
    )

    ((_key, event),) = fan_out(declaration)  # type: ignore[arg-type]

    assert [CN_A] == [ref.container_no for ref in event.containers]  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", list(VALID))
def test_the_containers_a_raw_line_names_are_those_fan_out_gives(kind: str) -> None:
    """containers_named (routing a line before it is parsed: replay --jobs) and fan_out
    (after) say the same, for every event type, lower-case numbers and a number listed
    twice included; a vessel call's event names none of its own (None)."""
    overrides: dict[str, Any] = {}
    if kind in CUSTOMS:
        overrides["containers"] = [
            {"container_no": CN_B.lower()},
            {"container_no": CN_A},
            {"container_no": CN_B},
        ]
    elif "container_no" in VALID[kind]:
        overrides["container_no"] = CN_C.lower()
    raw = encode(kind, **overrides)
    named = containers_named(orjson.loads(raw))
    event = parsed(raw)
    if kind in VESSEL:
        assert named is None
    else:
        assert [key for key, _ in fan_out(event)] == list(named or ())  # type: ignore[arg-type]


def test_a_raw_line_the_parser_would_refuse_names_no_container_it_could_route() -> None:
    with pytest.raises(ValueError, match="check digit"):
        containers_named({"type": "GATE_OUT", "container_no": CN_A[:-1] + "0"})
    with pytest.raises(KeyError):
        containers_named({"type": "GATE_OUT"})


@pytest.mark.parametrize("kind", CONTAINER_LEVEL)
def test_fan_out_container_event_is_itself(kind: str) -> None:
    """Port and scan events already name one container: fan-out returns them as they are."""
    event = parsed(encode(kind))

    assert [(event.container_no, event)] == fan_out(event)  # type: ignore[attr-defined, arg-type]


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(BAD.values()), ids=list(BAD))
def test_bad_input_rejected_with_specific_reason(case: Bad) -> None:
    """Each kind of bad input gives its own RejectCode and a reason naming the field (when
    there is one) and what is wrong with it."""
    raw = case.raw() if callable(case.raw) else case.raw

    result = parse_event(raw, topic=case.topic)

    assert isinstance(result, Rejection), result
    assert case.code == result.code
    assert case.field == result.field
    for needle in case.needles:
        assert needle in result.reason


def test_bad_input_has_at_least_30_kinds() -> None:
    """The bad-input table stays broad: at least 30 kinds."""
    assert len(BAD) >= 30


def test_rejection_carries_event_id_and_type() -> None:
    """A rejection of a recognisable event names its event_id and type for the dead letter."""
    result = parse_event(encode("GATE_OUT", event_id="gate-out-42", gate=DROP))

    assert isinstance(result, Rejection)
    assert ("gate-out-42", "GATE_OUT") == (result.event_id, result.type)


def test_several_errors_all_named() -> None:
    """When several fields are wrong, the reason names each of them (up to three)."""
    result = parse_event(encode(site="CAI LAN", container_no="CSQU3054384", direction="export"))

    assert isinstance(result, Rejection)
    for name in ("'site'", "'container_no'", "'direction'"):
        assert name in result.reason


def test_max_bytes_is_configurable() -> None:
    """``max_bytes`` lowers the size limit below the default."""
    raw = encode()

    result = parse_event(raw, max_bytes=len(raw) - 1)

    assert isinstance(result, Rejection)
    assert RejectCode.TOO_LARGE == result.code


def test_unknown_topic_is_not_checked() -> None:
    """A topic that is not one of the input topics (e.g. a test topic) does not reject."""
    assert isinstance(parse_event(encode(), topic="vasscm.test-input"), Discharged)


# --- weaknesses found in review, now fixed --------------------------------------------------


def test_type_not_a_string_reason_says_string() -> None:
    """``"type": 5`` is rejected with a reason that says ``type`` must be a string."""
    result = parse_event(encode(type=5))

    assert isinstance(result, Rejection)
    assert "string" in result.reason


def test_epoch_digits_as_string_rejected() -> None:
    """An epoch in a string is not RFC 3339 and is rejected like an epoch number."""
    result = parse_event(encode(occurred_at="1709255730"))

    assert isinstance(result, Rejection)
    assert "occurred_at" == result.field


@settings(max_examples=300, deadline=None)
@given(
    owner=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3),
    category=st.sampled_from("UJZR"),
    serial=st.integers(min_value=0, max_value=999_999),
)
def test_check_digit_table_agrees_with_stdnum(owner: str, category: str, serial: int) -> None:
    prefix = f"{owner}{category}{serial:06d}"
    assert iso6346.calc_check_digit(prefix) == iso6346_check_digit(prefix)


def test_owner_code_of_digits_rejected() -> None:
    """An owner code must be 3 letters: ``123U…`` with a correct check digit is rejected."""
    result = parse_event(encode(container_no=container_no("123U305438")))

    assert isinstance(result, Rejection)
    assert "owner code" in result.reason


@pytest.mark.parametrize("number", ["C_QU3054383", "CSQU30543٨3"], ids=["underscore", "arabic-8"])
def test_odd_characters_in_container_no_reason(number: str) -> None:
    """Odd characters in ``container_no`` get the ISO 6346 format reason, not a bare error."""
    result = parse_event(encode(container_no=number))

    assert isinstance(result, Rejection)
    assert "not ISO 6346" in result.reason


def test_round_trip_keeps_microseconds() -> None:
    """An occurred_at with microseconds survives ``dump_json`` and ``parse_event``, and
    one in whole milliseconds is written with three digits, as every output is."""
    event = parsed(encode(occurred_at="2024-03-01T08:15:30.123456+07:00"))
    whole = parsed(encode(occurred_at="2024-03-01T08:15:30.120+07:00"))

    assert event == parsed(dump_json(event))
    assert b'"2024-03-01T01:15:30.123456Z"' in dump_json(event)
    assert b'"2024-03-01T01:15:30.120Z"' in dump_json(whole)


# --- Hypothesis: never raises ----------------------------------------------------------

FIELD_NAMES = sorted(
    {"event_id", "type", "occurred_at", "site", "source", "received_at", "container_no"}
    | {key for fields in VALID.values() for key in fields}
    | {"gate", "seal_no", "result", "channel", "basis", "scanner"}
)
PLAUSIBLE = st.sampled_from(
    [
        *VALID,
        CN_A,
        CN_B.lower(),
        "CSQU3054384",
        "2024-03-01T08:15:30+07:00",
        "2024-03-01T08:15:30",
        "1969-12-31T23:59:59Z",
        "cai-lan",
        "Cai-Lan",
        "import",
        "export",
        "CLEAR",
        "red",
        "released",
        [{"container_no": CN_A}],
        [{"container_no": "bad"}],
        [],
        "",
    ]
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
#: Text without control characters: what an unknown field may hold and still be accepted.
FREE_TEXT = st.characters(exclude_categories=("Cc", "Cs"))
FREE_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(FREE_TEXT, max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(FREE_TEXT, max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)
KEYS = st.sampled_from(FIELD_NAMES) | st.text(max_size=12)
VALUES = PLAUSIBLE | JSON_VALUES


def assert_event_or_rejection(result: object) -> None:
    """A result is an event model or a Rejection that is not the catch-all for a bug."""
    if isinstance(result, Rejection):
        assert result.reason
        assert not result.reason.startswith("could not be parsed"), result.reason
    else:
        assert isinstance(result, EVENT_MODELS), result


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=256) | st.text(max_size=128))
def test_arbitrary_input_never_raises(raw: bytes | str) -> None:
    """Arbitrary bytes or text never raise: the result is an event or a Rejection."""
    assert_event_or_rejection(parse_event(raw))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=st.dictionaries(KEYS, VALUES, max_size=10), topic=st.sampled_from([None, *TOPIC_OF]))
def test_arbitrary_json_objects_never_raise(doc: dict[str, Any], topic: str | None) -> None:
    """JSON objects with random keys (including the real field names) never raise."""
    raw = orjson.dumps(doc)

    assert_event_or_rejection(parse_event(raw, topic=topic and TOPIC_OF[topic]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(list(VALID)),
    updates=st.dictionaries(KEYS, VALUES, max_size=4),
    drops=st.sets(st.sampled_from(FIELD_NAMES), max_size=3),
)
def test_mutated_valid_events_never_raise(
    kind: str, updates: dict[str, Any], drops: set[str]
) -> None:
    """Valid events with random fields replaced or dropped never raise, and whatever is
    accepted round-trips through ``dump_json``."""
    doc = {key: value for key, value in {**event_doc(kind), **updates}.items() if key not in drops}

    result = parse_event(orjson.dumps(doc))

    assert_event_or_rejection(result)
    if not isinstance(result, Rejection):
        assert result == parse_event(dump_json(result))


@settings(max_examples=100, deadline=None)
@given(
    kind=st.sampled_from(list(VALID)),
    when=st.datetimes(
        min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30), timezones=st.none()
    ),
    offset_minutes=st.integers(min_value=-12 * 60, max_value=14 * 60),
    owner=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3),
    category=st.sampled_from("UJZR"),
    serial=st.integers(min_value=0, max_value=999_999),
    extras=st.dictionaries(
        st.text(FREE_TEXT, min_size=1, max_size=8).map("x_".__add__), FREE_JSON_VALUES
    ),
)
def test_generated_valid_events_round_trip(
    kind: str,
    when: datetime,
    offset_minutes: int,
    owner: str,
    category: str,
    serial: int,
    extras: dict[str, Any],
) -> None:
    """Valid events with any millisecond timestamp and offset, any well-formed container
    number and any extra fields parse and round-trip to an equal event."""
    tz = timezone(timedelta(minutes=offset_minutes))
    stamp = when.replace(microsecond=when.microsecond // 1000 * 1000, tzinfo=tz)
    number = container_no(f"{owner}{category}{serial:06d}")
    overrides: dict[str, Any] = {"occurred_at": stamp.isoformat(), **extras}
    if kind in CUSTOMS:
        overrides["containers"] = [{"container_no": number.lower()}]
    else:
        overrides["container_no"] = number.lower()

    event = parsed(encode(kind, **overrides))

    assert stamp == event.occurred_at  # type: ignore[attr-defined]
    assert event == parsed(dump_json(event))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(list(VALID)),
    updates=st.dictionaries(KEYS, VALUES, max_size=3),
    drops=st.sets(st.sampled_from(FIELD_NAMES), max_size=2),
    topic=st.sampled_from([None, *TOPIC_OF]),
)
def test_fast_path_decides_as_the_slow_path(
    kind: str, updates: dict[str, Any], drops: set[str], topic: str | None
) -> None:
    """Reading the bytes in pydantic-core in one pass (the fast path) accepts exactly
    what orjson and the model accept, as the same event, and words every refusal as
    the slow path does."""
    doc = {key: value for key, value in {**event_doc(kind), **updates}.items() if key not in drops}
    raw = orjson.dumps(doc)
    on = topic and TOPIC_OF[topic]

    slow = _parse_document(orjson.loads(raw), on)  # orjson, then the model

    assert parse_event(raw, topic=on) == slow


# --- dead letters --------------------------------------------------------------------------

REJECTED = Rejection(
    code=RejectCode.INVALID_FIELD,
    reason="DISCHARGED: field 'site': String should match pattern",
    field="site",
    event_id="e-1",
    type="DISCHARGED",
)


def test_dead_letter_keeps_utf8_as_text() -> None:
    """A UTF-8 record is kept as text, with its size in bytes and the rejection's details."""
    raw = encode(site="Cái Lân")

    letter = dead_letter(raw, REJECTED, topic="vasscm.port-events", partition=3, offset=1200)

    assert raw.decode("utf-8") == letter.raw
    assert ("utf-8", len(raw), False) == (
        letter.raw_encoding,
        letter.raw_size,
        letter.raw_truncated,
    )
    assert (REJECTED.reason, REJECTED.code, "site", "e-1", "DISCHARGED") == (
        letter.reason,
        letter.code,
        letter.field,
        letter.event_id,
        letter.type,
    )
    assert ("vasscm.port-events", 3, 1200) == (letter.topic, letter.partition, letter.offset)


@pytest.mark.parametrize(
    "raw",
    [b'{"site": "c\xe1i-l\xe2n"}', b"\xff\xfe\x00", '{"a": "\ud800"}'],
    ids=["latin-1", "bom-ish", "lone-surrogate-str"],
)
def test_dead_letter_keeps_invalid_utf8_as_base64(raw: bytes | str) -> None:
    """Bytes that are not UTF-8 are kept as base64 that decodes to the original bytes."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw

    letter = dead_letter(raw, REJECTED)

    assert "base64" == letter.raw_encoding
    assert data == base64.b64decode(letter.raw)
    assert len(data) == letter.raw_size


def test_dead_letter_truncates_huge_raw() -> None:
    """A 10 MB record keeps only the first DEAD_LETTER_RAW_LIMIT bytes, flagged truncated,
    with the original size recorded."""
    raw = b'{"reason": "' + b"x" * 10_000_000 + b'"}'

    letter = dead_letter(raw, parse_event(raw))  # type: ignore[arg-type]

    assert RejectCode.TOO_LARGE == letter.code
    assert raw[:DEAD_LETTER_RAW_LIMIT].decode("utf-8") == letter.raw
    assert (True, len(raw), "utf-8") == (letter.raw_truncated, letter.raw_size, letter.raw_encoding)


def test_dead_letter_truncated_vietnamese_stays_text() -> None:
    """Truncated UTF-8 text (3-byte characters such as 'ả') is still kept as text."""
    raw = ('{"reason": "' + "ả" * 4_000_000 + '"}').encode("utf-8")

    letter = dead_letter(raw, REJECTED)

    assert "utf-8" == letter.raw_encoding


@pytest.mark.parametrize("raw", [encode(site="Cái Lân"), b"\xff\xfe\x00"], ids=["text", "base64"])
def test_dead_letter_round_trips_through_json(raw: bytes) -> None:
    """A DeadLetter written with ``dump_json`` reads back equal, received_at in UTC with Z."""
    received = datetime(2024, 3, 1, 8, 0, 0, 500_000, tzinfo=timezone(timedelta(hours=7)))
    letter = dead_letter(raw, REJECTED, topic="vasscm.port-events", line=7, received_at=received)

    written = dump_json(letter)

    assert letter == DeadLetter.model_validate_json(written)
    assert "2024-03-01T01:00:00.500Z" == orjson.loads(written)["received_at"]


# --- output models ------------------------------------------------------------------------

WHEN = datetime(2024, 3, 1, 8, 15, 30, tzinfo=timezone(timedelta(hours=7)))


def clearance_fields(**overrides: Any) -> dict[str, Any]:
    """The fields of a valid ClearanceRecord."""
    return {
        "container_no": CN_A,
        "site": "cai-lan",
        "direction": "import",
        "visit_id": "v-1",
        "declaration_nos": ["105123456780"],
        "channel": "green",
        "arrived_at": WHEN,
        "eligible_at": WHEN + timedelta(hours=5),
        "exited_at": WHEN + timedelta(hours=30),
        "segments": {"release": 18000.0, "exit": 90000.0, "dwell": 108000.0},
        "pre_cleared": False,
        "scanned": False,
        "scan_result": None,
        "alerts": [],
        "revision": 1,
        **overrides,
    }


def alert_fields(**overrides: Any) -> dict[str, Any]:
    """The fields of a valid Alert."""
    return {
        "alert_id": "a-1",
        "kind": "STALLED",
        "severity": "warning",
        "status": "firing",
        "container_no": CN_A,
        "site": "cai-lan",
        "direction": "import",
        "stage": "AWAITING_RELEASE",
        "since": WHEN,
        "detected_at": WHEN + timedelta(hours=48),
        "detail": "awaiting release for 48h00m00s",
        "visit_id": "v-1",
        **overrides,
    }


OUTPUTS = [(ClearanceRecord, clearance_fields), (Alert, alert_fields)]
OUTPUT_IDS = ["clearance", "alert"]


@pytest.mark.parametrize(("model", "fields"), OUTPUTS, ids=OUTPUT_IDS)
def test_output_models_reject_unknown_fields(
    model: type[BaseModel], fields: Callable[..., dict[str, Any]]
) -> None:
    """Output records are ours: an unknown field is a bug, rejected (extra forbid)."""
    model.model_validate(fields())

    with pytest.raises(ValidationError, match=r"extra_forbidden|Extra inputs"):
        model.model_validate(fields(surprise=1))


@pytest.mark.parametrize(("model", "fields"), OUTPUTS, ids=OUTPUT_IDS)
def test_output_models_write_utc_z(
    model: type[BaseModel], fields: Callable[..., dict[str, Any]]
) -> None:
    """Output timestamps are written in UTC with ``Z`` and milliseconds, and read back equal."""
    record = model.model_validate(fields())

    written = orjson.loads(dump_json(record))

    stamps = {key: value for key, value in written.items() if key.endswith(("_at", "since"))}
    assert stamps
    for value in stamps.values():
        assert value is None or (value.endswith("Z") and value[19] == ".")
    assert "2024-03-01T01:15:30.000Z" == written.get("arrived_at", written.get("since"))
    assert record == model.model_validate_json(dump_json(record))


def test_output_timestamp_naive_rejected() -> None:
    """Output records refuse naive datetimes too: every instant carries its offset."""
    with pytest.raises(ValidationError):
        ClearanceRecord.model_validate(clearance_fields(exited_at=datetime(2024, 3, 2)))


def test_output_utc_input_stays_same_instant() -> None:
    """A UTC input instant is written unchanged."""
    record = ClearanceRecord.model_validate(
        clearance_fields(exited_at=datetime(2024, 3, 2, 12, tzinfo=UTC))
    )

    assert "2024-03-02T12:00:00.000Z" == orjson.loads(dump_json(record))["exited_at"]


# --- architecture ----------------------------------------------------------------------------

PURE_MODULES = [
    "vasscm.events",
    "vasscm.tracking",
    "vasscm.deadlines",
    "vasscm.durations",
    "vasscm.arrival",
    "vasscm.yard",
    "vasscm.board",
    "vasscm.partitions",
    "vasscm.recent",
    "vasscm.report",
    "vasscm.archive",
    "vasscm.replay",
    "vasscm.simulate",
    "vasscm.forecast",
    "vasscm.office_hours",
    "vasscm.replay_forecasts",
    "vasscm.late",
    "vasscm.backtest",
    "vasscm.dcsa.estimates",
]


def test_pure_modules_import_no_live_libraries() -> None:
    """The pure core never imports faust, mode, aiokafka, aiohttp or prometheus_client."""
    code = (
        f"import {', '.join(PURE_MODULES)}, sys; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'faust', 'aiokafka', 'aiohttp', 'prometheus_client', 'mode'}); "
        "print(bad); sys.exit(1 if bad else 0)"
    )

    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )

    assert 0 == done.returncode, done.stdout + done.stderr
