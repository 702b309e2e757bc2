"""Prometheus metrics of the live processor (contract section 5), in a private registry.

Counters and histograms are updated by the pipeline as effects leave the core;
gauges over current state (containers per stage, the oldest in each stage, stalled
counts, consumer lag) are computed at scrape time from the pipeline's boards by
:class:`StateCollector`, so they are right after a restart or a rebalance without
bookkeeping of their own.

A late event can revise a clearance record already published (revision + 1), and a
histogram cannot take an observation back. So a revision *withdraws* the previous
record's figures into twin series (``vasscm_clearance_superseded_seconds``,
``vasscm_clearances_superseded_total``) and observes the new ones: the truth is
always ``duration - superseded`` (the recording rules of deploy/prometheus do the
subtraction). Both twins are touched together, so their label sets always match and
a plain PromQL subtraction works. Both are counters: rate() and increase() stay valid.

Labels are of low cardinality only. ``site`` comes from events, so it is capped
(:class:`LabelCap`): past ``max_sites`` distinct sites, new ones count as ``other``
rather than growing the series without bound on a hostile feed.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from vasscm.events import (
    Alert,
    AlertStatus,
    ClearanceRecord,
    EventType,
    RejectCode,
    Rejection,
)
from vasscm.tracking import SEVERITY

__all__ = [
    "CLEARANCE_BUCKETS",
    "REPORT_DELAY_BUCKETS",
    "LabelCap",
    "Metrics",
    "build_metrics",
]

_H: Final = 3600.0
# 1 minute to 14 days; every target an operator watches is a bucket bound, so
# "share within 4 h" is a ratio of two bucket counters, not an interpolation.
CLEARANCE_BUCKETS: Final = (
    60.0, 300.0, 900.0, 1800.0,
    1 * _H, 2 * _H, 4 * _H, 6 * _H, 8 * _H, 12 * _H, 24 * _H, 36 * _H, 48 * _H, 72 * _H,
    5 * 24 * _H, 7 * 24 * _H, 14 * 24 * _H,
)  # fmt: skip
# Received minus occurred: 900 s and 1800 s are the Art. 52/52a reporting deadlines.
REPORT_DELAY_BUCKETS: Final = (
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 4 * _H, 24 * _H,
)  # fmt: skip
PROCESSING_DELAY_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
)  # fmt: skip
# The wait for arrival order: a mark's trip and the grace of an idle input are
# sub-second; seconds mean the customs hop lags (a backlog being caught up).
ARRIVAL_WAIT_BUCKETS: Final = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0,
)  # fmt: skip

# Customs' notices: the legal floors (4 h, 8 h) are bucket bounds, so the share late
# is a bucket's ratio; a notice after the arrival counts in le=0.
NOTICE_LEAD_BUCKETS: Final = (
    0.0, 3600.0, 7200.0, 14400.0, 21600.0, 28800.0, 43200.0, 86400.0, 172800.0, 259200.0,
)  # fmt: skip

OTHER: Final = "other"
UNKNOWN: Final = "unknown"
_TYPES: Final = frozenset(t.value for t in EventType)


class LabelCap:
    """Admit the first ``limit`` distinct values of a label; later ones become ``other``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: dict[str, None] = {}  # insertion-ordered set

    def __call__(self, value: str) -> str:
        if value in self.seen:
            return value
        if len(self.seen) < self.limit:
            self.seen[value] = None
            return value
        return OTHER


@dataclass
class Metrics:
    """The counters and histograms the pipeline updates, with their registry."""

    registry: CollectorRegistry
    site: LabelCap
    clearance_duration: Histogram
    superseded_duration: Histogram
    clearances: Counter
    superseded: Counter
    revisions: Counter
    alerts: Counter
    events: Counter
    rejected: Counter
    report_delay: Histogram
    processing_delay: Histogram
    arrival_wait: Histogram
    notice_lead: Histogram
    obligations: Counter

    def event(self, topic: str, type_: str | None, outcome: str) -> None:
        """One input record: ``accepted``, ``duplicate`` or ``rejected``."""
        label = type_ if type_ in _TYPES else UNKNOWN
        self.events.labels(topic, label, outcome).inc()

    def rejection(self, topic: str, rejection: Rejection) -> None:
        self.event(topic, rejection.type, "rejected")
        self.rejected.labels(rejection.code.value).inc()

    def clearance(self, record: ClearanceRecord, previous: ClearanceRecord | None = None) -> None:
        """A published clearance record; ``previous`` is the one it revises, if any
        (its figures are withdrawn, the new ones observed)."""
        if previous is not None:
            self.revisions.labels(self.site(record.site), record.direction).inc()
            self._count(previous, withdraw=True)
        self._count(record, withdraw=False)
        self._duties(record, previous)

    def _count(self, record: ClearanceRecord, *, withdraw: bool) -> None:
        labels = (self.site(record.site), record.direction, record.channel)
        count, withdrawn = self.clearances.labels(*labels), self.superseded.labels(*labels)
        (withdrawn if withdraw else count).inc()
        for segment, seconds in record.segments.items():
            observed = self.clearance_duration.labels(*labels, segment)
            superseded = self.superseded_duration.labels(*labels, segment)
            (superseded if withdraw else observed).observe(seconds)

    def _duties(self, record: ClearanceRecord, previous: ClearanceRecord | None) -> None:
        """Both sides' obligations, each counted once: when a record first shows it
        judged (a LOADED's when its vessel's departure is known). A revision that only
        changes how one was judged (a later eta) does not count it again."""
        known = {d.form for d in previous.obligations} if previous is not None else set()
        site = self.site(record.site)
        for duty in record.obligations:
            if duty.form in known:
                continue
            outcome = "on_time" if duty.on_time else "late"
            self.obligations.labels(site, duty.party, duty.form, outcome).inc()
            seconds = (duty.received_at - duty.reference_at).total_seconds()
            if duty.party == "customs":  # received this long before the vessel's arrival
                self.notice_lead.labels(site, duty.form).observe(-seconds)
            else:  # reported this long after its clock started (the exit, the departure)
                self.report_delay.labels(duty.form).observe(max(0.0, seconds))

    def alert(self, alert: Alert) -> None:
        if alert.status is AlertStatus.FIRING:
            self.alerts.labels(alert.kind.value, alert.severity.value).inc()


