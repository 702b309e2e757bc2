"""A real Prometheus scrapes a live worker on the embedded broker and evaluates the
shipped rules: the clearance count, the median release time and the stalled alert
that operators see come out right."""

from __future__ import annotations

import asyncio
import bisect
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from factories import event_doc
from livekit import PrometheusServer, Worker, produce, replay_expectation

from vasscm.live.http.metrics import CLEARANCE_BUCKETS
from vasscm.live.tools.broker import EmbeddedBroker
from vasscm.simulate import container_number

pytestmark = [pytest.mark.broker, pytest.mark.slow]

RULES = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "rules"
COMPLETED, STALLED = 40, 5


def scenario(now: datetime) -> list[bytes]:
    """40 import visits at Cái Lân released after 1 to 36 h, and 5 containers discharged
    four days ago and never released (AWAITING_RELEASE, import threshold 48 h).
    Exits come last, as at a port: the ELIGIBLE precedes the gate-out by hours."""
    base = now.replace(second=0, microsecond=0) - timedelta(days=4)
    docs: list[dict[str, Any]] = []
    for i in range(COMPLETED):
        no = container_number(i)
        arrived = base + timedelta(minutes=10 * i)
        eligible = arrived + timedelta(hours=1 + 0.9 * i)
        docs += [
            event_doc("DISCHARGED", arrived, container_no=no),
            event_doc("CHANNEL_ASSIGNED", arrived + timedelta(minutes=20), container_no=no),
            event_doc("ELIGIBLE", eligible, container_no=no),
            event_doc("GATE_OUT", eligible + timedelta(hours=1), container_no=no),
        ]
    for i in range(COMPLETED, COMPLETED + STALLED):
        docs.append(event_doc("DISCHARGED", base, container_no=container_number(i)))
    docs.sort(key=lambda d: d["type"] == "GATE_OUT")
    return [orjson.dumps(d) for d in docs]


def rules_for_test(workdir: Path) -> Path:
    """The shipped rule files with every ``for:`` at 0 s: this test checks that the
    expressions fire on real data; the waiting periods are pinned by promtool tests."""
    out = workdir / "rules"
    out.mkdir(parents=True)
    for path in RULES.glob("*.yml"):
        doc = yaml.safe_load(path.read_text())
        for group in doc["groups"]:
            group["interval"] = "1s"
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = "0s"
        (out / path.name).write_text(yaml.safe_dump(doc))
    return out


def bucket_of(seconds: float) -> int:
    return bisect.bisect_left(CLEARANCE_BUCKETS, seconds)


def test_prometheus_scrapes_clearances_p50_and_fires_the_stall_alert(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """Count exact, p50 release within one bucket of the truth, stalled alert firing."""
    log = scenario(datetime.now(tz=UTC))
    expected = replay_expectation(log)
    assert COMPLETED == len(expected.records)
    truth = statistics.median(r["segments"]["release"] for r in expected.records.values())

    worker = Worker(own_broker, tmp_path, env={"VASSCM_STALL_CLOCK": "wall"}).start()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules_for_test(tmp_path) / "*.yml")],
        "scrape_configs": [
            {
                "job_name": "vasscm",
                "static_configs": [{"targets": [f"127.0.0.1:{worker.web_port}"]}],
            }
        ],
    }
    try:
        worker.wait_ready()
        with PrometheusServer(tmp_path / "prometheus", config) as prom:

            def value(promql: str) -> float | None:
                result = prom.query(promql)
                return float(result[0]["value"][1]) if result else None

            # Customs releases are tracked before the exits arrive (the fan-out hop
            # would otherwise let a GATE_OUT overtake its ELIGIBLE: a transient
            # EXIT_WITHOUT_RELEASE that resolves, but pages).
            exits = [line for line in log if b'"GATE_OUT"' in line]
            asyncio.run(produce(own_broker.bootstrap, log[: len(log) - len(exits)]))
            eligible = 'vasscm_events_total{topic="vasscm.container-events",type="ELIGIBLE"}'
            prom.wait(lambda: value(f"sum({eligible})") == COMPLETED, 60, "releases tracked")
            asyncio.run(produce(own_broker.bootstrap, exits))

            # Counts net of revisions, as the recording rules take them.
            net = "sum(vasscm_clearances_total) - sum(vasscm_clearances_superseded_total)"
            prom.wait(lambda: value(net) == COMPLETED, 60, "all clearances")
            release = '{segment="release"}'
            assert COMPLETED == value(
                f"sum(vasscm_clearance_duration_seconds_count{release})"
                f" - sum(vasscm_clearance_superseded_seconds_count{release})"
            )
            p50 = value(
                "histogram_quantile(0.5, sum by (le) "
                f"(vasscm_clearance_duration_seconds_bucket{release}) - sum by (le) "
                f"(vasscm_clearance_superseded_seconds_bucket{release}))"
            )
            assert p50 is not None
            assert abs(bucket_of(p50) - bucket_of(truth)) <= 1, (p50, truth)

            stalled = (
                'vasscm_stalled_containers{site="cai-lan",direction="import",'
                'stage="AWAITING_RELEASE"}'
            )
            prom.wait(lambda: value(f"sum({stalled})") == STALLED, 30, "stalled gauge")
            assert STALLED == value("sum(vasscm_containers)")  # the others have left

            # Stage AWAITING_RELEASE: the visits released long ago were RELEASED-stalled
            # until their exits came, and may still show while that alert resolves.
            def firing() -> list[dict[str, Any]]:
                return [
                    a
                    for a in prom.alerts()
                    if a["labels"]["alertname"] == "VasscmContainersStalled"
                    and a["labels"].get("stage") == "AWAITING_RELEASE"
                    and a["state"] == "firing"
                ]

            prom.wait(lambda: bool(firing()), 30, "firing VasscmContainersStalled")
            [alert] = firing()
            assert {"site": "cai-lan", "direction": "import", "severity": "warning"}.items() <= (
                alert["labels"].items()
            )
            assert "5 container(s) stalled" in alert["annotations"]["summary"]
            # Nothing left without release in this scenario: the critical alert stays quiet.
            names = {a["labels"]["alertname"] for a in prom.alerts()}
            assert "VasscmExitWithoutRelease" not in names
    finally:
        worker.stop()
