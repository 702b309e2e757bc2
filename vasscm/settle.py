"""The one reading of a step: what the core did, told to where its results go.

Replay (:class:`vasscm.replay.Replayer`: files) and the live worker
(:class:`vasscm.live.stream.publisher.Publisher`: a batch of table writes and outputs)
both run the yard's step (:mod:`vasscm.yard`) and hand its result to :func:`settle`
(an event's step) or :func:`settle_check` (a deadline's). Each implements
:class:`StepSink`; neither reads a step itself, so "is this a duplicate?", "is the
container forgotten?" and "what goes out?" have one answer for both.

Pure: no I/O.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from vasscm.events import Rejection
from vasscm.tracking import ContainerState
from vasscm.yard import Step

__all__ = ["Outcome", "StepSink", "settle", "settle_check"]


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # the state changed: saved, and its outputs published
    DUPLICATE = "duplicate"  # nothing changed (an event_id seen before, an older report)
    REJECTED = "rejected"  # refused: stale, or dated in the future


class StepSink(Protocol):
    """Where one step's results go, for one container."""

    def save(self, container_no: str, state: ContainerState | None) -> None:
        """Keep the container's state (None: forget the container)."""

    def publish(self, container_no: str, step: Step) -> None:
        """The step's clearance records and alerts, and its view: the container's
        current visit (``step.shown``), or none any more (``step.vacated``)."""

    def repeat(self, container_no: str, state: ContainerState) -> None:
        """Nothing changed: what ``state`` says went out may be sent again (a record
        delivered again after a crash; replay, which never crashes midway, does
        nothing)."""

    def reject(self, rejection: Rejection) -> None:
        """The event being applied is refused: dead-letter it."""


def settle(sink: StepSink, container_no: str, step: Step) -> Outcome:
    """An event's step, told to ``sink``."""
    rejection = step.effects.rejection
    if rejection is not None:
        sink.reject(rejection)
        return Outcome.REJECTED
    assert step.state is not None  # an event never forgets its container
    if not step.save:
        sink.repeat(container_no, step.state)
        return Outcome.DUPLICATE
    sink.save(container_no, step.state)
    sink.publish(container_no, step)
    return Outcome.ACCEPTED


def settle_check(sink: StepSink, container_no: str, step: Step) -> None:
    """A deadline's step (stalls, expiry), told to ``sink``. A check that finds
    nothing new may be a stall tick delivered again after a crash: it repeats."""
    sink.save(container_no, step.state)
    effects = step.effects
    if step.vacated or effects.record_rows or effects.alert_rows:
        sink.publish(container_no, step)
    elif step.state is not None:
        sink.repeat(container_no, step.state)
