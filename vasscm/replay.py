"""Offline replay: the tracking core over a JSONL event log (``vasscm replay``).

The :class:`Replayer` is the same loop the live tracker runs (parse, fan out,
apply, schedule deadlines, check what fell due), minus Kafka: the clock is the
event-time watermark, the highest ``occurred_at`` seen. :func:`replay_file`
streams a file through it, so memory holds the open visits, not the file.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from bisect import bisect_left
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate
from pathlib import Path
from typing import IO, Final

import orjson

from vasscm.dcsa import read_dcsa
from vasscm.durations import from_ms, to_ms
from vasscm.events import (
    MAX_EVENT_BYTES,
    VESSEL_MODELS,
    InputEvent,
    RejectCode,
    Rejection,
    VesselEvent,
    dead_letter,
    dump_json,
    fan_out,
    parse_event,
)
from vasscm.forecast import Forecaster
from vasscm.replay_forecasts import add_forecasts
from vasscm.settle import Outcome, settle, settle_check
from vasscm.tracking import DEFAULT_POLICY, ContainerState, Policy, open_row
from vasscm.yard import Step, Yard

__all__ = ["FewCollections", "Replayer", "Summary", "replay_file"]

_END: Final = 10**12 - 1  # the line number of the closing check (replay --jobs sorts by it)
_OUTPUTS: Final = ("clearances.jsonl", "alerts.jsonl", "rejected.jsonl", "state.jsonl")


@dataclass(slots=True)
class Summary:
    """What a replay did, for the closing lines and for tests."""

    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    records: int = 0
    visits_completed: int = 0
    visits_open: int = 0
    alerts: Counter[tuple[str, str]] = field(default_factory=Counter)
    as_of: datetime | None = None
    seconds: float = 0.0

    def render(self) -> str:
        rate = self.lines / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"events read      {self.lines:>12,}  ({rate:,.0f}/s over {self.seconds:.1f} s)",
            f"  accepted       {self.accepted:>12,}",
            f"  duplicates     {self.duplicates:>12,}",
            f"  rejected       {sum(self.rejected.values()):>12,}"
            + (
                "  (" + ", ".join(f"{k} {v:,}" for k, v in sorted(self.rejected.items())) + ")"
                if self.rejected
                else ""
            ),
            f"visits completed {self.visits_completed:>12,}"
            f"  ({self.records:,} records incl. revisions)",
            f"visits open      {self.visits_open:>12,}"
            + (f"  as of {self.as_of.isoformat()}" if self.as_of else ""),
        ]
        kinds = sorted({kind for kind, _ in self.alerts})
        if kinds:
            lines.append("alerts           firing  resolved")
            lines.extend(
                f"  {kind:<22} {self.alerts[kind, 'firing']:>7,} "
                f"{self.alerts[kind, 'resolved']:>9,}"
                for kind in kinds
            )
        else:
            lines.append("alerts           none")
        return "\n".join(lines)


Sink = Callable[[bytes], object]

#: Lines between two collections of reference cycles during a replay (see FewCollections).
COLLECT_EVERY: Final = 200_000
#: Open visits whose derivation a replay keeps to extend (see Replayer._touched):
#: at 1M events, 4,096 gave 220 MiB peak RSS against 313 MiB keeping them all, and no
#: slower (17,523 against 16,479 events/s, one run each).
FOLDS_KEPT: Final = 4096


class FewCollections:
    """Python's cyclic garbage collector, quiet while a replay runs.

    Replay makes almost no reference cycles (measured: none in 80,000 events once
    started), yet the collector, triggered by allocations, walks the growing states
    again and again: 11 % of replay's time in a profile. So it is disabled for the
    replay, what exists before is frozen out of its reach, and a full collection runs
    once every :data:`COLLECT_EVERY` lines (:meth:`tick`), so that an input that does
    make cycles cannot grow memory without bound; what survives it is frozen in turn,
    so each collection walks the objects made since the last (a cycle among older
    ones, which replay does not make, would wait for the end).
    """

    def __init__(self, every: int = COLLECT_EVERY) -> None:
        self.every = every
        self._left = every
        self._was = True

    def __enter__(self) -> FewCollections:
        self._was = gc.isenabled()
        gc.collect()
        gc.freeze()
        gc.disable()
        return self

    def tick(self, lines: int = 1) -> None:
        self._left -= lines
        if self._left <= 0:
            self._left = self.every
            gc.collect()
            gc.freeze()  # what survived: the next collection walks only what is newer

    def __exit__(self, *exc: object) -> None:
        gc.unfreeze()
        if self._was:
            gc.enable()


class Replayer:
    """The tracking loop over events in arrival order, with an event-time clock."""

    def __init__(
        self,
        *,
        on_record: Sink,
        on_alert: Sink,
        on_rejected: Sink,
        policy: Policy = DEFAULT_POLICY,
        as_of: datetime | None = None,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self.states: dict[str, ContainerState] = {}
        # Containers by last step, oldest first: those whose open visit's derivation
        # (ContainerState.last, ~2.4 KB) is kept. See _touched.
        self._folds: OrderedDict[str, None] = OrderedDict()
        self.yard = Yard(self.states.get, policy)  # the live tracker's step, offline
        self.summary = Summary()
        self.policy = policy
        self.max_event_bytes = max_event_bytes
        self._as_of = to_ms(as_of) if as_of is not None else None
        self._watermark: int | None = None
        self._on_record = on_record
        self._on_alert = on_alert
        self._on_rejected = on_rejected
        # Where the output being written comes from, for replay --jobs (vasscm.shards):
        # (line, 0, index of the container in the event) for what an event produced,
        # (line, 1, deadline, container) for a deadline check.
        self.slot: tuple[int | None, int, int] | tuple[int | None, int, int, str] = (None, 0, 0)
        self._applying: tuple[bytes, int | None] = (b"", None)  # the line being stepped

    @property
    def clock(self) -> int | None:
        """Stall clock: the watermark, never past ``--as-of``."""
        if self._watermark is None:
            return self._as_of
        return self._watermark if self._as_of is None else min(self._watermark, self._as_of)

    def feed(self, raw: bytes, *, line: int | None = None) -> None:
        self.summary.lines += 1
        parsed = parse_line(raw, max_bytes=self.max_event_bytes)
        if isinstance(parsed, Rejection):
            self.refuse(raw, parsed, line=line)
            return
        occurred = to_ms(parsed.occurred_at)
        clock = self.advance(occurred)
        if self.track(raw, parsed, clock, line=line, occurred=occurred):
            self.summary.accepted += 1
        else:
            self.summary.duplicates += 1
        self.tick(clock, line=line)

    def refuse(self, raw: bytes, rejection: Rejection, *, line: int | None = None) -> None:
        """Dead-letter a record the parser refused."""
        self.slot = (line, 0, 0)
        self._reject(raw, rejection, line)

    def advance(self, occurred: int) -> int:
        """Move the watermark to a valid event's ``occurred`` (ms); return the clock."""
        self._watermark = occurred if self._watermark is None else max(self._watermark, occurred)
        clock = self.clock
        assert clock is not None
        return clock

    def clocks(self, occurred: list[int]) -> tuple[int, list[int]]:
        """:meth:`advance` over a block of lines, for replay --jobs (vasscm.shards):
        ``occurred`` holds each line's valid event's occurred_at (ms), -1 for a line
        without one. Returns the first line with a clock and the clock at each line
        (monotone from there on; -1 before), and moves the watermark past the block."""
        start = -1 if self._watermark is None else self._watermark
        marks = list(accumulate(occurred, max, initial=start))
        del marks[0]
        first = bisect_left(marks, 0)
        if first < len(marks):
            self._watermark = marks[-1]
        if self._as_of is not None:
            cap = self._as_of
            marks[first:] = [min(m, cap) for m in marks[first:]]
        return first, marks

    def track(
        self,
        raw: bytes,
        parsed: InputEvent,
        clock: int,
        *,
        line: int | None = None,
        mine: Callable[[str], bool] | None = None,
        occurred: int | None = None,
    ) -> bool:
        """Apply a parsed event to each of its containers (those ``mine`` keeps, when
        given) at ``clock``; whether any of them accepted it (else: duplicates).
        ``occurred``: its occurred_at in ms, when converted already. A vessel call's
        event goes to the containers that name its voyage (those this yard holds)."""
        received = parsed.received_at or parsed.occurred_at
        if isinstance(parsed, VESSEL_MODELS):
            return self._call(parsed, clock, to_ms(received), line)
        accepted = False
        self._applying = (raw, line)
        for index, (container_no, event) in enumerate(fan_out(parsed)):
            if mine is not None and not mine(container_no):
                continue
            self.slot = (line, 0, index)
            step = self.yard.event(
                container_no, event, now=clock, received_at=received, occurred_ms=occurred
            )
            if settle(self, container_no, step) is Outcome.ACCEPTED:
                accepted = True
        return accepted

    def _call(self, parsed: VesselEvent, clock: int, received: int, line: int | None) -> bool:
        step = self.yard.vessel(parsed, now=clock, received=received)
        for container_no, one in step.steps:
            # Ordered as a check's outputs are, after the line's own (vasscm.shards).
            self.slot = (line, 1, 0, container_no)
            settle(self, container_no, one)
        return step.changed

    def feed_oversized(self, head: bytes, size: int, *, line: int | None = None) -> None:
        """A record too large to read whole: rejected with its first bytes kept."""
        self.summary.lines += 1
        reason = f"record is {size:,} bytes; the limit is {self.max_event_bytes:,}"
        self.slot = (line, 0, 0)
        self._reject(head, Rejection(code=RejectCode.TOO_LARGE, reason=reason), line, size)

    def tick(self, clock: int, *, line: int | None = None) -> None:
        """Run :func:`check` for every container whose deadline is at or before ``clock``."""
        if not self.yard.has_due(clock):
            return
        for due, container_no in self.yard.due_items(clock):
            self.slot = (line, 1, due, container_no)
            step = self.yard.check(container_no, now=clock)
            if step is not None:
                settle_check(self, container_no, step)

    def finish(self) -> datetime | None:
        """Judge everything at ``--as-of`` (default: the watermark); return that instant."""
        end = self._as_of if self._as_of is not None else self._watermark
        if end is None:
            return None
        self.tick(end, line=_END)
        self.summary.as_of = from_ms(end)
        return self.summary.as_of

    def open_states(self) -> Iterator[bytes]:
        """state.jsonl lines: the open visits, by container number, one at a time (a
        list of them was most of a long replay's peak memory)."""
        self.summary.visits_open = 0
        for container_no in sorted(self.states):
            row = open_row(self.states[container_no])
            if row is not None:
                self.summary.visits_open += 1
                yield orjson.dumps(row)

    def _touched(self, container_no: str) -> None:
        """Keep the open-visit derivations of the ``FOLDS_KEPT`` containers stepped
        most recently, and drop the others': the next event of such a container
        derives its open visit again from its events, as an out-of-order event does
        (the same result: the core's fold is a cache, tested against deriving again).
        Kept for every open visit, they were most of a long replay's memory."""
        folds = self._folds
        try:
            folds.move_to_end(container_no)
        except KeyError:
            folds[container_no] = None
        if len(folds) > FOLDS_KEPT:
            # (An OrderedDict: a dict's first key, after many deleted before it, is
            # found by a scan over their slots, ~700 instructions an event.)
            oldest, _ = folds.popitem(last=False)
            state = self.states.get(oldest)
            if state is not None:
                state.last = None

    # --- the step's results (vasscm.settle.StepSink) ---------------------------------

    def save(self, container_no: str, state: ContainerState | None) -> None:
        if state is None:
            del self.states[container_no]
            self._folds.pop(container_no, None)
        else:
            self.states[container_no] = state
            if state.last is not None:  # nothing to drop of a state without one
                self._touched(container_no)

    def publish(self, container_no: str, step: Step) -> None:
        effects = step.effects
        for record in effects.record_rows:
            self.summary.records += 1
            if record["revision"] == 1:
                self.summary.visits_completed += 1
            self._on_record(orjson.dumps(record))
        for alert in effects.alert_rows:
            self.summary.alerts[alert["kind"], alert["status"]] += 1
            self._on_alert(orjson.dumps(alert))

    def repeat(self, container_no: str, state: ContainerState) -> None:
        """A duplicate: nothing to send again (replay never loses what it wrote)."""

    def reject(self, rejection: Rejection) -> None:
        raw, line = self._applying
        self._reject(raw, rejection, line)

    def _reject(
        self, raw: bytes, rejection: Rejection, line: int | None, size: int | None = None
    ) -> None:
        self.summary.rejected[rejection.code.value] += 1
        self._on_rejected(dump_json(dead_letter(raw, rejection, line=line, size=size)))


