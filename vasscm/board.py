"""What is in the yard now: open visits grouped by site, direction, stage and the
party each waits on (contract 8.1).

The live gauges (containers per stage, the oldest in each stage, stalled counts) and
the dashboard's stalled list read this board, not the table: decoding every visit
state at each scrape would cost seconds with 100,000 open visits, while the board
answers from one small entry per container. The worker keeps one board per
partition it owns, fills it from the table when partitions are assigned, and
updates it with every state it writes, so a worker reports only its own partitions
and sums across workers are exact. It also holds what the forecasts need of each
open visit that has arrived (:meth:`Board.observations`, contract 8.2): open visits
are evidence too.

Pure: no clock is read; callers pass ``now`` in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from vasscm.durations import from_ms
from vasscm.events import Stage, format_ts
from vasscm.forecast import Observation
from vasscm.tracking import Policy
from vasscm.tracking.views import Latest

__all__ = [
    "Board",
    "Entry",
    "Group",
    "GroupStats",
    "StalledEntry",
    "merge_stats",
    "stage_rows",
    "stalled_rows",
    "waiting_rows",
]


class Group(NamedTuple):
    site: str
    direction: str
    stage: str
    waiting_on: str = ""  # contract 8.1; "" before arrival (the view's null)


class Entry(NamedTuple):
    group: Group
    since_ms: int  # when the visit entered its current stage


class GroupStats(NamedTuple):
    group: Group
    containers: int
    oldest_since_ms: int | None
    stalled: int


class StalledEntry(NamedTuple):
    container_no: str
    group: Group
    since_ms: int
    age_ms: int


class Board:
    """Open visits of some partitions: container -> (site, direction, stage, since)."""

    __slots__ = ("_by_group", "_facts", "_groups", "_where")

    def __init__(self) -> None:
        # A million open visits are held here: per container, one entry in each of
        # two dicts and nothing else (a group is one object shared by its members).
        self._where: dict[str, Group] = {}  # container -> its group
        # group -> container -> since; len() and min() over it answer a scrape.
        self._by_group: dict[Group, dict[str, int]] = {}
        self._groups: dict[Group, Group] = {}  # one instance per group
        # container -> (channel, arrived, released) of the open visits that arrived
        self._facts: dict[str, tuple[str, int, int | None]] = {}

    def __len__(self) -> int:
        return len(self._where)

    def place_latest(self, container_no: str, latest: Latest) -> None:
        """The container's current visit (vasscm.tracking.latest_stage); an exited
        visit removes it."""
        self.place(
            container_no,
            latest.site,
            latest.direction,
            str(latest.stage),
            latest.since,
            latest.waiting_on,
            arrived=latest.arrived,
            released=latest.released,
            channel=latest.channel,
        )

    def place(
        self,
        container_no: str,
        site: str,
        direction: str,
        stage: str,
        since: int,
        waiting_on: str | None = None,
        *,
        arrived: int | None = None,
        released: int | None = None,
        channel: str = "unknown",
    ) -> None:
        """The same from the visit's parts."""
        if stage == Stage.EXITED:
            self.remove(container_no)
            return
        if arrived is None:
            self._facts.pop(container_no, None)
        else:
            self._facts[container_no] = (channel, arrived, released)
        key = Group(site, direction, stage, waiting_on or "")
        group = self._groups.setdefault(key, key)
        old = self._where.get(container_no)
        if old is not None and old != group:
            self._drop(container_no, old)
        self._where[container_no] = group
        self._by_group.setdefault(group, {})[container_no] = since

    def remove(self, container_no: str) -> None:
        old = self._where.pop(container_no, None)
        if old is not None:
            self._drop(container_no, old)
        self._facts.pop(container_no, None)

    def get(self, container_no: str) -> Entry | None:
        group = self._where.get(container_no)
        return None if group is None else Entry(group, self._by_group[group][container_no])

    def observations(self) -> Iterator[tuple[str, Observation, Entry]]:
        """Every open visit that has arrived: container, observation, board entry."""
        where, by_group = self._where, self._by_group
        for container_no, facts in list(self._facts.items()):
            group = where.get(container_no)
            if group is None:
                continue
            since = by_group[group][container_no]
            yield (
                container_no,
                Observation(group.site, group.direction, *facts),
                Entry(group, since),
            )

    def _drop(self, container_no: str, group: Group) -> None:
        members = self._by_group[group]
        del members[container_no]
        if not members:
            del self._by_group[group]
            del self._groups[group]

    def stats(self, now_ms: int, policy: Policy) -> Iterator[GroupStats]:
        """Per group: how many, since when the oldest, how many past the stall threshold
        (strictly older than it, as the core judges STALLED)."""
        for group, members in self._by_group.items():
            after = policy.stall_after(group.stage, group.direction)
            stalled = 0
            if after is not None:
                cutoff = now_ms - after
                stalled = sum(1 for since in members.values() if since < cutoff)
            yield GroupStats(group, len(members), min(members.values()), stalled)

    def stalled(self, now_ms: int, policy: Policy) -> Iterator[StalledEntry]:
        """Containers whose stage is older than its threshold (any order)."""
        for group, members in self._by_group.items():
            after = policy.stall_after(group.stage, group.direction)
            if after is None:
                continue
            cutoff = now_ms - after
            for container_no, since in members.items():
                if since < cutoff:
                    yield StalledEntry(container_no, group, since, now_ms - since)


