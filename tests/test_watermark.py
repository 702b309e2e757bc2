"""Tests for ``vasscm.watermark.LowWatermark``: the event-time clock over many inputs.

The clock judges stalls and expires closed visits with ``stall_clock=event``, so
these pin what keeps it safe: it waits for the slowest active input (and for an
input just assigned), leaves idle inputs out, falls back to the highest time seen
(or the floor) when everything is idle, and never moves backwards.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vasscm.watermark import LowWatermark

IDLE = 1_000  # idle_after, in wall-clock ms, for every watermark built here


def watermark(**latest: int) -> LowWatermark:
    """A watermark whose inputs (by name) each delivered one event at wall time 0."""
    clock = LowWatermark(idle_after_ms=IDLE)
    for source, event_ms in latest.items():
        clock.observe(source, event_ms, wall_ms=0)
    return clock


# --- active inputs ------------------------------------------------------------------


def test_value_is_the_minimum_over_active_inputs() -> None:
    """The clock is the time every active input has reached: the slowest one's."""
    clock = watermark(a=100, b=50, c=70)

    assert 50 == clock.value(wall_ms=10)


def test_an_input_keeps_its_highest_event_time() -> None:
    """An out-of-order older event does not pull its input back."""
    clock = watermark(a=100, b=300)
    clock.observe("a", 40, wall_ms=5)

    assert 100 == clock.value(wall_ms=10)


def test_no_input_and_no_floor_gives_none() -> None:
    """Before anything is known, there is no event time."""
    assert None is LowWatermark(idle_after_ms=IDLE).value(wall_ms=0)


@pytest.mark.parametrize(
    ("silence", "expected"),
    [
        pytest.param(IDLE - 1, 50, id="silent-just-under-idle_after-still-counts"),
        pytest.param(IDLE, 200, id="silent-for-idle_after-left-out"),
        pytest.param(10 * IDLE, 200, id="silent-long-left-out"),
    ],
)
def test_an_input_silent_for_idle_after_is_left_out(silence: int, expected: int) -> None:
    """A quiet partition stops holding the clock back once silent for ``idle_after``."""
    clock = watermark(a=100, b=50)
    clock.observe("a", 200, wall_ms=silence - 1)  # a stays active throughout

    assert expected == clock.value(wall_ms=silence)


def test_an_idle_input_counts_again_once_it_delivers() -> None:
    """An idle input that delivers again is active again (and can hold the clock)."""
    clock = watermark(a=100, b=50)
    clock.observe("a", 200, wall_ms=2 * IDLE)
    clock.observe("b", 150, wall_ms=2 * IDLE)

    assert 150 == clock.value(wall_ms=2 * IDLE + 1)


# --- everything idle ----------------------------------------------------------------


def test_all_idle_gives_the_highest_event_time_seen() -> None:
    """When every input is quiet, nothing is in flight: the clock is the newest time seen."""
    clock = watermark(a=100, b=300, c=200)

    assert 300 == clock.value(wall_ms=5 * IDLE)


@pytest.mark.parametrize(
    ("latest", "floor", "expected"),
    [
        pytest.param({"a": 100, "b": 300}, 500, 500, id="floor-above-seen"),
        pytest.param({"a": 100, "b": 300}, 200, 300, id="floor-below-seen"),
        pytest.param({}, 500, 500, id="no-inputs-floor-only"),
        pytest.param({"a": 100}, None, 100, id="no-floor"),
    ],
)
def test_all_idle_gives_the_higher_of_max_seen_and_floor(
    latest: dict[str, int], floor: int | None, expected: int
) -> None:
    """With every input idle the floor (e.g. recovered state's newest event) counts too."""
    clock = watermark(**latest)
    clock.floor(floor)

    assert expected == clock.value(wall_ms=5 * IDLE)


def test_floor_keeps_the_highest_value_given() -> None:
    """A lower (or None) floor does not lower one given earlier."""
    clock = LowWatermark(idle_after_ms=IDLE)
    for value in (500, 300, None):
        clock.floor(value)

    assert 500 == clock.value(wall_ms=0)


def test_floor_never_overtakes_a_lagging_active_input() -> None:
    """The floor is used only once every input is idle, never past a slow active one."""
    clock = watermark(a=100)
    clock.floor(500)

    assert 100 == clock.value(wall_ms=10)


# --- assigned inputs ----------------------------------------------------------------


def test_an_assigned_silent_input_holds_the_clock_until_it_delivers() -> None:
    """An input just assigned may have a backlog far behind: the clock waits for it."""
    clock = watermark(a=100)
    assert 100 == clock.value(wall_ms=0)
    clock.assign(["b"], wall_ms=10)
    clock.observe("a", 200, wall_ms=20)

    held = clock.value(wall_ms=30)
    clock.observe("b", 150, wall_ms=40)

    assert (100, 150) == (held, clock.value(wall_ms=50))


