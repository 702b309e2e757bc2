"""The topic registry, and the published contract under ``topics/`` generated from it.

:data:`TOPICS` is the one place topic names, keys, partitions and retention are
defined: the live shell creates its topics from it. ``vasscm topics export`` writes
JSON Schemas, an AsyncAPI 3.0 document, examples and an index from the models in
:mod:`vasscm.events`; ``vasscm topics check`` (and ``tests/test_topics.py``) fail as
soon as a model changes without a re-export, so the published files cannot drift.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import orjson
from pydantic import BaseModel, Field, TypeAdapter
from stdnum import iso6346

from vasscm import events as ev
from vasscm.dcsa.milestones import DcsaMilestone, milestone_doc, milestones
from vasscm.dcsa.records import DcsaEvent
from vasscm.dcsa.subscriptions import Subscription
from vasscm.settings import Settings

__all__ = [
    "ALERTS",
    "CLEARANCES",
    "CONTAINER_EVENTS",
    "CONTAINER_STATE",
    "CUSTOMS_EVENTS",
    "DCSA_EVENTS",
    "DCSA_OUT",
    "DCSA_SUBSCRIPTIONS",
    "DEAD_LETTER",
    "DEFAULT_PARTITIONS",
    "PORT_EVENTS",
    "SCAN_EVENTS",
    "STALL_CHECKS",
    "TOPICS",
    "TOPIC_BY_NAME",
    "VESSEL_EVENTS",
    "TopicSpec",
    "asyncapi",
    "check",
    "examples",
    "export",
    "json_schema",
    "render",
]

PORT_EVENTS: Final = "vasscm.port-events"
SCAN_EVENTS: Final = "vasscm.scan-events"
CUSTOMS_EVENTS: Final = "vasscm.customs-events"
VESSEL_EVENTS: Final = "vasscm.vessel-events"
DCSA_EVENTS: Final = "vasscm.dcsa-events"
DCSA_OUT: Final = "vasscm.dcsa-out"
DCSA_SUBSCRIPTIONS: Final = "vasscm.dcsa-subscriptions"
CONTAINER_EVENTS: Final = "vasscm.container-events"
CLEARANCES: Final = "vasscm.clearances"
ALERTS: Final = "vasscm.alerts"
CONTAINER_STATE: Final = "vasscm.container-state"
DEAD_LETTER: Final = "vasscm.dead-letter"
STALL_CHECKS: Final = "vasscm.stall-checks"

#: The settings default, not the environment: the published contract must not
#: depend on who runs the export. Deployments may still override VASSCM_PARTITIONS.
DEFAULT_PARTITIONS: Final[int] = Settings.model_fields["partitions"].default

_CONTAINER_KEY: Final = (
    "ISO 6346 container number, upper-cased: all events of one container share a partition"
)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One Kafka topic of the contract, as plain data."""

    name: str
    #: Field whose value is the record key; None when the key is not a payload field.
    key: str | None
    key_description: str
    #: From the processor's side: it consumes inputs, produces outputs, does both
    #: with the internal repartition topic.
    direction: Literal["input", "internal", "output"]
    cleanup_policy: Literal["delete", "compact"]
    #: None keeps records forever (compacted topics keep the latest per key).
    retention: timedelta | None
    description: str
    models: tuple[type[BaseModel], ...]
    partitions: int = DEFAULT_PARTITIONS

    @property
    def retention_ms(self) -> int:
        """Kafka's ``retention.ms``: -1 means no time limit."""
        return -1 if self.retention is None else int(self.retention.total_seconds() * 1000)

    @property
    def schema_mode(self) -> Literal["validation", "serialization"]:
        # Inputs are described as the processor accepts them, outputs as it writes them.
        return "serialization" if self.direction == "output" else "validation"

    @property
    def short(self) -> str:
        return self.name.removeprefix("vasscm.")

    @property
    def schema_file(self) -> str:
        return f"schemas/{self.name}.schema.json"

    @property
    def schema_id(self) -> str:
        # A URN, not a URL: nothing is served anywhere, and a URL would invite fetching.
        return f"urn:vasscm:topic:{self.name}"


def _input_models(topic: str) -> tuple[type[BaseModel], ...]:
    # events.INPUT_TOPICS decides which types go where; a renamed topic fails here.
    types = ev.INPUT_TOPICS[topic]
    return tuple(model for kind, model in ev.MODEL_OF_TYPE.items() if kind in types)


