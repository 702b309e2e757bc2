"""Synthetic event logs of container visits, for tests, benchmarks and demos.

Deterministic for a seed. Each visit is a realistic sequence of contract events
(announcement, arrival, channel, optional scan, eligibility, exit), and the log is
delivered in ``occurred_at`` order as a port's systems would publish it. A share of
visits stays open at the end (still in the yard).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from stdnum.iso6346 import calc_check_digit

__all__ = ["LogSpec", "container_number", "synthetic_log", "visit_events"]

_OWNERS = ("CSQU", "MSKU", "TGHU", "HLXU", "OOLU", "CAIU", "TCNU", "SEGU")


def container_number(i: int) -> str:
    """A valid ISO 6346 number for visit ``i`` (distinct for the first 8 million)."""
    stem = f"{_OWNERS[i % len(_OWNERS)]}{(i // len(_OWNERS)) % 1_000_000:06d}"
    return stem + calc_check_digit(stem)


@dataclass(frozen=True, slots=True)
class LogSpec:
    """Shape of a synthetic log."""

    start: datetime = datetime(2018, 1, 1, tzinfo=UTC)
    every: timedelta = timedelta(minutes=2)  # a new visit this often
    open_share: float = 1 / 3  # visits with no exit by the end
    scan_share: float = 0.3
    import_mean_release_h: float = 24.0
    export_mean_release_h: float = 4.0
    sites: tuple[str, ...] = ("cai-lan", "cai-lan", "cai-lan", "mong-cai")


def visit_events(i: int, rng: random.Random, spec: LogSpec = LogSpec()) -> list[dict[str, Any]]:
    """The events of visit ``i`` (5 to 8 of them), as JSON-ready dicts."""
    c = container_number(i)
    start = spec.start + spec.every * i
    imp = i % 3 != 0
    site = spec.sites[i % len(spec.sites)]
    decl = f"10{i:010d}"
    seal = f"VN{i:07d}"
    out: list[dict[str, Any]] = []

    def ev(kind: str, hours: float, **fields: Any) -> None:
        at = start + timedelta(hours=hours)
        out.append(
            {
                "event_id": f"{kind[:3].lower()}-{i}-{len(out)}",
                "type": kind,
                "occurred_at": at.isoformat(),
                "site": site,
                **fields,
            }
        )

    refs = [{"container_no": c, "seal_no": seal}]
    ev(
        "EXPECTED",
        -2,
        declaration_no=decl,
        containers=refs,
        direction="import" if imp else "export",
    )
    if imp and site != "mong-cai":
        ev("DISCHARGED", 0, container_no=c, direction="import", seal_no=seal)
    else:
        direction = "import" if imp else "export"
        ev("GATE_IN", 0, container_no=c, direction=direction, gate="G1", seal_no=seal)
    channel = rng.choice(("green", "green", "yellow", "red"))
    ev("CHANNEL_ASSIGNED", 0.5, declaration_no=decl, containers=refs, channel=channel)
    if rng.random() < spec.scan_share:
        ev("SCAN_SELECTED", 1, declaration_no=decl, containers=refs)
        ev("SCANNED", 1 + rng.random() * 3, container_no=c, scanner="NII-1", result="CLEAR")
    mean = spec.import_mean_release_h if imp else spec.export_mean_release_h
    release = rng.expovariate(1 / mean)
    ev("ELIGIBLE", 1 + release, declaration_no=decl, containers=refs, basis="cleared")
    if rng.random() >= spec.open_share:
        leave = 2 + release + rng.random() * 6
        if imp or site == "mong-cai":
            ev("GATE_OUT", leave, container_no=c, gate="G2", seal_no=seal)
        else:
            ev("LOADED", leave, container_no=c, vessel="HAIAN BELL")
    return out


def synthetic_log(n_events: int, *, seed: int = 7, spec: LogSpec = LogSpec()) -> Iterator[bytes]:
    """About ``n_events`` JSON lines in occurred_at order (streamed: a heap holds only
    the visits still in progress)."""
    rng = random.Random(seed)
    heap: list[tuple[str, int, bytes]] = []
    emitted = 0
    seq = 0
    i = 0
    while emitted < n_events:
        # Visits start in order; nothing before the newest start minus the longest
        # lead (EXPECTED at -2 h) can still be preceded by a later visit's event.
        for event in visit_events(i, rng, spec):
            heapq.heappush(heap, (str(event["occurred_at"]), seq, orjson.dumps(event)))
            seq += 1
        horizon = (spec.start + spec.every * i - timedelta(hours=2)).isoformat()
        i += 1
        while heap and heap[0][0] < horizon and emitted < n_events:
            yield heapq.heappop(heap)[2]
            emitted += 1
