"""Time arithmetic: epoch milliseconds, instants as the outputs write them, and
durations as reform reports write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from time import gmtime
from typing import Final

__all__ = [
    "basic_stamp",
    "duration_text",
    "format_ts",
    "from_ms",
    "hms",
    "iso_ms",
    "to_ms",
]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS: Final = timedelta(milliseconds=1)


def format_ts(value: datetime) -> str:
    """RFC 3339 in UTC with millisecond precision: the one form the outputs use. An
    input event passed on (the repartition topic, a dead letter) keeps finer digits
    when it has them, so it reads back equal to itself."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    text = value.isoformat(timespec="microseconds" if value.microsecond % 1000 else "milliseconds")
    return text[:-6] + "Z"  # "+00:00", which isoformat always writes for UTC


def to_ms(value: datetime) -> int:
    """Epoch milliseconds, exactly (float seconds would lose one now and then)."""
    return (value - _EPOCH) // _ONE_MS


def from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def iso_ms(ms: int) -> str:
    """Epoch ms as the outputs write an instant, ``2018-03-01T01:00:00.000Z``: what
    ``events.format_ts(from_ms(ms))`` gives, in a third of the time (the date from a
    cache by day, the time of day from tables)."""
    day, rest = divmod(ms, _DAY_MS)
    date = _ISO_DATES.get(day) or _date(_ISO_DATES, day, "{:04}-{:02}-{:02}T")
    h, rest = divmod(rest, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, milli = divmod(rest, 1000)
    return f"{date}{_TWO[h]}:{_TWO[m]}:{_TWO[s]}.{_THREE[milli]}Z"


def basic_stamp(ms: int) -> str:
    """Epoch ms as ISO 8601's basic form to the second, ``20180301T010000Z`` (visit ids):
    ``f"{from_ms(ms):%Y%m%dT%H%M%SZ}"`` in a quarter of the time."""
    day, rest = divmod(ms // 1000, 86_400)
    date = _BASIC_DATES.get(day) or _date(_BASIC_DATES, day, "{:04}{:02}{:02}T")
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"{date}{_TWO[h]}{_TWO[m]}{_TWO[s]}Z"


_DAY_MS: Final = 86_400_000
_TWO: Final = tuple(f"{n:02}" for n in range(60))
_THREE: Final = tuple(f"{n:03}" for n in range(1000))
# Dates as written, by day since the epoch: a log spans a few thousand days at most;
# emptied past that size, so no input can grow them without bound.
_ISO_DATES: Final[dict[int, str]] = {}
_BASIC_DATES: Final[dict[int, str]] = {}


def _date(cache: dict[int, str], day: int, form: str) -> str:
    if len(cache) >= 16_384:
        cache.clear()
    y, mo, d = gmtime(day * 86_400)[:3]
    text = cache[day] = form.format(y, mo, d)
    return text


def hms(seconds: float) -> tuple[str, int, int, int]:
    """``-86429`` -> ``("-", 24, 0, 29)``: sign, whole hours (never folded into days, as
    in the TRS tables), minutes and seconds, rounded to the second."""
    whole = round(abs(seconds))
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return ("-" if seconds < 0 else ""), h, m, s


def duration_text(seconds: float) -> str:
    """``86429`` -> ``24h00m29s``."""
    sign, h, m, s = hms(seconds)
    return f"{sign}{h}h{m:02d}m{s:02d}s"