def merge_stats(parts: Iterable[Iterable[GroupStats]]) -> list[GroupStats]:
    """Sum the stats of several boards (a worker's partitions) per group."""
    out: dict[Group, GroupStats] = {}
    for stats in parts:
        for s in stats:
            prior = out.get(s.group)
            if prior is None:
                out[s.group] = s
                continue
            oldest = [t for t in (prior.oldest_since_ms, s.oldest_since_ms) if t is not None]
            out[s.group] = GroupStats(
                s.group,
                prior.containers + s.containers,
                min(oldest) if oldest else None,
                prior.stalled + s.stalled,
            )
    return sorted(out.values())


def stage_rows(groups: Iterable[GroupStats], now_ms: int) -> list[dict[str, Any]]:
    """The dashboard's containers-per-stage table (JSON-ready), whoever they wait on."""
    by_stage: dict[tuple[str, str, str], list[Any]] = {}
    for g in groups:
        key = (g.group.site, g.group.direction, g.group.stage)
        prior = by_stage.setdefault(key, [0, 0, None])
        prior[0] += g.containers
        prior[1] += g.stalled
        if g.oldest_since_ms is not None:
            prior[2] = g.oldest_since_ms if prior[2] is None else min(prior[2], g.oldest_since_ms)
    return [
        {
            "site": site,
            "direction": direction,
            "stage": stage,
            "containers": n,
            "stalled": stalled,
            "oldest_seconds": None if oldest is None else max(0, now_ms - oldest) / 1000,
        }
        for (site, direction, stage), (n, stalled, oldest) in sorted(by_stage.items())
    ]


def waiting_rows(groups: Iterable[GroupStats]) -> list[dict[str, Any]]:
    """The dashboard's "waiting on" table (JSON-ready): open visits that have arrived, per
    site, direction and the party they wait on, with how many of them are stalled."""
    by_party: dict[tuple[str, str, str], list[int]] = {}
    for g in groups:
        if not g.group.waiting_on:
            continue
        key = (g.group.site, g.group.direction, g.group.waiting_on)
        prior = by_party.setdefault(key, [0, 0])
        prior[0] += g.containers
        prior[1] += g.stalled
    return [
        {
            "site": site,
            "direction": direction,
            "waiting_on": party,
            "containers": n,
            "stalled": stalled,
        }
        for (site, direction, party), (n, stalled) in sorted(by_party.items())
    ]


def stalled_rows(
    boards: Iterable[Board],
    now_ms: int,
    policy: Policy,
    limit: int,
    *,
    site: str | None = None,
    direction: str | None = None,
    stage: str | None = None,
) -> dict[str, Any]:
    """The stalled list, oldest in its stage first (JSON-ready), of the visits matching
    the filters: ``stalled`` (at most ``limit``), ``total`` (all that match) and
    ``by_stage`` (counts per stage matching the site and direction filters)."""
    entries = [
        e
        for b in boards
        for e in b.stalled(now_ms, policy)
        if (site is None or e.group.site == site)
        and (direction is None or e.group.direction == direction)
    ]
    by_stage: dict[str, int] = {}
    for e in entries:
        by_stage[e.group.stage] = by_stage.get(e.group.stage, 0) + 1
    if stage is not None:
        entries = [e for e in entries if e.group.stage == stage]
    entries.sort(key=lambda e: (e.since_ms, e.container_no))
    rows = [
        {
            "container_no": e.container_no,
            "site": e.group.site,
            "direction": e.group.direction,
            "stage": e.group.stage,
            "since": format_ts(from_ms(e.since_ms)),
            "age_seconds": e.age_ms / 1000,
        }
        for e in entries[:limit]
    ]
    return {"stalled": rows, "total": len(entries), "by_stage": dict(sorted(by_stage.items()))}
