"""DCSA out (issue 16, part 5): customs milestones as DCSA events, pushed to webhook
subscribers, signed, at least once, whatever the subscriber's outages.

The live test runs a real worker on the embedded broker and a real HTTP receiver in
the test: the receiver checks every delivery's ``Notification-Signature`` with the
shared secret, goes down for 30 s while the port goes on (and the worker is killed
with SIGKILL meanwhile), and once back gets every milestone the tracker concluded:
the set of eventIDs equals the milestones of every ``vasscm.container-state`` record,
and agrees with replay's clearance records.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition
from livekit import (
    KILLS,
    OutputReader,
    Worker,
    eventually,
    faulty_log,
    latest_records,
    log_ends,
    produce,
    replay_expectation,
)
from prometheus_client import CollectorRegistry

from vasscm.dcsa.estimates import estimate, estimate_doc, worth_sending
from vasscm.dcsa.milestones import (
    DcsaMilestone,
    Milestone,
    milestone_doc,
    milestone_id,
    milestones,
    new_milestones,
)
from vasscm.dcsa.subscriptions import (
    SubscriptionError,
    matches,
    new_subscription,
    sign,
    verify,
    with_new_secret,
)
from vasscm.durations import to_ms
from vasscm.live.dcsa_out.deliverer import DcsaMetrics, Deliverer
from vasscm.live.tools.broker import EmbeddedBroker
from vasscm.live.tools.broker_probe import free_port
from vasscm.settings import Settings
from vasscm.topics import CONTAINER_STATE

SECRET = base64.b64encode(b"a shared secret of the receiver").decode()
TOKEN = "webhook-test-token"

VIEW: dict[str, Any] = {
    "container_no": "MSKU7210940",
    "visit_id": "MSKU7210940-20240312T005830Z",
    "site": "cai-lan",
    "direction": "import",
    "stage": "EXITED",
    "stage_since": "2024-03-12T09:03:00.000Z",
    "arrived_at": "2024-03-12T00:58:30.000Z",
    "eligible_at": "2024-03-12T07:20:00.000Z",
    "exited_at": "2024-03-12T09:03:00.000Z",
    "declaration_nos": ["104583920150", "104583920151"],
    "channel": "red",
    "selected_for_scan": True,
    "scanned": True,
    "seal_no": "VNCL2481574",
    "alerts_firing": [],
    "events": 7,
    "selected_at": "2024-03-12T01:10:00.000Z",
    "channel_at": "2024-03-12T01:05:00.000Z",
    "exit_type": "GATE_OUT",
}


# --- the milestones of a view --------------------------------------------------------


def test_a_views_milestones_in_the_order_they_happened() -> None:
    assert [m.code for m in milestones(VIEW)] == ["CUSI", "CUSS", "CUSR", "GTOT"]
    loaded = {**VIEW, "exit_type": "LOADED", "channel": "yellow"}
    assert [m.code for m in milestones(loaded)] == ["CUSS", "CUSR", "LOAD"]
    fresh = {**VIEW, "selected_at": None, "eligible_at": None, "exited_at": None}
    fresh |= {"exit_type": None, "channel": "green"}
    assert milestones(fresh) == ()
    # A view written before the fields existed has none of them: no milestone invented.
    old = {k: v for k, v in VIEW.items() if k not in ("selected_at", "channel_at", "exit_type")}
    assert [m.code for m in milestones(old)] == ["CUSR"]


def test_only_what_the_record_before_did_not_show_is_new() -> None:
    before = milestones({**VIEW, "eligible_at": None, "exited_at": None, "exit_type": None})
    assert [m.code for m in new_milestones(before, milestones(VIEW))] == ["CUSR", "GTOT"]
    assert new_milestones(milestones(VIEW), milestones(VIEW)) == ()  # a view published again
    moved = {**VIEW, "eligible_at": "2024-03-12T08:00:00.000Z"}  # a later release
    assert new_milestones(milestones(VIEW), milestones(moved)) == (
        Milestone("CUSR", moved["eligible_at"]),
    )
    assert new_milestones(milestones(VIEW), ()) == ()  # the container left the yard


def test_a_milestone_is_a_dcsa_2_2_equipment_event_with_a_stable_id() -> None:
    (cusr,) = [m for m in milestones(VIEW) if m.code == "CUSR"]
    doc = milestone_doc(VIEW, cusr, "2024-03-12T07:20:01.000Z")
    DcsaMilestone.model_validate(doc)  # the topic's schema
    assert doc["eventType"] == "EQUIPMENT"
    assert doc["eventClassifierCode"] == "ACT"
    assert doc["equipmentEventTypeCode"] == "CUSR"
    assert doc["eventDateTime"] == "2024-03-12T07:20:00.000Z"
    assert doc["eventLocation"] == {"UNLocationCode": "VNCLN"}
    assert [r["documentReferenceValue"] for r in doc["documentReferences"]] == [
        "104583920150",
        "104583920151",
    ]
    # Sent again (another record of the same visit, or another visit id), same id.
    again = milestone_doc({**VIEW, "visit_id": "other"}, cusr, "2024-03-12T08:00:00.000Z")
    assert again["eventID"] == doc["eventID"] == milestone_id(VIEW["container_no"], cusr)
    other = milestone_doc(VIEW, Milestone("CUSR", "2024-03-12T08:00:00.000Z"), "x")
    assert other["eventID"] != doc["eventID"]
    unknown_site = milestone_doc({**VIEW, "site": "nowhere"}, cusr, "x")
    assert "eventLocation" not in unknown_site
    assert unknown_site["vasscmSite"] == "nowhere"


# --- estimated exits (contract 8.2) -------------------------------------------------

FORECAST = {
    "release_p50": None,
    "release_p90": None,
    "exit_p50": "2024-03-12T14:00:00.000Z",
    "exit_p90": "2024-03-12T18:30:00.000Z",
    "basis": 412,
    "as_of": "2024-03-12T08:00:00.000Z",
}
WAITING = {**VIEW, "stage": "RELEASED", "exited_at": None, "exit_type": None}
WAITING["forecast"] = FORECAST


def test_an_estimated_exit_is_a_dcsa_est_event_sent_again_only_when_it_moves() -> None:
    """EST GTOT (LOAD for an export at a seaport) at the exit's median, the p90 and
    basis beside it; a move of 30 min or less is no news, more is, another visit is."""
    e = estimate(WAITING)
    assert e is not None
    assert (e.code, e.at) == ("GTOT", "2024-03-12T14:00:00.000Z")
    assert estimate({**WAITING, "direction": "export"}).code == "LOAD"  # type: ignore[union-attr]
    assert estimate({**WAITING, "site": "mong-cai", "direction": "export"}).code == "GTOT"  # type: ignore[union-attr]
    assert estimate(VIEW) is None  # exited
    assert estimate({**WAITING, "forecast": None}) is None
    doc = estimate_doc(WAITING, e, "2024-03-12T08:00:01.000Z")
    DcsaMilestone.model_validate(doc)  # the topic's schema
    assert doc["eventClassifierCode"] == "EST"
    assert doc["eventDateTime"] == "2024-03-12T14:00:00.000Z"
    assert doc["vasscmEstimateP90"] == "2024-03-12T18:30:00.000Z"
    assert doc["vasscmForecastBasis"] == 412
    half_hour = 30 * 60_000
    moved = {**FORECAST, "exit_p50": "2024-03-12T14:30:00.000Z"}
    later = estimate({**WAITING, "forecast": moved})
    assert later is not None
    assert not worth_sending(e, later, half_hour)  # 30 min: not more than the setting
    further = estimate(
        {**WAITING, "forecast": {**FORECAST, "exit_p50": "2024-03-12T14:30:01.000Z"}}
    )
    assert further is not None
    assert worth_sending(e, further, half_hour)
    assert worth_sending(None, e, half_hour)
    assert worth_sending(e, e._replace(visit_id="another"), half_hour)
    assert estimate_doc(WAITING, further, "x")["eventID"] != doc["eventID"]
    assert estimate_doc(WAITING, e, "y")["eventID"] == doc["eventID"]  # sent again: same id


def test_estimates_go_only_to_subscriptions_that_ask_for_est() -> None:
    est = {"eventClassifierCode": "EST", "equipmentEventTypeCode": "GTOT"}
    act = {"eventClassifierCode": "ACT", "equipmentEventTypeCode": "GTOT"}
    plain = new_subscription({"callbackUrl": "https://h/", "secret": SECRET})
    assert matches(plain, act)
    assert not matches(plain, est)
    both = new_subscription(
        {"callbackUrl": "https://h/", "secret": SECRET, "eventClassifierCode": "ACT,EST"}
    )
    assert both.filtered
    assert matches(both, act)
    assert matches(both, est)
    only = new_subscription(
        {"callbackUrl": "https://h/", "secret": SECRET, "eventClassifierCode": ["EST"]}
    )
    assert matches(only, est)
    assert not matches(only, act)
    with pytest.raises(SubscriptionError) as caught:
        new_subscription(
            {"callbackUrl": "https://h/", "secret": SECRET, "eventClassifierCode": "PLN"}
        )
    assert caught.value.field == "eventClassifierCode"
    assert "never sent" in str(caught.value)


# --- subscriptions and signatures ----------------------------------------------------


def test_the_signature_is_rfc_2104_hmac_sha256_of_the_body() -> None:
    # RFC 4231, test case 2.
    want = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert sign(b"Jefe", b"what do ya want for nothing?") == f"sha256={want}"
    assert verify(b"Jefe", b"what do ya want for nothing?", f"sha256={want}")
    assert not verify(b"Jefe", b"what do ya want for nothing!", f"sha256={want}")
    assert not verify(b"Jeff", b"what do ya want for nothing?", f"sha256={want}")
    assert not verify(b"Jefe", b"", None)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ([], "body", "JSON object"),
        ({"secret": SECRET}, "callbackUrl", "required"),
        ({"callbackUrl": "ftp://x/y", "secret": SECRET}, "callbackUrl", "http or https"),
        ({"callbackUrl": "http:///path", "secret": SECRET}, "callbackUrl", "http or https"),
        ({"callbackUrl": "http://h/"}, "secret", "required"),
        ({"callbackUrl": "http://h/", "secret": "not base64!"}, "secret", "Base64"),
        ({"callbackUrl": "http://h/", "secret": "c2hvcnQ="}, "secret", "5 bytes"),
        (
            {"callbackUrl": "http://h/", "secret": SECRET, "equipmentEventTypeCode": ["STUF"]},
            "equipmentEventTypeCode",
            "never sent",
        ),
        ({"callbackUrl": "http://h/", "secret": SECRET, "eventType": [3]}, "eventType", "list"),
        (
            {"callbackUrl": "http://h/", "secret": SECRET, "carrierBookingReference": "X"},
            "carrierBookingReference",
            "not a filter",
        ),
    ],
)
def test_a_subscription_request_it_cannot_take_names_the_field(
    body: Any, field: str, words: str
) -> None:
    with pytest.raises(SubscriptionError) as caught:
        new_subscription(body)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_filters_are_or_within_and_between() -> None:
    sub = new_subscription(
        {
            "callbackUrl": "https://carrier.example/hook?ref=1",
            "secret": SECRET,
            "equipmentEventTypeCode": "CUSR,GTOT",
            "vasscmSite": ["cai-lan"],
        }
    )
    doc = {"equipmentEventTypeCode": "CUSR", "vasscmSite": "cai-lan", "eventType": "EQUIPMENT"}
    assert matches(sub, doc)
    assert matches(sub, {**doc, "equipmentEventTypeCode": "GTOT"})
    assert not matches(sub, {**doc, "equipmentEventTypeCode": "CUSS"})
    assert not matches(sub, {**doc, "vasscmSite": "mong-cai"})
    assert sub.filtered
    assert not new_subscription({"callbackUrl": "https://h/", "secret": SECRET}).filtered
    assert "secret" not in sub.public()
    assert sub.key == b"a shared secret of the receiver"


# --- live: a receiver down for 30 s gets everything once back ------------------------


@dataclass
class Receiver:
    """A subscriber's endpoint: checks each delivery's signature, keeps the events."""

    port: int
    key: bytes
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: int = 0
    duplicates: int = 0
    forged: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    async def take(self, request: web.Request) -> web.Response:
        body = await request.read()
        header = request.headers.get("Notification-Signature")
        if not verify(self.key, body, header):
            self.forged.append(str(header))
            return web.Response(status=401)
        self.deliveries += 1
        self.headers.append(dict(request.headers))
        for doc in orjson.loads(body):
            if doc["eventID"] in self.events:
                self.duplicates += 1
            self.events[doc["eventID"]] = doc
        return web.Response(status=204)

    async def up(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.take)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def down(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()
        self.runner = None


def call(worker: Worker, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else orjson.dumps(body)
    request = urllib.request.Request(
        f"http://127.0.0.1:{worker.web_port}{path}", data=data, method=method
    )
    request.add_header("Authorization", f"Bearer {TOKEN}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, orjson.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, orjson.loads(raw) if raw else None


def expected_estimates(views: list[dict[str, Any]]) -> set[str]:
    """The eventIDs of the estimated exits the feed sends for these container-state
    records, in order (vasscm.live.dcsa_out.feed's rule, replayed): a visit's first, then
    each whose median moved by more than 30 min from the last sent."""
    sent: dict[str, Any] = {}
    want: set[str] = set()
    for v in views:
        e = estimate(v) if "visit_id" in v else None  # a tombstone has no visit
        if e is None:
            if "visit_id" not in v or v.get("exited_at"):
                sent.pop(v["container_no"], None)
            continue
        if worth_sending(sent.get(v["container_no"]), e, 30 * 60_000):
            sent[v["container_no"]] = e
            want.add(estimate_doc(v, e, "")["eventID"])
    return want


async def every_view(bootstrap: str, *, tombstones: bool = False) -> list[dict[str, Any]]:
    """Every record of vasscm.container-state, to its end (with ``tombstones``, each
    as ``{"container_no": ...}`` alone)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        tps = [
            TopicPartition(CONTAINER_STATE, p)
            for p in consumer.partitions_for_topic(CONTAINER_STATE) or ()
        ]
        ends = await log_ends(consumer, tps, bootstrap)
        await consumer.seek_to_beginning(*tps)
        views: list[dict[str, Any]] = []
        left = {tp for tp in tps if ends[tp]}
        while left:
            batch = await consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                for r in records:
                    if r.value:
                        views.append(orjson.loads(r.value))
                    elif tombstones and r.key:
                        views.append({"container_no": r.key.decode()})
                if records[-1].offset + 1 >= ends[tp]:
                    left.discard(tp)
        return views
    finally:
        await consumer.stop()


def metric(worker: Worker, name: str) -> float:
    text = worker._get("/metrics", 5).decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + " ") or line.startswith(name + "{")
    )


