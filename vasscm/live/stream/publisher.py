"""The core step in the live shell: a partition's :class:`~vasscm.yard.Yard` over the
visits table, its outputs through the outbox, its figures into the metrics.

A step's state and outputs go into the open :class:`~vasscm.live.delivery.Batch`,
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
from datetime import datetime
from typing import Any

import orjson

from vasscm.board import Board
from vasscm.deadlines import DeadlineIndex
from vasscm.durations import to_ms
from vasscm.events import (
    EXIT_TYPES,
    VESSEL_MODELS,
    InputEvent,
    VesselEvent,
    container_of,
    dump_json,
    trimmed,
)
from vasscm.live.delivery import Batch, Outbox, VisitsTable
from vasscm.live.stream.forecasts import Forecasts
from vasscm.live.stream.intake import Intake
from vasscm.recent import Recent
from vasscm.topics import ALERTS, CLEARANCES, CONTAINER_STATE
from vasscm.tracking import Call, ContainerState, Effects, Policy, current_view
from vasscm.tracking.calls import call_key
from vasscm.yard import Step, Yard

__all__ = ["Publisher"]

log = logging.getLogger(__name__)


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

    async def event(
        self, parsed: InputEvent, received: datetime, origin: Any, now: datetime
    ) -> None:
        """Apply one record (its turn has come), store and publish what it did."""
        try:
            await self._event(parsed, received, origin, now)
        finally:
            self.batch.done()

    async def _event(
        self, parsed: InputEvent, received: datetime, origin: Any, now: datetime
    ) -> None:
        if isinstance(parsed, VESSEL_MODELS):
            self._vessel(parsed, received, origin, now)
            return
        container_no = container_of(parsed)
        yard = self.yard(origin.partition)
        step = yard.event(container_no, parsed, now=now, received_at=received)
        effects = step.effects
        if effects.rejection is not None:  # stale, or dated in the future
            await self.intake.dead_letter(dump_json(parsed), effects.rejection, origin)
            return
        if effects.outcome == "duplicate":
            self.metrics.event(origin.topic, parsed.type, "duplicate")
            assert step.state is not None
            self._resend(container_no, step.state, now, origin.partition)
            return
        self.metrics.event(origin.topic, parsed.type, "accepted")
        if parsed.type not in EXIT_TYPES:  # an exit's delay runs from its clock's start
            delay = (received - parsed.occurred_at).total_seconds()
            self.metrics.report_delay.labels(parsed.type).observe(max(0.0, delay))
        assert step.state is not None
        self.batch.put_state(origin.partition, container_no, step.state)
        self._publish(container_no, step, origin.partition)

    def _vessel(self, parsed: VesselEvent, received: datetime, origin: Any, now: datetime) -> None:
        """A vessel call's event, copied to this partition: the call and the containers
        here that name its voyage (vasscm.yard.Yard.vessel)."""
        p = origin.partition
        step = self.yard(p).vessel(parsed, now=to_ms(now), received=to_ms(received))
        self.metrics.event(origin.topic, parsed.type, "accepted" if step.changed else "duplicate")
        for voyage in step.expired:
            self.batch.put_state(p, call_key(p, voyage), None)
        if step.changed:
            self.batch.put_state(p, call_key(p, parsed.voyage), step.call)
        for container_no, one in step.steps:
            self.batch.put_state(p, container_no, one.state)
            self._publish(container_no, one, p)
        if not step.changed:  # delivered again: what it did may have been lost
            learned = {container_no for container_no, _ in step.steps}
            for container_no in step.named:
                state = None if container_no in learned else self.load(container_no)
                if state is not None:
                    self._resend(container_no, state, now, p)

    async def stall_check(self, container_no: str, partition: int, now: datetime) -> None:
        try:
            self._stall_check(container_no, partition, now)
        finally:
            self.batch.done()

    def _stall_check(self, container_no: str, partition: int, now: datetime) -> None:
        step = self.yard(partition).check(container_no, now=now)
        if step is None:
            return
        self.batch.put_state(partition, container_no, step.state)
        if step.vacated:  # no visit held any more
            self.batch.view(partition, CONTAINER_STATE, container_no.encode(), None)
        elif step.effects.alert_rows or step.effects.record_rows:
            self._publish(container_no, step, partition)
        else:  # nothing new: perhaps a tick delivered again after a crash
            assert step.state is not None
            self._resend(container_no, step.state, now, partition)

    def due(self, now_ms: int) -> Iterator[str]:
        for yard in list(self.yards.values()):
            yield from yard.due(now_ms)

    # --- publishing -----------------------------------------------------------------

    def _resend(self, container_no: str, state: ContainerState, now: datetime, p: int) -> None:
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
        yard = self.yard(p)
        step = Step(state, yard.resend(state, now=now), shown=yard.place(container_no, state))
        self._publish(container_no, step, p, count=False)

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
