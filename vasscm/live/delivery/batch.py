"""State changes and outputs of many records, written once per container.

Each record the tracker applies changes one container's state. Written as it
happens, every change is a changelog record and every step a ``container-state``
record: two produced records per input event, the most a worker spends its time on.
A :class:`Batch` keeps the changed states in memory, as the core's objects, until it
closes; then it writes each container's latest state once (the table's store and its
changelog), and puts the outputs of its records in the outbox after those writes:
the clearances and alerts all, in order, and of ``container-state`` only each
container's latest view (the topic is compacted: the latest is what counts).

It closes

- when the tracker finds its channel empty (vasscm.live.stream.tracker: nothing more to
  take now, so a record at a steady trickle goes out at once);
- when ``max_records`` records are in it;
- ``idle`` after the last record put in it (the agent is held up elsewhere);
- ``max_age`` after it opened, whatever comes (a worker catching up);
- before every offset commit (vasscm.live.delivery.checkpoint, step 0), and when
  partitions are revoked.

So the order of what reaches the broker keeps its meaning: an output is sent only
once the changelog write of the state it reports is acknowledged (the outbox), and
an input offset is committed only once the state its record made is written (the
checkpoint closes the batch before it flushes). Killed with a batch open, the worker
loses states and outputs whose records were not committed: they are read again.

Reads of a state go through the batch first (:meth:`Batch.state`).
Closing is synchronous (no await), so it may run from a timer between two steps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from vasscm.live.delivery.outbox import Outbox, Send

__all__ = ["Batch", "StateTable"]

_MISSING: Final = object()


class StateTable(Protocol):
    """Where states are stored: vasscm.live.delivery.outbox.VisitsTable."""

    last_write: dict[int | None, asyncio.Future[Any]]

    def write(self, partition: int, key: str, value: bytes | None) -> Any: ...


@dataclass(slots=True)
class _Partition:
    """What a batch holds for one partition."""

    states: dict[str, Any] = field(default_factory=dict)  # container -> state | None
    sends: list[Send] = field(default_factory=list)  # clearances, alerts: all, in order
    views: dict[bytes, tuple[str, Any]] = field(default_factory=dict)  # key -> topic, view


class Batch:
    def __init__(
        self,
        table: StateTable,
        outbox: Outbox,
        encode: Callable[[Any], bytes],
        encode_view: Callable[[Any], bytes | None],
        *,
        max_records: int = 1000,
        idle: float = 0.01,
        max_age: float = 1.0,
    ) -> None:
        self.table = table
        self.outbox = outbox
        self.encode = encode  # state -> the bytes stored
        self.encode_view = encode_view  # view -> its container-state record (None: tombstone)
        self.max_records = max_records
        self.idle = idle
        self.max_age = max_age
        self._parts: dict[int, _Partition] = {}
        self._where: dict[str, int] = {}  # container -> its partition, for state()
        self.records = 0
        self._opened = 0.0
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.closed = 0  # batches written

    # --- reads --------------------------------------------------------------------

    def state(self, container_no: str) -> Any:
        """The container's latest state put in the batch (None: deleted), else
        ``MISSING``: read the table."""
        p = self._where.get(container_no)
        if p is None:
            return _MISSING
        return self._parts[p].states[container_no]

    @staticmethod
    def missing(value: Any) -> bool:
        return value is _MISSING

    # --- writes -------------------------------------------------------------------

    def _part(self, partition: int) -> _Partition:
        part = self._parts.get(partition)
        if part is None:
            part = self._parts[partition] = _Partition()
        return part

    def put_state(self, partition: int, container_no: str, state: Any) -> None:
        """The container's state after a step (None: forget the container)."""
        self._part(partition).states[container_no] = state
        self._where[container_no] = partition

    def send(self, partition: int, send: Send) -> None:
        self._part(partition).sends.append(send)

    def view(self, partition: int, topic: str, key: bytes, view: Any) -> None:
        """A ``container-state`` record (None: a tombstone): only the latest of its key
        goes out, encoded when the batch closes."""
        views = self._part(partition).views
        views.pop(key, None)  # kept in the order of their latest update
        views[key] = (topic, view)

    def done(self) -> None:
        """One record is through: close when full, else make sure a timer will."""
        self.records += 1
        now = self._last = time.monotonic()
        if self.records == 1:
            self._opened = now
        if self.records >= self.max_records:
            self.close()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.idle, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if not self._parts:  # its records wrote nothing (duplicates, dead letters)
            self.records = 0
            return
        now = time.monotonic()
        if now - self._last >= self.idle or now - self._opened >= self.max_age:
            self.close()
            return
        wait = min(self._last + self.idle, self._opened + self.max_age) - now
        self._timer = asyncio.get_running_loop().call_later(max(wait, 0.0005), self._tick)

    def close(self) -> None:
        """Write each container's latest state, then put the outputs in the outbox
        behind those writes (per partition: a partition's writes are acknowledged
        in order, so its latest stands for all)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        parts, self._parts, self._where, self.records = self._parts, {}, {}, 0
        if not parts:
            return
        table, encode = self.table, self.encode
        for p, part in parts.items():
            for container_no, state in part.states.items():
                table.write(p, container_no, None if state is None else encode(state))
            sends = part.sends
            encode_view = self.encode_view
            for key, (topic, view) in part.views.items():
                sends.append((topic, key, None if view is None else encode_view(view)))
            self.outbox.put(table.last_write.get(p), sends)
        self.closed += 1