def parse_line(raw: bytes, *, max_bytes: int = MAX_EVENT_BYTES) -> InputEvent | Rejection:
    """A log line: a contract event, or a DCSA Track & Trace event (a document with
    ``eventType`` and no ``type``: vasscm.dcsa maps it), or why it is refused."""
    parsed = parse_event(raw, max_bytes=max_bytes)
    if (
        isinstance(parsed, Rejection)
        and parsed.code is RejectCode.MISSING_TYPE
        and (b'"eventType"' in raw or b'"metadata"' in raw)
    ):
        return read_dcsa(raw, max_bytes=max_bytes)
    return parsed


def numbered_lines(stream: IO[bytes], limit: int) -> Iterator[tuple[int, int, bytes, bool]]:
    """Every line as (line number from 1, bytes consumed, line, oversized)."""
    number = 0
    while (item := _read_line(stream, limit)) is not None:
        number += 1
        yield (number, *item)


def _read_line(stream: IO[bytes], limit: int) -> tuple[int, bytes, bool] | None:
    """Next line as (bytes consumed, line, oversized), holding at most ``limit`` + 1
    bytes of it: an oversized line keeps its first 64 KiB for the dead letter."""
    chunk = stream.readline(limit + 1)
    if not chunk:
        return None
    if len(chunk) <= limit or chunk.endswith(b"\n"):
        return len(chunk), chunk.rstrip(b"\r\n"), False
    size, head = len(chunk), chunk[: 64 * 1024]
    while not chunk.endswith(b"\n"):
        chunk = stream.readline(1 << 20)
        if not chunk:
            break
        size += len(chunk)
    return size, head, True


