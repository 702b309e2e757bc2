"""When will it be out: release and exit forecasts for open visits (contract 8.2).

A forecast is a conditional quantile of a duration, learned from the visits that
arrived in a trailing window of event time (``window``, default 28 days):

- ``release``: arrival to release; for a visit not yet released.
- ``exit``: arrival to exit; for a visit not yet released (its exit comes after a
  release still to come, so the whole span is learned, not two pieces added).
- ``after``: release to exit; for a released visit.

Visits still open are evidence too: a red-channel container that has waited 40 h
says the tail is at least that long. So each duration's survival curve is a
Kaplan-Meier estimate over the window's visits, the open ones right-censored at what
they have waited (:func:`_survival`: the actuarial form over fixed bins, ~5 % wide,
censoring counted as half a bin at risk). A visit that has waited ``w`` is forecast
from the curve conditional on ``w``: the ``q`` quantile is the ``x`` at which
``S(x) = S(w) (1 - q)``. So the forecast is never earlier than ``as_of``.

Office hours: where 95 % of a stratum's durations end in office hours (an officer's
decision, not an automatic one), its curve counts them on the office clock
(:class:`~vasscm.office_hours.OfficeClock`), decided from the window at each query.

Strata, finest first: (site, direction, channel), (site, direction), (direction),
everything. A visit is forecast from the finest stratum whose curve rests on at least
``min_basis`` completed durations beyond what it has waited (``basis``); the channel
is used once assigned.

Memory is bounded by the bins: per stratum and duration, a count per bin and arrival
day in the window, and the window's sums. The learned part is a sum over completed
visits (:meth:`Forecaster.learn`, withdrawn with ``sign=-1`` when a revision replaces
a record), so it does not depend on the order they completed in; the open visits are
passed at each query, as the current states hold them. Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from vasscm.office_hours import OfficeClock

__all__ = [
    "DURATIONS",
    "EDGES_MS",
    "Curves",
    "Forecast",
    "Forecaster",
    "Key",
    "Observation",
    "OfficeClock",
    "Survival",
    "add_tallies",
]

_DAY: Final = 86_400_000
_MINUTE: Final = 60_000


def _edges() -> tuple[int, ...]:
    """Bin edges in ms: 0, then one minute growing by 5 % a bin up to 120 days."""
    edges = [0, _MINUTE]
    while edges[-1] < 120 * _DAY:
        edges.append(max(edges[-1] + 1000, round(edges[-1] * 1.05)))
    return tuple(edges)


#: The duration bins' lower edges in ms (the last bin is open-ended).
EDGES_MS: Final = _edges()
_BINS: Final = len(EDGES_MS)

#: The durations forecast (see the module docstring).
DURATIONS: Final = ("release", "exit", "after")
_ANY: Final = "*"


def _bin(ms: int) -> int:
    return max(0, bisect_right(EDGES_MS, ms) - 1)


class Observation(NamedTuple):
    """A visit as the forecaster sees it (times in epoch ms)."""

    site: str
    direction: str
    channel: str  # "unknown" until assigned
    arrived: int
    released: int | None = None
    exited: int | None = None


class Forecast(NamedTuple):
    """Contract 8.2, in epoch ms (None: not forecast, or the quantile lies beyond what
    the window has seen)."""

    release_p50: int | None
    release_p90: int | None
    exit_p50: int | None
    exit_p90: int | None
    basis: int
    as_of: int


def _strata(site: str, direction: str, channel: str) -> tuple[tuple[str, str, str], ...]:
    """Finest first; a channel stratum only once the channel is known."""
    coarse = ((site, direction, _ANY), (_ANY, direction, _ANY), (_ANY, _ANY, _ANY))
    if channel in ("", "unknown"):
        return coarse
    return ((site, direction, channel), *coarse)


def _spans(obs: Observation, as_of: int | None) -> list[tuple[str, int, int, bool]]:
    """(duration, start, end, ended) of each duration the visit informs: ended at
    ``end``, or last seen running then (closed without it, or open at ``as_of``; None:
    only what is closed counts)."""
    out = []
    ends = {
        "release": (obs.arrived, obs.released),
        "exit": (obs.arrived, obs.exited),
        "after": (obs.released, obs.exited),
    }
    for name in DURATIONS:
        start, end = ends[name]
        if start is None:
            continue
        if end is not None:
            out.append((name, start, max(start, end), True))
        elif obs.exited is not None:  # closed without it (an exit without release)
            out.append((name, start, max(start, obs.exited), False))
        elif as_of is not None and as_of >= start:
            out.append((name, start, as_of, False))
    return out


@dataclass(slots=True)
class Survival:
    """One stratum's curve of one duration at one instant: ``at[j]`` is S at
    ``EDGES_MS[j]``; ``beyond[j]`` the completed durations at or after that edge."""

    at: list[float]
    beyond: list[int]
    office: bool = False  # durations on the office clock (see Forecaster)

    def quantile(self, waited: int, q: float) -> int | None:
        """The duration ``x >= waited`` with ``S(x) = S(waited) (1 - q)``, None when
        the curve does not fall that far."""
        s_w = self.value(waited)
        if s_w <= 0.0:
            return None
        target = s_w * (1.0 - q)
        j = _bin(waited)
        while j < _BINS - 1:
            lo, hi = self.at[j], self.at[j + 1]
            if hi <= target:
                if lo <= hi:  # flat at the target
                    return max(waited, EDGES_MS[j])
                start = EDGES_MS[j]
                width = EDGES_MS[j + 1] - start
                x = start + width * (lo - target) / (lo - hi)
                return max(waited, math.ceil(x))
            j += 1
        return None

    def value(self, ms: int) -> float:
        j = _bin(ms)
        if j >= _BINS - 1:
            return self.at[-1]
        start, end = EDGES_MS[j], EDGES_MS[j + 1]
        return self.at[j] + (self.at[j + 1] - self.at[j]) * (ms - start) / (end - start)


def _survival(ended: Sequence[int], censored: Sequence[int], *, office: bool = False) -> Survival:
    """Actuarial Kaplan-Meier over the bins: ``ended[j]`` durations ended in bin j,
    ``censored[j]`` still running (or cut short) when last seen in bin j."""
    at = [1.0] * _BINS
    beyond = [0] * _BINS
    risk = sum(ended) + sum(censored)
    done = sum(ended)
    s = 1.0
    for j in range(_BINS - 1):
        at[j] = s
        beyond[j] = done
        d, c = ended[j], censored[j]
        exposed = risk - c / 2.0
        if d and exposed > 0:
            s *= max(0.0, 1.0 - d / exposed)
        risk -= d + c
        done -= d
    at[-1] = s
    beyond[-1] = done
    return Survival(at, beyond, office)


@dataclass(slots=True)
class _Counts:
    """Per arrival day, and the window's sums: (ended, censored) by bin for each clock,
    and how many of the ended ended in office hours and outside them."""

    by_day: dict[int, list[list[int]]] = field(default_factory=dict)
    sums: list[list[int]] = field(default_factory=lambda: _fresh())


# sums[0], sums[1]: ended, censored on the wall clock; [2], [3]: on the office clock;
# [4]: [ended inside office hours, ended outside]
def _fresh() -> list[list[int]]:
    return [[0] * _BINS, [0] * _BINS, [0] * _BINS, [0] * _BINS, [0, 0]]


Key = tuple[tuple[str, str, str], str]


def _add_into(held: list[list[int]], more: list[list[int]]) -> None:
    for row, extra in zip(held, more, strict=True):
        for j, n in enumerate(extra):
            row[j] += n


def add_tallies(into: dict[Key, list[list[int]]], more: dict[Key, list[list[int]]]) -> None:
    """Add one :meth:`Forecaster.tally` of open visits to another (``replay --jobs``:
    each worker tallies its own)."""
    for key, table in more.items():
        _add_into(into.setdefault(key, _fresh()), table)


_EMPTY: Final = _fresh()


class Curves:
    """Every stratum's survival curves at one instant, each built when first asked
    for (:meth:`Forecaster.curves`)."""

    __slots__ = ("_built", "_extra", "_forecaster", "_wall_only")

    def __init__(
        self, forecaster: Forecaster, extra: dict[Key, list[list[int]]], wall_only: bool = False
    ) -> None:
        self._forecaster = forecaster
        self._extra = extra
        self._wall_only = wall_only
        self._built: dict[Key, Survival | None] = {}

    def on_the_wall(self) -> Curves:
        """The same curves on the wall clock, whatever the office hours say."""
        return Curves(self._forecaster, self._extra, wall_only=True)

    def get(self, key: Key) -> Survival | None:
        if key in self._built:
            return self._built[key]
        f = self._forecaster
        counts = f._counts.get(key)
        more = self._extra.get(key)
        curve = None
        if counts is not None or more is not None:
            held = counts.sums if counts is not None else _EMPTY
            more = more if more is not None else _EMPTY
            inside, outside = held[4][0] + more[4][0], held[4][1] + more[4][1]
            office = (
                not self._wall_only
                and inside + outside >= f.min_basis
                and inside >= f.office_share * (inside + outside)
            )
            done, running = (2, 3) if office else (0, 1)
            curve = _survival(
                [a + b for a, b in zip(held[done], more[done], strict=True)],
                [a + b for a, b in zip(held[running], more[running], strict=True)],
                office=office,
            )
        self._built[key] = curve
        return curve


class Forecaster:
    """Learns from completed visits, forecasts open ones (see the module docstring).

    Office hours: a duration whose ends fall in office hours (``office_share``, 95 %,
    of at least ``min_basis`` in the window; office hours cover 27 % of a week) waits
    for staff, and is counted on the office clock (:class:`OfficeClock`) for its
    stratum: a visit that arrives on Friday at 16:00 is then forecast for Monday, not
    for Friday night. Every duration is learned on both clocks; which one a stratum's
    curve uses is decided from the window at each query.
    """

    def __init__(
        self,
        *,
        window_ms: int = 28 * _DAY,
        min_basis: int = 30,
        office: OfficeClock | None = None,
        office_share: float = 0.95,
    ) -> None:
        self.window_ms = window_ms
        self.min_basis = min_basis
        self.clock = office if office is not None else OfficeClock()
        self.office_share = office_share
        self._counts: dict[Key, _Counts] = {}
        self._first_day: int | None = None  # days before it have left the window

    def _bins(self, start: int, end: int, ended: bool) -> tuple[int, int, int]:
        """A span's bin on the wall clock and on the office clock, and where it ended
        (0: in office hours, 1: outside, -1: it has not)."""
        wall = _bin(end - start)
        office = _bin(self.clock.at(end) - self.clock.at(start))
        return wall, office, (-1 if not ended else 0 if self.clock.inside(end) else 1)

    @staticmethod
    def _add(table: list[list[int]], bins: tuple[int, int, int], n: int) -> None:
        wall, office, where = bins
        ended = where >= 0
        table[0 if ended else 1][wall] += n
        table[2 if ended else 3][office] += n
        if ended:
            table[4][where] += n

    def learn(self, obs: Observation, sign: int = 1) -> None:
        """Add a completed visit (``sign=-1``: take back one a revision replaced)."""
        for name, start, end, ended in _spans(obs, None):
            day = start // _DAY
            if self._first_day is not None and day < self._first_day:
                continue  # arrived before the window
            bins = self._bins(start, end, ended)
            for stratum in _strata(obs.site, obs.direction, obs.channel):
                counts = self._counts.get((stratum, name))
                if counts is None:
                    counts = self._counts[(stratum, name)] = _Counts()
                table = counts.by_day.get(day)
                if table is None:
                    table = counts.by_day[day] = _fresh()
                self._add(table, bins, sign)
                self._add(counts.sums, bins, sign)

    def fresh(self) -> Forecaster:
        """A forecaster with these settings that has learned nothing."""
        return Forecaster(
            window_ms=self.window_ms,
            min_basis=self.min_basis,
            office=self.clock,
            office_share=self.office_share,
        )

    def absorb(self, other: Forecaster) -> None:
        """Add what ``other`` learned, from other visits, its window advanced to the same
        instant (``replay --jobs``: each worker learns its own containers' records). The
        learned part is a sum over visits, so this equals learning them all here."""
        if other._first_day != self._first_day:
            raise ValueError("forecasters with different windows cannot be added")
        for key, theirs in other._counts.items():
            mine = self._counts.setdefault(key, _Counts())
            for day, table in theirs.by_day.items():
                _add_into(mine.by_day.setdefault(day, _fresh()), table)
            _add_into(mine.sums, theirs.sums)

    def in_window(self, start: int) -> bool:
        """Whether a span begun at ``start`` is in the window (as far as it has moved)."""
        return self._first_day is None or start // _DAY >= self._first_day

    def advance(self, as_of: int) -> None:
        """Move the window's start to ``as_of - window`` (never back)."""
        first = (as_of - self.window_ms) // _DAY
        if self._first_day is not None and first <= self._first_day:
            return
        self._first_day = first
        for counts in self._counts.values():
            for day in [d for d in counts.by_day if d < first]:
                gone = counts.by_day.pop(day)
                for row, less in zip(counts.sums, gone, strict=True):
                    for j, n in enumerate(less):
                        row[j] -= n

    def curves(self, open_visits: Iterable[Observation], as_of: int) -> Curves:
        """Every stratum's curves at ``as_of`` (until the next :meth:`learn`): the
        learned window, and the open visits that arrived in it (ended spans, or censored
        at ``as_of``)."""
        self.advance(as_of)
        extra: dict[Key, list[list[int]]] = {}
        self.tally(open_visits, as_of, extra)
        return Curves(self, extra)

    def tally(
        self, open_visits: Iterable[Observation], as_of: int, extra: dict[Key, list[list[int]]]
    ) -> None:
        """Add open visits to ``extra``, for ``Curves(forecaster, extra)``: what
        :meth:`curves` does, in as many parts as a caller wants (the live worker yields
        to its event loop between them); :meth:`advance` to ``as_of`` first."""
        first = self._first_day if self._first_day is not None else -(2**62)
        for obs in open_visits:
            strata = _strata(obs.site, obs.direction, obs.channel)
            for name, start, end, ended in _spans(obs, as_of):
                if start // _DAY < first:
                    continue
                bins = self._bins(start, end, ended)
                for stratum in strata:
                    table = extra.get((stratum, name))
                    if table is None:
                        table = extra[(stratum, name)] = _fresh()
                    self._add(table, bins, 1)

    def forecast(self, obs: Observation, as_of: int, curves: Curves) -> Forecast | None:
        """The forecast of one open visit at ``as_of`` from :meth:`curves`; None before
        arrival, after exit, or when no stratum has seen anything."""
        if obs.exited is not None or as_of < obs.arrived:
            return None
        strata = self.strata(obs)
        release: list[int | None] = [None, None]
        if obs.released is None:
            release, basis = self.quantiles(curves, strata, "release", obs.arrived, as_of)
            exit_, _ = self.quantiles(curves, strata, "exit", obs.arrived, as_of)
        else:
            exit_, basis = self.quantiles(curves, strata, "after", obs.released, as_of)
        if basis == 0:
            return None
        return Forecast(release[0], release[1], exit_[0], exit_[1], basis, as_of)

    @staticmethod
    def strata(obs: Observation) -> tuple[tuple[str, str, str], ...]:
        """The strata ``obs`` is forecast from, finest first."""
        return _strata(obs.site, obs.direction, obs.channel)

    def quantiles(
        self,
        curves: Curves,
        strata: Sequence[tuple[str, str, str]],
        name: str,
        start: int,
        as_of: int,
        levels: Sequence[float] = (0.5, 0.9),
    ) -> tuple[list[int | None], int]:
        """The instants of the ``levels`` quantiles of duration ``name`` begun at
        ``start``, running at ``as_of``, from the finest stratum with enough basis (else
        the widest with any); and that basis (0: nothing learned, instants None)."""
        chosen: Survival | None = None
        basis, waited = 0, 0
        for stratum in strata:
            curve = curves.get((stratum, name))
            if curve is None:
                continue
            ran = self._length(curve, start, as_of)
            beyond = curve.beyond[_bin(ran)]
            if not beyond:
                continue
            chosen, basis, waited = curve, beyond, ran
            if basis >= self.min_basis:
                break
        if chosen is None:
            return [None] * len(levels), 0
        return [
            self._instant(chosen, start, chosen.quantile(waited, q), as_of) for q in levels
        ], basis

    def _length(self, curve: Survival, start: int, end: int) -> int:
        if curve.office:
            return self.clock.at(end) - self.clock.at(start)
        return end - start

    def _instant(self, curve: Survival, start: int, length: int | None, as_of: int) -> int | None:
        if length is None:
            return None
        if curve.office:
            return max(as_of, self.clock.instant(self.clock.at(start) + length))
        return max(as_of, start + length)
