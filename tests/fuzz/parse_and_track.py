"""Coverage-guided fuzzing (atheris) of the contract parser and the tracking core.

    python tests/fuzz/parse_and_track.py -runs=100000 -seed=1 [CORPUS_DIR]

Each input is a record as it might arrive on an input topic (the first byte picks the
topic). ``parse_event`` must never raise; whatever it accepts goes through the core
(``apply`` then ``check``; a vessel call's event through a yard's ``vessel``) against
a small set of live container states, which must never raise either and must survive
a round trip through their JSON. Any exception is
a crash that libFuzzer reports with the input that caused it.
"""

from __future__ import annotations

import sys
from datetime import timedelta

import atheris

with atheris.instrument_imports():
    from vasscm.durations import to_ms
    from vasscm.events import VESSEL_TYPES, Rejection, fan_out, parse_event
    from vasscm.topics import CUSTOMS_EVENTS, PORT_EVENTS, SCAN_EVENTS, VESSEL_EVENTS
    from vasscm.tracking import ContainerState, check, current_view, next_deadline
    from vasscm.yard import Yard

TOPICS = (None, PORT_EVENTS, SCAN_EVENTS, CUSTOMS_EVENTS, VESSEL_EVENTS)
STATES: dict[str, ContainerState] = {}  # bounded: a fuzzer's containers come and go
YARD = Yard(STATES.get)  # its calls, for the containers' events that name a voyage


def one_input(data: bytes) -> None:
    if not data:
        return
    topic = TOPICS[data[0] % len(TOPICS)]
    parsed = parse_event(data[1:], topic=topic, max_bytes=64 * 1024)
    if isinstance(parsed, Rejection):
        assert parsed.reason, "a rejection must say why"
        return
    if parsed.type in VESSEL_TYPES:
        stamp = to_ms(parsed.received_at or parsed.occurred_at)
        for _, step in YARD.vessel(parsed, now=to_ms(parsed.occurred_at), received=stamp).steps:
            assert step.state is not None
            ContainerState.from_json(step.state.to_json())
        if len(YARD.calls) > 64:
            YARD.calls.pop(next(iter(YARD.calls)))
        return
    for container_no, event in fan_out(parsed):
        step = YARD.event(container_no, event, now=event.occurred_at, received_at=event.received_at)
        state, effects = step.state, step.effects
        if effects.rejection is not None:
            continue
        state, _ = check(state, now=event.occurred_at + timedelta(days=3))
        if state is None:
            STATES.pop(container_no, None)
            continue
        again = ContainerState.from_json(state.to_json())
        assert again.to_json() == state.to_json(), "state must survive its JSON"
        current_view(state)
        next_deadline(state)
        STATES[container_no] = state
        if len(STATES) > 64:
            STATES.pop(next(iter(STATES)))


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
