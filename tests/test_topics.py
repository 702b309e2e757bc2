"""The topic registry and the published contract under ``topics/`` (vasscm/topics.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from vasscm import events as ev
from vasscm import topics
from vasscm.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "topics"
EXAMPLES = topics.examples()


def _load(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def _registry() -> Registry[Any]:
    """Every published topic schema, addressable by its ``$id``."""
    resources = []
    for topic in topics.TOPICS:
        schema = _load(PUBLISHED / topic.schema_file)
        resources.append((schema["$id"], Resource.from_contents(schema, DRAFT202012)))
    return Registry().with_resources(resources)


def _validator(ref: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": ref}, registry=_registry())


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    """A fresh export in a temporary directory."""
    topics.export(tmp_path)
    return tmp_path


# --- drift -------------------------------------------------------------------------------


def test_published_topics_match_the_models() -> None:
    """topics/ in the repo is what the models generate: a model change needs a re-export."""
    assert topics.check(PUBLISHED) == []


def test_export_then_check_passes(tmp_path: Path) -> None:
    """export writes every rendered file, and check accepts the result."""
    written = topics.export(tmp_path / "out")

    assert sorted(tmp_path / "out" / rel for rel in topics.render()) == sorted(written)
    assert topics.check(tmp_path / "out") == []


def test_render_is_deterministic() -> None:
    """Two renders are byte-identical, 2-space indented and end with a newline."""
    first, second = topics.render(), topics.render()

    assert first == second
    for data in first.values():
        assert data.endswith(b"\n")
    assert first["asyncapi.json"].startswith(b'{\n  "asyncapi": "3.0.0"')


def test_check_reports_a_modified_file(exported: Path) -> None:
    """A hand edit to a generated file is reported against that file."""
    path = exported / "schemas" / f"{topics.ALERTS}.schema.json"
    path.write_bytes(path.read_bytes().replace(b'"warning"', b'"info"'))

    problems = topics.check(exported)

    assert len(problems) == 1
    assert str(path) in problems[0]
    assert "differs" in problems[0]


def test_check_reports_a_missing_file(exported: Path) -> None:
    """A deleted generated file is reported as missing."""
    path = exported / "examples" / "GATE_OUT.json"
    path.unlink()

    assert [f"{path}: missing (run `vasscm topics export`)"] == topics.check(exported)


def test_check_reports_an_extra_file(exported: Path) -> None:
    """A file the export does not generate is reported as unexpected."""
    path = exported / "examples" / "GATE_OUT.old.json"
    path.write_bytes(b"{}\n")

    problems = topics.check(exported)

    assert len(problems) == 1
    assert problems[0].startswith(f"{path}: unexpected")


def test_check_of_a_missing_directory_lists_every_file(tmp_path: Path) -> None:
    """Checking a directory that does not exist reports each file, without raising."""
    assert len(topics.render()) == len(topics.check(tmp_path / "nope"))


def test_export_removes_stale_generated_files_only(exported: Path) -> None:
    """Re-export deletes a stale schema or example but leaves other files alone."""
    stale = exported / "schemas" / "vasscm.renamed.schema.json"
    stale.write_bytes(b"{}\n")
    notes = exported / "NOTES.txt"
    notes.write_bytes(b"mine\n")

    topics.export(exported)

    assert not stale.exists()
    assert notes.exists()


def test_cli_check_exits_zero() -> None:
    """`vasscm topics check` run from the repo root passes on the published files."""
    result = subprocess.run(
        [sys.executable, "-m", "vasscm", "topics", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr


# --- registry ----------------------------------------------------------------------------


def test_registry_covers_the_contract() -> None:
    """Input topics are the contract's, every event type is on one, every output is listed."""
    by_dir: dict[str, list[str]] = {}
    for topic in topics.TOPICS:
        by_dir.setdefault(topic.direction, []).append(topic.name)

    # the contract's, and DCSA T&T events, mapped to them (vasscm.dcsa)
    assert sorted([*ev.INPUT_TOPICS, topics.DCSA_EVENTS]) == sorted(by_dir["input"])
    internal = [topics.CONTAINER_EVENTS, topics.STALL_CHECKS, topics.DCSA_SUBSCRIPTIONS]
    assert internal == by_dir["internal"]
    assert sorted(
        # and the customs milestones as DCSA events (vasscm.dcsa.milestones)
        [
            topics.CLEARANCES,
            topics.ALERTS,
            topics.CONTAINER_STATE,
            topics.DEAD_LETTER,
            topics.DCSA_OUT,
        ]
    ) == sorted(by_dir["output"])
    for name, types in ev.INPUT_TOPICS.items():
        models = topics.TOPIC_BY_NAME[name].models
        assert {ev.MODEL_OF_TYPE[t] for t in types} == set(models)
    assert set(ev.MODEL_OF_TYPE.values()) == set(
        topics.TOPIC_BY_NAME[topics.CONTAINER_EVENTS].models
    )


def test_registry_settings() -> None:
    """Partitions follow the settings default, but the subscriptions' one; the latest
    per key is kept of container-state and of the subscriptions alone."""
    default = Settings.model_fields["partitions"].default
    subscriptions = topics.TOPIC_BY_NAME[topics.DCSA_SUBSCRIPTIONS]

    assert {default} == {t.partitions for t in topics.TOPICS if t is not subscriptions}
    assert subscriptions.partitions == 1  # every worker reads it whole
    assert {topics.CONTAINER_STATE, topics.DCSA_SUBSCRIPTIONS} == {
        t.name for t in topics.TOPICS if t.cleanup_policy == "compact"
    }
    assert topics.TOPIC_BY_NAME[topics.CONTAINER_STATE].retention_ms == -1
    assert topics.TOPIC_BY_NAME[topics.CUSTOMS_EVENTS].key == "declaration_no"


