"""The one reading of a step (vasscm.settle), told to a sink that writes down each call."""

from __future__ import annotations

from typing import Any

from factories import CONTAINER, ROUTES, at

from vasscm.durations import to_ms
from vasscm.events import Rejection
from vasscm.settle import Outcome, settle, settle_check
from vasscm.tracking import DEFAULT_POLICY, ContainerState
from vasscm.yard import Step, Yard


class Notes:
    """A StepSink that keeps the states it is given and notes every call."""

    def __init__(self) -> None:
        self.states: dict[str, ContainerState] = {}
        self.calls: list[tuple[str, Any]] = []

    def save(self, container_no: str, state: ContainerState | None) -> None:
        self.calls.append(("save", state is not None))
        if state is None:
            self.states.pop(container_no, None)
        else:
            self.states[container_no] = state

    def publish(self, container_no: str, step: Step) -> None:
        effects = step.effects
        self.calls.append(("publish", (len(effects.record_rows), len(effects.alert_rows))))

    def repeat(self, container_no: str, state: ContainerState) -> None:
        self.calls.append(("repeat", container_no))

    def reject(self, rejection: Rejection) -> None:
        self.calls.append(("reject", rejection.code.value))


def test_an_event_is_saved_then_published_a_duplicate_repeats_a_stale_one_is_rejected() -> None:
    notes = Notes()
    yard = Yard(notes.states.get)
    route = ROUTES["cai-lan-import"]
    arrive = route.arrive(at())

    assert Outcome.ACCEPTED == settle(notes, CONTAINER, yard.event(CONTAINER, arrive, now=at()))
    assert [("save", True), ("publish", (0, 0))] == notes.calls

    notes.calls.clear()
    again = yard.event(CONTAINER, arrive, now=at(minutes=1))
    assert Outcome.DUPLICATE == settle(notes, CONTAINER, again)
    assert [("repeat", CONTAINER)] == notes.calls

    notes.calls.clear()
    future = route.event("ELIGIBLE", at(days=3))
    step = yard.event(CONTAINER, future, now=at(minutes=2), received_at=at(minutes=2))
    assert Outcome.REJECTED == settle(notes, CONTAINER, step)
    assert [("reject", "future")] == notes.calls


def test_a_check_publishes_what_it_finds_repeats_when_nothing_withdraws_an_expired_visit() -> None:
    notes = Notes()
    yard = Yard(notes.states.get)
    route = ROUTES["cai-lan-import"]
    settle(notes, CONTAINER, yard.event(CONTAINER, route.arrive(at()), now=at()))

    notes.calls.clear()
    stalled = yard.check(CONTAINER, now=at(days=3))  # waiting far past its threshold
    assert stalled is not None
    settle_check(notes, CONTAINER, stalled)
    assert notes.calls[0] == ("save", True)
    assert notes.calls[1][0] == "publish"
    assert notes.calls[1][1][1] >= 1  # the stall alert

    notes.calls.clear()
    same = yard.check(CONTAINER, now=at(days=3))  # a tick delivered again
    assert same is not None
    settle_check(notes, CONTAINER, same)
    assert [("save", True), ("repeat", CONTAINER)] == notes.calls

    notes.calls.clear()
    left = yard.event(CONTAINER, route.leave(at(days=3, hours=1)), now=at(days=3, hours=1))
    settle(notes, CONTAINER, left)
    gone = yard.check(CONTAINER, now=to_ms(at(days=3)) + 3 * DEFAULT_POLICY.retention)
    assert gone is not None
    assert gone.vacated
    notes.calls.clear()
    settle_check(notes, CONTAINER, gone)
    # Its visit expired: the state kept holds no event (only the horizon that refuses
    # stale events), and the view is withdrawn by a publish with no record or alert.
    assert [("save", gone.state is not None), ("publish", (0, 0))] == notes.calls
    assert CONTAINER not in notes.states or not notes.states[CONTAINER].events
