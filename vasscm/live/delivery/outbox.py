"""Outputs sent only once the state change they report is on the broker.

A worker killed between producing an output and producing the table's changelog
write behind it could leave the output on the broker and lose the state change:
the event, read again after the restart, is applied to the older state and may be
published again under the same revision with other content (seen as much under CPU
load, where the two one-record batches travel separately). The outbox keeps each
event's outputs until the latest changelog write of its partition (its own, and
every earlier one there: a partition's writes are acknowledged in order) is
acknowledged, then sends them, in the order they were put, from one task.

The producer's flush (before every offset commit, see vasscm.live.delivery.checkpoint)
drains the outbox after the table writes: offsets are committed only after the
outputs of the records they cover are handed to the producer and, with them, written.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Final

import faust
from faust.exceptions import ProducerSendError

__all__ = ["Outbox", "VisitsTable"]

_POLL: Final = 0.05  # seconds between looks while draining
_MAX_WAITING: Final = 20_000  # records waiting to be sent, before the agent waits too


class VisitsTable(faust.Table):  # type: ignore[type-arg]
    """faust's table, that remembers the latest changelog write of each partition, and
    is written with the partition named (:meth:`write`: no stream event needed)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_write: dict[int | None, asyncio.Future[Any]] = {}

    def send_changelog(self, partition: int | None, *args: Any, **kwargs: Any) -> Any:
        fut = super().send_changelog(partition, *args, **kwargs)
        self.last_write[partition] = fut
        return fut

    def write(self, partition: int, key: str, value: bytes | None) -> Any:
        """Store ``value`` (None: delete) under ``key`` in ``partition`` and send it to
        the changelog, as ``table[key] = value`` does inside a stream (faust takes the
        partition from the current event; vasscm.live.delivery.batch writes between
        events)."""
        store: Any = self.data  # a faust Store: its private parts, checked by hooks
        if is_rocksdb(store):
            encoded = store._encode_key(key)
            if value is None:
                store._del(encoded)  # every partition's database that has it
            else:
                store._key_index[encoded] = partition
                store._db_for_partition(partition).put(encoded, value)
        elif value is None:
            if key in store:
                del store[key]
        else:
            store[key] = value
        if value is None:
            return self.send_changelog(partition, key, None, value_serializer="raw")
        return self.send_changelog(partition, key, value)

    def open_partitions(self, partitions: Iterable[int]) -> None:
        """Open each partition's store before the table is read whole: faust's RocksDB
        store opens a partition's database on first use and iterates only the open
        ones (after a restart with nothing new to recover, none is). The memory store
        has nothing to open."""
        store: Any = self.data
        if is_rocksdb(store):
            for p in partitions:
                store._db_for_partition(p)


def is_rocksdb(store: Any) -> bool:
    """Whether ``store`` is faust's RocksDB store (its partitions are databases)."""
    return type(store).__name__ == "Store" and "rocksdb" in type(store).__module__


Send = tuple[str, bytes | None, bytes | None]  # topic, key (None: none), value (None: a tombstone)
#: Hands one record to the producer; returns its acknowledgement (a future).
SendFn = Callable[[str, bytes | None, bytes | None], Awaitable[Any]]


class Outbox:
    """Outputs waiting for a changelog write; one sender keeps their order."""

    def __init__(self, send: SendFn | None = None) -> None:
        self.send = send  # set by the pipeline once the producer exists (bind)
        self._items: deque[tuple[asyncio.Future[Any] | None, Sequence[Send]]] = deque()
        self._wake = asyncio.Event()
        self._moved = asyncio.Event()
        self._put = 0
        self._sent = 0
        self._records = 0  # in the items not yet sent
        self._running = False
        self.error: BaseException | None = None

    def bind(self, producer: Any) -> None:
        """Send through faust's producer itself (``ProducerT.send``), not a faust
        topic: the acknowledgement it returns is watched, so an output the broker
        refuses stops the commits (:meth:`check`); a topic's send would only log it."""

        async def send(topic: str, key: bytes | None, value: bytes | None) -> Any:
            return await producer.send(topic, key, value, None, None, None)

        self.send = send

    def put(self, after: asyncio.Future[Any] | None, sends: Sequence[Send]) -> None:
        """Send ``sends`` once ``after`` (a changelog write) is acknowledged."""
        if not sends:
            return
        self._items.append((after, sends))
        self._put += 1
        self._records += len(sends)
        self._wake.set()

    @property
    def pending(self) -> int:
        """Records waiting to be sent."""
        return self._records

    @property
    def sent(self) -> int:
        """Items handed to the producer so far (it moves: vasscm.live.stream.watchdog)."""
        return self._sent

    async def room(self, limit: int = _MAX_WAITING) -> None:
        """Wait while more than ``limit`` records wait: the agent that puts them
        slows to the sender's pace instead of the outbox growing."""
        while self.pending > limit and self._running:
            await self._a_move()

    async def run(self) -> None:
        """The sender (an app task): forever, in order."""
        self._running = True
        try:
            while True:
                if not self._items:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                await self._send_first()
        finally:
            self._running = False

    async def _send_first(self) -> None:
        after, sends = self._items[0]
        try:
            if after is not None:
                await after  # raises if the write failed
            send = self.send
            assert send is not None, "the outbox sends nothing before it is bound"
            for topic, key, value in sends:
                ack = await send(topic, key, value)
                if isinstance(ack, asyncio.Future):
                    ack.add_done_callback(self._acknowledged)
        except asyncio.CancelledError:
            raise  # still first in line
        except Exception as exc:  # the state change or an output was not written
            self.error = exc
        self._items.popleft()
        self._sent += 1
        self._records -= len(sends)
        self._moved.set()

    def _acknowledged(self, ack: asyncio.Future[Any]) -> None:
        if not ack.cancelled() and ack.exception() is not None and self.error is None:
            self.error = ack.exception()  # not written: no commit again (see drain)

    async def _a_move(self) -> None:
        """Wait until the sender moves (an item sent), or a poll interval passes (it
        may have stopped meanwhile)."""
        self._moved.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._moved.wait(), timeout=_POLL)

    async def drain(self) -> None:
        """Return when everything put before the call is handed to the producer."""
        target = self._put
        while self._sent < target:
            if not self._running:  # no sender (shutting down): send them here
                await self._send_first()
                continue
            await self._a_move()
        self.check()

    def check(self) -> None:
        """Raise if a state change or an output failed to be written: never a commit
        again in this process (the error stays); after a restart the records are read
        again and what their state says went out is sent again."""
        if self.error is not None:
            raise ProducerSendError(f"outputs not written: {self.error!r}")
