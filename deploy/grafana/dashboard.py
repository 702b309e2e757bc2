"""Generate dashboards/vasscm.json, the provisioned Grafana dashboard.

    python deploy/grafana/dashboard.py        # rewrite the JSON after editing PANELS

Kept as code so panels stay uniform and a test can check every query against the
metrics the worker exports and the recording rules (tests/test_deploy.py). The
committed JSON must equal this script's output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

DATASOURCE = {"type": "prometheus", "uid": "vasscm-prometheus"}
SITE = 'site=~"$site"'
BY_SITE = "{{site}} {{direction}}"


def _net_seconds(segments: str) -> str:
    """Seconds of these segments observed in the last day per site, less those of the
    records revisions replaced."""
    where = f'{{segment=~"{segments}", {SITE}}}'
    return (
        f"(sum by (site) (increase(vasscm_clearance_duration_seconds_sum{where}[1d])) - "
        f"sum by (site) (increase(vasscm_clearance_superseded_seconds_sum{where}[1d])))"
    )


# (title, kind, unit, width, height, [(expr, legend)], description)
PANELS: list[tuple[str, str, str, int, int, list[tuple[str, str]], str]] = [
    (
        "Release time p50 / p90 (last hour)",
        "timeseries",
        "s",
        12,
        8,
        [
            (f"site_direction:vasscm_release_seconds:p50_1h{{{SITE}}}", "p50 " + BY_SITE),
            (f"site_direction:vasscm_release_seconds:p90_1h{{{SITE}}}", "p90 " + BY_SITE),
        ],
        "Arrival to customs release (WCO TRS 'release' segment), per site and direction.",
    ),
    (
        "Released within 24 h (last day)",
        "stat",
        "percentunit",
        6,
        8,
        [(f"site_direction:vasscm_released_within_24h:ratio_1d{{{SITE}}}", BY_SITE)],
        "Share of completed visits whose release took at most 24 h.",
    ),
    (
        "Clearances (last day)",
        "stat",
        "short",
        6,
        8,
        [(f"site_direction:vasscm_clearances:increase_1d{{{SITE}}}", "{{site}} {{direction}}")],
        "Completed visits per site and direction.",
    ),
    (
        "Containers per stage",
        "bargauge",
        "short",
        12,
        9,
        [(f"sum by (site, stage) (vasscm_containers{{{SITE}}})", "{{site}} {{stage}}")],
        "Open visits now in each stage (all workers).",
    ),
    (
        "Whose move it is (contract 8.1)",
        "bargauge",
        "short",
        12,
        9,
        [
            (
                f"sum by (site, waiting_on) (vasscm_waiting_containers{{{SITE}}})",
                "{{site}} {{waiting_on}}",
            )
        ],
        "Arrived open visits by the party they wait on: declarant (no channel yet), scan, "
        "customs (channel assigned, suspended or held), owner (released, not yet out).",
    ),
    (
        "Customs' share of the release time (last day)",
        "stat",
        "percentunit",
        12,
        9,
        [(f"{_net_seconds('customs')} / {_net_seconds('customs|lodgement')}", "{{site}}")],
        "Of the time from arrival to release of visits completed in the last day, net of "
        "revised records, the part after every declaration had its channel (customs'); the "
        "rest is the declarant's.",
    ),
    (
        "Late by forecast (contract 8.2)",
        "timeseries",
        "short",
        12,
        9,
        [
            (
                f"sum by (site, of) (vasscm_forecast_late_containers{{{SITE}}})",
                "{{site}} {{of}}",
            )
        ],
        "Open visits whose median forecast lies past their target: release past arrival "
        "+ the awaiting-release threshold, exit past release + the released threshold "
        "(the list is on the worker's own dashboard).",
    ),
    (
        "Stalled containers",
        "timeseries",
        "short",
        12,
        9,
        [(f"sum by (site, stage) (vasscm_stalled_containers{{{SITE}}})", "{{site}} {{stage}}")],
        "Open visits older in their stage than its threshold "
        "(the list is on the worker's own dashboard).",
    ),
    (
        "Oldest container per stage",
        "bargauge",
        "s",
        12,
        9,
        [(f"max by (site, stage) (vasscm_stage_oldest_seconds{{{SITE}}})", "{{site}} {{stage}}")],
        "Age in its stage of the oldest container of each stage.",
    ),
    (
        "Release-time histogram (dashboard range)",
        "barchart",
        "short",
        12,
        9,
        [
            (
                "sum by (le) (increase(vasscm_clearance_duration_seconds_bucket"
                f'{{segment="release", {SITE}}}[$__range])) - sum by (le) '
                "(increase(vasscm_clearance_superseded_seconds_bucket"
                f'{{segment="release", {SITE}}}[$__range]))',
                "{{le}}",
            )
        ],
        "Completed visits per release-time bucket, net of revised records (cumulative, "
        "le = upper bound in seconds).",
    ),
    (
        "Alerts raised per hour",
        "timeseries",
        "short",
        12,
        8,
        [("sum by (kind, severity) (increase(vasscm_alerts_total[1h]))", "{{kind}} {{severity}}")],
        "EXIT_WITHOUT_RELEASE and UNSCANNED_EXIT are critical.",
    ),
    (
        "Reporting delay p90 (Art. 52/52a)",
        "timeseries",
        "s",
        12,
        8,
        [
            (
                "histogram_quantile(0.9, sum by (type, le) "
                "(rate(vasscm_report_delay_seconds_bucket[30m])))",
                "{{type}}",
            )
        ],
        "Received minus what starts the clock: an import's GATE_OUT within 15 min of it, "
        "an export's within 30 min, a LOADED within 30 min of its vessel's departure.",
    ),
    (
        "Both sides on time, last 24 h (contract 7.2)",
        "timeseries",
        "percentunit",
        12,
        8,
        [
            (
                'site_party_form:vasscm_obligations_on_time:ratio_1d{site=~"$site"}',
                "{{site}} {{party}} {{form}}",
            )
        ],
        "Share received in time: the port's exit reports (GATE_OUT, LOADED) and customs' "
        "notices (EXPECTED, form 01, 8 h before the vessel's arrival; SCAN_SELECTED, "
        "form 03, 4 h before).",
    ),
    (
        "Customs notices: median lead before the vessel's arrival",
        "timeseries",
        "s",
        12,
        8,
        [
            (
                'site_form:vasscm_notice_lead_seconds:p50_1d{site=~"$site"}',
                "{{site}} {{form}}",
            )
        ],
        "Against the vessel's latest estimated arrival (else the discharge); due at least "
        "8 h (form 01) and 4 h (form 03) ahead.",
    ),
    (
        "Events per second",
        "timeseries",
        "ops",
        8,
        8,
        [("sum by (outcome) (rate(vasscm_events_total[5m]))", "{{outcome}}")],
        "Input records by outcome: accepted, duplicate (redelivered), rejected.",
    ),
    (
        "Rejected per second by reason",
        "timeseries",
        "ops",
        8,
        8,
        [("sum by (reason) (rate(vasscm_rejected_total[5m]))", "{{reason}}")],
        "Records sent to vasscm.dead-letter.",
    ),
    (
        "Consumer lag and processing delay",
        "timeseries",
        "short",
        8,
        8,
        [
            ("sum by (topic) (vasscm_consumer_lag_records)", "lag {{topic}}"),
            (
                "histogram_quantile(0.99, sum by (le) "
                "(rate(vasscm_processing_delay_seconds_bucket[5m])))",
                "p99 delay (s)",
            ),
        ],
        "Records waiting on the workers' inputs, and the 99th percentile of the delay "
        "from broker to processing.",
    ),
    (
        "DCSA webhook subscribers",
        "timeseries",
        "short",
        12,
        8,
        [
            ("sum by (state) (vasscm_dcsa_subscriptions)", "{{state}}"),
            ("sum(vasscm_dcsa_pending_events)", "pending events"),
            ("sum(rate(vasscm_dcsa_events_delivered_total[5m]))", "delivered/s"),
        ],
        "Subscriptions by delivery state (active, retrying, paused), events waiting for "
        "them on vasscm.dcsa-out, and events acknowledged per second.",
    ),
    (
        "DCSA milestones per second",
        "timeseries",
        "ops",
        12,
        8,
        [("sum by (code) (rate(vasscm_dcsa_milestones_total[5m]))", "{{code}}")],
        "Customs milestones put on vasscm.dcsa-out: CUSS scan selection, CUSI red channel, "
        "CUSR release, GTOT/LOAD exit.",
    ),
    (
        "Workers up / ready",
        "stat",
        "short",
        24,
        4,
        [('sum(up{job="vasscm"})', "up"), ("sum(vasscm_ready)", "ready")],
        "Scraped workers, and those with partitions assigned and tables recovered.",
    ),
]


def dashboard() -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    x = y = row_height = 0
    for i, (title, kind, unit, w, h, targets, description) in enumerate(PANELS, start=1):
        if x + w > 24:
            x, y, row_height = 0, y + row_height, 0
        panels.append(
            {
                "id": i,
                "title": title,
                "type": kind,
                "description": description,
                "datasource": DATASOURCE,
                "gridPos": {"x": x, "y": y, "w": w, "h": h},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {},
                "targets": [
                    {
                        "refId": chr(ord("A") + j),
                        "datasource": DATASOURCE,
                        "expr": expr,
                        "legendFormat": legend,
                    }
                    for j, (expr, legend) in enumerate(targets)
                ],
            }
        )
        x += w
        row_height = max(row_height, h)
    return {
        "uid": "vasscm-overview",
        "title": "vasscm: customs supervision",
        "tags": ["vasscm", "customs"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-24h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "site",
                    "label": "Site",
                    "type": "query",
                    "datasource": DATASOURCE,
                    "query": "label_values(vasscm_containers, site)",
                    "refresh": 2,
                    "multi": True,
                    "includeAll": True,
                    "allValue": ".*",
                    "current": {"text": "All", "value": "$__all"},
                }
            ]
        },
        "panels": panels,
    }


OUT = Path(__file__).parent / "dashboards" / "vasscm.json"


def render() -> str:
    return orjson.dumps(dashboard(), option=orjson.OPT_INDENT_2).decode() + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
