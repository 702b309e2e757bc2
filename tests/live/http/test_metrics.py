"""The worker's Prometheus metrics: names, bounded labels, once-only observations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from factories import CONTAINER, ROUTES, T0, at, cleared_visit, run_events
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from vasscm.board import Board, merge_stats
from vasscm.durations import to_ms
from vasscm.events import Alert, ClearanceRecord, RejectCode, Rejection, Stage
from vasscm.live.http.gauges import Snapshot, StateCollector
from vasscm.live.http.metrics import CLEARANCE_BUCKETS, LabelCap, Metrics, build_metrics
from vasscm.tracking import DEFAULT_POLICY, latest_stage

IMPORT = ROUTES["cai-lan-import"]
STAGES = [s for s in Stage if s is not Stage.EXITED]


def scrape(registry: CollectorRegistry) -> dict[str, float]:
    """Every sample of a scrape: 'name{labels}' -> value."""
    out = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}"] = s.value
    return out


def netted(got: dict[str, float]) -> Callable[[str, str], float]:
    """A series of a scrape net of its superseded twin (what the recording rules take):
    net(name, labels)."""

    def net(name: str, labels: str) -> float:
        superseded = name.replace("clearance_duration", "clearance_superseded").replace(
            "clearances_total", "clearances_superseded_total"
        )
        return got.get(f"{name}{{{labels}}}", 0) - got.get(f"{superseded}{{{labels}}}", 0)

    return net


def worker_metrics(boards: dict[int, Board] | None = None) -> Metrics:
    registry = CollectorRegistry()
    metrics = build_metrics(registry)
    boards = boards if boards is not None else {}

    def snapshot() -> Snapshot:
        now = to_ms(at(days=3))
        stats = merge_stats(b.stats(now, DEFAULT_POLICY) for b in boards.values())
        return Snapshot(now, stats, {"vasscm.port-events": 3}, len(boards), True)

    registry.register(StateCollector(snapshot, metrics.site))
    return metrics


def test_clearance_buckets_fall_on_the_targets_operators_watch() -> None:
    """1 min to 14 days, with 1, 2, 4, 8, 24, 48 and 72 hours as exact bounds."""
    hours = {b / 3600 for b in CLEARANCE_BUCKETS}
    assert {1, 2, 4, 8, 24, 48, 72} <= hours
    assert (60, 14 * 24 * 3600) == (CLEARANCE_BUCKETS[0], CLEARANCE_BUCKETS[-1])


def test_a_completed_visit_is_observed_once_per_segment() -> None:
    """release 5 h, exit 2 h, dwell 7 h, and the release's two parties' shares: one
    observation each, in the right bucket."""
    metrics = worker_metrics()
    [record] = run_events(cleared_visit(IMPORT)).records
    metrics.clearance(record)
    got = scrape(metrics.registry)
    base = 'channel="green",direction="import",segment="release",site="cai-lan"'
    assert 1 == got[f"vasscm_clearance_duration_seconds_count{{{base}}}"]
    assert 5 * 3600 == got[f"vasscm_clearance_duration_seconds_sum{{{base}}}"]
    bucket = (
        'vasscm_clearance_duration_seconds_bucket{{channel="green",direction="import",'
        'le="{}",segment="release",site="cai-lan"}}'
    )
    assert 0 == got[bucket.format("14400.0")]  # 4 h
    assert 1 == got[bucket.format("21600.0")]  # 6 h
    assert 1 == got['vasscm_clearances_total{channel="green",direction="import",site="cai-lan"}']
    for segment, seconds in (("lodgement", 1800), ("customs", 5 * 3600 - 1800)):  # 8.1
        key = f'channel="green",direction="import",segment="{segment}",site="cai-lan"'
        assert seconds == got[f"vasscm_clearance_duration_seconds_sum{{{key}}}"]


def test_a_revision_withdraws_the_figures_of_the_record_it_replaces() -> None:
    """Exit before the ELIGIBLE arrived, then a late ELIGIBLE: observed minus superseded
    holds exactly the revised record, under its new labels."""
    metrics = worker_metrics()
    late = [IMPORT.arrive(T0), IMPORT.leave(at(hours=7)), IMPORT.event("ELIGIBLE", at(hours=5))]
    first, revised = run_events(late).records
    assert "release" not in first.segments
    assert 2 == revised.revision
    metrics.clearance(first)
    metrics.clearance(revised, first)
    got = scrape(metrics.registry)
    assert_only_the_revised_late_eligible_counts(got)
    assert 1 == got['vasscm_clearance_revisions_total{direction="import",site="cai-lan"}']


def assert_only_the_revised_late_eligible_counts(got: dict[str, float]) -> None:
    """Net of superseded figures, a scrape holds the revised record of the late-ELIGIBLE
    visit alone (release 5 h, dwell 7 h, one clearance), not the one it replaced."""
    net = netted(got)
    key = 'channel="unknown",direction="import",segment="{}",site="cai-lan"'
    assert 1 == net("vasscm_clearance_duration_seconds_count", key.format("dwell"))
    assert 7 * 3600 == net("vasscm_clearance_duration_seconds_sum", key.format("dwell"))
    assert 1 == net("vasscm_clearance_duration_seconds_count", key.format("release"))
    assert 5 * 3600 == net("vasscm_clearance_duration_seconds_sum", key.format("release"))
    assert 1 == net(
        "vasscm_clearances_total", 'channel="unknown",direction="import",site="cai-lan"'
    )


def test_superseded_twins_exist_beside_every_observed_series() -> None:
    """Same label sets on both sides, so 'observed - superseded' never drops a series."""
    metrics = worker_metrics()
    [record] = run_events(cleared_visit(IMPORT)).records
    metrics.clearance(record)
    got = scrape(metrics.registry)
    observed = {k for k in got if k.startswith("vasscm_clearance_duration_seconds")}
    twins = {k.replace("duration", "superseded") for k in observed}
    assert twins <= set(got)
    assert all(0 == got[t] for t in twins if "_created" not in t)


def test_alert_counters_exist_at_zero_before_the_first_alert() -> None:
    """increase() over a series born at 1 is 0: the first EXIT_WITHOUT_RELEASE must show."""
    got = scrape(worker_metrics().registry)
    assert 0 == got['vasscm_alerts_total{kind="EXIT_WITHOUT_RELEASE",severity="critical"}']
    assert 0 == got['vasscm_alerts_total{kind="STALLED",severity="warning"}']
    for code in RejectCode:
        assert 0 == got[f'vasscm_rejected_total{{reason="{code.value}"}}']


def test_only_firing_alerts_are_counted() -> None:
    """A resolution is not a new alert."""
    metrics = worker_metrics()
    events = [IMPORT.arrive(T0), IMPORT.leave(at(hours=1))]
    run = run_events(events)
    [firing] = [a for a in run.alerts if a.kind == "EXIT_WITHOUT_RELEASE"]
    metrics.alert(firing)
    metrics.alert(Alert.model_validate({**firing.model_dump(), "status": "resolved"}))
    got = scrape(metrics.registry)
    assert 1 == got['vasscm_alerts_total{kind="EXIT_WITHOUT_RELEASE",severity="critical"}']


def test_an_unknown_type_from_bad_input_never_becomes_a_label() -> None:
    """A rejected record's type is the producer's text: outside the contract, 'unknown'."""
    metrics = worker_metrics()
    rejection = Rejection(code=RejectCode.UNKNOWN_TYPE, reason="x", type="<script>CSQU3054383")
    metrics.rejection("vasscm.port-events", rejection)
    got = scrape(metrics.registry)
    key = 'outcome="rejected",topic="vasscm.port-events",type="unknown"'
    assert 1 == got[f"vasscm_events_total{{{key}}}"]
    assert 1 == got['vasscm_rejected_total{reason="unknown_type"}']


def test_sites_past_the_cap_count_as_other() -> None:
    """The first N sites keep their name; a hostile feed's 1,000 more share one label."""
    cap = LabelCap(2)
    assert ["a", "b", "other", "a"] == [cap("a"), cap("b"), cap("c"), cap("a")]


