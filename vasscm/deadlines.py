"""A deadline index: which keys fall due by a given instant.

Stall detection asks "which containers have a deadline at or before now?" once a
second. Scanning every open visit would cost time in proportion to the yard; a heap
keyed by deadline costs time in proportion to what is due. Rescheduling a key leaves
its old heap entry behind (lazy deletion): a popped entry counts only if it still
matches the key's current deadline, and the heap is rebuilt when stale entries
outnumber live ones, so memory stays proportional to the keys held.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

__all__ = ["DeadlineIndex"]


class DeadlineIndex:
    """Keys with one deadline each (integers, e.g. epoch milliseconds)."""

    __slots__ = ("_due", "_heap")

    def __init__(self) -> None:
        self._due: dict[str, int] = {}
        self._heap: list[tuple[int, str]] = []

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, key: str) -> bool:
        return key in self._due

    def get(self, key: str) -> int | None:
        return self._due.get(key)

    def schedule(self, key: str, due: int | None) -> None:
        """Set ``key``'s deadline; ``None`` removes it."""
        if due is None:
            self._due.pop(key, None)
            return
        if self._due.get(key) == due:
            return
        self._due[key] = due
        heapq.heappush(self._heap, (due, key))
        if len(self._heap) > 2 * len(self._due) + 64:
            self._compact()

    def discard(self, key: str) -> None:
        self._due.pop(key, None)

    def clear(self) -> None:
        self._due.clear()
        self._heap.clear()

    def next_due(self) -> int | None:
        """The earliest live deadline, or ``None`` when empty."""
        heap = self._heap
        while heap and self._due.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def may_be_due(self, now: int) -> bool:
        """Whether :meth:`pop_due_items` might yield anything at ``now``, in O(1): the
        heap's top may be a stale entry, so True can turn out to be nothing due; False
        is exact."""
        heap = self._heap
        return bool(heap) and heap[0][0] <= now

    def pop_due(self, now: int) -> Iterator[str]:
        """Yield and remove every key whose deadline is at or before ``now``.

        Keys rescheduled while the caller iterates are honoured: a key pushed to a
        deadline still at or before ``now`` is yielded again.
        """
        for _, key in self.pop_due_items(now):
            yield key

    def pop_due_items(self, now: int) -> Iterator[tuple[int, str]]:
        """As :meth:`pop_due`, with each key's deadline: ``(due, key)`` in heap order."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, key = heapq.heappop(heap)
            if self._due.get(key) == due:
                del self._due[key]
                yield due, key

    def _compact(self) -> None:
        # In place: a pop_due generator in progress holds a reference to this list.
        self._heap[:] = [(due, key) for key, due in self._due.items()]
        heapq.heapify(self._heap)
