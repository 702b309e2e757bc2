"""Arrival order across a worker's inputs (vasscm.arrival): what waits, what goes."""

from __future__ import annotations

from vasscm.arrival import NEVER, ArrivalOrder, Mark

PORT, SCAN = ("port", 0), ("scan", 0)
CUSTOMS_IN = ("container-events", 0)


def order(customs: int = 1, grace: int = 100) -> ArrivalOrder:
    arrival = ArrivalOrder(hop_partitions=customs, grace_ms=grace)
    arrival.assign(0, [PORT, SCAN])
    return arrival


def take(arrival: ArrivalOrder, source, offset: int, received: int, wall: int = 0, name=None):
    if source != CUSTOMS_IN:
        arrival.delivered(0, source, received)
    arrival.hold(0, source, offset, received=received, occurred=received, wall=wall,
                 item=name or f"{source[0]}@{received}")  # fmt: skip


def released(arrival: ArrivalOrder, idle=()) -> list[str]:
    out = arrival.release(0, lambda s: s in idle)
    for held in out:
        arrival.settled(held)
    return [h.item for h in out]


def test_a_port_event_waits_for_the_customs_path_to_pass_its_received_time() -> None:
    """A GATE_OUT read before the ELIGIBLE received earlier (still in the fan-out hop)
    waits; the ELIGIBLE arrives, the customs mark passes, both go in received order."""
    arrival = order()
    take(arrival, PORT, 0, received=200, name="GATE_OUT")
    assert [] == released(arrival, idle={SCAN})
    take(arrival, CUSTOMS_IN, 0, received=100, name="ELIGIBLE")
    assert [] == released(arrival, idle={SCAN})  # the mark has not come yet
    arrival.mark(0, 0, Mark(upto=250))
    assert ["ELIGIBLE", "GATE_OUT"] == released(arrival, idle={SCAN})


def test_an_input_that_is_behind_holds_everything_after_it() -> None:
    """Scan events not yet read up to a port event's time (and not idle) hold it."""
    arrival = order()
    arrival.mark(0, 0, Mark(upto=10_000))
    take(arrival, SCAN, 0, received=50)
    take(arrival, PORT, 0, received=100)
    assert ["scan@50"] == released(arrival)  # scan has delivered up to 50 only
    take(arrival, SCAN, 1, received=150)
    assert ["port@100"] == released(arrival)  # and scan@150 waits for the port input
    assert ["scan@150"] == released(arrival, idle={PORT})


def test_a_paused_input_that_releases_caught_up_with_is_said_to_hold_them_back() -> None:
    """The tracker pauses the inputs past a partition's oldest held record (ahead).
    Once releases pass such an input's progress, the input holds the next record back:
    paused, it delivers nothing, and the partition would wait for ever (seen after kill
    -9 in the fault suite). ``holding_back`` names it, so the tracker resumes it."""
    arrival = order()
    arrival.mark(0, 0, Mark(upto=10_000))
    for offset, at in enumerate((10, 20, 30)):
        take(arrival, CUSTOMS_IN, offset, received=at)
    take(arrival, PORT, 0, received=25)
    take(arrival, SCAN, 0, received=40)
    assert set(arrival.ahead(0)) == {PORT, SCAN}  # both past 10: the tracker pauses them
    paused = {PORT, SCAN}
    assert arrival.holding_back(0, paused) == set()
    # Paused inputs are not idle; container-events@10 and @20 go, @30 waits on PORT.
    assert released(arrival) == ["container-events@10", "container-events@20", "port@25"]
    assert arrival.holding_back(0, paused) == {PORT}
    take(arrival, PORT, 1, received=35)  # resumed, it delivers past 30
    assert released(arrival) == ["container-events@30", "port@35"]


def test_an_idle_customs_partition_holds_back_only_what_was_read_grace_before() -> None:
    """A customs partition the fan-out found idle at wall time T lets through the
    records read at or before T - grace; a record read later waits for a newer mark."""
    arrival = order(grace=100)
    take(arrival, PORT, 0, received=1_000, wall=5_000)
    arrival.mark(0, 0, Mark(upto=NEVER, idle_at=5_050))
    assert [] == released(arrival, idle={SCAN})
    arrival.mark(0, 0, Mark(upto=NEVER, idle_at=5_100))
    assert ["port@1000"] == released(arrival, idle={SCAN})


def test_every_customs_partition_must_have_reported() -> None:
    """With two customs partitions, one silent (no mark yet) holds everything."""
    arrival = order(customs=2)
    take(arrival, PORT, 0, received=100)
    arrival.mark(0, 0, Mark(upto=500))
    assert [] == released(arrival, idle={SCAN})
    arrival.mark(0, 1, Mark(upto=500))
    assert ["port@100"] == released(arrival, idle={SCAN})


