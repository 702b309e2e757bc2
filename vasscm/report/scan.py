"""Reading an input into DuckDB: one slim row per record, its order, whether it counts.

Every JSONL file is read by DuckDB's ``read_json`` with the columns of
:data:`vasscm.report.parquet.JSON_COLUMNS` and ``ignore_errors`` (a line that is not
JSON, or a value of the wrong type, becomes NULLs), numbered in file order by ``WITH
ORDINALITY``; each row is then checked in SQL against the contract (:data:`_CHECKS`):
the first failing check names the field; times are checked for their shape (RFC 3339
with an offset), ``exited_at`` also parsed and within the contract's years. DuckDB reads
a JSON ``null`` and a missing key alike, so ``arrived_at``, ``eligible_at`` and
``scan_result`` (null allowed) may also be missing here, where the Python reader
required the key. Parquet files (our own layout) are checked for their columns and the
fields the report needs. Nothing is dropped unseen: the rows that fail are counted, and
their line numbers and reasons found afterwards by :func:`malformed_lines` (the Python
reader's wording for those it shows).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import duckdb

from vasscm.events import EARLIEST, LATEST
from vasscm.report.inputs import Inputs, first_record, is_parquet, lines_of
from vasscm.report.load import Malformed, NotClearances, _parse_line
from vasscm.report.parquet import PARQUET_COLUMNS, json_columns_sql, quoted
from vasscm.report.visit import SEGMENTS

__all__ = ["ROW_COLUMNS", "Scanned", "malformed_lines", "scan_inputs"]

#: SQL macros shared by the checks: a contract timestamp (RFC 3339 text with an offset,
#: within EARLIEST..LATEST), and one of some values.
_MACROS: Final = (
    # A time's shape (RFC 3339 with an offset), cheap: a regular expression per value
    # would double the reading time of a year.
    """CREATE OR REPLACE TEMP MACRO vasscm_ts_shape(x) AS
    x IS NOT NULL AND length(x) >= 20 AND x[5] = '-' AND x[8] = '-'
    AND x[11] IN ('T', 't', ' ') AND x[14] = ':' AND x[17] = ':'
    AND (x[-1] IN ('Z', 'z') OR x[-6] IN ('+', '-'))""",
    # The time the report uses: its shape, and a parse within EARLIEST..LATEST.
    f"""CREATE OR REPLACE TEMP MACRO vasscm_ts(x) AS
    vasscm_ts_shape(x) AND coalesce(
        try_cast(x AS TIMESTAMPTZ) BETWEEN TIMESTAMPTZ '{EARLIEST.isoformat()}'
        AND TIMESTAMPTZ '{LATEST.isoformat()}' - INTERVAL 1 MICROSECOND, false)""",
)

_ALERT_KINDS: Final = (
    "EXIT_WITHOUT_RELEASE",
    "UNSCANNED_EXIT",
    "SEAL_MISMATCH",
    "STALLED",
    "LATE_REPORT",
    "LATE_NOTICE",
)


def _one_of(values: Sequence[str]) -> str:
    return "(" + ", ".join(quoted(v) for v in values) + ")"


#: (failure condition, reason) in field order: the first that holds is the row's reason.
_CHECKS: Final = (
    (
        "num_nonnull = 0",
        "not a JSON object with clearance record fields",
    ),
    ("container_no IS NULL", "field 'container_no': missing or not text"),
    ("site IS NULL", "field 'site': missing or not text"),
    (
        "direction IS NULL OR direction NOT IN ('import', 'export', 'unknown')",
        "field 'direction': missing or not one of import, export, unknown",
    ),
    ("visit_id IS NULL", "field 'visit_id': missing or not text"),
    ("declaration_nos IS NULL", "field 'declaration_nos': missing or not a list of text"),
    (
        "channel IS NULL OR channel NOT IN ('green', 'yellow', 'red', 'unknown')",
        "field 'channel': missing or not one of green, yellow, red, unknown",
    ),
    (
        "arrived_at IS NOT NULL AND NOT vasscm_ts_shape(arrived_at)",
        "field 'arrived_at': not a timestamp",
    ),
    (
        "eligible_at IS NOT NULL AND NOT vasscm_ts_shape(eligible_at)",
        "field 'eligible_at': not a timestamp",
    ),
    ("NOT vasscm_ts(exited_at)", "field 'exited_at': missing or not an RFC 3339 timestamp"),
    (
        "segments IS NULL OR list_bool_or(list_transform(map_values(segments), "
        "lambda v: v IS NULL) || [false]) OR NOT list_bool_and(list_transform("
        f"map_keys(segments), lambda k: k IN {_one_of(SEGMENTS)}) || [true])",
        f"field 'segments': missing, or not an object of seconds by {', '.join(SEGMENTS)}",
    ),
    ("pre_cleared IS NULL", "field 'pre_cleared': missing or not true/false"),
    ("scanned IS NULL", "field 'scanned': missing or not true/false"),
    (
        "scan_result NOT IN ('CLEAR', 'SUSPECT', 'INCONCLUSIVE')",
        "field 'scan_result': not one of CLEAR, SUSPECT, INCONCLUSIVE, null",
    ),
    (
        f"alerts IS NULL OR NOT list_bool_and(list_transform(alerts, "
        f"lambda a: coalesce(a IN {_one_of(_ALERT_KINDS)}, false)) || [true])",
        "field 'alerts': missing or not a list of alert kinds",
    ),
    (
        "len(obligations) > 0 AND "
        "NOT list_bool_and(list_transform(obligations, lambda o: coalesce("
        "o.form IN ('GATE_OUT', 'LOADED', 'EXPECTED', 'SCAN_SELECTED') "
        "AND o.party IN ('port', 'customs') AND o.on_time IS NOT NULL "
        "AND vasscm_ts_shape(o.reference_at) AND vasscm_ts_shape(o.received_at) "
        "AND vasscm_ts_shape(o.due_at), false)) || [true])",
        "field 'obligations': not a list of obligations (form, party, times, on_time)",
    ),
    ("revision IS NULL OR revision < 1", "field 'revision': missing or not a whole number >= 1"),
)

_REASON_SQL: Final = (
    "CASE " + " ".join(f"WHEN {cond} THEN {quoted(why)}" for cond, why in _CHECKS) + " END"
)

#: The columns of the slim rows table, each from the read columns.
ROW_COLUMNS: Final = {
    "visit_id": "visit_id",
    "revision": "revision",
    "supersedes": "coalesce(supersedes, [])",
    "site": "site",
    "direction": "direction",
    "channel": "channel",
    # naive UTC: period labels shift it by the report's offset
    "exited": "CAST(try_cast(exited_at AS TIMESTAMPTZ) AS TIMESTAMP)",
    **{f"s_{s}": f"segments[{quoted(s)}]" for s in SEGMENTS},
    "pre_cleared": "pre_cleared",
    "scanned": "scanned",
    "alerted": "len(alerts) > 0",
    "duties": "list_transform(coalesce(obligations, []), lambda o: {'form': o.form, "
    "'on_time': o.on_time})",
}


@dataclass(frozen=True, slots=True)
class Scanned:
    """The table ``table`` holds an input's rows; ``files`` in the order of ``file_no``."""

    table: str
    files: tuple[Path, ...]