class _Progress:
    """A one-line progress bar on stderr, by bytes read."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled = max(total, 1), enabled
        self.done, self._last, self._start = 0, 0.0, time.monotonic()

    def advance(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last >= 0.2:
            self._last = now
            self._draw()

    def close(self) -> None:
        if self.enabled:
            self._draw()
            sys.stderr.write("\n")

    def _draw(self) -> None:
        share = min(self.done / self.total, 1.0)
        bar = "#" * int(share * 30)
        elapsed = time.monotonic() - self._start
        sys.stderr.write(
            f"\rreplay [{bar:<30}] {share:6.1%} {self.done / 1e6:,.1f}/{self.total / 1e6:,.1f} MB "
            f"{elapsed:,.0f}s"
        )
        sys.stderr.flush()


def replay_file(
    events: Path,
    out: Path,
    *,
    as_of: datetime | None = None,
    policy: Policy = DEFAULT_POLICY,
    progress: bool = False,
    max_event_bytes: int = MAX_EVENT_BYTES,
    forecasts: bool = True,
    forecaster: Forecaster | None = None,
) -> Summary:
    """Replay ``events`` into ``out``/{clearances,alerts,rejected,state}.jsonl; with
    ``forecasts``, each open visit's in state.jsonl (:mod:`vasscm.replay_forecasts`,
    by ``forecaster``, else one with the default settings)."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    files = {name: open(out / name, "wb", buffering=1 << 20) for name in _OUTPUTS}  # noqa: SIM115
    try:
        replayer = Replayer(
            on_record=_writer(files["clearances.jsonl"]),
            on_alert=_writer(files["alerts.jsonl"]),
            on_rejected=_writer(files["rejected.jsonl"]),
            policy=policy,
            as_of=as_of,
            max_event_bytes=max_event_bytes,
        )
        bar = _Progress(os.path.getsize(events), progress)
        with open(events, "rb", buffering=1 << 20) as stream, FewCollections() as gc_:
            for number, size, line, oversized in numbered_lines(stream, max_event_bytes):
                bar.advance(size)
                if not number & 1023:
                    gc_.tick(1024)
                if oversized:
                    replayer.feed_oversized(line, size, line=number)
                elif line.strip():
                    replayer.feed(line, line=number)
        bar.close()
        replayer.finish()
        state_file = files["state.jsonl"]
        for line in replayer.open_states():
            state_file.write(line + b"\n")
    finally:
        for handle in files.values():
            handle.close()
    summary = replayer.summary
    del replayer  # its states: the forecasts' pass reuses their memory
    if forecasts:
        add_forecasts(out, summary.as_of, forecaster)
    summary.seconds = time.perf_counter() - started
    return summary


def _writer(handle: IO[bytes]) -> Sink:
    def write(line: bytes) -> None:
        handle.write(line + b"\n")

    return write
