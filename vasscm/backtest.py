"""``vasscm backtest``: the release forecasts replayed against what happened.

The log is replayed as ``vasscm replay`` does (the same :class:`~vasscm.replay.Replayer`);
the forecaster (:mod:`vasscm.forecast`) learns from the clearance records as they are
published, a record's revision taking its previous figures back. At cut-offs across
the log (``every``, after a ``warmup``), every open visit not yet released is
forecast from what was known then, and beside it the forecast of a method that knows
only site and direction (the window's release times from arrival, no channel, not
conditioned on the time already waited, never before the cut-off). When the log is
read, each forecast is judged against the visit's release: whether it came by the p50
and by the p90, and the pinball loss of each quantile, in hours. Cut-offs in the last
``horizon`` of the log are not judged (what they forecast has mostly not happened
yet), nor visits still not released at the end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import orjson

from vasscm.durations import iso_ms, to_ms
from vasscm.forecast import Forecaster, Observation
from vasscm.replay import Replayer
from vasscm.replay_forecasts import RecordLearner
from vasscm.tracking import DEFAULT_POLICY, Policy
from vasscm.tracking.stages import waiting_on
from vasscm.tracking.visit import latest_visit

__all__ = ["ALL", "LEVELS", "Backtest", "Cell", "run_backtest"]

_HOUR: Final = 3_600_000
_DAY: Final = 24 * _HOUR
ALL: Final = ("all", "all", "all")  # the key of every forecast together
#: The quantiles whose coverage the reliability chart shows.
LEVELS: Final = (0.1, 0.25, 0.5, 0.75, 0.9)


def _pinball(actual: int, forecast: int, q: float) -> float:
    """The pinball (quantile) loss of ``forecast`` for quantile ``q``, in hours."""
    diff = (actual - forecast) / _HOUR
    return max(q * diff, (q - 1.0) * diff)


@dataclass(slots=True)
class Cell:
    """Judged forecasts of one (site, direction, channel at the cut-off)."""

    forecasts: int = 0
    by_p50: int = 0
    by_p90: int = 0
    loss50: float = 0.0
    loss90: float = 0.0
    base50: float = 0.0
    base90: float = 0.0
    no_forecast: int = 0  # the quantile lay beyond what the window had seen
    # per LEVELS: visits released by that quantile (a reliability chart), and how many
    # had one (a high quantile may lie beyond what the window had seen)
    by_level: list[int] = field(default_factory=lambda: [0] * len(LEVELS))
    with_level: list[int] = field(default_factory=lambda: [0] * len(LEVELS))

    def add_levels(self, actual: int, instants: list[int | None]) -> None:
        for i, at in enumerate(instants):
            if at is not None:
                self.with_level[i] += 1
                self.by_level[i] += actual <= at

    def add(self, actual: int, p50: int, p90: int, b50: int, b90: int) -> None:
        self.forecasts += 1
        self.by_p50 += actual <= p50
        self.by_p90 += actual <= p90
        self.loss50 += _pinball(actual, p50, 0.5)
        self.loss90 += _pinball(actual, p90, 0.9)
        self.base50 += _pinball(actual, b50, 0.5)
        self.base90 += _pinball(actual, b90, 0.9)

    def as_dict(self) -> dict[str, object]:
        n = self.forecasts
        return {
            "forecasts": n,
            "no_forecast": self.no_forecast,
            "share_by_p50": None if not n else self.by_p50 / n,
            "share_by_p90": None if not n else self.by_p90 / n,
            "pinball_p50_hours": None if not n else self.loss50 / n,
            "pinball_p90_hours": None if not n else self.loss90 / n,
            "baseline_pinball_p50_hours": None if not n else self.base50 / n,
            "baseline_pinball_p90_hours": None if not n else self.base90 / n,
            "loss_ratio_p50": None if not self.base50 else self.loss50 / self.base50,
            "loss_ratio_p90": None if not self.base90 else self.loss90 / self.base90,
            "reliability": [
                {"level": level, "forecasts": n, "share_by": None if not n else k / n}
                for level, n, k in zip(LEVELS, self.with_level, self.by_level, strict=True)
            ],
        }


@dataclass(slots=True)
class Backtest:
    """What ``vasscm backtest`` found."""

    path: Path
    cutoffs: list[int] = field(default_factory=list)
    judged_until: int | None = None
    cells: dict[tuple[str, str, str], Cell] = field(default_factory=dict)
    unresolved: int = 0  # forecast visits not released by the end of the log

    def as_dict(self) -> dict[str, object]:
        rows: list[dict[str, object]] = []
        for (site, direction, channel), cell in sorted(self.cells.items()):
            rows.append({"site": site, "direction": direction, "channel": channel})
            rows[-1].update(cell.as_dict())
        return {
            "path": str(self.path),
            "levels": list(LEVELS),
            "cutoffs": [iso_ms(c) for c in self.cutoffs],
            "judged_until": None if self.judged_until is None else iso_ms(self.judged_until),
            "unresolved": self.unresolved,
            "groups": rows,
        }


@dataclass(slots=True)
class _Pending:
    cutoff: int
    key: tuple[str, str, str]
    p50: int | None
    p90: int | None
    b50: int
    b90: int
    levels: list[int | None]


def run_backtest(
    lines: Iterable[bytes],
    path: Path,
    *,
    every_ms: int = _DAY,
    warmup_ms: int = 7 * _DAY,
    horizon_ms: int = 7 * _DAY,
    window_ms: int = 28 * _DAY,
    min_basis: int = 30,
    policy: Policy = DEFAULT_POLICY,
) -> Backtest:
    """Replay ``lines`` with forecasts at cut-offs, and judge them (module docstring)."""
    forecaster = Forecaster(window_ms=window_ms, min_basis=min_basis)
    learner = RecordLearner(forecaster)
    released: dict[tuple[str, int], int] = {}  # (container, arrival) -> release, ms

    def on_record(raw: bytes) -> None:
        doc = orjson.loads(raw)
        obs = learner.read(doc)
        if obs is not None and obs.released is not None:
            released[(doc["container_no"], obs.arrived)] = obs.released

    replayer = Replayer(on_record=on_record, on_alert=_ignore, on_rejected=_ignore, policy=policy)
    result = Backtest(path)
    pending: dict[tuple[str, int], list[_Pending]] = {}
    next_cut: int | None = None
    for number, raw in enumerate(lines, start=1):
        replayer.feed(raw, line=number)
        clock = replayer.clock
        if clock is None:
            continue
        if next_cut is None:
            next_cut = clock + warmup_ms
        while clock >= next_cut:
            _forecast_open(replayer, forecaster, next_cut, pending)
            result.cutoffs.append(next_cut)
            next_cut += every_ms
    end = replayer.finish()
    if end is None:
        return result
    end_ms = to_ms(end)
    for container_no, state in replayer.states.items():  # released, still in the yard
        v = latest_visit(state)
        if v is not None and v.arrived is not None and waiting_on(v) == "owner":
            assert v.eligible is not None
            released.setdefault((container_no, v.arrived), v.eligible)
    result.judged_until = end_ms - horizon_ms
    for visit, judged in pending.items():
        actual = released.get(visit)
        for p in judged:
            if p.cutoff > result.judged_until:
                continue
            cells = [result.cells.setdefault(k, Cell()) for k in (p.key, ALL)]
            if actual is None:
                result.unresolved += 1
                continue
            for cell in cells:
                cell.add_levels(actual, p.levels)
                if p.p50 is None or p.p90 is None:
                    cell.no_forecast += 1
                else:
                    cell.add(actual, p.p50, p.p90, p.b50, p.b90)
    return result


def _ignore(_: bytes) -> None:
    return None


def _forecast_open(
    replayer: Replayer,
    forecaster: Forecaster,
    cut: int,
    pending: dict[tuple[str, int], list[_Pending]],
) -> None:
    """Forecast, at ``cut``, every open visit not yet released, with the baseline."""
    open_visits: list[tuple[str, Observation]] = []
    for container_no, state in replayer.states.items():
        v = latest_visit(state)
        if v is None or v.arrived is None or v.exited is not None or v.arrived > cut:
            continue
        release = v.eligible if waiting_on(v) == "owner" else None
        obs = Observation(v.site, v.direction, v.channel, v.arrived, release, None)
        open_visits.append((container_no, obs))
    curves = forecaster.curves([obs for _, obs in open_visits], cut)
    walls = curves.on_the_wall()
    for container_no, obs in open_visits:
        if obs.released is not None:
            continue
        forecast = forecaster.forecast(obs, cut, curves)
        base = walls.get(((obs.site, obs.direction, "*"), "release"))
        if forecast is None or base is None:
            continue
        levels, _ = forecaster.quantiles(
            curves, forecaster.strata(obs), "release", obs.arrived, cut, LEVELS
        )
        b50, b90 = base.quantile(0, 0.5), base.quantile(0, 0.9)
        if b50 is None or b90 is None:
            continue
        pending.setdefault((container_no, obs.arrived), []).append(
            _Pending(
                cut,
                (obs.site, obs.direction, obs.channel),
                forecast.release_p50,
                forecast.release_p90,
                max(cut, obs.arrived + b50),
                max(cut, obs.arrived + b90),
                levels,
            )
        )