_DAY: Final = timedelta(days=1)

TOPICS: Final[tuple[TopicSpec, ...]] = (
    TopicSpec(
        name=PORT_EVENTS,
        key="container_no",
        key_description=_CONTAINER_KEY,
        direction="input",
        cleanup_policy="delete",
        retention=30 * _DAY,
        description="Terminal and gate system events: arrivals, exits, seals, discrepancies "
        "(contract section 2).",
        models=_input_models(PORT_EVENTS),
    ),
    TopicSpec(
        name=SCAN_EVENTS,
        key="container_no",
        key_description=_CONTAINER_KEY,
        direction="input",
        cleanup_policy="delete",
        retention=30 * _DAY,
        description="NII scanner results (contract section 2).",
        models=_input_models(SCAN_EVENTS),
    ),
    TopicSpec(
        name=CUSTOMS_EVENTS,
        key="declaration_no",
        key_description="customs declaration number: all events of one declaration share "
        "a partition",
        direction="input",
        cleanup_policy="delete",
        retention=30 * _DAY,
        description="Customs system events, one per declaration listing its containers "
        "(contract section 2).",
        models=_input_models(CUSTOMS_EVENTS),
    ),
    TopicSpec(
        name=VESSEL_EVENTS,
        key="voyage",
        key_description="the vessel call (voyage): all events of one call share a partition",
        direction="input",
        cleanup_policy="delete",
        retention=30 * _DAY,
        description="Vessel calls: estimated arrival, arrival and departure of each voyage "
        "(contract 7.2). A departure starts the reporting clock of the voyage's LOADED; "
        "the estimated arrival is what customs' notices are measured against.",
        models=_input_models(VESSEL_EVENTS),
    ),
    TopicSpec(
        name=DCSA_EVENTS,
        key="equipmentReference",
        key_description="the container number (equipmentReference), else the DCSA eventID: "
        "one container's events share a partition",
        direction="input",
        cleanup_policy="delete",
        retention=30 * _DAY,
        description="DCSA Track & Trace events as a terminal or carrier publishes them (2.2, "
        "or 3.0 metadata/payload), also posted to the worker's POST /dcsa/events: GTIN, GTOT, "
        "LOAD, DISC (actual), ARRI/DEPA (actual; ARRI estimated), CUSS/CUSR; mapped to "
        "contract events (vasscm.dcsa), what cannot be mapped dead-lettered with the DCSA "
        "field named.",
        models=(DcsaEvent,),
    ),
    TopicSpec(
        name=CONTAINER_EVENTS,
        key="container_no",
        key_description=_CONTAINER_KEY,
        direction="internal",
        cleanup_policy="delete",
        retention=7 * _DAY,
        description="Internal repartition topic: every input event once per container, "
        "customs events with containers narrowed to that one (vasscm.events.fan_out), "
        "so one container's events meet on one partition; every vessel call's event once "
        "per partition (key: its voyage), for the containers there that name it; and the "
        "fan-out's progress marks (key ~mark).",
        models=tuple(ev.MODEL_OF_TYPE.values()),
    ),
    TopicSpec(
        name=STALL_CHECKS,
        key="container_no",
        key_description=_CONTAINER_KEY,
        direction="internal",
        cleanup_policy="delete",
        retention=1 * _DAY,
        description="Internal: a tick per container whose stall deadline passed, sent by the "
        "worker's once-a-second timer so the check runs where the container's table "
        "partition is written.",
        models=(ev.StallCheck,),
    ),
    TopicSpec(
        name=CLEARANCES,
        key="container_no",
        key_description=_CONTAINER_KEY,
        direction="output",
        cleanup_policy="delete",
        retention=365 * _DAY,
        description="One record per completed visit, re-emitted with revision+1 when a late "
        "event changes it (contract section 5).",
        models=(ev.ClearanceRecord,),
    ),
    TopicSpec(
        name=ALERTS,
        key="container_no",
        key_description=_CONTAINER_KEY,
        direction="output",
        cleanup_policy="delete",
        retention=90 * _DAY,
        description="Alerts raised and resolved on visits; a record with the same alert_id "
        "resolves an earlier firing one (contract section 4).",
        models=(ev.Alert,),
    ),
    TopicSpec(
        name=CONTAINER_STATE,
        key="container_no",
        key_description=_CONTAINER_KEY,
        direction="output",
        cleanup_policy="compact",
        retention=None,
        description="The current visit of each container, latest per key (contract section 5).",
        models=(ev.VisitState,),
    ),
    TopicSpec(
        name=DEAD_LETTER,
        key=None,
        key_description="the rejected record's own key, copied unchanged (absent if it had none)",
        direction="output",
        cleanup_policy="delete",
        retention=30 * _DAY,
        description="Every rejected input with its raw bytes, origin and a reason a person "
        "can act on (contract section 5).",
        models=(ev.DeadLetter,),
    ),
    TopicSpec(
        name=DCSA_OUT,
        key="equipmentReference",
        key_description=_CONTAINER_KEY,
        direction="output",
        cleanup_policy="delete",
        retention=30 * _DAY,
        description="Each container's customs milestones as DCSA T&T 2.2 equipment events "
        "(CUSS selected for scanning, CUSI red channel, CUSR released, GTOT or LOAD the exit), "
        "read off vasscm.container-state as the tracker concludes them (vasscm.dcsa."
        "milestones); what the worker's webhook subscriptions deliver (POST /dcsa/subscriptions).",
        models=(DcsaMilestone,),
    ),
    TopicSpec(
        name=DCSA_SUBSCRIPTIONS,
        key="subscriptionID",
        key_description="the subscription's id; a record without value deletes it",
        direction="internal",
        cleanup_policy="compact",
        retention=None,
        description="DCSA webhook subscriptions made with POST /dcsa/subscriptions, read by "
        "every worker (vasscm.live.dcsa_out.webhooks). Holds each subscriber's signing secret: "
        "restrict who may read it, as the broker's other credentials.",
        models=(Subscription,),
        partitions=1,
    ),
)
TOPIC_BY_NAME: Final = {t.name: t for t in TOPICS}

