"""Tests for ``vasscm.deadlines.DeadlineIndex``: which keys fall due by an instant.

The stall loop pops due keys once a second over every open visit, so besides the
ordinary behaviour these pin the costs the module promises: stale heap entries are
dropped lazily, memory stays proportional to the keys held however often they are
rescheduled, and popping touches only what is due.
"""

from __future__ import annotations

import heapq
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vasscm import deadlines
from vasscm.deadlines import DeadlineIndex


def index_of(**due: int) -> DeadlineIndex:
    index = DeadlineIndex()
    for key, when in due.items():
        index.schedule(key, when)
    return index


def heap_size(index: DeadlineIndex) -> int:
    """Entries in the heap, live and stale (the memory the index holds)."""
    return len(index._heap)


# --- schedule, get, len, contains ------------------------------------------------------


def test_schedule_records_one_deadline_per_key() -> None:
    """A key holds one deadline; scheduling again replaces it."""
    index = index_of(a=30, b=10)
    index.schedule("a", 20)

    assert (2, 20, 10, None) == (len(index), index.get("a"), index.get("b"), index.get("c"))
    assert ("a" in index, "c" in index) == (True, False)


def test_scheduling_none_removes_the_key() -> None:
    """``schedule(key, None)`` is how a caller says 'nothing due any more'."""
    index = index_of(a=10, b=20)
    index.schedule("a", None)
    index.schedule("missing", None)

    assert (["b"], None) == (list(index.pop_due(100)), index.next_due())
    assert "a" not in index


def test_scheduling_the_same_deadline_again_adds_no_heap_entry() -> None:
    """Re-scheduling a key to the deadline it already has is free."""
    index = index_of(a=10)
    for _ in range(100):
        index.schedule("a", 10)

    assert 1 == heap_size(index)


# --- pop_due ----------------------------------------------------------------------------


def test_pop_due_yields_due_keys_earliest_first() -> None:
    """Keys due at or before ``now`` come out in deadline order; later ones stay."""
    index = index_of(c=30, a=10, d=40, b=20)

    assert ["a", "b", "c"] == list(index.pop_due(30))
    assert (1, 40) == (len(index), index.next_due())


def test_pop_due_includes_a_deadline_equal_to_now() -> None:
    """'Due by now' is inclusive."""
    index = index_of(a=10)

    assert (["a"], 0) == (list(index.pop_due(10)), len(index))


def test_pop_due_with_nothing_due_yields_nothing() -> None:
    """Before the earliest deadline nothing is popped and nothing is lost."""
    index = index_of(a=10, b=20)

    assert ([], 2) == (list(index.pop_due(9)), len(index))


@pytest.mark.parametrize(
    ("new_due", "popped_at_15", "popped_at_50"),
    [(5, ["a"], []), (40, [], ["a"])],
    ids=["rescheduled-earlier", "rescheduled-later"],
)
def test_a_rescheduled_key_is_due_at_its_new_deadline_only(
    new_due: int, popped_at_15: list[str], popped_at_50: list[str]
) -> None:
    """The old heap entry of a rescheduled key is stale: it never pops the key early,
    nor twice."""
    index = index_of(a=10)
    index.schedule("a", new_due)

    assert (popped_at_15, popped_at_50) == (list(index.pop_due(15)), list(index.pop_due(50)))


def test_a_discarded_key_is_never_popped() -> None:
    """discard removes the key; its heap entry is skipped when reached."""
    index = index_of(a=10, b=20)
    index.discard("a")
    index.discard("missing")

    assert (20, ["b"]) == (index.next_due(), list(index.pop_due(100)))


def test_pop_due_removes_only_what_the_caller_consumed() -> None:
    """pop_due is lazy: a key is removed when yielded, the rest stay if iteration stops."""
    index = index_of(a=10, b=20, c=30)
    popping = index.pop_due(100)
    first = next(popping)
    popping.close()

    assert ("a", ["b", "c"]) == (first, sorted(k for k in ("a", "b", "c") if k in index))


def test_a_key_rescheduled_while_popping_and_still_due_is_yielded_again() -> None:
    """A key the caller reschedules to a deadline still at or before ``now`` comes out again
    in the same pop; one rescheduled past ``now`` stays."""
    index = index_of(a=10, b=20)
    popped = []
    for key in index.pop_due(50):
        popped.append(key)
        if len(popped) == 1:
            index.schedule(key, 30)
        elif len(popped) == 2:
            index.schedule(key, 60)

    assert (["a", "b", "a"], 60) == (popped, index.get("b"))


def test_a_key_rescheduled_while_popping_is_yielded_again_across_a_compaction() -> None:
    """The re-yield promise holds even when the caller's reschedules trigger a compaction."""
    index = DeadlineIndex()
    index.schedule("a", 0)
    for i in range(100):
        index.schedule(f"k{i}", 1_000)
    popped = []
    for key in index.pop_due(10):
        popped.append(key)
        if key == "a" and popped.count("a") == 1:
            for round_ in range(3):  # enough reschedules to compact the heap
                for i in range(100):
                    index.schedule(f"k{i}", 2_000 + round_)
            index.schedule("a", 5)

    assert ["a", "a"] == popped


