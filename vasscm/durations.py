"""Durations as reform reports write them: ``24h00m29s``."""

from __future__ import annotations

__all__ = ["duration_text"]


def duration_text(seconds: float) -> str:
    """``86429`` -> ``24h00m29s`` (hours are not folded into days, as in the TRS tables)."""
    sign = "-" if seconds < 0 else ""
    whole = round(abs(seconds))
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{sign}{h}h{m:02d}m{s:02d}s"