_GENERATED: Final = "Generated from vasscm.events by `vasscm topics export`; do not edit."
_OPTS: Final = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


# --- JSON Schema ------------------------------------------------------------------------


def json_schema(topic: TopicSpec) -> dict[str, Any]:
    """Draft 2020-12 schema of a topic's records; every model is under ``$defs/<Name>``."""
    if len(topic.models) == 1:
        (model,) = topic.models
        body = TypeAdapter(model).json_schema(mode=topic.schema_mode)
        defs = body.pop("$defs", {})
        # Under $defs too, so the AsyncAPI messages point at every model the same way.
        schema: dict[str, Any] = {
            "$defs": {**defs, model.__name__: body},
            "$ref": f"#/$defs/{model.__name__}",
        }
    else:
        union: Any = functools.reduce(operator.or_, topic.models)
        schema = TypeAdapter(Annotated[union, Field(discriminator="type")]).json_schema(
            mode=topic.schema_mode
        )
    key = f"key {topic.key}" if topic.key else "key"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": topic.schema_id,
        "title": topic.name,
        "description": f"{topic.description} Record {key}: {topic.key_description}. {_GENERATED}",
        **schema,
    }


# --- examples ---------------------------------------------------------------------------

_ICT: Final = timezone(timedelta(hours=7))  # Vietnam; producers send local time


def _at(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, second, tzinfo=_ICT)


def _cn(stem: str) -> str:
    return stem + iso6346.calc_check_digit(stem)


def _visit_id(container_no: str, arrived: datetime) -> str:
    return f"{container_no}-{arrived.astimezone(UTC):%Y%m%dT%H%M%SZ}"  # as vasscm.tracking


