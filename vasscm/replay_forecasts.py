"""Replay's forecasts (contract 8.2): the open visits of ``state.jsonl``, forecast at the
end of the log (``--as-of``, else the watermark) from the visits of ``clearances.jsonl``.

A pass over the finished outputs. What it learns and tallies is a sum over visits,
so ``replay --jobs N`` runs it in parts: each worker learns its own records
(:func:`learn_records`) and tallies its own open visits, the workers add their sums
(vasscm.shards), and each writes its rows (:func:`write_forecasts`): the forecasts
one process gives. The clearance records are read with the consumer
rule (a record replaces its visit's earlier revision and the ids it supersedes) for
the visits that arrived in the forecaster's window only, so memory follows the
window, not the log. ``state.jsonl`` is read twice, never held: once for the open
visits (they are evidence too), once to write each row with its forecast.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from vasscm.durations import iso_ms, to_ms
from vasscm.forecast import Curves, Forecast, Forecaster, Observation

__all__ = [
    "RecordLearner",
    "add_forecasts",
    "forecast_open",
    "learn_records",
    "observation_of_record",
    "observation_of_row",
    "open_visits",
    "write_forecasts",
]


def _ms(text: str | None) -> int | None:
    return None if text is None else to_ms(datetime.fromisoformat(text))


def observation_of_record(doc: dict[str, Any]) -> Observation | None:
    """A clearance record as the forecaster sees it (None without an arrival)."""
    arrived = _ms(doc.get("arrived_at"))
    if arrived is None:
        return None
    release = doc["segments"].get("release")
    released = None if release is None else arrived + round(release * 1000)
    return Observation(
        doc["site"], doc["direction"], doc["channel"], arrived, released, _ms(doc["exited_at"])
    )


def observation_of_row(row: dict[str, Any]) -> Observation | None:
    """An open visit's state row as the forecaster sees it (None before arrival)."""
    arrived = _ms(row.get("arrived_at"))
    if arrived is None or row.get("exited_at") is not None:
        return None
    released = _ms(row.get("eligible_at")) if row.get("waiting_on") == "owner" else None
    return Observation(row["site"], row["direction"], row["channel"], arrived, released, None)


class RecordLearner:
    """A forecaster fed clearance records as a consumer reads them: a record replaces
    its visit's earlier revision and the ids it supersedes (their figures are taken
    back). Only the window's visits are kept to be replaced later."""

    def __init__(self, forecaster: Forecaster) -> None:
        self.forecaster = forecaster
        self._current: dict[str, Observation] = {}

    def read(self, doc: dict[str, Any]) -> Observation | None:
        """Learn one record; the visit as the forecaster sees it (None: no arrival)."""
        for old in (doc["visit_id"], *doc.get("supersedes", ())):
            previous = self._current.pop(old, None)
            if previous is not None:
                self.forecaster.learn(previous, -1)
        obs = observation_of_record(doc)
        if obs is not None and self.forecaster.in_window(obs.arrived):
            self._current[doc["visit_id"]] = obs
            self.forecaster.learn(obs)
        return obs

    def __len__(self) -> int:
        """Visits held: those that arrived in the window (as far as it has moved)."""
        return len(self._current)

    def prune(self) -> None:
        """Forget the visits that have left the window (the forecaster dropped their
        figures as it moved): a revision of one now changes nothing, as in replay."""
        inside = self.forecaster.in_window
        for visit_id in [v for v, obs in self._current.items() if not inside(obs.arrived)]:
            del self._current[visit_id]


def learn_records(records: Iterable[bytes], as_of: datetime, forecaster: Forecaster) -> Forecaster:
    """``forecaster``, its window moved to ``as_of``, taught the clearance ``records``
    (JSON lines, in the order written) as a consumer reads them."""
    forecaster.advance(to_ms(as_of))
    learner = RecordLearner(forecaster)
    for line in records:
        if line.strip():
            learner.read(orjson.loads(line))
    return forecaster


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as stream:
        for line in stream:
            if line.strip():
                yield orjson.loads(line)


def as_row(forecast: Forecast | None) -> dict[str, Any] | None:
    """A forecast as :class:`~vasscm.events.VisitForecast` plain data."""
    if forecast is None:
        return None
    return {
        "release_p50": None if forecast.release_p50 is None else iso_ms(forecast.release_p50),
        "release_p90": None if forecast.release_p90 is None else iso_ms(forecast.release_p90),
        "exit_p50": None if forecast.exit_p50 is None else iso_ms(forecast.exit_p50),
        "exit_p90": None if forecast.exit_p90 is None else iso_ms(forecast.exit_p90),
        "basis": forecast.basis,
        "as_of": iso_ms(forecast.as_of),
    }


def add_forecasts(out: Path, as_of: datetime | None, forecaster: Forecaster | None = None) -> int:
    """Rewrite ``out/state.jsonl`` with each open visit's forecast at ``as_of``, learned
    from ``out/clearances.jsonl``; how many rows got one. Without ``as_of`` (an empty
    log) the files are left as they are."""
    state = out / "state.jsonl"
    if as_of is None or not state.exists():
        return 0
    with (out / "clearances.jsonl").open("rb") as records:
        learned = learn_records(
            records, as_of, forecaster if forecaster is not None else Forecaster()
        )
    return forecast_open(state, as_of, learned)


def forecast_open(state: Path, as_of: datetime, forecaster: Forecaster) -> int:
    """Rewrite ``state`` (a ``state.jsonl``) with each open visit's forecast at
    ``as_of``, by ``forecaster``, which has learned the clearance records up to it
    (:func:`learn_records`); how many rows got one."""
    opened = open_visits(state)
    curves = forecaster.curves([obs for obs in opened if obs is not None], to_ms(as_of))
    return write_forecasts(state, opened, as_of, forecaster, curves)


def open_visits(state: Path) -> list[Observation | None]:
    """Each row of ``state`` as the forecaster sees it (None: not forecast), in file
    order: small tuples, where the rows themselves are not held."""
    return [observation_of_row(row) for row in _rows(state)]


def write_forecasts(
    state: Path,
    opened: list[Observation | None],
    as_of: datetime,
    forecaster: Forecaster,
    curves: Curves,
) -> int:
    """Rewrite ``state`` with each row's forecast (``opened``: :func:`open_visits` of
    it) from ``curves``; how many rows got one."""
    at = to_ms(as_of)
    made = 0
    written = state.with_name(state.name + ".tmp")
    with written.open("wb", buffering=1 << 20) as target:
        for row, obs in zip(_rows(state), opened, strict=True):
            forecast = None if obs is None else forecaster.forecast(obs, at, curves)
            row["forecast"] = as_row(forecast)
            made += forecast is not None
            target.write(orjson.dumps(row) + b"\n")
    os.replace(written, state)
    return made