def test_gauges_show_every_stage_of_a_site_with_zeros() -> None:
    """A stage that empties reads 0 instead of vanishing from the dashboard."""
    boards = {0: Board()}
    run = run_events([IMPORT.arrive(T0)])
    assert run.state is not None
    latest = latest_stage(run.state)
    assert latest is not None
    boards[0].place_latest(CONTAINER, latest)
    metrics = worker_metrics(boards)
    metrics.site("cai-lan")
    got = scrape(metrics.registry)
    key = 'direction="import",site="cai-lan",stage="AWAITING_RELEASE"'
    assert 1 == got[f"vasscm_containers{{{key}}}"]
    assert 1 == got[f"vasscm_stalled_containers{{{key}}}"]  # 3 days > 48 h
    assert 3 * 86400 == got[f"vasscm_stage_oldest_seconds{{{key}}}"]
    assert 0 == got['vasscm_containers{direction="export",site="cai-lan",stage="RELEASED"}']
    assert 3 == got['vasscm_consumer_lag_records{topic="vasscm.port-events"}']
    waiting = 'vasscm_waiting_containers{{direction="{}",site="cai-lan",waiting_on="{}"}}'
    assert 1 == got[waiting.format("import", "declarant")]  # arrived, no channel yet
    assert 0 == got[waiting.format("import", "customs")]
    assert 0 == got[waiting.format("export", "owner")]