def _input_examples() -> list[BaseModel]:
    # One import visit at Cái Lân (two containers on one declaration), one export,
    # and a road import held at the Móng Cái border gate.
    imp, imp2, exp, road = (
        _cn("CSQU305438"),
        _cn("MSKU721094"),
        _cn("TGHU883016"),
        _cn("OOLU160427"),
    )
    decl = {"site": "cai-lan", "source": "vnaccs", "declaration_no": "104583920150"}
    both = [
        ev.ContainerRef(container_no=imp, seal_no="VNCL2481573"),
        ev.ContainerRef(container_no=imp2, seal_no="VNCL2481574"),
    ]
    held = {
        "site": "mong-cai",
        "source": "vnaccs",
        "declaration_no": "104601775230",
        "containers": [ev.ContainerRef(container_no=road, seal_no="VNMC0071345")],
    }
    tos = {"site": "cai-lan", "source": "tos-cai-lan"}
    return [
        ev.Discharged(
            event_id="tos-cl-20240312-000731",
            type="DISCHARGED",
            **tos,
            occurred_at=_at(12, 7, 42, 10),
            container_no=imp,
            direction="import",
            seal_no="VNCL2481573",
            vessel="HAIAN VIEW",
        ),
        ev.GateIn(
            event_id="tos-cl-20240313-001204",
            type="GATE_IN",
            site="cai-lan",
            source="gate-1-ocr",
            occurred_at=_at(13, 10, 12),
            container_no=exp,
            direction="export",
            gate="gate-1",
            seal_no="VNCL2490112",
            vehicle_plate="14H-041.27",
        ),
        ev.GateOut(
            event_id="tos-cl-20240312-000988",
            type="GATE_OUT",
            site="cai-lan",
            source="gate-2-ocr",
            occurred_at=_at(12, 16, 3),
            container_no=imp,
            gate="gate-2",
            seal_no="VNCL2481573",
            vehicle_plate="14C-238.61",
        ),
        ev.Loaded(
            event_id="tos-cl-20240314-000152",
            type="LOADED",
            **tos,
            occurred_at=_at(14, 5, 55),
            container_no=exp,
            vessel="HAIAN VIEW",
            seal_no="VNCL2490388",
            voyage="HAV-2411S",
        ),
        ev.VesselExpected(
            event_id="tos-cl-vc-20240311-0042",
            type="VESSEL_EXPECTED",
            **tos,
            occurred_at=_at(11, 9, 0),
            vessel="9667904",
            voyage="HAV-2411S",
            eta=_at(13, 22, 0),
        ),
        ev.VesselArrived(
            event_id="tos-cl-vc-20240313-0047",
            type="VESSEL_ARRIVED",
            **tos,
            occurred_at=_at(13, 23, 40),
            vessel="9667904",
            voyage="HAV-2411S",
        ),
        ev.VesselDeparted(
            event_id="tos-cl-vc-20240314-0051",
            type="VESSEL_DEPARTED",
            **tos,
            occurred_at=_at(14, 6, 10),
            vessel="9667904",
            voyage="HAV-2411S",
        ),
        ev.SealChanged(
            event_id="tos-cl-20240313-001377",
            type="SEAL_CHANGED",
            **tos,
            occurred_at=_at(13, 15, 40),
            container_no=exp,
            seal_no="VNCL2490388",
        ),
        ev.Discrepancy(
            event_id="mc-gate-20240315-0042",
            type="DISCREPANCY",
            site="mong-cai",
            source="mong-cai-gate",
            occurred_at=_at(15, 9, 20),
            container_no=road,
            reason="Số seal thực tế VNMC0071346 khác tờ khai (VNMC0071345)",
        ),
        ev.Scanned(
            event_id="nii-cl-01-20240312-0417",
            type="SCANNED",
            site="cai-lan",
            source="nii-cl-01",
            occurred_at=_at(12, 9, 31),
            container_no=imp,
            scanner="nii-cl-01",
            result="CLEAR",
            image_ref="nii-cl-01/2024/03/12/0417",
        ),
        ev.Expected(
            event_id="vnaccs-104583920150-01",
            type="EXPECTED",
            **decl,
            occurred_at=_at(11, 16, 5),
            containers=both,
            direction="import",
            eta=_at(12, 6, 0),
        ),
        ev.ScanSelected(
            event_id="vnaccs-104583920150-03",
            type="SCAN_SELECTED",
            **decl,
            occurred_at=_at(12, 8, 10),
            containers=both[:1],
        ),
        ev.ChannelAssigned(
            event_id="vnaccs-104583920150-ch",
            type="CHANNEL_ASSIGNED",
            **decl,
            occurred_at=_at(12, 8, 5),
            containers=both,
            channel="yellow",
        ),
        ev.Eligible(
            event_id="vnaccs-104583920150-04",
            type="ELIGIBLE",
            **decl,
            occurred_at=_at(12, 14, 20),
            containers=both,
            basis="cleared",
        ),
        ev.Suspended(
            event_id="vnaccs-104601775230-06a",
            type="SUSPENDED",
            **held,
            occurred_at=_at(15, 9, 45),
            reason="physical inspection ordered after a seal discrepancy",
        ),
        ev.Resumed(
            event_id="vnaccs-104601775230-06b", type="RESUMED", **held, occurred_at=_at(15, 15, 10)
        ),
        ev.EligibilityCancelled(
            event_id="vnaccs-104601775230-07",
            type="ELIGIBILITY_CANCELLED",
            **held,
            occurred_at=_at(16, 8, 30),
            reason="declaration amended after release",
        ),
    ]


