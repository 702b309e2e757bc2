"""Time arithmetic: epoch milliseconds, instants as the outputs write them, and
durations as reform reports write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

__all__ = [
    "duration_text",
    "format_ts",
    "from_ms",
    "hms",
    "iso_ms",
    "to_ms",
]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS: Final = timedelta(milliseconds=1)
_NAIVE_EPOCH: Final = datetime(1970, 1, 1)  # UTC; naive, as only iso_ms uses it


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
    ``events.format_ts(from_ms(ms))`` gives, in half the time."""
    return (_NAIVE_EPOCH + _ONE_MS * ms).isoformat(timespec="milliseconds") + "Z"


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