# --- examples ----------------------------------------------------------------------------


def test_every_event_type_and_output_has_an_example() -> None:
    """One example per input event type (14) and per output model."""
    outputs = {"ClearanceRecord", "Alert", "VisitState", "DeadLetter", "DcsaMilestone"}

    assert set(ev.MODEL_OF_TYPE) | outputs == set(EXAMPLES)
    assert {f"{stem}.json" for stem in EXAMPLES} == {
        p.name for p in (PUBLISHED / "examples").iterdir()
    }


@pytest.mark.parametrize("stem", sorted(EXAMPLES))
def test_example_is_valid(stem: str) -> None:
    """Each published example is accepted by the models and by its topic's JSON Schema."""
    topic, _ = EXAMPLES[stem]
    raw = (PUBLISHED / "examples" / f"{stem}.json").read_bytes()
    doc = orjson.loads(raw)

    if topic.direction == "input":
        event = ev.parse_event(raw, topic=topic.name)
        assert not isinstance(event, ev.Rejection), event
        assert stem == event.type
        # the repartition topic carries the same events
        internal = topics.TOPIC_BY_NAME[topics.CONTAINER_EVENTS]
        assert list(_validator(internal.schema_id).iter_errors(doc)) == []
    else:
        (model,) = topic.models
        model.model_validate_json(raw)
    assert list(_validator(topic.schema_id).iter_errors(doc)) == []


def test_input_examples_use_local_offsets() -> None:
    """Input examples carry +07:00 timestamps, as Vietnamese producers send them."""
    for stem, (topic, _) in EXAMPLES.items():
        if topic.direction == "input":
            doc = _load(PUBLISHED / "examples" / f"{stem}.json")
            assert doc["occurred_at"].endswith("+07:00")


def test_schema_is_not_vacuous() -> None:
    """A schema rejects an example with a required field removed or an unknown type."""
    doc = _load(PUBLISHED / "examples" / "GATE_OUT.json")
    validator = _validator(topics.TOPIC_BY_NAME[topics.PORT_EVENTS].schema_id)

    assert not validator.is_valid({k: v for k, v in doc.items() if k != "gate"})
    assert not validator.is_valid({**doc, "type": "SCANNED"})
    assert not validator.is_valid({**doc, "site": "Cai Lan"})


@pytest.mark.parametrize("topic", topics.TOPICS, ids=lambda t: t.name)
def test_schema_header(topic: topics.TopicSpec) -> None:
    """Each schema is draft 2020-12 with an $id, title and description, and is well formed."""
    schema = _load(PUBLISHED / topic.schema_file)

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert topic.schema_id == schema["$id"]
    assert topic.name == schema["title"]
    assert schema["description"]
    Draft202012Validator.check_schema(schema)
    assert {m.__name__ for m in topic.models} <= set(schema["$defs"])


# --- AsyncAPI ----------------------------------------------------------------------------


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_asyncapi_document_shape() -> None:
    """asyncapi 3.0.0 with info, a local kafka server, channels, operations, components."""
    doc = _load(PUBLISHED / "asyncapi.json")

    assert doc["asyncapi"] == "3.0.0"
    assert {"title", "version"} <= set(doc["info"])
    assert [{k: s[k] for k in ("host", "protocol")} for s in doc["servers"].values()] == [
        {"host": "localhost:9092", "protocol": "kafka"}
    ]
    assert {"channels", "operations", "components"} <= set(doc)


@pytest.mark.parametrize("topic", topics.TOPICS, ids=lambda t: t.name)
def test_asyncapi_channel(topic: topics.TopicSpec) -> None:
    """Each topic is a channel with its Kafka bindings, keyed messages, payloads that resolve."""
    doc = _load(PUBLISHED / "asyncapi.json")
    [channel] = [c for c in doc["channels"].values() if c["address"] == topic.name]
    kafka = channel["bindings"]["kafka"]

    assert topic.name == kafka["topic"]
    assert topic.partitions == kafka["partitions"]
    assert [topic.cleanup_policy] == kafka["topicConfiguration"]["cleanup.policy"]
    assert topic.retention_ms == kafka["topicConfiguration"]["retention.ms"]
    assert len(topic.models) == len(channel["messages"])
    for ref in channel["messages"].values():
        message = _resolve(doc, ref["$ref"])
        key = message["bindings"]["kafka"]["key"]
        assert key["type"] == "string"
        assert topic.key_description == key["description"]
        file, _, pointer = message["payload"]["schema"]["$ref"].partition("#")
        schema = _load(PUBLISHED / file)
        assert topic.schema_id == schema["$id"]
        payload = _resolve(schema, "#" + pointer)
        assert payload["type"] == "object"
        validator = _validator(schema["$id"] + "#" + pointer)
        for example in message.get("examples", []):
            assert list(validator.iter_errors(example["payload"])) == []


def test_asyncapi_operations_follow_direction() -> None:
    """The processor receives inputs, sends outputs, and both on the repartition topic."""
    doc = _load(PUBLISHED / "asyncapi.json")
    actions: dict[str, set[str]] = {}
    for op in doc["operations"].values():
        address = _resolve(doc, op["channel"]["$ref"])["address"]
        actions.setdefault(address, set()).add(op["action"])
        for ref in op["messages"]:
            _resolve(doc, ref["$ref"])  # every operation message is on its channel

    expected = {"input": {"receive"}, "output": {"send"}, "internal": {"send", "receive"}}
    assert {t.name: expected[t.direction] for t in topics.TOPICS} == actions