def _output_examples() -> list[BaseModel]:
    imp, imp2 = _cn("CSQU305438"), _cn("MSKU721094")
    arrived, selected, scanned = _at(12, 7, 42, 10), _at(12, 8, 10), _at(12, 9, 31)
    eligible, exited = _at(12, 14, 20), _at(12, 16, 3)
    arrived2 = _at(12, 7, 58, 30)
    visit2 = _visit_id(imp2, arrived2)
    bad = orjson.dumps(
        {
            "event_id": "tos-cl-20240312-000989",
            "type": "GATE_OUT",
            "occurred_at": "2024-03-12T16:03:40+07:00",
            "site": "cai-lan",
            "container_no": _cn("CSQU305438")[:-1] + "4",
            "gate": "gate-2",
        }
    )
    rejection = ev.parse_event(bad, topic=PORT_EVENTS)
    assert isinstance(rejection, ev.Rejection), "the dead-letter example must be rejected"
    common = {
        "site": "cai-lan",
        "direction": "import",
        "declaration_nos": ["104583920150"],
        "channel": "yellow",
    }
    return [
        ev.ClearanceRecord(
            container_no=imp,
            visit_id=_visit_id(imp, arrived),
            **common,
            arrived_at=arrived,
            eligible_at=eligible,
            exited_at=exited,
            segments={
                "release": (eligible - arrived).total_seconds(),
                "exit": (exited - eligible).total_seconds(),
                "dwell": (exited - arrived).total_seconds(),
                "scan_wait": (scanned - max(selected, arrived)).total_seconds(),
            },
            pre_cleared=False,
            scanned=True,
            scan_result="CLEAR",
            alerts=[],
            obligations=[
                ev.Obligation(
                    form="GATE_OUT",
                    party="port",
                    reference_at=exited,
                    received_at=exited + timedelta(minutes=2),
                    due_at=exited + timedelta(minutes=15),
                    on_time=True,
                )
            ],
            revision=1,
        ),
        ev.Alert(
            alert_id=f"{visit2}/STALLED/RELEASED",
            kind="STALLED",
            severity="warning",
            status="firing",
            container_no=imp2,
            site="cai-lan",
            direction="import",
            stage="RELEASED",
            since=eligible,
            detected_at=_at(15, 14, 21),
            detail="in RELEASED for more than 72h00m00s",
            visit_id=visit2,
        ),
        ev.VisitState(
            container_no=imp2,
            visit_id=visit2,
            **common,
            stage="RELEASED",
            stage_since=eligible,
            arrived_at=arrived2,
            eligible_at=eligible,
            exited_at=None,
            selected_for_scan=False,
            scanned=False,
            seal_no="VNCL2481574",
            alerts_firing=["STALLED"],
            events=4,
            channel_at=_at(12, 8, 5),
        ),
        _milestone_example(),
        ev.dead_letter(
            bad,
            rejection,
            topic=PORT_EVENTS,
            partition=5,
            offset=183422,
            received_at=_at(12, 16, 4, 2),
        ),
    ]


def _milestone_example() -> DcsaMilestone:
    view = {
        "container_no": _cn("MSKU721094"),
        "visit_id": _visit_id(_cn("MSKU721094"), _at(12, 7, 58, 30)),
        "site": "cai-lan",
        "direction": "import",
        "eligible_at": "2024-03-12T07:20:00.000Z",
        "declaration_nos": ["104583920150"],
        "seal_no": "VNCL2481574",
    }
    (release,) = milestones(view)
    return DcsaMilestone.model_validate(milestone_doc(view, release, "2024-03-12T07:20:01.250Z"))