def _jsonl_select(file_no: int, path: Path) -> str:
    nonnull = " + ".join(f"({name} IS NOT NULL)::INT" for name in _json_names())
    inner = (
        f"SELECT *, ordinality AS ord, {nonnull} AS num_nonnull "
        f"FROM read_json({quoted(path)}, columns = {json_columns_sql()}, "
        "format = 'newline_delimited', ignore_errors = true, "
        "maximum_object_size = 16777216) WITH ORDINALITY"
    )
    cols = ", ".join(f"{expr} AS {name}" for name, expr in ROW_COLUMNS.items())
    return f"SELECT {file_no} AS file_no, ord, {_REASON_SQL} AS reason, {cols} FROM ({inner})"


def _json_names() -> tuple[str, ...]:
    from vasscm.report.parquet import JSON_COLUMNS

    return tuple(JSON_COLUMNS)


_PARQUET_ROWS: Final = {
    **ROW_COLUMNS,
    **{f"s_{s}": f'segments."{s}"' for s in SEGMENTS},
    "exited": "CAST(exited_at AS TIMESTAMP)",
    "duties": "list_transform(coalesce(obligations, []), lambda o: {'form': o.form, "
    "'on_time': o.on_time})",
}

_PARQUET_REASON: Final = (
    "CASE WHEN visit_id IS NULL THEN 'field ''visit_id'': null' "
    "WHEN revision IS NULL OR revision < 1 THEN 'field ''revision'': null or below 1' "
    "WHEN exited_at IS NULL THEN 'field ''exited_at'': null' "
    "WHEN site IS NULL THEN 'field ''site'': null' "
    "WHEN direction IS NULL THEN 'field ''direction'': null' "
    "WHEN channel IS NULL THEN 'field ''channel'': null' "
    "WHEN pre_cleared IS NULL OR scanned IS NULL OR alerts IS NULL "
    "THEN 'field ''pre_cleared'', ''scanned'' or ''alerts'': null' END"
)


def _parquet_select(con: duckdb.DuckDBPyConnection, file_no: int, path: Path) -> str:
    described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({quoted(path)})").fetchall()
    have = {str(row[0]) for row in described}
    missing = [name for name in PARQUET_COLUMNS if name not in have]
    if missing:
        raise NotClearances(
            f"{path} is not a clearances Parquet file: no column {', '.join(missing)} "
            "(`vasscm replay --format parquet` writes one)"
        )
    cols = ", ".join(f"{expr} AS {name}" for name, expr in _PARQUET_ROWS.items())
    return (
        f"SELECT {file_no} AS file_no, file_row_number + 1 AS ord, {_PARQUET_REASON} AS reason, "
        f"{cols} FROM read_parquet({quoted(path)}, file_row_number = true)"
    )


def scan_inputs(con: duckdb.DuckDBPyConnection, inputs: Inputs, table: str) -> Scanned:
    """Read ``inputs`` into the temporary table ``table`` (one scan of each file).

    Raises :class:`NotClearances` when a file is another kind of vasscm file.
    """
    for macro in _MACROS:
        con.execute(macro)
    selects = []
    for file_no, path in enumerate(inputs.files):
        if is_parquet(path):
            selects.append(_parquet_select(con, file_no, path))
        else:
            first_record(path)
            selects.append(_jsonl_select(file_no, path))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS " + " UNION ALL ".join(selects))
    return Scanned(table, inputs.files)


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
        by_file.setdefault(int(file_no), []).append((int(ord_), str(reason)))
    for file_no, wanted in sorted(by_file.items()):
        path = scanned.files[file_no]
        if is_parquet(path):
            for ord_, reason in wanted:
                yield path, Malformed(ord_, f"not a clearance record: {reason}")
            continue
        yield from ((path, item) for item in _lines_at(path, wanted))


def _lines_at(path: Path, wanted: list[tuple[int, str]]) -> Iterator[Malformed]:
    """Walk ``path`` to the non-blank lines numbered ``ord`` in ``wanted``."""
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