def test_marks_never_go_backwards() -> None:
    """A mark from a worker that took a customs partition over (and starts from the
    committed offset) does not move the partition's progress back."""
    arrival = order()
    arrival.mark(0, 0, Mark(upto=500))
    arrival.mark(0, 0, Mark(upto=300))
    take(arrival, PORT, 0, received=400)
    assert ["port@400"] == released(arrival, idle={SCAN})


def test_commits_stop_at_the_first_record_still_held() -> None:
    """Offsets of an input may be committed up to its first record not yet applied,
    whatever order the records were released in."""
    arrival = order()
    take(arrival, CUSTOMS_IN, 10, received=300)
    take(arrival, CUSTOMS_IN, 11, received=100)
    assert 10 == arrival.first_held(0, CUSTOMS_IN)
    arrival.mark(0, 0, Mark(upto=200))
    assert [f"{CUSTOMS_IN[0]}@100"] == released(arrival, idle={PORT, SCAN})
    assert 10 == arrival.first_held(0, CUSTOMS_IN)  # 11 applied, 10 not yet
    arrival.mark(0, 0, Mark(upto=400))
    assert [f"{CUSTOMS_IN[0]}@300"] == released(arrival, idle={PORT, SCAN})
    assert arrival.first_held(0, CUSTOMS_IN) is None


def test_an_offset_held_twice_is_committed_past_once_both_are_applied() -> None:
    """A record read before the seek to the committed offset and again after it is held
    twice: the commit passes it only when both copies are applied, whichever first."""
    arrival = order()
    take(arrival, CUSTOMS_IN, 7, received=100, name="first")
    take(arrival, CUSTOMS_IN, 7, received=100, name="again")
    take(arrival, CUSTOMS_IN, 8, received=300)
    out = arrival.release(0, lambda s: True)
    assert [] == out  # no mark yet
    arrival.mark(0, 0, Mark(upto=200))
    first, again = arrival.release(0, lambda s: True)
    arrival.settled(first)
    arrival.settled(again)
    assert 8 == arrival.first_held(0, CUSTOMS_IN)  # seen stuck at 7: commits stopped


def test_a_revoked_partition_drops_what_it_held() -> None:
    """Held records of a partition revoked are forgotten (not committed: its next owner
    reads them again) and no longer hold the clock."""
    arrival = order()
    take(arrival, PORT, 0, received=100)
    arrival.revoke(0)
    assert 0 == arrival.held()
    assert arrival.first_held(0, PORT) is None


def test_the_event_clock_never_passes_a_record_still_held() -> None:
    """The clock is the newest occurred_at released with nothing received earlier
    still held on any partition of the worker."""
    arrival = ArrivalOrder(hop_partitions=0, grace_ms=0)
    arrival.assign(0, [PORT])
    arrival.assign(1, [("port", 1)])
    arrival.delivered(0, PORT, 100)
    arrival.hold(0, PORT, 0, received=100, occurred=100, wall=0, item="a")
    arrival.delivered(1, ("port", 1), 200)
    arrival.hold(1, ("port", 1), 0, received=200, occurred=900, wall=0, item="b")
    for held in arrival.release(1, lambda s: False):
        arrival.settled(held)
    assert arrival.clock() is None  # "b" is out, but "a", received earlier, is held
    for held in arrival.release(0, lambda s: False):
        arrival.settled(held)
    assert 900 == arrival.clock()


def test_what_holds_the_oldest_record_back_is_named_and_goes_when_it_goes() -> None:
    """``waiting_on`` names each input the oldest record waits for (the watchdog's log
    line), and is empty exactly when release would let it go."""
    arrival = order(customs=2, grace=100)
    take(arrival, PORT, 0, received=1_000, wall=5_000)
    assert arrival.waiting_on(0, 5_000, lambda s: False) == [
        "('scan', 0) delivered nothing yet, not idle",
        "hop input 0: no mark read yet",
        "hop input 1: no mark read yet",
    ]
    arrival.mark(0, 0, Mark(upto=500))
    arrival.mark(0, 1, Mark(upto=2_000))
    assert arrival.waiting_on(0, 5_000, lambda s: s == SCAN) == [
        "hop input 0: marked up to 500 ms, not idle"
    ]
    arrival.mark(0, 0, Mark(upto=500, idle_at=5_050))  # idle, but too soon after it was read
    assert arrival.waiting_on(0, 5_060, lambda s: s == SCAN) == [
        "hop input 0: marked up to 500 ms, idle 10 ms ago"
    ]
    assert arrival.waiting_on(0, 5_060, lambda s: s == SCAN, lambda c: f"customs[{c}] here") == [
        "hop input 0: marked up to 500 ms, idle 10 ms ago (customs[0] here)"
    ]
    assert released(arrival, idle={SCAN}) == []
    arrival.mark(0, 0, Mark(upto=1_500))
    assert arrival.waiting_on(0, 5_060, lambda s: s == SCAN) == []
    assert released(arrival, idle={SCAN}) == ["port@1000"]
    assert arrival.waiting_on(0, 5_060, lambda s: s == SCAN) == []  # nothing held
