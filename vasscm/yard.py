"""The step that replay and the live tracker both run, one container at a time.

A :class:`Yard` is the containers of one partition (live) or of a whole log
(replay): it applies an event or a deadline check through the core
(:func:`vasscm.tracking.apply` / :func:`~vasscm.tracking.check`), keeps the deadline
index of its containers and, when asked to, the board of open visits, and says what
the step produced: the state to save (or forget), the effects to publish, the
records a revision withdraws from the metrics, and the container's current view.
The shells around it only store, send and count: replay writes files, the live
tracker a faust table and topics. So they cannot drift apart.

Pure: states come from the caller's ``load`` (a dict, a table) and go back through
the returned :class:`Step`; no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from vasscm.board import Board
from vasscm.deadlines import DeadlineIndex
from vasscm.durations import to_ms
from vasscm.events import (
    ClearanceRecord,
    ContainerEvent,
    Discharged,
    Loaded,
    VesselEvent,
)
from vasscm.tracking import (
    DEFAULT_POLICY,
    Call,
    ContainerState,
    Effects,
    Policy,
    apply,
    check,
    latest_stage,
    learn,
    next_deadline_ms,
    published_records,
    resend,
)

__all__ = ["CallStep", "Step", "Yard"]


@dataclass(slots=True)
class Step:
    """What one event or check did to one container."""

    state: ContainerState | None  # to save; None: forget the container
    effects: Effects
    save: bool = True  # False: nothing to store (a rejection, a duplicate)
    # Records a revision replaces, by visit id: their figures leave the metrics.
    withdrawn: dict[str, ClearanceRecord] = field(default_factory=dict)
    # The state whose current visit a container-state record shows (only with a
    # board): the record is built from it when the shell writes it, once per container
    # however many steps changed it meanwhile (vasscm.live.delivery.batch).
    shown: ContainerState | None = None
    vacated: bool = False  # the container holds no visit any more (expired)


@dataclass(slots=True)
class CallStep:
    """What one vessel event did: to its call, and to the containers naming its voyage."""

    call: Call
    changed: bool  # False: it told the call nothing new (a repeat, or an older report)
    # by container number: those that learned the call's facts (when the call did not
    # change, only containers whose state missed them: a crash between two writes)
    steps: list[tuple[str, Step]] = field(default_factory=list)
    named: list[str] = field(default_factory=list)  # containers naming the voyage
    expired: list[str] = field(default_factory=list)  # voyages forgotten meanwhile


class Yard:
    """Containers of one partition or log: the core step, deadlines, board, and the
    vessel calls their events name (contract 7.2)."""

    def __init__(
        self,
        load: Callable[[str], ContainerState | None],
        policy: Policy = DEFAULT_POLICY,
        *,
        board: Board | None = None,
        deadlines: DeadlineIndex | None = None,
        withdraw: bool = False,
        calls: dict[str, Call] | None = None,
        naming: dict[str, set[str]] | None = None,
    ) -> None:
        self.load = load
        self.policy = policy
        self.board = board
        self.deadlines = deadlines if deadlines is not None else DeadlineIndex()
        self.withdraw = withdraw  # find what revisions replace (the live metrics need it)
        self.calls: dict[str, Call] = {} if calls is None else calls  # by voyage
        # No call's latest instant is below this (None: not known, look): a vessel
        # event finds none to forget without looking at every call.
        self._calls_floor: int | None = None
        # voyage -> containers whose events name it (some may have dropped it since:
        # checked when the call changes)
        self.naming: dict[str, set[str]] = {} if naming is None else naming

    def event(
        self,
        container_no: str,
        event: ContainerEvent,
        *,
        now: datetime | int,
        received_at: datetime | None = None,
        occurred_ms: int | None = None,
    ) -> Step:
        """Apply one container's event (``now``: a datetime or epoch ms; ``occurred_ms``
        its occurred_at in ms, when known)."""
        prior = self.load(container_no)
        # What a revision withdraws is read from the state before the event. ``apply``
        # changes the state it is given, and a shell's load may hand back the object an
        # earlier event of the same batch left (vasscm.live.delivery.batch): so a state
        # that has published a record is copied first (most have none to revise).
        snapshot = None
        if self.withdraw and prior is not None and any(b.revision for b in prior.books):
            snapshot = prior.to_json()
        state, effects = apply(
            prior,
            event,
            container_no=container_no,
            now=now,
            received_at=received_at,
            policy=self.policy,
            occurred_ms=occurred_ms,
            calls=self.calls,
        )
        if effects.rejection is not None or effects.outcome == "duplicate":
            return Step(state, effects, save=False)
        if isinstance(event, (Discharged, Loaded)) and event.voyage is not None:
            self.naming.setdefault(event.voyage, set()).add(container_no)
        step = Step(state, effects)
        if snapshot is not None and any(
            r["revision"] > 1 or r["supersedes"] for r in effects.record_rows
        ):
            before = ContainerState.from_json(snapshot)
            step.withdrawn = published_records(before, self.policy)
        self._settled(container_no, step)
        return step

    def vessel(self, event: VesselEvent, *, now: int, received: int) -> CallStep:
        """Apply a vessel call's event (``now`` and ``received`` in epoch ms): the call
        takes it, and each container naming the voyage that does not hold the call's
        facts yet is judged again (vasscm.tracking.learn), in container-number order.

        Even when the event tells the call nothing new: delivered again after a crash
        that stored the call but not every container it changed, it must still reach
        those (a container holding the facts already costs a comparison)."""
        voyage = event.voyage
        call = self.calls.get(voyage)
        if call is None:
            call = self.calls[voyage] = Call(voyage, event.vessel, event.site)
        changed = call.take(event, occurred=to_ms(event.occurred_at), received=received)
        if changed and self._calls_floor is not None:
            self._calls_floor = min(self._calls_floor, call.latest)  # a report may lower it
        out = CallStep(call, changed, expired=self._expire(now, keep=voyage))
        facts = call.facts
        naming = self.naming.get(voyage, set())
        for container_no in sorted(naming):
            state = self.load(container_no)
            if state is None:
                naming.discard(container_no)
                continue
            out.named.append(container_no)
            if state.calls.get(voyage) == facts:
                continue  # it has them (learn would say "duplicate")
            before = published_records(state, self.policy) if self.withdraw else {}
            effects = learn(state, voyage, facts, now=now, policy=self.policy)
            if effects.outcome == "duplicate":
                if not any(e.voyage == voyage for e in state.events):
                    naming.discard(container_no)  # its visits naming it are gone
                continue
            step = Step(state, effects)
            if any(r["revision"] > 1 or r["supersedes"] for r in effects.record_rows):
                step.withdrawn = before
            self._settled(container_no, step)
            out.steps.append((container_no, step))
        return out

    def _expire(self, now: int, *, keep: str) -> list[str]:
        """Forget calls nothing has been heard of for twice the retention (a container
        naming one later finds no facts, as it would before the call was heard of)."""
        horizon = now - 2 * self.policy.retention
        if self._calls_floor is not None and self._calls_floor >= horizon:
            return []  # every call speaks of a time at or after the horizon
        gone = [v for v, call in self.calls.items() if v != keep and call.latest < horizon]
        for voyage in gone:
            del self.calls[voyage]
            self.naming.pop(voyage, None)
        self._calls_floor = min((call.latest for call in self.calls.values()), default=None)
        return gone

    def check(self, container_no: str, *, now: datetime | int) -> Step | None:
        """Judge a container whose deadline fell due; None when it is not held."""
        state = self.load(container_no)
        if state is None:
            self.deadlines.discard(container_no)
            return None
        kept, effects = check(state, now=now, policy=self.policy)
        step = Step(kept, effects)
        if kept is None or not kept.events:
            step.vacated = True
            if self.board is not None:
                self.board.remove(container_no)
        if kept is None:
            self.deadlines.discard(container_no)
        else:
            self._settled(container_no, step, view=not step.vacated)
        return step

    def resend(self, state: ContainerState, *, now: datetime) -> Effects:
        """What the state says went out, to send again (see tracking.resend)."""
        return resend(state, now=now, policy=self.policy)

    def place(self, container_no: str, state: ContainerState) -> ContainerState:
        """The container's current visit placed on the board (its stage, party and
        what the forecasts need, read without building the view); ``state``."""
        if self.board is not None:
            latest = latest_stage(state)
            if latest is None:
                self.board.remove(container_no)
            else:
                self.board.place_latest(container_no, latest)
        return state

    def has_due(self, now_ms: int) -> bool:
        """Whether :meth:`due` may yield anything (O(1): asked at every event; True can
        turn out to be nothing due, False is exact)."""
        return self.deadlines.may_be_due(now_ms)

    def due(self, now_ms: int) -> Iterator[str]:
        """Containers whose deadline is at or before ``now_ms``."""
        return self.deadlines.pop_due(now_ms)

    def due_items(self, now_ms: int) -> Iterator[tuple[int, str]]:
        """As :meth:`due`, each container with its deadline, earliest first."""
        return self.deadlines.pop_due_items(now_ms)

    def _settled(self, container_no: str, step: Step, *, view: bool = True) -> None:
        assert step.state is not None
        self.deadlines.schedule(container_no, next_deadline_ms(step.state, self.policy))
        if view and self.board is not None:
            step.shown = self.place(container_no, step.state)