def test_next_due_skips_stale_entries() -> None:
    """next_due is the earliest *live* deadline."""
    index = index_of(a=10, b=20)
    index.schedule("a", 30)

    assert 20 == index.next_due()


def test_an_empty_index_has_no_next_due() -> None:
    """No keys, no deadline."""
    index = index_of(a=10)
    index.discard("a")

    assert (None, 0) == (index.next_due(), len(index))


def test_clear_forgets_every_key_and_entry() -> None:
    """clear empties both the keys and the heap."""
    index = index_of(a=10, b=20)
    index.clear()

    assert (0, 0, None) == (len(index), heap_size(index), index.next_due())


# --- cost ---------------------------------------------------------------------------------


@pytest.mark.parametrize("keys", [1, 10, 1_000], ids=["1-key", "10-keys", "1000-keys"])
def test_rescheduling_keeps_the_heap_proportional_to_the_keys(keys: int) -> None:
    """However often keys are rescheduled, the heap stays within 2 x keys + 64 entries
    (compaction), and every key still pops at its latest deadline."""
    index = DeadlineIndex()
    largest = 0
    for round_ in range(200):
        for k in range(keys):
            index.schedule(f"k{k}", 1_000_000 - round_ * 1_000 + k)
            largest = max(largest, heap_size(index))

    assert largest <= 2 * keys + 65
    assert [f"k{k}" for k in range(keys)] == list(index.pop_due(1_000_000))


def test_compaction_after_discards_drops_their_entries() -> None:
    """Entries of discarded keys are dropped at the next compaction, not kept forever."""
    index = DeadlineIndex()
    for k in range(10_000):
        index.schedule(f"k{k}", 1_000 + k)
    for k in range(1, 10_000):
        index.discard(f"k{k}")
    for round_ in range(100):
        index.schedule("live", 2_000 + round_)

    assert heap_size(index) <= 2 * len(index) + 65


def test_pop_due_touches_only_the_due_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """With 100,000 keys and one due, pop_due yields that one key with a single heap pop
    and leaves the other 99,999 entries in place."""
    index = DeadlineIndex()
    for k in range(100_000):
        index.schedule(f"k{k}", 1_000_000 + k)
    index.schedule("due", 10)
    pops = 0
    real_heappop = heapq.heappop

    def counting_heappop(heap: list[Any]) -> Any:
        nonlocal pops
        pops += 1
        return real_heappop(heap)

    monkeypatch.setattr(deadlines.heapq, "heappop", counting_heappop)

    popped = list(index.pop_due(500))

    assert (["due"], 1) == (popped, pops)
    assert (100_000, 100_000) == (len(index), heap_size(index))


# --- property: the index against a plain dict ---------------------------------------------

KEYS = st.sampled_from(["a", "b", "c", "d", "e"])
OPS = st.one_of(
    st.tuples(st.just("schedule"), KEYS, st.none() | st.integers(0, 50)),
    st.tuples(st.just("discard"), KEYS, st.none()),
    st.tuples(st.just("pop"), st.none(), st.integers(0, 50)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(OPS, max_size=60))
def test_the_index_behaves_like_a_dict_of_deadlines(ops: list[tuple[str, Any, Any]]) -> None:
    """Any sequence of schedule / discard / pop_due agrees with a dict model: pop_due yields
    exactly the keys due by ``now``, in deadline order, and removes them."""
    index = DeadlineIndex()
    model: dict[str, int] = {}
    for op, key, value in ops:
        if op == "schedule":
            index.schedule(key, value)
            if value is None:
                model.pop(key, None)
            else:
                model[key] = value
        elif op == "discard":
            index.discard(key)
            model.pop(key, None)
        else:
            expected = [k for k, due in model.items() if due <= value]
            popped = list(index.pop_due(value))
            assert sorted(expected) == sorted(popped)
            assert sorted(model[k] for k in popped) == [model[k] for k in popped]
            for k in popped:
                del model[k]
        assert model == {k: index.get(k) for k in model}
        assert len(model) == len(index)
        assert min(model.values(), default=None) == index.next_due()


def test_may_be_due_is_exact_when_false_and_never_misses() -> None:
    index = DeadlineIndex()
    assert not index.may_be_due(10**12)
    index.schedule("a", 100)
    index.schedule("a", 500)  # the entry at 100 is left behind, stale
    assert (index.may_be_due(99), index.may_be_due(100)) == (False, True)
    assert [] == list(index.pop_due_items(100))  # only the stale entry was there
    assert not index.may_be_due(499)
    assert index.may_be_due(500)
    assert [(500, "a")] == list(index.pop_due_items(500))
