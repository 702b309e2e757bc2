"""The board: open visits per site, direction and stage, as the gauges read them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from factories import CONTAINER, OTHER_CONTAINER, ROUTES, T0, at, cleared_visit, run_events

from vasscm.board import Board, Group, GroupStats, merge_stats, stage_rows, waiting_rows
from vasscm.durations import to_ms
from vasscm.tracking import DEFAULT_POLICY, current_view, latest_stage

IMPORT = ROUTES["cai-lan-import"]
HOUR = 3600 * 1000


def put(board: Board, container_no: str, events: list[Any]) -> None:
    """The container's latest visit after ``events``, placed as the yard places it."""
    run = run_events(events, container_no=container_no)
    assert run.state is not None
    latest = latest_stage(run.state)
    assert latest is not None
    board.place_latest(container_no, latest)


def test_an_arrived_container_is_counted_in_its_stage_since_arrival() -> None:
    """A DISCHARGED import waits for release: one container in AWAITING_RELEASE since T0."""
    board = Board()
    put(board, CONTAINER, [IMPORT.arrive(T0)])
    group = Group("cai-lan", "import", "AWAITING_RELEASE", "declarant")
    [stats] = list(board.stats(to_ms(at(hours=1)), DEFAULT_POLICY))
    assert GroupStats(group, 1, to_ms(T0), 0) == stats


def test_a_stage_change_moves_the_container_between_groups() -> None:
    """ELIGIBLE moves it from AWAITING_RELEASE to RELEASED; the old group disappears."""
    board = Board()
    put(board, CONTAINER, [IMPORT.arrive(T0)])
    put(board, CONTAINER, [IMPORT.arrive(T0), IMPORT.event("ELIGIBLE", at(hours=3))])
    [stats] = list(board.stats(to_ms(at(hours=4)), DEFAULT_POLICY))
    assert Group("cai-lan", "import", "RELEASED", "owner") == stats.group
    assert to_ms(at(hours=3)) == stats.oldest_since_ms
    assert 1 == len(board)


def test_an_exit_removes_the_container() -> None:
    """A completed visit is not in the yard any more."""
    board = Board()
    put(board, CONTAINER, [IMPORT.arrive(T0)])
    put(board, CONTAINER, cleared_visit(IMPORT))
    assert [] == list(board.stats(to_ms(at(days=1)), DEFAULT_POLICY))
    assert 0 == len(board)
    board.remove(CONTAINER)  # and removing what is not there is harmless
    assert board.get(CONTAINER) is None


def test_stalled_means_strictly_older_than_the_threshold_as_the_core_judges() -> None:
    """48 h import AWAITING_RELEASE: at exactly 48 h not stalled, one ms later stalled."""
    board = Board()
    put(board, CONTAINER, [IMPORT.arrive(T0)])
    at_limit = to_ms(T0) + 48 * HOUR
    assert 0 == next(iter(board.stats(at_limit, DEFAULT_POLICY))).stalled
    assert 1 == next(iter(board.stats(at_limit + 1, DEFAULT_POLICY))).stalled
    [entry] = list(board.stalled(at_limit + 1, DEFAULT_POLICY))
    assert (CONTAINER, 48 * HOUR + 1) == (entry.container_no, entry.age_ms)


def test_oldest_is_the_earliest_stage_start_of_the_group() -> None:
    """Two containers in one stage: the gauge reports the older one's start."""
    board = Board()
    put(board, CONTAINER, [IMPORT.arrive(T0)])
    later = [IMPORT.arrive(T0 + timedelta(hours=5), container_no=OTHER_CONTAINER)]
    put(board, OTHER_CONTAINER, later)
    [stats] = list(board.stats(to_ms(at(hours=6)), DEFAULT_POLICY))
    assert (2, to_ms(T0)) == (stats.containers, stats.oldest_since_ms)


def test_merge_sums_counts_and_keeps_the_oldest_across_partitions() -> None:
    """A worker's partitions are merged per group: counts add, the oldest wins."""
    one, two = Board(), Board()
    put(one, CONTAINER, [IMPORT.arrive(T0)])
    late = [IMPORT.arrive(at(hours=2), container_no=OTHER_CONTAINER)]
    put(two, OTHER_CONTAINER, late)
    now = to_ms(at(hours=49))
    [merged] = merge_stats([one.stats(now, DEFAULT_POLICY), two.stats(now, DEFAULT_POLICY)])
    assert (2, to_ms(T0), 1) == (merged.containers, merged.oldest_since_ms, merged.stalled)


def test_the_party_waited_on_splits_a_stage_and_the_tables_add_it_up() -> None:
    """Two containers awaiting release, one without a channel (the declarant's move) and
    one with (customs'): two groups on the board, one row of the stage table, and one
    row per party in the waiting table; a visit not yet arrived is in neither party."""
    board = Board()
    put(board, CONTAINER, [IMPORT.arrive(T0)])
    channelled = [
        IMPORT.arrive(T0, container_no=OTHER_CONTAINER),
        IMPORT.event("CHANNEL_ASSIGNED", at(hours=1), container_no=OTHER_CONTAINER),
    ]
    put(board, OTHER_CONTAINER, channelled)
    third = "TGHU1234567"
    put(board, third, [IMPORT.event("EXPECTED", T0, container_no=third)])
    now = to_ms(at(hours=49))
    groups = merge_stats([board.stats(now, DEFAULT_POLICY)])
    assert 3 == len(groups)
    [awaiting] = [r for r in stage_rows(groups, now) if r["stage"] == "AWAITING_RELEASE"]
    assert (2, 2, 49 * 3600.0) == (
        awaiting["containers"],
        awaiting["stalled"],
        awaiting["oldest_seconds"],
    )
    assert [("customs", 1, 1), ("declarant", 1, 1)] == [
        (r["waiting_on"], r["containers"], r["stalled"]) for r in waiting_rows(groups)
    ]


def test_what_the_forecasts_see_on_the_board_is_what_the_view_says() -> None:
    """Contract 8.2: each open visit that arrived is an observation (site, direction,
    channel, arrival, release once released); one not arrived or gone is none. The
    sweep reads them off the board and a lookup off the view (vasscm.live.stream.forecasts):
    both see the same."""
    from vasscm.forecast import Observation
    from vasscm.live.stream.forecasts import observation_of_view

    waiting = [IMPORT.arrive(T0), IMPORT.event("CHANNEL_ASSIGNED", at(hours=1), channel="red")]
    released = [IMPORT.arrive(T0), IMPORT.event("ELIGIBLE", at(hours=3))]
    gone = cleared_visit(IMPORT, T0)
    board, views = Board(), {}
    for no, events in ((CONTAINER, waiting), (OTHER_CONTAINER, released), ("GONE", gone)):
        put(board, no, events)
        run = run_events(events, container_no=CONTAINER)
        assert run.state is not None
        views[no] = current_view(run.state)
    seen = {no: obs for no, obs, _ in board.observations()}
    assert seen == {
        CONTAINER: Observation("cai-lan", "import", "red", to_ms(T0), None, None),
        OTHER_CONTAINER: Observation(
            "cai-lan", "import", "unknown", to_ms(T0), to_ms(at(hours=3)), None
        ),
    }
    assert seen == {
        no: obs for no, view in views.items() if (obs := observation_of_view(view)) is not None
    }
    board.remove(CONTAINER)
    assert CONTAINER not in {no for no, _, _ in board.observations()}