def test_an_assigned_silent_input_holds_the_clock_until_it_falls_idle() -> None:
    """An assigned input that never delivers stops holding the clock after ``idle_after``."""
    clock = watermark(a=100)
    assert 100 == clock.value(wall_ms=0)
    clock.assign(["b"], wall_ms=10)
    clock.observe("a", 200, wall_ms=500)

    assert (100, 200) == (clock.value(wall_ms=10 + IDLE - 1), clock.value(wall_ms=10 + IDLE))


def test_inputs_assigned_before_any_event_give_no_time() -> None:
    """A fresh worker whose inputs have not all delivered has no event time yet."""
    clock = LowWatermark(idle_after_ms=IDLE)
    clock.assign(["a", "b"], wall_ms=0)
    clock.observe("a", 100, wall_ms=10)

    assert None is clock.value(wall_ms=20)


def test_reassigning_an_input_keeps_its_event_time() -> None:
    """Assigning an input already held does not forget what it delivered."""
    clock = watermark(a=100, b=300)
    clock.assign(["a"], wall_ms=10)

    assert 100 == clock.value(wall_ms=20)


# --- monotonic, forget --------------------------------------------------------------


def test_never_goes_backwards_when_a_slower_input_appears() -> None:
    """A new input far behind holds the clock but does not pull it back."""
    clock = watermark(a=100)
    before = clock.value(wall_ms=0)
    clock.observe("b", 20, wall_ms=10)

    assert (100, 100) == (before, clock.value(wall_ms=20))


def test_never_goes_backwards_below_an_earlier_all_idle_value() -> None:
    """After everything idled to the max seen, a lagging input waking up changes nothing."""
    clock = watermark(a=100, b=300)
    idle_value = clock.value(wall_ms=5 * IDLE)
    clock.observe("a", 150, wall_ms=5 * IDLE + 1)

    assert (300, 300) == (idle_value, clock.value(wall_ms=5 * IDLE + 2))


def test_forget_drops_an_input() -> None:
    """A revoked partition no longer holds the clock back."""
    clock = watermark(a=100, b=50)
    assert 50 == clock.value(wall_ms=0)
    clock.forget("b")
    clock.observe("a", 200, wall_ms=10)

    assert 200 == clock.value(wall_ms=20)


def test_forget_releases_an_assigned_silent_input() -> None:
    """Revoking an input that never delivered lets the clock move at once."""
    clock = watermark(a=100)
    clock.assign(["b"], wall_ms=0)
    clock.forget("b")

    assert 100 == clock.value(wall_ms=10)


def test_forget_of_an_unknown_input_is_a_no_op() -> None:
    """Forgetting what was never assigned or observed is harmless."""
    clock = watermark(a=100)
    clock.forget("nobody")

    assert 100 == clock.value(wall_ms=10)


# --- property -----------------------------------------------------------------------

_SOURCES = st.sampled_from(["p0", "p1", "p2", ("port", 3)])
_EVENT_MS = st.integers(min_value=0, max_value=10_000)
_STEP = st.integers(min_value=0, max_value=2 * IDLE)  # wall time never goes back
_OPS = st.one_of(
    st.tuples(st.just("observe"), _SOURCES, _EVENT_MS, _STEP),
    st.tuples(st.just("assign"), st.lists(_SOURCES, max_size=3), _STEP),
    st.tuples(st.just("forget"), _SOURCES, _STEP),
    st.tuples(st.just("floor"), st.none() | _EVENT_MS, _STEP),
    st.tuples(st.just("value"), _STEP),
)


@settings(max_examples=300, deadline=None)
@given(ops=st.lists(_OPS, max_size=60))
def test_value_is_monotonic_and_bounded_by_what_was_seen(ops: list[tuple[Any, ...]]) -> None:
    """Over any sequence of calls with non-decreasing wall time, value() never decreases,
    never becomes None again, and never exceeds the highest event time observed or the
    highest floor given."""
    clock = LowWatermark(idle_after_ms=IDLE)
    wall = 0
    ceiling: int | None = None  # max event time observed and floor given
    values: list[int | None] = []
    for op in ops:
        kind, *args, step = op
        wall += step
        if kind == "observe":
            source, event_ms = args
            clock.observe(source, event_ms, wall_ms=wall)
            ceiling = event_ms if ceiling is None else max(ceiling, event_ms)
        elif kind == "assign":
            clock.assign(args[0], wall_ms=wall)
        elif kind == "forget":
            clock.forget(args[0])
        elif kind == "floor":
            clock.floor(args[0])
            if args[0] is not None:
                ceiling = args[0] if ceiling is None else max(ceiling, args[0])
        values.append(clock.value(wall_ms=wall))

    known = [v for v in values if v is not None]
    assert [] == [v for v in values[len(values) - len(known) :] if v is None]  # None only first
    assert sorted(known) == known
    assert all(ceiling is not None and v <= ceiling for v in known)
