"""The core step in the live shell: a partition's :class:`~vasscm.yard.Yard` over the
visits table, its outputs through the outbox, its figures into the metrics.

The publisher is the live :class:`~vasscm.settle.StepSink`: the yard's step is read by
:func:`vasscm.settle.settle` as replay's is, and what it did goes into the open
:class:`~vasscm.live.delivery.Batch` (dead letters of refused records too),
which writes each container's state once and puts the outputs in the outbox behind
those writes when it closes.

Processing is at least once: a redelivered record finds its ``event_id`` in the
container's state and changes nothing, but what the state says went out is sent
again (same revisions, same content), once per container after each (re)assignment:
a crash can lose a record's outputs after its state change was saved. The reverse
cannot happen: outputs wait in the outbox (vasscm.live.delivery.outbox) until the state change
they report is on the broker.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from vasscm.board import Board
from vasscm.deadlines import DeadlineIndex
from vasscm.durations import to_ms
from vasscm.events import (
    EXIT_TYPES,
    VESSEL_MODELS,
    InputEvent,
    Rejection,
    VesselEvent,
    container_of,
    dump_json,
    trimmed,
)
from vasscm.live.delivery import Batch, Outbox, VisitsTable
from vasscm.live.stream.forecasts import Forecasts
from vasscm.live.stream.intake import Intake
from vasscm.recent import Recent
from vasscm.settle import Outcome, settle, settle_check
from vasscm.topics import ALERTS, CLEARANCES, CONTAINER_STATE, DEAD_LETTER
from vasscm.tracking import Call, ContainerState, Effects, Policy, current_view
from vasscm.tracking.calls import call_key
from vasscm.yard import Step, Yard

__all__ = ["Publisher"]

log = logging.getLogger(__name__)


def _counted_as(origin: Any) -> str:
    """The topic a record's outcome is counted under: a copy handed over in-process
    counts as the repartition topic's records it stands for."""
    return origin.via or origin.topic  # type: ignore[no-any-return]


def _stored(value: ContainerState | Call) -> bytes:
    """What the visits table stores: a container's state, or a partition's call."""
    return value.to_json()


