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

Vessel calls (contract 7.2). Each seaport has a ship every ``call_every`` (6 h): two
estimates of its arrival (48 h and 12 h ahead), its arrival and its departure a
berth stay later. An import is discharged from the call at berth when its visit
starts, and announced ahead of that call's arrival (form 01 10 to 30 h, form 03 4.5
to 12 h before); an export is loaded on the call at berth when it leaves, and
reported before the ship sails.

Faults (:class:`Faults`, off unless asked for): duplicates, out-of-order delivery,
exits reported after the Art. 52/52a deadlines (a loading after its ship sailed),
customs' notices given late, malformed records, and containers that leave without
release. A delayed line carries ``received_at`` (as a live
processor would have recorded it), and the log comes in the order lines were
received, as a port's systems publish them.

Deterministic for a seed; pure (no clock, no I/O): :func:`port_feed` is an endless
stream that the live publisher paces to a simulated clock.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, Final

import orjson
from stdnum import imo
from stdnum.iso6346 import calc_check_digit

from vasscm.durations import to_ms
from vasscm.office_hours import OfficeClock

__all__ = [
    "EXPORT_TARGET",
    "IMPORT_TARGET",
    "PROFILES",
    "Faults",
    "LogSpec",
    "as_dcsa",
    "container_number",
    "port_feed",
    "profile",
    "synthetic_log",
]

#: Quảng Ninh Customs, 2018: average clearance time of imports and exports.
IMPORT_TARGET: Final = timedelta(hours=24, seconds=29)
EXPORT_TARGET: Final = timedelta(hours=4, minutes=12, seconds=11)

