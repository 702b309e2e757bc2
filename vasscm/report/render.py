"""The report as text in one of :data:`FORMATS`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from vasscm.report.render_html import render_html
from vasscm.report.render_json import render_json
from vasscm.report.render_text import render_csv, render_md
from vasscm.report.stats import Report
from vasscm.report.wording import Wording, wording

__all__ = ["FORMATS", "render"]

FORMATS: Final = ("md", "csv", "json", "html", "pdf")  # pdf: vasscm.report.render_pdf

_RENDERERS: Final[Mapping[str, Callable[[Report, Wording], str]]] = {
    "md": render_md,
    "csv": lambda report, words: render_csv(report),  # machine forms: codes, seconds
    "json": lambda report, words: render_json(report),
    "html": render_html,
}


def render(report: Report, fmt: str = "md", words: Wording | None = None) -> str:
    """The report as ``md``, ``csv``, ``json`` or ``html`` text; the human formats in
    the language of ``words`` (default: Vietnamese, the packaged site registry)."""
    try:
        renderer = _RENDERERS[fmt]
    except KeyError:
        texts = ", ".join(_RENDERERS)  # pdf is bytes: vasscm.report.render_pdf
        raise ValueError(f"unknown text format {fmt!r}; expected one of {texts}") from None
    return renderer(report, words if words is not None else wording())
