"""Rebuilding a worker's deadline index and board from its table's states."""

from __future__ import annotations

from factories import ROUTES, T0, at, cleared_visit, run_events

from vasscm.durations import to_ms
from vasscm.partitions import Rebuild
from vasscm.simulate import container_number
from vasscm.tracking import DEFAULT_POLICY

IMPORT = ROUTES["cai-lan-import"]


def table(n: int) -> dict[str, bytes]:
    """n containers: even ones still waiting for release, odd ones gone (closed)."""
    out = {}
    for i in range(n):
        no = container_number(i)
        events = [IMPORT.arrive(at(hours=i), container_no=no)]
        if i % 2:
            events = cleared_visit(IMPORT, at(hours=i))
            events = [e.model_copy(update={"container_no": no}) for e in events]
        run = run_events(events, container_no=no)
        assert run.state is not None
        out[no] = run.state.to_json()
    return out


def test_only_assigned_partitions_are_rebuilt_and_open_visits_are_on_the_board() -> None:
    """Four partitions by index: the worker owning 0 and 1 indexes its containers
    (closed ones too: their expiry is a deadline) and boards only the open ones."""
    states = table(40)
    owner = {no: i % 4 for i, no in enumerate(states)}
    rebuild = Rebuild({0, 1}, lambda no: owner.get(no, 0), DEFAULT_POLICY)
    for no, data in states.items():
        rebuild.add(no, data)
    rebuild.add("gone", None)  # a deleted entry
    assert {0, 1} == set(rebuild.indexes) == set(rebuild.boards)
    assert 20 == rebuild.containers == sum(len(i) for i in rebuild.indexes.values())
    open_on_board = sum(len(b) for b in rebuild.boards.values())
    assert 10 == open_on_board  # the even ones of partitions 0 and 1
    assert rebuild.newest is not None
    assert to_ms(T0) < rebuild.newest


def test_deadlines_come_back_for_what_falls_due() -> None:
    """After the rebuild, a stall check at 49 h finds the first container due."""
    states = table(2)
    rebuild = Rebuild({0}, lambda _: 0, DEFAULT_POLICY)
    for no, data in states.items():
        rebuild.add(no, data)
    due = list(rebuild.indexes[0].pop_due(to_ms(at(hours=49))))
    assert [container_number(0)] == due