@KILLS
def test_a_subscriber_down_for_30s_gets_every_milestone_signed_once_back(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    log = faulty_log(4000, seed=29)
    first, second = log[: len(log) // 2], log[len(log) // 2 :]
    expected = replay_expectation(log)
    receiver = Receiver(free_port(), base64.b64decode(SECRET))
    env = {
        "VASSCM_WEB_TOKEN": TOKEN,
        "VASSCM_WEBHOOK_RETRY_MAX": "2",
        "VASSCM_WEBHOOK_PAUSE_AFTER": "8",
        "VASSCM_WEBHOOK_PAUSED_RETRY": "3",
    }
    worker = Worker(own_broker, tmp_path, env=env).start()
    try:
        worker.wait_ready()
        asked = {"callbackUrl": f"http://127.0.0.1:{receiver.port}/hook", "secret": SECRET}
        # 503 with Retry-After until the worker has reached the broker for DCSA out.
        status, sub = eventually(
            lambda: (a := call(worker, "POST", "/dcsa/subscriptions", asked))[0] != 503 and a,
            30,
            "subscriptions taken",
        )
        assert status == 201, sub
        assert "secret" not in sub
        status, listed = call(worker, "GET", "/dcsa/subscriptions")
        assert status == 200
        assert [s["subscriptionID"] for s in listed] == [sub["subscriptionID"]]
        assert all("secret" not in s for s in listed)
        assert call(worker, "GET", "/dcsa/subscriptions/nope")[0] == 404
        bad = call(worker, "POST", "/dcsa/subscriptions", {"callbackUrl": "x", "secret": SECRET})
        assert bad[0] == 400
        assert bad[1]["field"] == "callbackUrl"

        async def run() -> tuple[set[str], float]:
            await receiver.up()
            async with OutputReader(own_broker.bootstrap) as reader:
                await produce(own_broker.bootstrap, first)
                # Up: deliveries flow.
                deadline = time.monotonic() + 60
                while len(receiver.events) < 50:
                    assert time.monotonic() < deadline, "no deliveries while up"
                    await asyncio.sleep(0.2)
                await receiver.down()
                went_down = time.monotonic()
                await produce(own_broker.bootstrap, second)
                # A crash meanwhile: what was not delivered was not committed, so the
                # next process delivers it; the milestones feed starts again where
                # its offsets are and knows what it had sent from the records before.
                worker.kill()
                worker.start()
                await asyncio.to_thread(worker.wait_ready)
                # Down: tracking goes on to the end of the log meanwhile.
                done = await reader.poll_until(
                    lambda out: latest_records(out.records) == expected.records, timeout=120
                )
                assert done, "tracking did not finish while the subscriber was down"
                deadline = time.monotonic() + 30
                while metric(worker, 'vasscm_dcsa_subscriptions{state="paused"}') < 1:
                    assert time.monotonic() < deadline, "the failing subscriber never paused"
                    await asyncio.sleep(0.5)
                _, paused = call(worker, "GET", f"/dcsa/subscriptions/{sub['subscriptionID']}")
                assert paused["vasscmDelivery"]["state"] == "paused", paused
                assert paused["vasscmDelivery"]["lastError"]
                while time.monotonic() - went_down < 30:
                    await asyncio.sleep(0.5)  # the outage the issue asks for
                down_for = time.monotonic() - went_down
                await receiver.up()
                views = await every_view(own_broker.bootstrap)
                want = {milestone_id(v["container_no"], m) for v in views for m in milestones(v)}
                deadline = time.monotonic() + 90
                while set(receiver.events) != want:
                    assert time.monotonic() < deadline, (
                        f"{len(want - set(receiver.events))} milestones never delivered, "
                        f"{len(set(receiver.events) - want)} unexpected"
                    )
                    await asyncio.sleep(0.5)
                await receiver.down()
                return want, down_for

        want, down_for = asyncio.run(run())
        assert down_for >= 30
        assert not receiver.forged
        # At least once: a milestone may come twice after the crash, with its eventID.
        assert receiver.duplicates < len(want) / 4, receiver.duplicates
        assert {h["Subscription-ID"] for h in receiver.headers} == {sub["subscriptionID"]}
        assert {h["API-Version"] for h in receiver.headers} == {"2.2.0"}
        got = receiver.events.values()
        codes = {d["equipmentEventTypeCode"] for d in got}
        assert {"CUSS", "CUSR", "GTOT", "LOAD"} <= codes, codes
        # The milestones agree with replay: each closed visit's release and exit.
        by_container: dict[str, set[tuple[str, str]]] = {}
        for d in got:
            by_container.setdefault(d["equipmentReference"], set()).add(
                (d["equipmentEventTypeCode"], d["eventDateTime"])
            )
        for record in expected.records.values():
            have = by_container.get(record["container_no"], set())
            exits = {at for code, at in have if code in ("GTOT", "LOAD")}
            assert record["exited_at"] in exits, record
            if record["eligible_at"] is not None:
                assert ("CUSR", record["eligible_at"]) in have, record
        status, after = call(worker, "GET", f"/dcsa/subscriptions/{sub['subscriptionID']}")
        assert after["vasscmDelivery"]["state"] == "active"
        assert metric(worker, "vasscm_dcsa_events_delivered_total") > 0
        assert call(worker, "DELETE", f"/dcsa/subscriptions/{sub['subscriptionID']}")[0] == 204
        assert call(worker, "GET", "/dcsa/subscriptions") == (200, [])
    finally:
        worker.stop()


def test_hashlib_agrees_with_the_signature() -> None:
    """The receiver side in another library's words: HMAC by hand from hashlib."""
    key, body = b"k" * 20, b'[{"eventID":"x"}]'
    block = 64
    ipad = bytes(b ^ 0x36 for b in key.ljust(block, b"\0"))
    opad = bytes(b ^ 0x5C for b in key.ljust(block, b"\0"))
    inner = hashlib.sha256(ipad + body).digest()
    assert sign(key, body) == "sha256=" + hashlib.sha256(opad + inner).hexdigest()


async def test_a_delivery_is_tried_until_taken_paused_meanwhile_and_signed_as_it_stands() -> None:
    """Deliverer._deliver against a real receiver that refuses four times: backoff,
    then paused after VASSCM_WEBHOOK_PAUSE_AFTER, each try signed with the secret in
    force (a PUT .../secret in between), and active again once taken."""
    old, new = b"the first secret, 32 bytes long.", b"the second secret, also 32 bytes"
    sub = new_subscription(
        {"callbackUrl": "http://127.0.0.1:1/", "secret": base64.b64encode(old).decode()}
    )
    seen: list[tuple[str, bytes | None]] = []  # (deliverer state at the try, key that signed)
    deliverer: Deliverer | None = None

    async def take(request: web.Request) -> web.Response:
        assert deliverer is not None
        body = await request.read()
        signature = request.headers.get("Notification-Signature")
        key = next((k for k in (old, new) if verify(k, body, signature)), None)
        seen.append((deliverer.state, key))
        if len(seen) == 2:
            deliverer.sub = with_new_secret(
                deliverer.sub, {"secret": base64.b64encode(new).decode()}
            )
        return web.Response(status=503 if len(seen) <= 4 else 204)

    app = web.Application()
    app.router.add_post("/hook", take)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    settings = Settings(
        webhook_retry_max=timedelta(seconds=0.2),
        webhook_pause_after=timedelta(seconds=0.6),
        webhook_paused_retry=timedelta(seconds=0.2),
    )
    metrics = DcsaMetrics(CollectorRegistry())
    try:
        async with aiohttp.ClientSession() as session:
            sub = sub.model_copy(update={"callbackUrl": f"http://127.0.0.1:{port}/hook"})
            deliverer = Deliverer(sub, settings, {}, session, metrics)
            await asyncio.wait_for(deliverer._deliver(b'[{"eventID":"e1"}]', 1), 20)
    finally:
        await runner.cleanup()
    states = [state for state, _ in seen]
    assert states[0] == "active"
    assert "retrying" in states
    assert states[-1] == "paused"  # the last refusal came after 0.6 s of them
    assert [key for _, key in seen] == [old, old, new, new, new]
    assert deliverer.state == "active"
    assert deliverer.failing_since is None
    assert deliverer.last_error is None
    assert deliverer.delivered == 1
    assert metrics.deliveries.labels("failed")._value.get() == 4
    assert metrics.deliveries.labels("delivered")._value.get() == 1


def test_a_subscriber_asking_for_est_gets_the_estimated_exits_none_for_a_small_move(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """Contract 8.2 to DCSA: a subscription with eventClassifierCode EST receives the
    forecast exits of the container-state records, a visit's first and then only those
    whose median moved by more than VASSCM_DCSA_EST_MOVE (30 min) from the last sent;
    one without the filter receives milestones and no estimate."""
    from vasscm.simulate import LogSpec, synthetic_log

    log = list(synthetic_log(5000, seed=13, spec=LogSpec(every=timedelta(minutes=6))))
    expected = replay_expectation(log)
    est_receiver = Receiver(free_port(), base64.b64decode(SECRET))
    act_receiver = Receiver(free_port(), base64.b64decode(SECRET))
    env = {"VASSCM_WEB_TOKEN": TOKEN, "VASSCM_FORECAST_REFRESH": "0.3"}
    worker = Worker(own_broker, tmp_path, env=env).start()
    try:
        worker.wait_ready()
        subs = []
        for receiver, extra in ((est_receiver, {"eventClassifierCode": "EST"}), (act_receiver, {})):
            asked = {"callbackUrl": f"http://127.0.0.1:{receiver.port}/hook", "secret": SECRET}
            status, sub = eventually(
                lambda asked=asked, extra=extra: (
                    (a := call(worker, "POST", "/dcsa/subscriptions", {**asked, **extra}))[0] != 503
                    and a
                ),
                30,
                "subscriptions taken",
            )
            assert status == 201, sub
            subs.append(sub)

        async def run() -> list[dict[str, Any]]:
            await est_receiver.up()
            await act_receiver.up()
            try:
                async with OutputReader(own_broker.bootstrap) as reader:
                    # In slices, so that the worker learns (and sweeps) as the port goes.
                    # Each slice is tracked, and every clearance written so far read by
                    # the forecasts, before the next: how many records carry an exit
                    # forecast must not depend on whether tracking or learning ran
                    # ahead (it did: a faster vessel step left none, 2 runs in 6).
                    for k in range(0, len(log), 500):
                        await produce(own_broker.bootstrap, log[k : k + 500])
                        so_far = set(replay_expectation(log[: k + 500]).records)

                        def learned(out: Any, so_far: set[str] = so_far) -> bool:
                            return set(latest_records(out.records)) >= so_far and metric(
                                worker, "vasscm_forecast_clearance_records_read_total"
                            ) >= len(out.records)

                        assert await reader.poll_until(learned, timeout=60), (
                            f"slice {k // 500} not tracked and learned from"
                        )
                        await asyncio.sleep(0.3)  # a sweep (VASSCM_FORECAST_REFRESH) since
                    done = await reader.poll_until(
                        lambda out: latest_records(out.records) == expected.records, timeout=120
                    )
                    assert done, "tracking did not finish"
                # What the feed must have sent, replayed over every container-state
                # record so far: read again until the two agree, as the worker still
                # writes records after the log (stall checks, forecasts moving on).
                deadline = time.monotonic() + 90
                while True:
                    views = await every_view(own_broker.bootstrap, tombstones=True)
                    want = expected_estimates(views)
                    if set(est_receiver.events) == want:
                        break
                    assert time.monotonic() < deadline, (
                        f"{len(want - set(est_receiver.events))} estimates never delivered, "
                        f"{len(set(est_receiver.events) - want)} unexpected"
                    )
                    await asyncio.sleep(1.0)
                assert len(want) > 20, "too few estimates to say anything"
                views = [v for v in views if "visit_id" in v]  # without the tombstones
                deadline = time.monotonic() + 60
                while len(act_receiver.events) < 100:
                    assert time.monotonic() < deadline, "milestones not delivered"
                    await asyncio.sleep(0.5)
                return views
            finally:
                await est_receiver.down()
                await act_receiver.down()

        views = asyncio.run(run())
        got = list(est_receiver.events.values())
        assert {d["eventClassifierCode"] for d in got} == {"EST"}
        assert {d["equipmentEventTypeCode"] for d in got} <= {"GTOT", "LOAD"}
        assert all(d["vasscmForecastBasis"] > 0 for d in got)
        # None re-sent for a move under the setting: per visit, in the order sent,
        # each median is more than 30 min from the one before.
        by_visit: dict[tuple[str, str], list[int]] = {}
        for d in got:  # received in order per container (one partition, one consumer)
            key = (d["equipmentReference"], d["vasscmVisitID"])
            by_visit.setdefault(key, []).append(to_ms(datetime.fromisoformat(d["eventDateTime"])))
        moves = [abs(b - a) for ats in by_visit.values() for a, b in pairwise(ats)]
        assert moves, "no estimate was ever sent again: the setting is not exercised"
        assert min(moves) > 30 * 60_000
        # ... while the forecasts did move by less on the records in between.
        small = 0
        last: dict[str, int] = {}
        for v in views:
            e = estimate(v)
            if e is not None:
                prior = last.get(v["visit_id"])
                small += prior is not None and 0 < abs(e.at_ms - prior) <= 30 * 60_000
                last[v["visit_id"]] = e.at_ms
        assert small > 0, "no forecast moved by less than the setting"
        assert all(d["eventClassifierCode"] == "ACT" for d in act_receiver.events.values())
        assert metric(worker, "vasscm_dcsa_estimates_total") >= len(got)
    finally:
        worker.stop()