def build_metrics(registry: CollectorRegistry, *, max_sites: int = 64) -> Metrics:
    """Create the processor's metrics in ``registry`` (a fresh one per worker or test)."""
    r = registry
    site_labels = ("site", "direction", "channel")
    build = Gauge(
        "vasscm_build_info",
        "Version of vasscm and of what it runs on",
        ("version", "python", "faust"),
        registry=r,
    )
    build.labels(_version("vasscm"), platform.python_version(), _version("faust-streaming")).set(1)
    metrics = Metrics(
        registry=r,
        site=LabelCap(max_sites),
        clearance_duration=Histogram(
            "vasscm_clearance_duration_seconds",
            "Duration of each segment of completed visits (WCO Time Release Study style)",
            (*site_labels, "segment"),
            buckets=CLEARANCE_BUCKETS,
            registry=r,
        ),
        superseded_duration=Histogram(
            "vasscm_clearance_superseded_seconds",
            "Segment durations withdrawn because a later revision of the record replaced "
            "them; subtract from vasscm_clearance_duration_seconds",
            (*site_labels, "segment"),
            buckets=CLEARANCE_BUCKETS,
            registry=r,
        ),
        clearances=Counter(
            "vasscm_clearances",
            "Clearance records published (completed visits, revisions included); "
            "subtract vasscm_clearances_superseded_total for the number of visits",
            site_labels,
            registry=r,
        ),
        superseded=Counter(
            "vasscm_clearances_superseded",
            "Clearance records replaced by a later revision",
            site_labels,
            registry=r,
        ),
        revisions=Counter(
            "vasscm_clearance_revisions",
            "Clearance records revised because a late event changed them",
            ("site", "direction"),
            registry=r,
        ),
        alerts=Counter(
            "vasscm_alerts", "Alerts raised (status firing)", ("kind", "severity"), registry=r
        ),
        events=Counter(
            "vasscm_events",
            "Input records by topic, event type and outcome (accepted, duplicate, rejected)",
            ("topic", "type", "outcome"),
            registry=r,
        ),
        rejected=Counter(
            "vasscm_rejected",
            "Records sent to the dead-letter topic, by reason",
            ("reason",),
            registry=r,
        ),
        report_delay=Histogram(
            "vasscm_report_delay_seconds",
            "Received minus occurred, per event type; for an exit (GATE_OUT, LOADED), "
            "received minus what starts its reporting clock: the gate-out, or the "
            "vessel's departure (Art. 52/52a, contract 7.2)",
            ("type",),
            buckets=REPORT_DELAY_BUCKETS,
            registry=r,
        ),
        processing_delay=Histogram(
            "vasscm_processing_delay_seconds",
            "Wall time from a record's broker timestamp to its processing, per topic",
            ("topic",),
            buckets=PROCESSING_DELAY_BUCKETS,
            registry=r,
        ),
        arrival_wait=Histogram(
            "vasscm_arrival_wait_seconds",
            "Wall time a record waited before it was judged, for the records received "
            "before it on other inputs (the customs hop, an idle partition) to be read",
            buckets=ARRIVAL_WAIT_BUCKETS,
            registry=r,
        ),
        notice_lead=Histogram(
            "vasscm_notice_lead_seconds",
            "How long before the vessel's arrival (its latest eta, else the discharge) "
            "customs' notices were received: form EXPECTED (01, due 8 h ahead) and "
            "SCAN_SELECTED (03, due 4 h ahead); one received after it counts at 0",
            ("site", "form"),
            buckets=NOTICE_LEAD_BUCKETS,
            registry=r,
        ),
        obligations=Counter(
            "vasscm_obligations",
            "Reports and notices that were due, by party (port: exit reports; customs: "
            "notices), form and outcome (on_time, late), counted when first judged",
            ("site", "party", "form", "outcome"),
            registry=r,
        ),
    )
    # Counters that alert rules watch start at 0: a series born at its first
    # increment shows no increase() over it, and the first EXIT_WITHOUT_RELEASE
    # of a worker's life would page nobody.
    for kind, severity in SEVERITY.items():
        metrics.alerts.labels(kind.value, severity.value)
    for code in RejectCode:
        metrics.rejected.labels(code.value)
    return metrics


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:  # not installed as a distribution (a bare checkout)
        return UNKNOWN
