"""Reading an input into DuckDB: one slim row per record, its order, whether it counts.

The rows are a view with a unique ``rid`` per row: over a table for JSONL (parsed once,
held; DuckDB spills it beyond its memory limit), over the files themselves when every
input is Parquet (columnar: a query reads only the columns it needs).

Every JSONL file is read by DuckDB's ``read_json`` with the columns the report reads
(:data:`READ_COLUMNS`) and ``ignore_errors`` (a line that is not JSON becomes NULLs; a
value of the wrong type, a NULL field); each row is then checked in SQL against the
contract for those fields (:data:`_CHECKS`): the first failing check names the field.
Times are parsed and must end in an offset (RFC 3339), ``exited_at`` within the
contract's years; ``segments`` must be an object of numbers by segment name.
Fields the report does not read (``container_no``, ``declaration_nos``,
``eligible_at``, ``scan_result``, an obligation's party and times) are not checked:
a record is counted when what the report takes from it is sound. DuckDB reads a JSON
``null`` and a missing key alike, so ``arrived_at`` may also be missing. Parquet files
(our own layout) are checked for their columns and the fields the report needs.
Nothing is dropped unseen: the rows that fail are counted, and their line numbers and
reasons found by :func:`malformed_lines` (the Python reader's wording for those it
shows).

Reading in file order costs DuckDB twice the time (``WITH ORDINALITY`` keeps one
thread's order), and the order matters only for two rare things: the line numbers of
malformed lines, and which of two records of one visit and revision with different
content counts (the later one, as in :func:`vasscm.report.load.current_records`).
So a file is read unordered first, and read again in order only when it holds either.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import duckdb

from vasscm.limits import EARLIEST, LATEST
from vasscm.report.inputs import Inputs, first_record, is_parquet, lines_of
from vasscm.report.lines import Malformed, NotClearances
from vasscm.report.parquet import PARQUET_COLUMNS, quoted
from vasscm.report.visit import SEGMENTS

__all__ = ["READ_COLUMNS", "REASONS", "ROW_COLUMNS", "Scanned", "malformed_lines", "scan_inputs"]

#: SQL macros shared by the checks: a time's shape (RFC 3339 with an offset), cheap: a
#: regular expression per value would double the reading time of a year.
_MACROS: Final = (
    # With the parse (try_cast to TIMESTAMPTZ, which takes only dates and times), what
    # RFC 3339 adds: an offset, Z or ±hh:mm, at the end (a naive time is refused).
    """CREATE OR REPLACE TEMP MACRO vasscm_ts_shape(x) AS
    x IS NOT NULL AND (x[-1] IN ('Z', 'z') OR x[-6] IN ('+', '-'))""",
)

#: What the report reads of a JSONL record (DuckDB ``read_json`` types).
READ_COLUMNS: Final = {
    "site": "VARCHAR",
    "direction": "VARCHAR",
    "visit_id": "VARCHAR",
    "channel": "VARCHAR",
    "arrived_at": "VARCHAR",
    "exited_at": "VARCHAR",
    "segments": "JSON",  # checked: an object of numbers by segment
    "pre_cleared": "BOOLEAN",
    "scanned": "BOOLEAN",
    "alerts": "VARCHAR[]",
    "obligations": "STRUCT(form VARCHAR, on_time BOOLEAN)[]",
    "revision": "BIGINT",
    "supersedes": "VARCHAR[]",
}

_SEGMENTS_TYPE: Final = "{" + ", ".join(f'"{s}": "DOUBLE"' for s in SEGMENTS) + "}"
_SEGMENTS_HELD: Final = " + ".join(f'(seg."{s}" IS NOT NULL)::INT' for s in SEGMENTS)
_FORMS: Final = ("GATE_OUT", "LOADED", "EXPECTED", "SCAN_SELECTED")
#: The contract's directions and channels (vasscm.events; repeated here so that the
#: report reads files without building the models, checked equal by a test).
_DIRECTIONS: Final = ("import", "export", "unknown")
_CHANNELS: Final = ("green", "yellow", "red", "unknown")


def _one_of(values: Sequence[str]) -> str:
    return "(" + ", ".join(quoted(v) for v in values) + ")"


def _enum(values: Sequence[str]) -> str:
    """A DuckDB ENUM of ``values`` in text order, so that it sorts as the text does (the
    report orders by direction and channel): one byte a row where text takes sixteen."""
    return "ENUM" + _one_of(sorted(values))


_DIRECTION_TYPE: Final = _enum(_DIRECTIONS)
_CHANNEL_TYPE: Final = _enum(_CHANNELS)


#: No field read: a line that is not JSON, or an object of none of the fields.
_NOTHING_READ: Final = " AND ".join(f"{name} IS NULL" for name in READ_COLUMNS)

#: (failure condition, reason) in field order: the first that holds is the row's reason.
#: Over the read columns and what _derived() adds: ``seg`` (the segments as numbers),
#: ``exited_tz`` and ``arrived_tz`` (the times parsed), ``dir`` and ``chan`` (the
#: direction and channel as ENUMs, NULL when not one of the contract's).
_CHECKS: Final = (
    (_NOTHING_READ, "not a JSON object with clearance record fields"),
    ("site IS NULL", "field 'site': missing or not text"),
    ("dir IS NULL", f"field 'direction': missing or not one of {', '.join(_DIRECTIONS)}"),
    ("visit_id IS NULL", "field 'visit_id': missing or not text"),
    ("chan IS NULL", f"field 'channel': missing or not one of {', '.join(_CHANNELS)}"),
    (
        "arrived_at IS NOT NULL AND (NOT vasscm_ts_shape(arrived_at) OR arrived_tz IS NULL)",
        "field 'arrived_at': not a timestamp",
    ),
    (
        "NOT vasscm_ts_shape(exited_at) OR NOT coalesce(exited_tz BETWEEN "
        f"TIMESTAMPTZ '{EARLIEST.isoformat()}' AND TIMESTAMPTZ '{LATEST.isoformat()}' "
        "- INTERVAL 1 MICROSECOND, false)",
        "field 'exited_at': missing or not an RFC 3339 timestamp",
    ),
    (
        # An object whose every key is a segment with a number: as many keys (a key and
        # its number are one ':', no segment name holds one) as numbers read. In bytes
        # (strlen): ':' is one byte, and a byte count needs no walk through the text.
        "segments IS NULL OR NOT starts_with(segments, '{') OR strlen(segments) "
        f"- strlen(replace(segments, ':', '')) <> {_SEGMENTS_HELD}",
        f"field 'segments': missing, or not an object of seconds by {', '.join(SEGMENTS)}",
    ),
    ("pre_cleared IS NULL", "field 'pre_cleared': missing or not true/false"),
    ("scanned IS NULL", "field 'scanned': missing or not true/false"),
    ("alerts IS NULL", "field 'alerts': missing or not a list of alert kinds"),
    (
        "len(obligations) > 0 AND NOT list_bool_and(list_transform(obligations, "
        f"lambda o: coalesce(o.form IN {_one_of(_FORMS)} AND o.on_time IS NOT NULL, false)))",
        "field 'obligations': not a list of obligations (form, party, times, on_time)",
    ),
    ("revision IS NULL OR revision < 1", "field 'revision': missing or not a whole number >= 1"),
)

#: (failure condition, reason) of a Parquet row, over its columns as stored.
_PARQUET_CHECKS: Final = (
    ("visit_id IS NULL", "field 'visit_id': null"),
    ("revision IS NULL OR revision < 1", "field 'revision': null or below 1"),
    ("exited_at IS NULL", "field 'exited_at': null"),
    ("site IS NULL", "field 'site': null"),
    (
        f"try_cast(direction AS {_DIRECTION_TYPE}) IS NULL",
        f"field 'direction': null or not one of {', '.join(_DIRECTIONS)}",
    ),
    (
        f"try_cast(channel AS {_CHANNEL_TYPE}) IS NULL",
        f"field 'channel': null or not one of {', '.join(_CHANNELS)}",
    ),
    (
        "pre_cleared IS NULL OR scanned IS NULL OR alerts IS NULL",
        "field 'pre_cleared', 'scanned' or 'alerts': null",
    ),
)

#: A row's ``reason`` is a number (NULL: the row is sound), its text this tuple's entry:
#: one byte a row, where the text would take sixteen even when NULL.
REASONS: Final = tuple(why for _, why in _CHECKS + _PARQUET_CHECKS)


def _reason_sql(checks: Sequence[tuple[str, str]], first: int) -> str:
    whens = " ".join(f"WHEN {cond} THEN {first + i}" for i, (cond, _) in enumerate(checks))
    return f"(CASE {whens} END)::UTINYINT"


_REASON_SQL: Final = _reason_sql(_CHECKS, 0)
_PARQUET_REASON: Final = _reason_sql(_PARQUET_CHECKS, len(_CHECKS))

#: The columns of the slim rows table, each from the read columns and _derived().
ROW_COLUMNS: Final = {
    "visit_id": "visit_id",
    "revision": "revision",
    "supersedes": "coalesce(supersedes, [])",
    "site": "site",
    "direction": "dir",
    "channel": "chan",
    # naive UTC: period labels and hours shift them by the report's offset
    "exited": "make_timestamp(epoch_us(exited_tz))",
    "arrived": "make_timestamp(epoch_us(arrived_tz))",
    **{f"s_{s}": f'seg."{s}"' for s in SEGMENTS},
    "pre_cleared": "pre_cleared",
    "scanned": "scanned",
    "alerted": "len(alerts) > 0",
    "duties": "coalesce(obligations, [])",
}


@dataclass(frozen=True, slots=True)
class Scanned:
    """The view ``table`` holds an input's rows, each with a unique ``rid``; ``files`` in
    the order of ``file_no``."""

    table: str
    files: tuple[Path, ...]
    twice: str  # the table of hash(visit_id) met in more than one valid row


def _derived() -> str:
    return (
        f"try_cast(direction AS {_DIRECTION_TYPE}) AS dir, "
        f"try_cast(channel AS {_CHANNEL_TYPE}) AS chan, "
        f"json_transform(segments, '{_SEGMENTS_TYPE}') AS seg, "
        "try_cast(exited_at AS TIMESTAMPTZ) AS exited_tz, "
        "try_cast(arrived_at AS TIMESTAMPTZ) AS arrived_tz"
    )


def _jsonl_select(file_no: int, path: Path, *, ordered: bool) -> str:
    """The rows of one JSONL file; ``ordered``: numbered in file order (``ord``), else
    all 0 (twice as fast: see the module docstring)."""
    columns = "{" + ", ".join(f"{quoted(k)}: {quoted(v)}" for k, v in READ_COLUMNS.items()) + "}"
    source = (
        f"read_json({quoted(path)}, columns = {columns}, format = 'newline_delimited', "
        "ignore_errors = true, maximum_object_size = 16777216)"
    )
    numbered = "ordinality AS ord" if ordered else "0::BIGINT AS ord"
    inner = f"SELECT *, {numbered}, {_derived()} FROM {source}"
    if ordered:
        inner += " WITH ORDINALITY"
    cols = ", ".join(f"{expr} AS {name}" for name, expr in ROW_COLUMNS.items())
    return f"SELECT {file_no} AS file_no, ord, {_REASON_SQL} AS reason, {cols} FROM ({inner})"


_PARQUET_ROWS: Final = {
    **ROW_COLUMNS,
    **{f"s_{s}": f'segments."{s}"' for s in SEGMENTS},
    "direction": f"try_cast(direction AS {_DIRECTION_TYPE})",
    "channel": f"try_cast(channel AS {_CHANNEL_TYPE})",
    "exited": "make_timestamp(epoch_us(exited_at))",
    "arrived": "make_timestamp(epoch_us(arrived_at))",
    "duties": "list_transform(coalesce(obligations, []), lambda o: {'form': o.form, "
    "'on_time': o.on_time})",
}


def _parquet_select(
    con: duckdb.DuckDBPyConnection, file_no: int, path: Path, *, beside_jsonl: bool
) -> str:
    """The rows of one Parquet file; ``beside_jsonl``: in the shape JSONL rows have (an
    obligation's form and on_time only), to be held in one table with them."""
    described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({quoted(path)})").fetchall()
    have = {str(row[0]) for row in described}
    missing = [name for name in PARQUET_COLUMNS if name not in have]
    if missing:
        raise NotClearances(
            f"{path} is not a clearances Parquet file: no column {', '.join(missing)} "
            "(`vasscm replay --format parquet` writes one)"
        )
    columns = dict(_PARQUET_ROWS)
    if not beside_jsonl:  # as stored: the report reads an obligation's form and on_time
        columns["duties"] = "coalesce(obligations, [])"
    cols = ", ".join(f"{expr} AS {name}" for name, expr in columns.items())
    return (
        f"SELECT {file_no} AS file_no, file_row_number + 1 AS ord, {_PARQUET_REASON} AS reason, "
        f"{cols} FROM read_parquet({quoted(path)}, file_row_number = true)"
    )


def scan_inputs(con: duckdb.DuckDBPyConnection, inputs: Inputs, table: str) -> Scanned:
    """Read ``inputs`` into the temporary table ``table``: unordered, then again in file
    order when a JSONL file holds a malformed line or two records of one visit and
    revision that differ (see the module docstring).

    Raises :class:`NotClearances` when a file is another kind of vasscm file.
    """
    for macro in _MACROS:
        con.execute(macro)
    for path in inputs.files:
        if not is_parquet(path):
            first_record(path)
    _fill(con, inputs, table, ordered=False)
    # Most visits have one record, and an id is a long string: the ids met more than
    # once, found by a 64-bit hash (a collision only adds a visit to those looked at
    # closely, never leaves one out). The same rows whatever the order they are read in.
    twice = f"{table}_twice"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {twice} AS SELECT hash(visit_id) AS h
        FROM {table} WHERE reason IS NULL GROUP BY h HAVING count(*) > 1"""
    )
    if any(not is_parquet(p) for p in inputs.files) and _needs_order(con, table, twice):
        # The line numbers come from the reader's own order: keep it on this one read
        # (the engine reads with it off, DuckDB's faster way, as order is in columns).
        con.execute("SET preserve_insertion_order = true")
        try:
            _fill(con, inputs, table, ordered=True)
        finally:
            con.execute("SET preserve_insertion_order = false")
    return Scanned(table, inputs.files, twice)


def _fill(con: duckdb.DuckDBPyConnection, inputs: Inputs, table: str, *, ordered: bool) -> None:
    only_parquet = all(is_parquet(p) for p in inputs.files)
    selects = [
        _parquet_select(con, file_no, path, beside_jsonl=not only_parquet)
        if is_parquet(path)
        else _jsonl_select(file_no, path, ordered=ordered)
        for file_no, path in enumerate(inputs.files)
    ]
    union = " UNION ALL ".join(selects)
    if only_parquet:
        # Read where it lies: columnar, each query reads only its columns.
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {table} AS "
            f"SELECT (file_no::BIGINT << 40) | ord AS rid, * FROM ({union})"
        )
    else:  # parsed once, held (spilled beyond the memory limit)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table}_held AS {union}")
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT rowid AS rid, * FROM {table}_held"
        )


#: What two records of one visit and revision must agree on to be interchangeable.
_CONTENT: Final = ", ".join(name for name in ROW_COLUMNS if name not in ("visit_id", "revision"))


def _needs_order(con: duckdb.DuckDBPyConnection, table: str, twice: str) -> bool:
    """Whether the file order matters: a malformed line (its number is shown), or records
    of one visit and revision whose content differs (the later one counts)."""
    row = con.execute(
        f"""SELECT (SELECT count(*) FROM {table} WHERE reason IS NOT NULL),
        (SELECT count(*) FROM (
            SELECT visit_id, revision FROM {table}
            WHERE reason IS NULL AND hash(visit_id) IN (SELECT h FROM {twice})
            GROUP BY ALL HAVING count(*) > 1 AND count(DISTINCT hash({_CONTENT})) > 1))"""
    ).fetchone()
    return row is not None and (row[0] > 0 or row[1] > 0)


def malformed_lines(
    con: duckdb.DuckDBPyConnection, scanned: Scanned, limit: int
) -> Iterator[tuple[Path, Malformed]]:
    """The first ``limit`` rows that do not count, with their file, 1-based line number
    (blank lines counted, as an editor shows them) and reason: the Python reader's
    wording when it too rejects the line, else the SQL check's."""
    found = con.execute(
        f"SELECT file_no, ord, reason FROM {scanned.table} WHERE reason IS NOT NULL "
        f"ORDER BY file_no, ord LIMIT {int(limit)}"
    ).fetchall()
    by_file: dict[int, list[tuple[int, str]]] = {}
    for file_no, ord_, reason in found:
        by_file.setdefault(int(file_no), []).append((int(ord_), REASONS[int(reason)]))
    for file_no, wanted in sorted(by_file.items()):
        path = scanned.files[file_no]
        if is_parquet(path):
            for ord_, reason in wanted:
                yield path, Malformed(ord_, f"not a clearance record: {reason}")
            continue
        yield from ((path, item) for item in _lines_at(path, wanted))


def _lines_at(path: Path, wanted: list[tuple[int, str]]) -> Iterator[Malformed]:
    """Walk ``path`` to the non-blank lines numbered ``ord`` in ``wanted``."""
    from vasscm.report.load import _parse_line  # the models: only when a line is shown

    pending = iter(wanted)
    target = next(pending, None)
    seen = 0
    for number, raw in lines_of(path):
        if target is None:
            return
        if not raw.strip():
            continue
        seen += 1
        if seen < target[0]:
            continue
        item = _parse_line(number, raw)
        if isinstance(item, Malformed):
            yield item
        else:  # our check is stricter than the model's here: say ours
            yield Malformed(number, f"not a clearance record: {target[1]}")
        target = next(pending, None)
