"""What happened lately: the clearances and alerts a worker published, for its dashboard.

A bounded window kept in memory: the latest revision of each recent clearance record
(by visit id; a revision replaces its predecessor) and the latest alerts. The
dashboard reads release-time percentiles "over the last hours" and the recent alert
list from here; Prometheus keeps the long history. After a restart the window starts
empty and fills with what the worker publishes.

Pure: callers pass ``now``; statistics come from :mod:`vasscm.report.stats`, the same
code that ``vasscm report`` uses.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from vasscm.events import Alert, ClearanceRecord, format_ts
from vasscm.report.stats import HISTOGRAM_LABELS, release_histogram, summarize

__all__ = ["Recent"]


class Recent:
    """The last ``max_records`` clearance records and ``max_alerts`` alerts."""

    def __init__(self, max_records: int = 20_000, max_alerts: int = 200) -> None:
        self._records: OrderedDict[str, ClearanceRecord] = OrderedDict()
        self._max_records = max_records
        self.alerts: deque[Alert] = deque(maxlen=max_alerts)

    def record(self, record: ClearanceRecord) -> None:
        """A published record; a revision (or a record superseding a provisional id)
        replaces the one it revises."""
        for old in record.supersedes:
            self._records.pop(old, None)
        self._records.pop(record.visit_id, None)
        self._records[record.visit_id] = record
        while len(self._records) > self._max_records:
            self._records.popitem(last=False)

    def alert(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def records(self) -> Iterable[ClearanceRecord]:
        return self._records.values()

    def releases(self, now: datetime, window: timedelta) -> dict[str, Any]:
        """Release-time p50/p90 per site and direction, and a histogram per direction,
        of the visits that exited in ``window`` before ``now``."""
        since = now - window
        recent = [r for r in self._records.values() if since <= r.exited_at <= now]
        groups: dict[tuple[str, str], list[float]] = {}
        for r in recent:
            seconds = r.segments.get("release")
            if seconds is not None:
                groups.setdefault((r.site, r.direction), []).append(seconds)
        rows = []
        for (site, direction), values in sorted(groups.items()):
            stats = summarize("release", values)
            rows.append(
                {
                    "site": site,
                    "direction": direction,
                    "count": stats.count,
                    "p50_seconds": stats.median,
                    "p90_seconds": stats.p90,
                    "mean_seconds": stats.mean,
                }
            )
        histogram = release_histogram(recent)
        return {
            "window_seconds": window.total_seconds(),
            "since": format_ts(since),
            "until": format_ts(now),
            "groups": rows,
            "histogram": {
                "buckets": list(HISTOGRAM_LABELS),
                "counts": {d: list(c) for d, c in histogram.counts.items()},
            },
        }
