"""Option values of ``vasscm report``: durations, targets, UTC offsets, grouping fields."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, timedelta, timezone
from typing import Final

from vasscm.errors import VasscmError
from vasscm.report.visit import SEGMENTS

__all__ = [
    "DEFAULT_TARGETS",
    "GROUP_FIELDS",
    "PERIODS",
    "ReportUsageError",
    "parse_by",
    "parse_duration",
    "parse_targets",
    "parse_utc_offset",
]

GROUP_FIELDS: Final = ("site", "direction", "channel", "period")
PERIODS: Final = ("day", "week", "month", "quarter", "year")
DEFAULT_TARGETS: Final[Mapping[str, float]] = {"release": 86400.0}


class ReportUsageError(VasscmError, ValueError):
    """A bad option value (click-style usage error: exit code 2)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"Invalid value for '{option}': {message}")
        self.option = option


_DURATION_RE: Final = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?")
_OFFSET_RE: Final = re.compile(r"([+-])(\d{1,2})(?::?(\d{2}))?")


def parse_duration(text: str) -> float:
    """``24h``, ``4h30m``, ``90m``, ``3600s``, ``1d``, ``1d12h`` or plain seconds -> seconds."""
    value = text.strip().lower()
    try:
        seconds = float(value)
    except ValueError:
        match = _DURATION_RE.fullmatch(value)
        if not value or match is None:
            raise ValueError(
                f"{text!r} is not a duration; use e.g. 24h, 4h30m, 90m, 3600s, 1d or seconds"
            ) from None
        d, h, m, s = match.groups()
        seconds = int(d or 0) * 86400 + int(h or 0) * 3600 + int(m or 0) * 60 + float(s or 0)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{text!r} must be a finite, non-negative duration")
    return seconds


def parse_targets(items: Iterable[str]) -> dict[str, float]:
    """``["release=24h", "exit=2h"]`` -> seconds per segment; none given -> release=24h.

    A segment given twice keeps its last value, so a script can append overrides.
    """
    targets: dict[str, float] = {}
    for item in items:
        segment, sep, duration = item.partition("=")
        segment = segment.strip()
        if not sep:
            raise ReportUsageError(
                "--target", f"{item!r} is not SEGMENT=DURATION, e.g. release=24h"
            )
        if segment not in SEGMENTS:
            raise ReportUsageError(
                "--target", f"unknown segment {segment!r}; expected one of {', '.join(SEGMENTS)}"
            )
        try:
            targets[segment] = parse_duration(duration)
        except ValueError as exc:
            raise ReportUsageError("--target", str(exc)) from None
    return targets or dict(DEFAULT_TARGETS)


def parse_utc_offset(text: str) -> timezone:
    """``+07:00``, ``-0530``, ``+7``, ``Z`` or ``UTC`` -> a fixed-offset time zone."""
    value = text.strip()
    if value.upper() in {"Z", "UTC"}:
        return UTC
    match = _OFFSET_RE.fullmatch(value)
    if match is None or int(match[2]) > 23 or int(match[3] or 0) > 59:
        raise ReportUsageError(
            "--utc-offset", f"{text!r} is not an offset like +07:00, -05:30 or Z"
        )
    sign = -1 if match[1] == "-" else 1
    return timezone(sign * timedelta(hours=int(match[2]), minutes=int(match[3] or 0)))


def parse_by(by: Sequence[str]) -> tuple[str, ...]:
    """``--by`` values checked against :data:`GROUP_FIELDS`, repeats dropped, order kept."""
    fields: list[str] = []
    for name in by:
        if name not in GROUP_FIELDS:
            raise ReportUsageError("--by", f"{name!r} is not one of {', '.join(GROUP_FIELDS)}")
        if name not in fields:
            fields.append(name)
    return tuple(fields)
