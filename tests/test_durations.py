"""Instants as the outputs write them: the fast formatters against datetime's own."""

from __future__ import annotations

from datetime import datetime

from hypothesis import example, given
from hypothesis import strategies as st

from vasscm.durations import basic_stamp, from_ms, iso_ms, to_ms
from vasscm.events import format_ts
from vasscm.limits import EARLIEST, LATEST

instants = st.integers(min_value=to_ms(EARLIEST), max_value=to_ms(LATEST) - 1)


@given(ms=instants)
@example(ms=0)
@example(ms=-1)  # the last millisecond before the epoch: floor, not truncation
@example(ms=to_ms(EARLIEST))
@example(ms=to_ms(LATEST) - 1)
@example(ms=951_782_400_000)  # 2000-02-29
def test_an_instant_is_written_as_datetime_writes_it(ms: int) -> None:
    at: datetime = from_ms(ms)
    assert iso_ms(ms) == format_ts(at)
    assert basic_stamp(ms) == f"{at:%Y%m%dT%H%M%SZ}"


def test_the_dates_cache_is_emptied_when_full() -> None:
    day = 86_400_000
    for n in range(20_000):  # more days than the cache keeps
        assert iso_ms(n * day + 1) == format_ts(from_ms(n * day + 1))
    from vasscm import durations

    assert len(durations._ISO_DATES) <= 16_384