class Publisher:
    def __init__(self, intake: Intake, visits: VisitsTable, policy: Policy) -> None:
        self.intake = intake
        self.metrics = intake.metrics
        self.visits = visits
        self.policy = policy
        self.outbox = Outbox()  # outputs wait there for their state change to be written
        # States (and vessel calls) and outputs of the records applied since it last
        # closed; a call is stored under a key naming its partition (tracking.calls).
        self.batch = Batch(visits, self.outbox, _stored, self._encode_view)
        # Contract 8.2: set by the pipeline; each container-state record then carries
        # its forecast, made as the batch closes (once per container and batch).
        self.forecasts: Forecasts | None = None
        self.recent = Recent()  # the dashboard's window of recent clearances and alerts
        self.yards: dict[int, Yard] = {}  # per partition owned
        self.resent: set[str] = set()  # containers whose outputs were sent again
        # The record being applied, for the StepSink methods: where it came from (None
        # for a stall tick), the clock it is judged by, its partition, the event.
        self._origin: Any = None
        self._now = datetime.min.replace(tzinfo=UTC)
        self._p = 0
        self._parsed: InputEvent | None = None

    def _encode_view(self, state: ContainerState) -> bytes | None:
        """A container-state record: the current visit of the container's latest
        state in the batch (built once, as the batch closes), with its forecast."""
        view = current_view(state)
        if view is None:  # no visit held: as for a container whose visits expired
            return None
        if self.forecasts is not None:
            try:
                view = self.forecasts.attach(view)
            except Exception:  # a forecast's defect must not stop the tracker
                log.exception("forecasts: %s's view goes out without one", view.container_no)
        return dump_json(view)

    def load(self, container_no: str) -> ContainerState | None:
        staged = self.batch.state(container_no)
        if not Batch.missing(staged):
            return staged  # type: ignore[no-any-return]
        data = self.visits.get(container_no)
        return None if data is None else ContainerState.from_json(data)

    def boards(self) -> list[Board]:
        """The boards of the partitions owned now."""
        return [y.board for y in list(self.yards.values()) if y.board is not None]

    def yard(self, partition: int) -> Yard:
        yard = self.yards.get(partition)
        if yard is None:
            yard = self.yards[partition] = self.new_yard(Board(), DeadlineIndex())
        return yard

    def new_yard(
        self,
        board: Board,
        deadlines: DeadlineIndex,
        calls: dict[str, Call] | None = None,
        naming: dict[str, set[str]] | None = None,
    ) -> Yard:
        return Yard(
            self.load,
            self.policy,
            board=board,
            deadlines=deadlines,
            withdraw=True,
            calls=calls,
            naming=naming,
        )

    # --- steps --------------------------------------------------------------------

    def event(
        self,
        parsed: InputEvent,
        received: datetime,
        origin: Any,
        now: datetime,
        partition: int | None = None,
    ) -> None:
        """Apply one record (its turn has come), store and publish what it did.
        ``partition``: the yard's, when not the origin's (a customs copy handed over
        in-process comes from a customs partition)."""
        try:
            p = origin.partition if partition is None else partition
            self._event(parsed, received, origin, now, p)
        finally:
            self.batch.done()

    def _event(
        self, parsed: InputEvent, received: datetime, origin: Any, now: datetime, p: int
    ) -> None:
        self._origin, self._now, self._p, self._parsed = origin, now, p, parsed
        if isinstance(parsed, VESSEL_MODELS):
            self._vessel(parsed, received)
            return
        container_no = container_of(parsed)
        step = self.yard(p).event(container_no, parsed, now=now, received_at=received)
        outcome = settle(self, container_no, step)
        if outcome is Outcome.REJECTED:
            return
        self.metrics.event(_counted_as(origin), parsed.type, outcome.value)
        if outcome is Outcome.ACCEPTED and parsed.type not in EXIT_TYPES:
            # An exit's delay runs from its clock's start.
            delay = (received - parsed.occurred_at).total_seconds()
            self.metrics.report_delay.labels(parsed.type).observe(max(0.0, delay))

    def _vessel(self, parsed: VesselEvent, received: datetime) -> None:
        """A vessel call's event, copied to this partition: the call and the containers
        here that name its voyage (vasscm.yard.Yard.vessel)."""
        p, now = self._p, self._now
        step = self.yard(p).vessel(parsed, now=to_ms(now), received=to_ms(received))
        outcome = "accepted" if step.changed else "duplicate"
        self.metrics.event(_counted_as(self._origin), parsed.type, outcome)
        for voyage in step.expired:
            self.batch.put_state(p, call_key(p, voyage), None)
        if step.changed:
            self.batch.put_state(p, call_key(p, parsed.voyage), step.call)
        for container_no, one in step.steps:
            settle(self, container_no, one)
        if not step.changed:  # delivered again: what it did may have been lost
            learned = {container_no for container_no, _ in step.steps}
            for container_no in step.named:
                state = None if container_no in learned else self.load(container_no)
                if state is not None:
                    self.repeat(container_no, state)

    def stall_check(self, container_no: str, partition: int, now: datetime) -> None:
        try:
            step = self.yard(partition).check(container_no, now=now)
            if step is not None:
                self._origin, self._now, self._p, self._parsed = None, now, partition, None
                settle_check(self, container_no, step)
        finally:
            self.batch.done()

    def due(self, now_ms: int) -> Iterator[str]:
        for yard in list(self.yards.values()):
            yield from yard.due(now_ms)

    # --- the step's results (vasscm.settle.StepSink), for the record being applied ----

    def save(self, container_no: str, state: ContainerState | None) -> None:
        self.batch.put_state(self._p, container_no, state)

    def publish(self, container_no: str, step: Step) -> None:
        self._publish(container_no, step, self._p)
        if step.vacated:  # no visit held any more
            self.batch.view(self._p, CONTAINER_STATE, container_no.encode(), None)

    def reject(self, rejection: Rejection) -> None:
        """A refused record's dead letter, sent with the batch's outputs."""
        origin, parsed = self._origin, self._parsed
        assert origin is not None
        assert parsed is not None
        letter = self.intake.letter(dump_json(parsed), rejection, origin, _counted_as(origin))
        self.batch.send(self._p, (DEAD_LETTER, origin.key, letter))

    def repeat(self, container_no: str, state: ContainerState) -> None:
        """Send again what the state says went out, once per container and assignment.

        A record delivered again after a crash finds its state change saved (the
        changelog write can reach the broker before the outputs), while what it
        produced may have been lost with the worker. Only what an earlier worker (or
        assignment) sent can be lost so: what this one sends is flushed before its
        offsets are committed. Once the container's picture is sent again, its later
        duplicates have nothing to add. Not counted in the metrics a second time.
        """
        if container_no in self.resent:
            return
        self.resent.add(container_no)
        p = self._p
        yard = self.yard(p)
        resent = yard.resend(state, now=self._now)
        self._publish(
            container_no, Step(state, resent, shown=yard.place(container_no, state)), p, count=False
        )

    def _publish(
        self, container_no: str, step: Step, partition: int, *, count: bool = True
    ) -> None:
        key = container_no.encode()
        effects: Effects = step.effects
        batch = self.batch
        # The lines are the rows as replay writes them; the models are for counting.
        if count:
            for record in effects.records:
                ids = (record.visit_id, *record.supersedes)
                prior = next((step.withdrawn[i] for i in ids if i in step.withdrawn), None)
                self.metrics.clearance(record, prior)
                self.recent.record(record)
            for alert in effects.alerts:
                self.metrics.alert(alert)
                self.recent.alert(alert)
        # Sent once the batch's state changes are written (this one, or for a resend
        # the one it repeats).
        for row in effects.record_rows:
            batch.send(partition, (CLEARANCES, key, trimmed(orjson.dumps(row))))
        for row in effects.alert_rows:
            batch.send(partition, (ALERTS, key, trimmed(orjson.dumps(row))))
        if step.shown is not None:
            batch.view(partition, CONTAINER_STATE, key, step.shown)
