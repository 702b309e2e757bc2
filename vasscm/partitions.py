"""What a worker derives from its table for the partitions it owns: a deadline index
(which containers' stalls or expiry fall due when), a board of open visits (the
gauges and the stalled list), and the partition's vessel calls with the containers
naming each voyage (contract 7.2). Rebuilt from the table whenever partitions are
assigned, then kept up to date event by event.

Pure: the caller iterates the table (in chunks, yielding to its event loop between
them: a million states take seconds) and feeds each state to :meth:`Rebuild.add`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from vasscm.board import Board
from vasscm.deadlines import DeadlineIndex
from vasscm.durations import to_ms
from vasscm.tracking import (
    DEFAULT_POLICY,
    Call,
    ContainerState,
    Policy,
    latest_stage,
    next_deadline,
)
from vasscm.tracking.calls import parse_call_key

__all__ = ["Rebuild"]


@dataclass
class Rebuild:
    """Indexes and boards of the ``assigned`` partitions, from the table's states."""

    assigned: Iterable[int]
    partition_of: Callable[[str], int]
    policy: Policy = DEFAULT_POLICY
    indexes: dict[int, DeadlineIndex] = field(init=False)
    boards: dict[int, Board] = field(init=False)
    calls: dict[int, dict[str, Call]] = field(init=False)  # by partition, voyage
    naming: dict[int, dict[str, set[str]]] = field(init=False)  # voyage -> containers
    newest: int | None = field(init=False, default=None)  # latest event time seen, ms
    containers: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.assigned = frozenset(self.assigned)
        self.indexes = {p: DeadlineIndex() for p in self.assigned}
        self.boards = {p: Board() for p in self.assigned}
        self.calls = {p: {} for p in self.assigned}
        self.naming = {p: {} for p in self.assigned}

    def add(self, container_no: str, data: bytes | None) -> None:
        """One table entry; entries of other partitions (or deleted ones) are skipped."""
        call = parse_call_key(container_no)
        if call is not None:  # a partition's copy of a vessel call
            p, voyage = call
            if data is not None and p in self.calls:
                self.calls[p][voyage] = Call.from_json(data)
            return
        p = self.partition_of(container_no)
        if data is None or p not in self.indexes:
            return
        state = ContainerState.from_json(data)
        for voyage in {e.voyage for e in state.events if e.voyage is not None}:
            self.naming[p].setdefault(voyage, set()).add(container_no)
        due = next_deadline(state, self.policy)
        self.indexes[p].schedule(container_no, None if due is None else to_ms(due))
        latest = latest_stage(state)
        if latest is not None:
            self.boards[p].place_latest(container_no, latest)
        if state.events:
            last = state.events[-1].t  # events are kept in time order
            self.newest = last if self.newest is None else max(self.newest, last)
        self.containers += 1
