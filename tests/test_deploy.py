"""deploy/: every file parses, passes its own tool, and every reference it makes
(metric, recording rule, env var, port, path, mounted file, runbook anchor) exists in
the code. Docker does not run on the build machines; these checks stand in for it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from vasscm.forecast import Forecaster
from vasscm.live.dcsa_out.deliverer import DcsaMetrics
from vasscm.live.http.gauges import Snapshot, StateCollector
from vasscm.live.http.metrics import build_metrics
from vasscm.live.http.server import build_web
from vasscm.live.stream.forecasts import Forecasts, LateCollector
from vasscm.settings import Settings
from vasscm.tracking import DEFAULT_POLICY

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PROM = DEPLOY / "prometheus"
RULE_FILES = sorted((PROM / "rules").glob("*.yml"))
K8S = {p.stem: yaml.safe_load(p.read_text()) for p in (DEPLOY / "k8s").glob("*.yaml")}
COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def tool(*args: str, cwd: Path = PROM, stderr: bool = True) -> str:
    """Run a Prometheus tool; fail with its output."""
    assert shutil.which(args[0]), f"{args[0]} is not installed (.ci/run installs it)"
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert 0 == done.returncode, done.stdout + done.stderr
    return done.stdout + (done.stderr if stderr else "")


def rules() -> list[dict[str, Any]]:
    return [
        r for f in RULE_FILES for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"]
    ]


def exported_names() -> set[str]:
    """Every sample name the worker exports (histogram suffixes included)."""
    registry = CollectorRegistry()
    metrics = build_metrics(registry)
    registry.register(StateCollector(lambda: Snapshot(0, [], {"t": 1}), metrics.site))
    metrics.site("cai-lan")
    metrics.clearance_duration.labels("s", "import", "green", "release").observe(1)
    metrics.superseded_duration.labels("s", "import", "green", "release").observe(1)
    metrics.superseded.labels("s", "import", "green").inc()
    metrics.report_delay.labels("GATE_OUT").observe(1)
    metrics.processing_delay.labels("t").observe(1)
    metrics.clearances.labels("s", "import", "green").inc()
    metrics.revisions.labels("s", "import").inc()
    metrics.event("t", "GATE_IN", "accepted")
    metrics.obligations.labels("s", "port", "GATE_OUT", "on_time").inc()
    metrics.notice_lead.labels("s", "EXPECTED").observe(1)
    DcsaMetrics(registry)  # DCSA out's, every child made up front
    forecasts = Forecasts(Forecaster(), list, lambda: 0, DEFAULT_POLICY)
    registry.register(LateCollector(forecasts, metrics.site))
    return {s.name for family in registry.collect() for s in family.samples}


def referenced(expr: str) -> set[str]:
    """Metric and recording-rule names an expression reads."""
    recorded = re.findall(r"\b[a-z_]+:vasscm_[a-z0-9_]+:[a-z0-9_]+\b", expr)
    for name in recorded:
        expr = expr.replace(name, "")
    return set(recorded) | set(re.findall(r"\bvasscm_[a-z_]+\b", expr))


# --- Prometheus ----------------------------------------------------------------------


def test_promtool_check_config(tmp_path: Path) -> None:
    """The shipped config is valid, with its rule files where the compose file mounts them."""
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    assert ["/etc/prometheus/rules/*.yml"] == config["rule_files"]
    config["rule_files"] = [str(PROM / "rules" / "*.yml")]  # the same files, from the repo
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    out = tool("promtool", "check", "config", str(tmp_path / "prometheus.yml"))
    assert "SUCCESS" in out


def test_promtool_check_rules() -> None:
    out = tool("promtool", "check", "rules", *map(str, RULE_FILES))
    assert out.count("SUCCESS") == len(RULE_FILES)


def test_promtool_unit_tests_pass() -> None:
    """tests/*.yml: each alert fires and stays quiet when it should; rules compute."""
    tests = sorted((PROM / "tests").glob("*.yml"))
    out = tool("promtool", "test", "rules", *(str(t.relative_to(PROM)) for t in tests))
    assert out.count("SUCCESS") == len(tests)


def test_every_alert_and_recording_rule_has_a_unit_test() -> None:
    """No rule ships untested: each alert name and recorded series appears in a test."""
    tested = "\n".join(p.read_text() for p in (PROM / "tests").glob("*.yml"))
    for rule in rules():
        name = rule.get("alert") or rule["record"]
        assert re.search(rf"\b{re.escape(name)}\b", tested), f"{name} has no promtool test"


def test_every_alert_has_severity_summary_description_and_runbook() -> None:
    """In English and, for the duty officer's page, in Vietnamese (summary_vi and
    description_vi, the same template fields)."""
    anchors = set(re.findall(r"^## (\S+)", (DEPLOY / "RUNBOOK.md").read_text(), re.M))
    alerts = [r for r in rules() if "alert" in r]
    assert len(alerts) >= 8
    for alert in alerts:
        assert alert["labels"]["severity"] in {"critical", "warning"}, alert["alert"]
        notes = alert["annotations"]
        wanted = {"summary", "description", "runbook", "summary_vi", "description_vi"}
        assert wanted <= set(notes), alert["alert"]
        for name in ("summary", "description"):
            fields = set(re.findall(r"\$labels\.\w+|\$value", notes[name]))
            assert fields == set(re.findall(r"\$labels\.\w+|\$value", notes[f"{name}_vi"]))
        [anchor] = re.findall(r"RUNBOOK\.md#([\w-]+)", alert["annotations"]["runbook"])
        assert anchor in anchors, f"{alert['alert']}: RUNBOOK.md has no section {anchor}"


def test_rules_read_only_metrics_the_worker_exports() -> None:
    """A renamed metric breaks this test, not the pager at night."""
    exported = exported_names()
    recorded = {r["record"] for r in rules() if "record" in r}
    for rule in rules():
        for name in referenced(rule["expr"]):
            assert name in exported | recorded, f"{rule.get('alert') or rule['record']}: {name}"


def test_alertmanager_config_routes_critical_apart_from_warnings() -> None:
    config = DEPLOY / "alertmanager" / "alertmanager.yml"
    tool("amtool", "check-config", str(config))

    def receiver(**labels: str) -> str:
        args = [f"{k}={v}" for k, v in labels.items()]
        out = tool(
            "amtool", "config", "routes", "test", f"--config.file={config}", *args, stderr=False
        )
        return out.strip().splitlines()[-1].strip()

    critical = receiver(severity="critical", alertname="VasscmExitWithoutRelease")
    warning = receiver(severity="warning", alertname="VasscmContainersStalled")
    assert "customs-duty-officer" == critical
    assert "port-operations" == warning


# --- Grafana -------------------------------------------------------------------------


def grafana_dashboard() -> Any:
    sys.path.insert(0, str(DEPLOY / "grafana"))
    try:
        import dashboard  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    return dashboard


def test_dashboard_json_is_the_generators_output() -> None:
    """The committed JSON is what deploy/grafana/dashboard.py writes (no hand drift)."""
    gen = grafana_dashboard()
    assert gen.render() == gen.OUT.read_text()


def test_dashboard_queries_read_exported_metrics_and_recording_rules() -> None:
    board = grafana_dashboard().dashboard()
    exported = exported_names() | {r["record"] for r in rules() if "record" in r}
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    titles = " ".join(p["title"] for p in panels).lower()
    for topic in ("release time", "containers per stage", "stalled", "alerts"):
        assert topic in titles
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            for name in referenced(target["expr"]):
                assert name in exported, f"{panel['title']}: {name}"


def test_dashboard_uses_the_provisioned_datasource_and_path() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    [source] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    board = grafana_dashboard().dashboard()
    assert {source["uid"]} == {p["datasource"]["uid"] for p in board["panels"]}
    [provider] = yaml.safe_load((provisioning / "dashboards" / "vasscm.yml").read_text())[
        "providers"
    ]
    mounts = dict(v.split(":")[:2][::-1] for v in COMPOSE["services"]["grafana"]["volumes"])
    assert "./grafana/dashboards" == mounts[provider["options"]["path"]]
    assert source["url"] == "http://prometheus:9090"


# --- compose, Dockerfile, k8s: references against the code -----------------------------


def settings_from(env: dict[str, str]) -> Settings:
    """The env a file sets must name real settings with valid values."""
    fields = {f"VASSCM_{name.upper()}" for name in Settings.model_fields}
    unknown = {k for k in env if k.startswith("VASSCM_")} - fields
    assert not unknown, f"not a setting: {unknown}"
    values = {k.removeprefix("VASSCM_").lower(): v for k, v in env.items()}
    try:
        return Settings(**values)
    except ValidationError as exc:  # pragma: no cover - the message is the point
        pytest.fail(f"invalid setting value: {exc}")


def web_routes() -> set[str]:
    app = build_web(
        type(
            "L", (), {"registry": CollectorRegistry(), "ready": False, "not_ready_because": None}
        )()
    )  # type: ignore[arg-type]
    return {r.resource.canonical for r in app.router.routes() if r.resource is not None}


def test_compose_worker_env_ports_and_scrape_target_agree() -> None:
    services = COMPOSE["services"]
    assert {"kafka", "worker", "prometheus", "alertmanager", "grafana"} <= set(services)
    worker = services["worker"]
    settings = settings_from(worker["environment"])
    assert settings.broker == "kafka://kafka:9092"
    assert "rocksdb://" == settings.store
    port = settings.web_port
    assert [f"127.0.0.1:{port}:{port}"] == worker["ports"]
    scrape = yaml.safe_load((PROM / "prometheus.yml").read_text())
    [job] = scrape["scrape_configs"]
    assert "vasscm" == job["job_name"]  # the alert rules select up{job="vasscm"}
    assert [f"worker:{port}"] == job["static_configs"][0]["targets"]
    assert job["metrics_path"] in web_routes()
    assert [f"alertmanager:{9093}"] == scrape["alerting"]["alertmanagers"][0]["static_configs"][0][
        "targets"
    ]
    assert (ROOT / worker["build"]["dockerfile"]).exists()


def test_compose_kafka_is_kraft_and_images_are_pinned() -> None:
    services = COMPOSE["services"]
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    for name, service in services.items():
        image = service["image"]
        assert ":" in image, name
        if name != "worker":  # ours is built here
            assert not image.endswith(":latest"), name


def test_compose_mounted_files_exist() -> None:
    for name, service in COMPOSE["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"


def test_dockerfile_copies_existing_paths_and_runs_a_real_command() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        *sources, _dest = line.split()
        for source in sources:
            assert (ROOT / source).exists(), source
    env = dict(re.findall(r"(VASSCM_\w+)=(\S+)", text))
    settings = settings_from(env)
    assert f"EXPOSE {settings.web_port}" in text
    assert f"127.0.0.1:{settings.web_port}/healthz" in text
    assert "/healthz" in web_routes()
    entry = re.search(r'^ENTRYPOINT \["vasscm", "(\w+)"', text, re.M)
    assert entry is not None
    help_text = subprocess.run(
        [sys.executable, "-m", "vasscm", entry.group(1), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert 0 == help_text.returncode, help_text.stderr


def test_k8s_statefulset_env_probes_ports_and_volume_agree_with_the_code() -> None:
    sts = K8S["statefulset"]
    assert "StatefulSet" == sts["kind"]
    pod = sts["spec"]["template"]
    [container] = pod["spec"]["containers"]
    settings = settings_from({e["name"]: e["value"] for e in container["env"]})
    [port] = container["ports"]
    assert settings.web_port == port["containerPort"]
    routes = web_routes()
    for probe in ("livenessProbe", "readinessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] in routes
        assert port["name"] == get["port"]
    assert "/healthz" == container["livenessProbe"]["httpGet"]["path"]
    assert "/readyz" == container["readinessProbe"]["httpGet"]["path"]
    [mount] = container["volumeMounts"]
    assert str(settings.data_dir) == mount["mountPath"]
    assert mount["name"] in {c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]}
    assert sts["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()


def test_k8s_service_and_servicemonitor_select_the_workers() -> None:
    pod_labels = K8S["statefulset"]["spec"]["template"]["metadata"]["labels"]
    service, monitor = K8S["service"], K8S["servicemonitor"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert K8S["statefulset"]["spec"]["serviceName"] == service["metadata"]["name"]
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] in web_routes()
    # The job label must come out as "vasscm", as the alert rules expect.
    assert "vasscm" == service["metadata"]["labels"][monitor["spec"]["jobLabel"]]
    kustomization = K8S["kustomization"]
    assert {f"{name}.yaml" for name in ("statefulset", "service", "servicemonitor")} == set(
        kustomization["resources"]
    )
