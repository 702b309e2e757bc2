"""Clearance records in Parquet: the columns, and the conversion from JSONL.

The Parquet file mirrors the ClearanceRecord JSON (contract section 5), one column per
field, in the same order:

- text fields (``container_no``, ``site``, ``direction``, ``visit_id``, ``channel``,
  ``scan_result``) are ``VARCHAR``; ``declaration_nos``, ``alerts`` and ``supersedes``
  are ``VARCHAR[]``; ``pre_cleared``, ``scanned`` are ``BOOLEAN``; ``revision`` ``BIGINT``;
- times (``arrived_at``, ``eligible_at``, ``exited_at``) are ``TIMESTAMP WITH TIME ZONE``
  (UTC, microseconds);
- ``segments`` is a ``STRUCT`` with one ``DOUBLE`` field per segment of
  :data:`vasscm.report.visit.SEGMENTS`; a segment that did not happen is ``NULL`` (in
  JSON it is absent). A struct rather than a map, so ``segments.release`` is a column of
  its own that DuckDB, pandas or Spark read without touching the others;
- ``obligations`` is a list of ``STRUCT(form, party, reference_at, received_at, due_at,
  on_time)``, the times again ``TIMESTAMP WITH TIME ZONE``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import duckdb

from vasscm.report.visit import SEGMENTS

__all__ = [
    "JSON_COLUMNS",
    "PARQUET_COLUMNS",
    "SEGMENTS_STRUCT",
    "json_columns_sql",
    "jsonl_to_parquet",
    "quoted",
]


def quoted(path: Path | str) -> str:
    """``path`` as a SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


SEGMENTS_STRUCT: Final = "STRUCT(" + ", ".join(f'"{s}" DOUBLE' for s in SEGMENTS) + ")"

#: The columns read from JSONL (DuckDB ``read_json`` types). Times are kept as text, so
#: the reader can check their form as the contract states it.
JSON_COLUMNS: Final = {
    "container_no": "VARCHAR",
    "site": "VARCHAR",
    "direction": "VARCHAR",
    "visit_id": "VARCHAR",
    "declaration_nos": "VARCHAR[]",
    "channel": "VARCHAR",
    "arrived_at": "VARCHAR",
    "eligible_at": "VARCHAR",
    "exited_at": "VARCHAR",
    "segments": "MAP(VARCHAR, DOUBLE)",  # a map: a value that is no number reads as NULL
    "pre_cleared": "BOOLEAN",
    "scanned": "BOOLEAN",
    "scan_result": "VARCHAR",
    "alerts": "VARCHAR[]",
    "obligations": "STRUCT(form VARCHAR, party VARCHAR, reference_at VARCHAR, "
    "received_at VARCHAR, due_at VARCHAR, on_time BOOLEAN)[]",
    "revision": "BIGINT",
    "supersedes": "VARCHAR[]",
}

_TS: Final = "TIMESTAMPTZ"

#: The Parquet layout (module docstring), as a DuckDB select list over JSON_COLUMNS.
PARQUET_COLUMNS: Final = {
    "container_no": "container_no",
    "site": "site",
    "direction": "direction",
    "visit_id": "visit_id",
    "declaration_nos": "declaration_nos",
    "channel": "channel",
    "arrived_at": f"CAST(arrived_at AS {_TS})",
    "eligible_at": f"CAST(eligible_at AS {_TS})",
    "exited_at": f"CAST(exited_at AS {_TS})",
    "segments": "{"
    + ", ".join(f"{quoted(seg)}: segments[{quoted(seg)}]" for seg in SEGMENTS)
    + f"}}::{SEGMENTS_STRUCT}",
    "pre_cleared": "pre_cleared",
    "scanned": "scanned",
    "scan_result": "scan_result",
    "alerts": "alerts",
    "obligations": (
        "list_transform(obligations, lambda o: {'form': o.form, 'party': o.party, "
        f"'reference_at': CAST(o.reference_at AS {_TS}), "
        f"'received_at': CAST(o.received_at AS {_TS}), "
        f"'due_at': CAST(o.due_at AS {_TS}), 'on_time': o.on_time}})"
    ),
    "revision": "revision",
    "supersedes": "supersedes",
}


def json_columns_sql() -> str:
    """JSON_COLUMNS as a DuckDB struct literal for ``read_json(columns=...)``."""
    return "{" + ", ".join(f"{quoted(k)}: {quoted(v)}" for k, v in JSON_COLUMNS.items()) + "}"


def jsonl_to_parquet(source: Path, target: Path, *, memory: str = "128MB") -> int:
    """Convert a clearances JSONL file (as replay writes it: valid records) to Parquet,
    streamed by DuckDB within ``memory``. Returns the number of records written."""
    select = ", ".join(f"{expr} AS {name}" for name, expr in PARQUET_COLUMNS.items())
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"SET memory_limit = {quoted(memory)}")
        con.execute("SET threads = 1")  # replay's memory budget: one row group at a time
        con.execute("SET preserve_insertion_order = true")  # the file's order, kept
        con.execute(
            f"COPY (SELECT {select} FROM read_json({quoted(source)}, "
            f"columns = {json_columns_sql()}, format = 'newline_delimited')) "
            f"TO {quoted(target)} (FORMAT parquet, COMPRESSION zstd)"
        )
        row = con.execute(f"SELECT count(*) FROM read_parquet({quoted(target)})").fetchone()
    finally:
        con.close()
    return 0 if row is None else int(row[0])