def examples() -> dict[str, tuple[TopicSpec, BaseModel]]:
    """Example records by file stem: the event type for inputs, the model name for outputs."""
    out: dict[str, tuple[TopicSpec, BaseModel]] = {}
    for event in _input_examples():
        kind = event.type  # type: ignore[attr-defined]
        out[kind] = (TOPIC_BY_NAME[ev.TOPIC_OF_TYPE[kind]], event)
    outputs = {t.models[0]: t for t in TOPICS if t.direction == "output"}
    for record in _output_examples():
        out[type(record).__name__] = (outputs[type(record)], record)
    return out


def _wire(topic: TopicSpec, model: BaseModel) -> dict[str, Any]:
    """A record as it travels on ``topic``."""
    if topic.direction == "output":
        # Exactly what the processor publishes (UTC ``Z`` timestamps). Not exclude_none:
        # the serialisation schema requires nullable output fields to be present.
        doc: dict[str, Any] = orjson.loads(ev.dump_json(model))
    else:
        # As a producer sends it: local +07:00 offsets (dump_json would turn them into
        # UTC), optional fields left out.
        doc = orjson.loads(orjson.dumps(model.model_dump(mode="python", exclude_none=True)))
    return doc


# --- AsyncAPI ---------------------------------------------------------------------------


_TYPE_OF_MODEL: Final[dict[type[BaseModel], str]] = {
    model: kind for kind, model in ev.MODEL_OF_TYPE.items()
}


def _message(topic: TopicSpec, model: type[BaseModel], example: BaseModel | None) -> dict[str, Any]:
    kind = _TYPE_OF_MODEL.get(model)
    msg: dict[str, Any] = {
        "name": kind or model.__name__,
        "title": model.__name__,
        "summary": (model.__doc__ or model.__name__).strip().splitlines()[0],
        "contentType": "application/json",
        "payload": {
            "schemaFormat": "application/schema+json;version=2020-12",
            "schema": {"$ref": f"{topic.schema_file}#/$defs/{model.__name__}"},
        },
        "bindings": {
            "kafka": {
                "bindingVersion": "0.5.0",
                "key": {"type": "string", "description": topic.key_description},
            }
        },
    }
    if example is not None:
        msg["examples"] = [{"name": kind or model.__name__, "payload": _wire(topic, example)}]
    return msg


_VESSEL_MODELS: Final = frozenset(m for k, m in ev.MODEL_OF_TYPE.items() if k in ev.VESSEL_TYPES)


