"""A port simulator: the contract's event flow for one or more sites, with the faults
of a real feed, for tests, benchmarks and the demo.

Each visit is a realistic sequence of contract events: the declaration announced
(EXPECTED), the arrival (DISCHARGED at a seaport import, GATE_IN otherwise), the risk
channel, a scan for some, a discrepancy or a suspension for a few, customs release
(ELIGIBLE) and the exit (GATE_OUT, or LOADED at a seaport export).

Calibration. The defaults reproduce the published figures of Quảng Ninh Customs for
2018: an average clearance (arrival to release) of 24h00m29s for imports and 4h12m11s
for exports. Release times are log-normal per channel (green fast, red slow); each
channel's mean is scaled so that the mix of channels averages exactly the target, so
the long-run mean release of completed visits lands on it (tested within 5 %).

Faults (:class:`Faults`, off unless asked for): duplicates, out-of-order delivery,
exits reported after the Art. 52/52a deadlines, malformed records, and containers
that leave without release. A delayed line carries ``received_at`` (as a live
processor would have recorded it), and the log comes in the order lines were
received, as a port's systems publish them.

Deterministic for a seed; pure (no clock, no I/O): :func:`port_feed` is an endless
stream that the live publisher paces to a simulated clock.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, Final

import orjson
from stdnum.iso6346 import calc_check_digit

__all__ = [
    "EXPORT_TARGET",
    "IMPORT_TARGET",
    "Faults",
    "LogSpec",
    "container_number",
    "port_feed",
    "synthetic_log",
]

#: Quảng Ninh Customs, 2018: average clearance time of imports and exports.
IMPORT_TARGET: Final = timedelta(hours=24, seconds=29)
EXPORT_TARGET: Final = timedelta(hours=4, minutes=12, seconds=11)

_OWNERS = ("CSQU", "MSKU", "TGHU", "HLXU", "OOLU", "CAIU", "TCNU", "SEGU")
_LEAD: Final = timedelta(hours=2)  # EXPECTED precedes the arrival by this much
_H: Final = 3600.0


def container_number(i: int) -> str:
    """A valid ISO 6346 number for visit ``i`` (distinct for the first 8 million)."""
    stem = f"{_OWNERS[i % len(_OWNERS)]}{(i // len(_OWNERS)) % 1_000_000:06d}"
    return stem + calc_check_digit(stem)


@dataclass(frozen=True, slots=True)
class Faults:
    """Shares of the faults a real feed has (per event, or per visit for exits)."""

    duplicate: float = 0.0  # an event delivered twice
    disorder: float = 0.0  # an event delivered 1 to 30 minutes late
    late_report: float = 0.0  # an exit reported 16 to 90 minutes after it occurred
    malformed: float = 0.0  # a record that is not a valid event, after an event
    unreleased_exit: float = 0.0  # a visit whose container leaves without release

    @classmethod
    def realistic(cls) -> Faults:
        """A small share of everything, as in the demo."""
        return cls(
            duplicate=0.005,
            disorder=0.01,
            late_report=0.03,
            malformed=0.001,
            unreleased_exit=0.002,
        )


@dataclass(frozen=True, slots=True)
class LogSpec:
    """Shape and distributions of a simulated port (defaults: calibrated, no faults)."""

    start: datetime = datetime(2018, 1, 1, tzinfo=UTC)
    every: timedelta = timedelta(minutes=2)  # a new visit this often, all sites together
    sites: tuple[str, ...] = ("cai-lan", "cai-lan", "cai-lan", "mong-cai")  # weighted
    land_gates: frozenset[str] = frozenset({"mong-cai"})  # the others are seaports
    import_share: float = 2 / 3
    import_mean_release: timedelta = IMPORT_TARGET
    export_mean_release: timedelta = EXPORT_TARGET
    # (channel, share of declarations, release time relative to the mix's mean)
    channels: tuple[tuple[str, float, float], ...] = (
        ("green", 0.55, 0.5),
        ("yellow", 0.30, 1.1),
        ("red", 0.15, 2.4),
    )
    release_sigma: float = 0.6  # log-normal shape of release times within a channel
    scan_share: tuple[tuple[str, float], ...] = (("green", 0.05), ("yellow", 0.3), ("red", 0.9))
    discrepancy_share: float = 0.01
    suspension_share: float = 0.02
    open_share: float = 1 / 3  # visits released but never collected (still in the yard)
    faults: Faults = Faults()

    def channel_means(self, mean: timedelta) -> dict[str, float]:
        """Mean release per channel, in seconds, so that the mix averages ``mean``."""
        weight = sum(share * factor for _, share, factor in self.channels)
        return {c: mean.total_seconds() * f / weight for c, _, f in self.channels}


@dataclass(frozen=True, slots=True)
class _Event:
    received: datetime
    seq: int
    line: bytes

    def __lt__(self, other: _Event) -> bool:
        return (self.received, self.seq) < (other.received, other.seq)


class _Visit:
    """The events of visit ``i`` as JSON-ready dicts with their delivery time."""

    def __init__(self, i: int, rng: random.Random, spec: LogSpec) -> None:
        self.i, self.rng, self.spec = i, rng, spec
        self.site = rng.choice(spec.sites)
        self.imports = rng.random() < spec.import_share
        self.start = spec.start + spec.every * i + spec.every * rng.random() * 0.5
        self.container = container_number(i)
        self.decl = f"{10 if self.imports else 30}{i:010d}"
        self.seal = f"VN{i:07d}"
        self.events: list[tuple[datetime, dict[str, Any]]] = []

    def ev(self, kind: str, at: float, **fields: Any) -> None:
        """An event ``at`` hours after arrival."""
        when = self.start + timedelta(hours=at)
        doc = {
            "event_id": f"{kind[:3].lower()}-{self.i}-{len(self.events)}",
            "type": kind,
            "occurred_at": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "site": self.site,
            **fields,
        }
        self.events.append((when, doc))

    def customs(self, kind: str, at: float, **fields: Any) -> None:
        refs = [{"container_no": self.container, "seal_no": self.seal}]
        self.ev(kind, at, declaration_no=self.decl, containers=refs, **fields)

    def build(self) -> list[tuple[datetime, dict[str, Any]]]:
        spec, rng, c = self.spec, self.rng, self.container
        direction = "import" if self.imports else "export"
        seaport = self.site not in spec.land_gates
        self.customs("EXPECTED", -_LEAD.total_seconds() / _H, direction=direction)
        if self.imports and seaport:
            self.ev("DISCHARGED", 0, container_no=c, direction="import", seal_no=self.seal)
        else:
            self.ev("GATE_IN", 0, container_no=c, direction=direction, gate="G1", seal_no=self.seal)
        channel = rng.choices([ch for ch, _, _ in spec.channels], [s for _, s, _ in spec.channels])[
            0
        ]
        mean = spec.import_mean_release if self.imports else spec.export_mean_release
        mean_s = spec.channel_means(mean)[channel]
        sigma = spec.release_sigma
        release = rng.lognormvariate(math.log(mean_s) - sigma * sigma / 2, sigma) / _H
        self.customs("CHANNEL_ASSIGNED", min(0.5, release / 2), channel=channel)
        if rng.random() < dict(spec.scan_share).get(channel, 0.0):
            selected = min(1.0, release * 0.6)
            self.customs("SCAN_SELECTED", selected)
            scanned = selected + (release - selected) * rng.uniform(0.3, 0.9)
            self.ev("SCANNED", scanned, container_no=c, scanner="NII-1", result="CLEAR")
        if rng.random() < spec.discrepancy_share:
            reason = "seal number differs from the manifest"
            self.ev("DISCREPANCY", release * 0.3, container_no=c, reason=reason)
        if rng.random() < spec.faults.unreleased_exit:
            self.exit(release * 0.5)  # leaves before customs released it
            return self.events
        self.customs("ELIGIBLE", release, basis="cleared")
        ready = release
        if rng.random() < spec.suspension_share:
            self.customs("SUSPENDED", release + 0.25, reason="post-clearance check")
            ready = release + 0.25 + rng.uniform(1, 12)
            self.customs("RESUMED", ready)
        if rng.random() >= spec.open_share:
            self.exit(ready + 0.25 + min(7.0, rng.expovariate(1 / 1.5)))
        return self.events

    def exit(self, at: float) -> None:
        if not self.imports and self.site not in self.spec.land_gates:
            self.ev("LOADED", at, container_no=self.container, vessel="HAIAN BELL")
        else:
            self.ev("GATE_OUT", at, container_no=self.container, gate="G2", seal_no=self.seal)


_MALFORMED: Final = (
    b"{not json",
    b'{"type": "GATE_OUT", "site": "cai-lan"}',
    b'{"type": "TELEPORTED", "event_id": "x", "occurred_at": "2018-01-01T00:00:00Z"}',
    b'{"type": "GATE_IN", "event_id": "bad-digit", "occurred_at": "2018-01-01T00:00:00Z", '
    b'"site": "cai-lan", "container_no": "CSQU3054384", "direction": "import", "gate": "G1"}',
)


def _deliveries(
    visit: list[tuple[datetime, dict[str, Any]]], rng: random.Random, faults: Faults
) -> Iterator[tuple[datetime, bytes]]:
    """Each event as (received, line): late ones carry ``received_at``."""
    for when, doc in visit:
        received = when
        if doc["type"] in ("GATE_OUT", "LOADED") and rng.random() < faults.late_report:
            received = when + timedelta(minutes=rng.uniform(16, 90))
        elif rng.random() < faults.disorder:
            received = when + timedelta(minutes=rng.uniform(1, 30))
        yield received, _line(doc, when, received)
        if rng.random() < faults.duplicate:  # sent again: same event_id, later
            again = received + timedelta(minutes=rng.uniform(0.1, 5))
            yield again, _line(doc, when, again)
        if rng.random() < faults.malformed:
            yield received, rng.choice(_MALFORMED)


def _line(doc: dict[str, Any], occurred: datetime, received: datetime) -> bytes:
    if received != occurred:
        stamp = received.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        doc = {**doc, "received_at": stamp}
    return orjson.dumps(doc)


def port_feed(spec: LogSpec = LogSpec(), *, seed: int = 7) -> Iterator[tuple[datetime, bytes]]:
    """Every line of the simulated port, forever, in the order it is received:
    ``(received_at, line)``. A heap holds only the visits still in progress."""
    rng = random.Random(seed)
    heap: list[_Event] = []
    seq = 0
    i = 0
    while True:
        for received, line in _deliveries(_Visit(i, rng, spec).build(), rng, spec.faults):
            heapq.heappush(heap, _Event(received, seq, line))
            seq += 1
        # Visits start in order: nothing a later visit sends can come before the
        # next visit's start minus the announcement's lead.
        i += 1
        horizon = spec.start + spec.every * i - _LEAD
        while heap and heap[0].received < horizon:
            event = heapq.heappop(heap)
            yield event.received, event.line


def synthetic_log(n_events: int, *, seed: int = 7, spec: LogSpec = LogSpec()) -> Iterator[bytes]:
    """The first ``n_events`` lines of :func:`port_feed` (streamed)."""
    return (line for _, line in islice(port_feed(spec, seed=seed), n_events))
