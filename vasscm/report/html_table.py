"""The report's HTML tables: one writer for every section's (escaped, one class for the
columns that name a row, another for figures)."""

from __future__ import annotations

import html
from collections.abc import Collection, Sequence

__all__ = ["escape", "table"]


def escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def table(
    css: str,
    heads: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    names: Collection[int] = (0,),
) -> list[str]:
    """A table whose columns at the indexes ``names`` name the row (class ``k``, left
    aligned) and whose others are figures (class ``d``, kept on one line)."""

    def cell(tag: str, i: int, text: str) -> str:
        kind = "k" if i in names else "d"
        return f'<{tag} class="{kind}">{escape(text)}</{tag}>'

    out = [f'<table class="{css}"><tr>' + "".join(cell("th", i, h) for i, h in enumerate(heads))]
    out[0] += "</tr>"
    for cells in rows:
        out.append("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(cells)) + "</tr>")
    out.append("</table>")
    return out
