"""The report as text in one of :data:`FORMATS`.

Each renderer is imported when asked for: json needs neither the HTML renderer nor the
wording, and csv not the HTML: ~70 ms of a report's start-up here, that a report
written for a machine otherwise paid for nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from vasscm.report.stats import Report
    from vasscm.report.wording import Wording

__all__ = ["FORMATS", "HUMAN_FORMATS", "render"]

FORMATS: Final = ("md", "csv", "json", "html", "pdf")  # pdf: vasscm.report.render_pdf
#: The formats written in a language (vasscm.report.wording); csv and json hold codes
#: and seconds.
HUMAN_FORMATS: Final = frozenset({"md", "html", "pdf"})
_TEXT: Final = ("md", "csv", "json", "html")


def render(report: Report, fmt: str = "md", words: Wording | None = None) -> str:
    """The report as ``md``, ``csv``, ``json`` or ``html`` text; the human formats in
    the language of ``words`` (default: Vietnamese, the packaged site registry)."""
    if fmt == "json":
        from vasscm.report.render_json import render_json

        return render_json(report)
    if fmt == "csv":
        from vasscm.report.render_text import render_csv

        return render_csv(report)
    if fmt not in _TEXT:  # pdf is bytes: vasscm.report.render_pdf
        raise ValueError(f"unknown text format {fmt!r}; expected one of {', '.join(_TEXT)}")
    from vasscm.report.wording import wording

    words = words if words is not None else wording()
    if fmt == "md":
        from vasscm.report.render_text import render_md

        return render_md(report, words)
    from vasscm.report.render_html import render_html

    return render_html(report, words)
