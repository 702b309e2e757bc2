"""DCSA Track & Trace into the live worker, on the real broker (issue 16).

A simulated port's log written as DCSA events (the terminal's moves, the ships' calls,
customs' scan selections and releases; the rest in the contract's form) gives the
live worker the clearance records, alerts and rejections that replay gives for the
native log; malformed DCSA documents are dead-lettered naming the DCSA field; and the
worker's ``POST /dcsa/events`` takes DCSA events behind its token.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from livekit import (
    OutputReader,
    Worker,
    faulty_log,
    firing_alerts,
    latest_records,
    produce,
    rejections,
    replay_expectation,
)

from vasscm.dcsa import to_dcsa
from vasscm.events import parse_event
from vasscm.live.tools.broker import EmbeddedBroker
from vasscm.simulate import as_dcsa
from vasscm.topics import DCSA_EVENTS

TOKEN = "dcsa-test-token"


def gate_out() -> dict[str, Any]:
    """A valid DCSA 2.2 GTOT of one container at Cái Lân."""
    event = parse_event(
        orjson.dumps(
            {
                "type": "GATE_OUT",
                "event_id": "tos-gtot-1",
                "occurred_at": "2018-01-02T08:00:00Z",
                "site": "cai-lan",
                "container_no": "CSQU3054383",
                "gate": "gate-2",
            }
        )
    )
    (doc,) = to_dcsa(event)  # type: ignore[arg-type]
    return doc


def without(doc: dict[str, Any], *path: str) -> dict[str, Any]:
    copy = orjson.loads(orjson.dumps(doc))
    *parents, last = path
    target = copy
    for name in parents:
        target = target[name]
    target.pop(last)
    return dict(copy)


def malformed() -> list[tuple[bytes, str | None]]:
    """Twenty DCSA documents the adapter cannot map, each with the field it must name
    (None where the document has no field to name: not JSON, not an object)."""
    good = gate_out()
    bad: list[tuple[dict[str, Any] | bytes, str | None]] = [
        (without(good, "eventType"), "eventType"),
        ({**good, "eventType": "SHIPMENT"}, "eventType"),
        (without(good, "equipmentEventTypeCode"), "equipmentEventTypeCode"),
        ({**good, "equipmentEventTypeCode": "TELE"}, "equipmentEventTypeCode"),
        ({**good, "equipmentEventTypeCode": "STUF"}, "equipmentEventTypeCode"),
        ({**good, "eventClassifierCode": "PLN"}, "eventClassifierCode"),
        ({**good, "eventClassifierCode": "MAYBE"}, "eventClassifierCode"),
        (without(good, "equipmentReference"), "equipmentReference"),
        ({**good, "equipmentReference": "CSQU3054384"}, "equipmentReference"),
        ({**good, "eventDateTime": "2018-01-02T08:00:00"}, "eventDateTime"),
        ({**good, "eventDateTime": "yesterday"}, "eventDateTime"),
        (without(good, "eventDateTime"), "eventDateTime"),
        ({**good, "equipmentEventTypeCode": "CUSI"}, "equipmentEventTypeCode"),
        ({**good, "equipmentEventTypeCode": "CUSR"}, "documentReferences"),
        ({**without(good, "vasscmGate"), "eventLocation": {}}, "transportCall.facilityCode"),
        ({**good, "eventType": "TRANSPORT", "transportEventTypeCode": "ARRI"}, "transportCall"),
        (
            {
                **without(good, "equipmentEventTypeCode"),
                "eventType": "TRANSPORT",
                "transportEventTypeCode": "DEPA",
                "eventClassifierCode": "EST",
            },
            "eventClassifierCode",
        ),
        (
            {**good, "eventLocation": {"UNLocationCode": "NLRTM"}, "vasscmSite": None},
            "eventLocation.UNLocationCode",
        ),
        (b"[1, 2, 3]", None),
        (b"{not json", None),
    ]
    out = []
    for doc, field in bad:
        raw = doc if isinstance(doc, bytes) else orjson.dumps(doc)
        out.append((raw, field))
    return out


def test_a_day_written_as_dcsa_gives_the_native_logs_results_live(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    native = faulty_log(3000)
    dcsa = list(as_dcsa(native))
    expected = replay_expectation(native)
    kinds = {orjson.loads(x).get("equipmentEventTypeCode") for x in dcsa if b"eventType" in x}
    assert {"GTIN", "GTOT", "LOAD", "DISC", "CUSS", "CUSR"} <= kinds
    assert sum(b'"TRANSPORT"' in x for x in dcsa) > 20
    bad = malformed()
    worker = Worker(own_broker, tmp_path).start()
    try:
        worker.wait_ready()

        async def run() -> list[dict[str, Any]]:
            async with OutputReader(own_broker.bootstrap) as reader:
                await produce(own_broker.bootstrap, dcsa)
                producer = AIOKafkaProducer(bootstrap_servers=own_broker.bootstrap)
                await producer.start()
                try:  # onto the DCSA topic whatever they hold
                    for raw, _ in bad:
                        await producer.send_and_wait(DCSA_EVENTS, raw)
                finally:
                    await producer.stop()

                def done(out: Any) -> bool:
                    return (
                        latest_records(out.records) == expected.records
                        and firing_alerts(out.alerts) == expected.firing
                        and len(out.dead) >= len(expected.rejected) + len(bad)
                    )

                await reader.poll_until(done, timeout=120)
                out = reader.outputs
                assert latest_records(out.records) == expected.records
                assert firing_alerts(out.alerts) == expected.firing
                return out.dead

        dead = asyncio.run(run())
    finally:
        worker.stop()
    ours = [d for d in dead if d["topic"] == DCSA_EVENTS]
    native_dead = [d for d in dead if d["topic"] != DCSA_EVENTS]
    assert expected.rejected == rejections(native_dead)
    by_raw = {d["raw"]: d for d in ours}
    assert len(bad) == len(by_raw)
    for raw, field in bad:
        letter = by_raw[raw.decode()]
        if field is not None:
            assert field == letter["field"], letter
            assert field in letter["reason"], letter
        assert letter["reason"]


def post(worker: Worker, body: bytes, token: str | None = TOKEN) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{worker.web_port}/dcsa/events", data=body, method="POST"
    )
    request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read() or b"{}")


@pytest.mark.parametrize("shape", ["array", "one by one"])
def test_the_worker_takes_dcsa_events_posted_to_it(
    own_broker: EmbeddedBroker, tmp_path: Path, shape: str
) -> None:
    """Behind the token; a gate-in and a gate-out become a visit (exited without a
    release: the critical alert), a document it cannot map is named in the answer and
    dead-lettered."""
    gtot = gate_out()
    gtin = {
        **gtot,
        "eventID": "8a4f0e53-5c2b-5b6e-9c1e-1d7f8b0f4a11",
        "vasscmEventID": "tos-gtin-1",
        "equipmentEventTypeCode": "GTIN",
        "eventDateTime": "2018-01-02T06:00:00Z",
        "eventCreatedDateTime": "2018-01-02T06:00:00Z",
        "vasscmDirection": "import",
    }
    broken = without(gtot, "equipmentReference")
    docs = [gtin, gtot, broken]
    worker = Worker(own_broker, tmp_path, env={"VASSCM_WEB_TOKEN": TOKEN}).start()
    try:
        worker.wait_ready()
        assert 401 == post(worker, orjson.dumps(docs), token=None)[0]
        assert 400 == post(worker, b'"not an event"')[0]
        if shape == "array":
            answers = [post(worker, orjson.dumps(docs))]
        else:
            answers = [post(worker, orjson.dumps(doc)) for doc in docs]
        assert {202} == {status for status, _ in answers}
        refused = [r for _, body in answers for r in body["dead_lettered"]]
        assert ["equipmentReference"] == [r["field"] for r in refused]

        async def run() -> Any:
            async with OutputReader(own_broker.bootstrap) as reader:

                def done(out: Any) -> bool:
                    return bool(out.records) and bool(out.dead)

                await reader.poll_until(done, timeout=60)
                return reader.outputs

        out = asyncio.run(run())
    finally:
        worker.stop()
    (record,) = out.records
    assert "CSQU3054383" == record["container_no"]
    assert "EXIT_WITHOUT_RELEASE" in record["alerts"]
    (letter,) = out.dead
    assert ("vasscm.dcsa-events", "equipmentReference") == (letter["topic"], letter["field"])