def asyncapi() -> dict[str, Any]:
    """AsyncAPI 3.0 document: a channel per topic, operations from the processor's side."""
    samples = {type(model): model for _, model in examples().values()}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for topic in TOPICS:
        refs = {}
        for model in topic.models:
            sample = samples.get(model)
            vessel = model in _VESSEL_MODELS  # copied to every partition as it is
            if sample is not None and topic.name == CONTAINER_EVENTS and not vessel:
                sample = ev.fan_out(sample)[0][1]  # type: ignore[arg-type]
            msg_id = f"{topic.short}.{model.__name__}"
            messages[msg_id] = _message(topic, model, sample)
            refs[model.__name__] = {"$ref": f"#/components/messages/{msg_id}"}
        schemas[topic.short] = {
            "schemaFormat": "application/schema+json;version=2020-12",
            "schema": {"$ref": topic.schema_file},
        }
        channels[topic.short] = {
            "address": topic.name,
            "title": topic.name,
            "description": topic.description,
            "messages": refs,
            "bindings": {
                "kafka": {
                    "bindingVersion": "0.5.0",
                    "topic": topic.name,
                    "partitions": topic.partitions,
                    "topicConfiguration": {
                        "cleanup.policy": [topic.cleanup_policy],
                        "retention.ms": topic.retention_ms,
                    },
                }
            },
        }
        actions = {"input": ["receive"], "output": ["send"], "internal": ["send", "receive"]}
        for action in actions[topic.direction]:
            operations[f"{action}-{topic.short}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{topic.short}"},
                "messages": [{"$ref": f"#/channels/{topic.short}/messages/{m}"} for m in refs],
                "summary": f"The processor {'consumes' if action == 'receive' else 'produces'} "
                f"{topic.name}.",
            }
    return {
        "asyncapi": "3.0.0",
        "id": "urn:vasscm:asyncapi",
        "info": {
            "title": "vasscm",
            "version": ev.CONTRACT_VERSION,
            "description": "VASSCM-style automated customs supervision: the wire contract of "
            f"the vasscm stream processor (contract v{ev.CONTRACT_VERSION}). {_GENERATED}",
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": "Local broker (vasscm's default VASSCM_BROKER).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


# --- README -----------------------------------------------------------------------------


def _retention_text(topic: TopicSpec) -> str:
    if topic.retention is None:
        return "forever (latest per key)" if topic.cleanup_policy == "compact" else "forever"
    return f"{topic.retention.days} days"


def _readme(example_topics: dict[str, TopicSpec]) -> str:
    lines = [
        "# vasscm topics",
        "",
        f"The published wire contract (v{ev.CONTRACT_VERSION}) of the vasscm stream processor.",
        "",
        "**Generated by `vasscm topics export` from `vasscm/events.py` and `vasscm/topics.py`:"
        " do not edit by hand.**",
        "`vasscm topics check` (also run by the tests) fails when these files differ from what"
        " the models generate.",
        "",
        f"Partitions are the `VASSCM_PARTITIONS` default ({DEFAULT_PARTITIONS});"
        " retention is Kafka's `retention.ms`.",
        "",
        "- `asyncapi.json`: AsyncAPI 3.0 document (channels, operations, Kafka bindings).",
        "- `schemas/<topic>.schema.json`: JSON Schema (draft 2020-12) of each topic's records"
        " (inputs as accepted, outputs as written).",
        "- `examples/<TYPE or Model>.json`: one valid record per event type and output model.",
        "",
        "| topic | direction | key | partitions | cleanup | retention | schema | description |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in TOPICS:
        key = f"`{t.key}`" if t.key else "(source key)"
        lines.append(
            f"| `{t.name}` | {t.direction} | {key} | {t.partitions} | {t.cleanup_policy} "
            f"| {_retention_text(t)} | [{t.schema_file}]({t.schema_file}) | {t.description} |"
        )
    lines += ["", "Examples:", ""]
    lines += [
        f"- [examples/{stem}.json](examples/{stem}.json): `{topic.name}`"
        for stem, topic in example_topics.items()
    ]
    return "\n".join(lines) + "\n"


# --- export and check -------------------------------------------------------------------


def render() -> dict[str, bytes]:
    """Every generated file, by path relative to the topics directory."""
    dump: Callable[[Any], bytes] = functools.partial(orjson.dumps, option=_OPTS)
    files: dict[str, bytes] = {"asyncapi.json": dump(asyncapi())}
    for topic in TOPICS:
        files[topic.schema_file] = dump(json_schema(topic))
    samples = examples()
    for stem, (topic, model) in samples.items():
        files[f"examples/{stem}.json"] = dump(_wire(topic, model))
    files["README.md"] = _readme({stem: topic for stem, (topic, _) in samples.items()}).encode()
    return files


def _stale(directory: Path, expected: dict[str, bytes]) -> list[Path]:
    # Only files shaped like generated ones: `--dir .` must never delete the repo.
    found = [*directory.glob("schemas/*.schema.json"), *directory.glob("examples/*.json")]
    return sorted(p for p in found if p.relative_to(directory).as_posix() not in expected)


def export(directory: Path) -> list[Path]:
    """Write every generated file under ``directory``; remove stale generated files."""
    files = render()
    for path in _stale(directory, files):
        path.unlink()
    written = []
    for rel, data in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


def check(directory: Path) -> list[str]:
    """One problem per missing, outdated or unexpected file; empty when up to date."""
    files = render()
    hint = "run `vasscm topics export`"
    problems = []
    for rel, data in files.items():
        path = directory / rel
        if not path.is_file():
            problems.append(f"{path}: missing ({hint})")
        elif path.read_bytes() != data:
            problems.append(f"{path}: differs from what the models generate ({hint})")
    extra = sorted(p for p in directory.rglob("*") if p.is_file()) if directory.is_dir() else []
    for path in extra:
        if path.relative_to(directory).as_posix() not in files:
            problems.append(f"{path}: unexpected, not generated by `vasscm topics export`")
    return problems