_OWNERS = ("CSQU", "MSKU", "TGHU", "HLXU", "OOLU", "CAIU", "TCNU", "SEGU")
_LEAD: Final = timedelta(hours=2)  # EXPECTED precedes a road arrival by this much
_H: Final = 3600.0
#: The earliest any event is received before the start of the visit or call it
#: belongs to: a call's first estimate, 48 h ahead (and a little jitter).
_MAX_LEAD: Final = timedelta(hours=50)
_ESTIMATES: Final = (48.0, 12.0)  # hours before arrival a VESSEL_EXPECTED is sent


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
    late_notice: float = 0.0  # a form 01 or 03 short of its lead time (per notice)

    @classmethod
    def realistic(cls) -> Faults:
        """A small share of everything, as in the demo."""
        return cls(
            duplicate=0.005,
            disorder=0.01,
            late_report=0.03,
            malformed=0.001,
            unreleased_exit=0.002,
            late_notice=0.04,
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
    call_every: timedelta = timedelta(hours=6)  # a ship at each seaport this often
    berth_stay: timedelta = timedelta(hours=9)  # from a ship's arrival to its departure
    faults: Faults = Faults()
    # Unlike the defaults, for forecasts' backtests (PROFILES): a site's release times
    # multiplied by its pace; channels whose decision is an officer's, its time drawn
    # as office hours (Mon-Fri 08-17, UTC+7) rather than as hours of the clock.
    site_pace: tuple[tuple[str, float], ...] = ()
    office_channels: tuple[str, ...] = ()

    @property
    def seaports(self) -> tuple[str, ...]:
        return tuple(s for s in dict.fromkeys(self.sites) if s not in self.land_gates)

    def call(self, site: str, k: int) -> _Call:
        """Call ``k`` at ``site`` (deterministic: its own generator, not the visits')."""
        rng = random.Random(f"{site}/{k}")
        arrival = self.start + self.call_every * k + timedelta(minutes=rng.uniform(-20, 20))
        return _Call(site, k, arrival, arrival + self.berth_stay, rng.gauss(0, 0.5))

    def call_at(self, site: str, when: datetime) -> _Call:
        """The call at berth at ``when`` that arrived last before it."""
        k = math.floor((when - self.start) / self.call_every) + 1
        while (call := self.call(site, k)).arrival > when:
            k -= 1
        return call

    def channel_means(self, mean: timedelta) -> dict[str, float]:
        """Mean release per channel, in seconds, so that the mix averages ``mean``."""
        weight = sum(share * factor for _, share, factor in self.channels)
        return {c: mean.total_seconds() * f / weight for c, _, f in self.channels}


@dataclass(frozen=True, slots=True)
class _Call:
    """One ship's call at a seaport."""

    site: str
    k: int
    arrival: datetime
    departure: datetime
    eta_error: float  # hours the first estimate is off by

    @property
    def voyage(self) -> str:
        return f"{self.site.upper()}-{1000 + self.k:05d}"

    @property
    def vessel(self) -> str:
        stem = f"{900000 + self.k % 100000:06d}"
        return stem + imo.calc_check_digit(stem)

    def events(self) -> list[tuple[datetime, dict[str, Any]]]:
        out = []
        for n, ahead in enumerate(_ESTIMATES):
            error = timedelta(hours=self.eta_error / (4 * n + 1))  # the later, the closer
            out.append(
                self._ev(
                    "VESSEL_EXPECTED",
                    self.arrival - timedelta(hours=ahead),
                    n,
                    eta=_stamp(self.arrival + error),
                )
            )
        out.append(self._ev("VESSEL_ARRIVED", self.arrival, 2))
        out.append(self._ev("VESSEL_DEPARTED", self.departure, 3))
        return out

    def _ev(
        self, kind: str, when: datetime, n: int, **fields: Any
    ) -> tuple[datetime, dict[str, Any]]:
        doc = {
            "event_id": f"vsl-{self.voyage}-{n}",
            "type": kind,
            "occurred_at": _stamp(when),
            "site": self.site,
            "vessel": self.vessel,
            "voyage": self.voyage,
            **fields,
        }
        return when, doc


def _stamp(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
        self.seaport = self.site not in spec.land_gates
        # A seaport import is discharged from the ship at berth when its visit starts.
        self.inbound = (
            spec.call_at(self.site, self.start) if self.seaport and self.imports else None
        )
        self.reported: dict[int, datetime] = {}  # event index -> received, when not at once

    def ev(self, kind: str, at: float, **fields: Any) -> None:
        """An event ``at`` hours after arrival."""
        when = self.start + timedelta(hours=at)
        doc = {
            "event_id": f"{kind[:3].lower()}-{self.i}-{len(self.events)}",
            "type": kind,
            "occurred_at": _stamp(when),
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
        late = spec.faults.late_notice
        inbound = self.inbound
        if inbound is not None:  # form 01 ahead of the ship (contract 7.2: at least 8 h)
            lead = rng.uniform(1, 7.5) if rng.random() < late else rng.uniform(10, 30)
            self.customs("EXPECTED", self._before(inbound, lead), direction=direction)
        else:
            self.customs("EXPECTED", -_LEAD.total_seconds() / _H, direction=direction)
        if inbound is not None:
            self.ev(
                "DISCHARGED",
                0,
                container_no=c,
                direction="import",
                seal_no=self.seal,
                vessel=inbound.vessel,
                voyage=inbound.voyage,
            )
        else:
            self.ev("GATE_IN", 0, container_no=c, direction=direction, gate="G1", seal_no=self.seal)
        channel = rng.choices([ch for ch, _, _ in spec.channels], [s for _, s, _ in spec.channels])[
            0
        ]
        mean = spec.import_mean_release if self.imports else spec.export_mean_release
        mean_s = spec.channel_means(mean)[channel]
        sigma = spec.release_sigma
        release = rng.lognormvariate(math.log(mean_s) - sigma * sigma / 2, sigma) / _H
        release *= dict(spec.site_pace).get(self.site, 1.0)
        self.customs("CHANNEL_ASSIGNED", min(0.5, release / 2), channel=channel)
        if channel in spec.office_channels:  # an officer's decision: office hours
            begun = _OFFICE.at(to_ms(self.start))
            done = _OFFICE.instant(begun + round(release * _H * 1000))
            release = (done - to_ms(self.start)) / (_H * 1000)
        if rng.random() < dict(spec.scan_share).get(channel, 0.0):
            selected = min(1.0, release * 0.6)
            if inbound is not None:  # form 03 ahead of the ship (at least 4 h)
                lead = rng.uniform(0.5, 3.5) if rng.random() < late else rng.uniform(4.5, 12)
                self.customs("SCAN_SELECTED", self._before(inbound, lead))
                selected = 0.0
            else:
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

    def _before(self, call: _Call, hours: float) -> float:
        """Hours after this visit's start of an instant ``hours`` before the call's
        latest estimated arrival."""
        return (call.arrival - self.start).total_seconds() / _H - hours

    def exit(self, at: float) -> None:
        if not self.imports and self.seaport:
            ship = self.spec.call_at(self.site, self.start + timedelta(hours=at))
            self.ev(
                "LOADED", at, container_no=self.container, vessel=ship.vessel, voyage=ship.voyage
            )
            if self.rng.random() < self.spec.faults.late_report:  # after the ship sailed
                late = timedelta(minutes=self.rng.uniform(31, 90))
                self.reported[len(self.events) - 1] = ship.departure + late
        else:
            self.ev("GATE_OUT", at, container_no=self.container, gate="G2", seal_no=self.seal)


_OFFICE: Final = OfficeClock()  # UTC+7


#: Simulated ports unlike the defaults, to test forecasts on other distributions.
PROFILES: Final[dict[str, dict[str, Any]]] = {
    "default": {},
    # more red and yellow declarations, and wider spreads within each channel
    "red-heavy": {
        "channels": (("green", 0.25, 0.5), ("yellow", 0.35, 1.0), ("red", 0.40, 2.0)),
        "release_sigma": 0.9,
    },
    # a land border gate three times as slow as the seaport, with half the traffic
    "slow-branch": {"sites": ("cai-lan", "mong-cai"), "site_pace": (("mong-cai", 3.0),)},
    # yellow and red declarations wait for officers, who work Mon-Fri 08-17
    "office-hours": {"office_channels": ("yellow", "red")},
}


def profile(name: str, spec: LogSpec | None = None) -> LogSpec:
    """``spec`` (default: :class:`LogSpec`) with profile ``name``'s changes."""
    from dataclasses import replace

    return replace(spec or LogSpec(), **PROFILES[name])


_MALFORMED: Final = (
    b"{not json",
    b'{"type": "GATE_OUT", "site": "cai-lan"}',
    b'{"type": "TELEPORTED", "event_id": "x", "occurred_at": "2018-01-01T00:00:00Z"}',
    b'{"type": "GATE_IN", "event_id": "bad-digit", "occurred_at": "2018-01-01T00:00:00Z", '
    b'"site": "cai-lan", "container_no": "CSQU3054384", "direction": "import", "gate": "G1"}',
)


def _deliveries(
    visit: list[tuple[datetime, dict[str, Any]]],
    rng: random.Random,
    faults: Faults,
    reported: dict[int, datetime] | None = None,
) -> Iterator[tuple[datetime, bytes]]:
    """Each event as (received, line): late ones carry ``received_at``; ``reported``
    gives the received time of some, by index."""
    for n, (when, doc) in enumerate(visit):
        received = when
        if reported and n in reported:
            received = reported[n]
        elif doc["type"] == "GATE_OUT" and rng.random() < faults.late_report:
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
    calls = dict.fromkeys(spec.seaports, -2)  # the next call of each seaport to send
    while True:
        visit = _Visit(i, rng, spec)
        for received, line in _deliveries(visit.build(), rng, spec.faults, visit.reported):
            heapq.heappush(heap, _Event(received, seq, line))
            seq += 1
        i += 1
        start = spec.start + spec.every * i
        for site, k in calls.items():  # the calls whose first estimate is due by then
            while (call := spec.call(site, k)).arrival - _MAX_LEAD < start:
                for when, doc in call.events():
                    heapq.heappush(heap, _Event(when, seq, orjson.dumps(doc)))
                    seq += 1
                k += 1
            calls[site] = k
        # Visits and calls start in order: nothing a later one sends can come before
        # the next visit's start minus the longest lead.
        horizon = start - _MAX_LEAD
        while heap and heap[0].received < horizon:
            event = heapq.heappop(heap)
            yield event.received, event.line


def synthetic_log(n_events: int, *, seed: int = 7, spec: LogSpec = LogSpec()) -> Iterator[bytes]:
    """The first ``n_events`` lines of :func:`port_feed` (streamed)."""
    return (line for _, line in islice(port_feed(spec, seed=seed), n_events))


def as_dcsa(lines: Iterable[bytes]) -> Iterator[bytes]:
    """The log with each event that DCSA Track & Trace can say written as DCSA 2.2
    (vasscm.dcsa.to_dcsa: gate, yard and ship moves, vessel calls, customs' scan
    selections and releases; a declaration as one document per container), the rest
    (customs' other messages, scans, seals, malformed lines) as they were."""
    from vasscm.dcsa import to_dcsa
    from vasscm.events import Rejection, parse_event

    for line in lines:
        event = parse_event(line)
        docs = [] if isinstance(event, Rejection) else to_dcsa(event)
        if not docs:
            yield line
        for doc in docs:
            yield orjson.dumps(doc)
