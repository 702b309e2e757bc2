"""Progress marks on the repartition topic (``vasscm.container-events``).

The fan-out writes, every ``mark_interval``, one mark record to *every* partition of
the repartition topic, after the customs events it fanned out there: for each
customs partition it reads, the received time up to which it has fanned out
everything, and whether it had nothing left to read. The tracker of a partition
reads them in the same stream as the events, so a mark is always read after the
events it covers (vasscm.arrival). Key ``~mark`` (never a container number); value:

    {"marks": [[customs_partition, upto_ms, idle_at_ms_or_null], ...], "at": wall_ms}
"""

from __future__ import annotations

from typing import Final

import orjson

from vasscm.arrival import Mark

__all__ = ["MARK_KEY", "decode", "encode"]

MARK_KEY: Final = b"~mark"


def encode(marks: dict[int, Mark], wall_ms: int) -> bytes:
    rows = [[c, m.upto, m.idle_at] for c, m in sorted(marks.items())]
    return orjson.dumps({"marks": rows, "at": wall_ms})


def decode(value: bytes) -> dict[int, Mark]:
    """The marks of one record; a malformed one reads as none (it is our own topic)."""
    try:
        rows = orjson.loads(value)["marks"]
        return {
            int(c): Mark(int(upto), None if idle is None else int(idle)) for c, upto, idle in rows
        }
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return {}
