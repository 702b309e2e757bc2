"""The report as text in one of :data:`FORMATS`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from vasscm.report.render_html import render_html
from vasscm.report.render_json import render_json
from vasscm.report.render_text import render_csv, render_md
from vasscm.report.stats import Report

__all__ = ["FORMATS", "render"]

FORMATS: Final = ("md", "csv", "json", "html")

_RENDERERS: Final[Mapping[str, Callable[[Report], str]]] = {
    "md": render_md,
    "csv": render_csv,
    "json": render_json,
    "html": render_html,
}


def render(report: Report, fmt: str = "md") -> str:
    """The report as ``md``, ``csv``, ``json`` or ``html`` text."""
    try:
        return _RENDERERS[fmt](report)
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}") from None