def load(containers: int) -> int:
    """Series of a worker that saw ``containers`` visits (half open, half completed)."""
    boards = {p: Board() for p in range(8)}
    metrics = worker_metrics(boards)
    [template] = run_events(cleared_visit(IMPORT)).records
    sites = ("cai-lan", "mong-cai")
    for i in range(containers):
        no = f"C{i:010d}"  # board keys are opaque here
        site = sites[i % 2]
        direction = ("import", "export")[i // 2 % 2]
        if i % 2:
            since = to_ms(T0 + timedelta(minutes=i % 5000))
            stage = str(STAGES[i % len(STAGES)])
            boards[i % 8].place(no, site, direction, stage, since, arrived=to_ms(T0))
        else:
            record = ClearanceRecord.model_construct(
                **{**template.__dict__, "site": site, "direction": direction, "container_no": no}
            )
            metrics.clearance(record)
        metrics.event("vasscm.port-events", "GATE_OUT", "accepted")
        metrics.report_delay.labels("GATE_OUT").observe(i % 3600)
        metrics.site(site)
    return len(scrape(metrics.registry))


@pytest.mark.slow
def test_series_count_stays_flat_from_100_to_100000_containers() -> None:
    """No container number ever becomes a label: 1,000 times the traffic, same series."""
    assert load(100) == load(100_000)


async def test_a_revision_in_the_batch_that_published_the_record_withdraws_the_old_figures() -> (
    None
):
    """Issue 27's suspected defect: the arrival, the exit and a late ELIGIBLE of one
    container in one open batch. The revision must withdraw the first record's figures
    (no release, 7 h dwell), read from the state before the late event, not from the
    batch's staged object the event has already changed."""
    from webcore import Core

    core = Core()
    late = [IMPORT.arrive(T0), IMPORT.leave(at(hours=7)), IMPORT.event("ELIGIBLE", at(hours=5))]
    await core.add(CONTAINER, late)
    assert core.publisher.batch.records == 3  # one batch: nothing written in between
    assert_only_the_revised_late_eligible_counts(scrape(core.registry))
