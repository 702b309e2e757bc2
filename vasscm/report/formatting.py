"""Machine-form values shared by the ``csv`` and ``json`` formats (the human formats
take theirs from :mod:`vasscm.report.wording`)."""

from __future__ import annotations

from datetime import timezone
from typing import Final

__all__ = ["FIGURES", "offset_label", "plain_number"]

FIGURES: Final = ("mean", "median", "p90", "p95", "max")


def plain_number(value: float | None, digits: int = 3) -> str:
    """Machine form: ``86429``, ``86429.5``; ``""`` for none."""
    if value is None:
        return ""
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") or "0"


def offset_label(tz: timezone) -> str:
    return "UTC" + (tz.tzname(None) or "").removeprefix("UTC")
