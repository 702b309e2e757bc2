"""The clearances archive: monthly Parquet files that ``vasscm report DIR`` reads.

``DIR/<YYYY-MM>.parquet`` holds the clearance records whose ``exited_at`` falls in
that month at UTC+07:00 (Vietnam's time, and ``vasscm report``'s default
``--utc-offset``: a month file is the month a report calls by that name), in the
Parquet layout of :mod:`vasscm.report.parquet`. A month file holds each
``(visit_id, revision)`` once: a flush rewrites it as the old file without the keys
of the new batch, plus the batch (the later record of a key wins, as in the consumer
rule). A batch that brings nothing the file does not already hold, row for row,
leaves the file untouched: re-reading the topic from its beginning costs reads only.

Every file is written whole to a temporary file in ``DIR``, fsynced, renamed over
the old one, and the directory fsynced: a crash leaves the old file or the new one,
never half of one. Records that are not clearance records go to
``DIR/rejected.jsonl`` (which ``vasscm report DIR`` skips, as in a replay's output
directory), as dead letters naming the topic, partition, offset and the field; each
(topic, partition, offset) once.

One process at a time writes a ``DIR`` (:class:`Archive` holds a lock on
``DIR/.lock``); the Kafka side is :mod:`vasscm.live.tools.archive`.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Final

import duckdb
import orjson
from pydantic import ConfigDict, ValidationError

from vasscm.errors import VasscmError
from vasscm.events import (
    ClearanceRecord,
    DeadLetter,
    RejectCode,
    Rejection,
    dead_letter,
    dump_json,
)
from vasscm.report.parquet import PARQUET_COLUMNS, json_columns_sql, quoted

__all__ = [
    "MONTH_ZONE",
    "Archive",
    "ArchiveBusy",
    "Flushed",
    "month_of",
    "parse_clearance",
]

#: The zone of a month file's month: the report's default ``--utc-offset``.
MONTH_ZONE: Final = timezone(timedelta(hours=7))
REJECTED: Final = Path("rejected.jsonl")
_TMP: Final = ".tmp"  # temporary files: ".<name>.tmp", which no report reads


class ArchiveBusy(VasscmError):
    """Another process archives into the same directory."""


class _TopicRecord(ClearanceRecord):
    # A newer worker may add optional fields (the contract grows by them): archived
    # without them rather than rejected, as the report reads files.
    model_config = ConfigDict(frozen=True, extra="ignore")


def month_of(exited_at: datetime) -> str:
    """``YYYY-MM`` of ``exited_at`` at :data:`MONTH_ZONE`."""
    return exited_at.astimezone(MONTH_ZONE).strftime("%Y-%m")


def parse_clearance(value: bytes | None) -> ClearanceRecord | Rejection:
    """A record's value as a clearance record, or why it is not one (naming the field)."""
    if value is None:
        return Rejection(code=RejectCode.EMPTY, reason="no value (a tombstone)")
    if not value.strip():
        return Rejection(code=RejectCode.EMPTY, reason="empty value")
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return Rejection(code=RejectCode.INVALID_JSON, reason=f"invalid JSON: {exc}")
    if not isinstance(doc, dict):
        return Rejection(
            code=RejectCode.NOT_OBJECT,
            reason=f"expected a JSON object (a clearance record), got {type(doc).__name__}",
        )
    try:
        return _TopicRecord.model_validate(doc)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        name = ".".join(map(str, first["loc"]))
        missing = first["type"] == "missing"
        parts = [f"field '{'.'.join(map(str, e['loc']))}': {e['msg']}" for e in errors[:3]]
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        return Rejection(
            code=RejectCode.MISSING_FIELD if missing else RejectCode.INVALID_FIELD,
            reason="not a clearance record: " + "; ".join(parts) + more,
            field=name,
        )


@dataclass(frozen=True, slots=True)
class Flushed:
    """What one flush wrote: per month, records handed in and rows in the file after
    (``None``: the file was left as it was, holding them all already); rejects
    appended; seconds taken."""

    months: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    rejected: int = 0
    seconds: float = 0.0

    def render(self) -> str:
        parts = [
            f"{m} +{n:,}" + (" (all there)" if rows is None else f" ({rows:,} rows)")
            for m, (n, rows) in sorted(self.months.items())
        ]
        if self.rejected:
            parts.append(f"rejected +{self.rejected:,}")
        return ", ".join(parts) or "nothing"


class Archive:
    """Month files in ``out``: records are buffered (:meth:`add`, :meth:`reject`) and
    written by :meth:`flush`, durably, before it returns. Not thread-safe: one caller
    at a time (the flush may run in another thread than the adds, not beside them)."""

    def __init__(self, out: Path, *, memory: str = "256MB") -> None:
        self.out = out
        self.memory = memory
        out.mkdir(parents=True, exist_ok=True)
        self._lock: IO[bytes] | None = (out / ".lock").open("ab")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise ArchiveBusy(
                f"{out} is being archived into by another process (it holds {out / '.lock'})"
            ) from None
        for stale in out.glob(f".*{_TMP}"):  # a flush cut short by a crash
            stale.unlink()
        self._batches: dict[str, list[bytes]] = {}
        self._rejects: list[DeadLetter] = []
        self._rejected_at = self._rejected_offsets()

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def pending(self) -> int:
        """Records handed in and not yet written."""
        return sum(map(len, self._batches.values())) + len(self._rejects)

    def add(self, record: ClearanceRecord) -> str:
        """Buffer ``record`` for its month file; returns the month."""
        month = month_of(record.exited_at)
        self._batches.setdefault(month, []).append(dump_json(record))
        return month

    def reject(
        self,
        raw: bytes | None,
        rejection: Rejection,
        *,
        topic: str,
        partition: int,
        offset: int,
        received_at: datetime | None = None,
    ) -> None:
        """Buffer a dead letter for ``rejected.jsonl`` (once per offset)."""
        if (topic, partition, offset) in self._rejected_at:
            return
        self._rejected_at.add((topic, partition, offset))
        self._rejects.append(
            dead_letter(
                raw or b"",
                rejection,
                topic=topic,
                partition=partition,
                offset=offset,
                received_at=received_at,
            )
        )

    def feed(
        self,
        value: bytes | None,
        *,
        topic: str,
        partition: int,
        offset: int,
        received_at: datetime | None = None,
    ) -> str | None:
        """One record off the topic: buffered for its month (returned) or rejected."""
        parsed = parse_clearance(value)
        if isinstance(parsed, Rejection):
            self.reject(
                value,
                parsed,
                topic=topic,
                partition=partition,
                offset=offset,
                received_at=received_at,
            )
            return None
        return self.add(parsed)

    def flush(self) -> Flushed:
        """Write what is buffered: each month file rewritten (or left as it was), the
        rejects appended, everything fsynced. On an error nothing buffered is lost
        from memory for a next try, and no file is left half-written."""
        started = time.perf_counter()
        months: dict[str, tuple[int, int | None]] = {}
        for month in sorted(self._batches):
            lines = self._batches[month]
            months[month] = (len(lines), self._merge(month, lines))
            del self._batches[month]
        rejected = len(self._rejects)
        if self._rejects:
            self._append_rejects(self._rejects)
            self._rejects = []
        return Flushed(months, rejected, time.perf_counter() - started)

    # --- the month files

    def month_path(self, month: str) -> Path:
        return self.out / f"{month}.parquet"

    def _merge(self, month: str, lines: list[bytes]) -> int | None:
        """Rewrite the month file as (old minus the batch's keys) + batch; None when
        the batch brought nothing new and the file was left alone."""
        target = self.month_path(month)
        batch = self.out / f".{month}.batch{_TMP}"
        tmp = self.out / f".{month}.parquet{_TMP}"
        with batch.open("wb") as handle:
            handle.write(b"\n".join(lines))
            handle.write(b"\n")
        select = ", ".join(f"{expr} AS {name}" for name, expr in PARQUET_COLUMNS.items())
        names = ", ".join(PARQUET_COLUMNS)
        con = duckdb.connect()
        try:
            con.execute("SET enable_progress_bar = false")
            con.execute("SET TimeZone = 'UTC'")
            con.execute(f"SET memory_limit = {quoted(self.memory)}")
            con.execute("SET preserve_insertion_order = true")
            # the batch, in topic order, the later record of a key kept
            con.execute(
                f"CREATE TEMP TABLE fresh AS SELECT {names} FROM ("
                f"SELECT {select}, ordinality AS seq FROM read_json({quoted(batch)}, "
                f"columns = {json_columns_sql()}, format = 'newline_delimited') "
                "WITH ORDINALITY) "
                "QUALIFY row_number() OVER (PARTITION BY visit_id, revision ORDER BY seq DESC) = 1 "
                "ORDER BY seq"
            )
            if target.exists():
                old = f"read_parquet({quoted(target)})"
                new = _count(
                    con,
                    f"SELECT count(*) FROM (SELECT * FROM fresh EXCEPT "
                    f"SELECT o.* FROM {old} o SEMI JOIN fresh f USING (visit_id, revision))",
                )
                if new == 0:
                    return None
                query = (
                    f"SELECT o.* FROM {old} o ANTI JOIN fresh f USING (visit_id, revision) "
                    "UNION ALL SELECT * FROM fresh"
                )
            else:
                query = "SELECT * FROM fresh"
            con.execute(f"COPY ({query}) TO {quoted(tmp)} (FORMAT parquet, COMPRESSION zstd)")
            rows = _count(con, f"SELECT count(*) FROM read_parquet({quoted(tmp)})")
        finally:
            con.close()
            batch.unlink(missing_ok=True)
        _fsync(tmp)
        os.replace(tmp, target)
        _fsync_dir(self.out)
        return rows

    # --- the rejects

    def _rejected_offsets(self) -> set[tuple[str, int, int]]:
        """Offsets already in the rejects file: a record read again is not added twice."""
        seen: set[tuple[str, int, int]] = set()
        for doc in _docs(self.out / REJECTED):
            topic, partition, offset = doc.get("topic"), doc.get("partition"), doc.get("offset")
            if isinstance(topic, str) and isinstance(partition, int) and isinstance(offset, int):
                seen.add((topic, partition, offset))
        return seen

    def _append_rejects(self, rejects: list[DeadLetter]) -> None:
        path = self.out / REJECTED
        with path.open("ab") as handle:
            handle.write(b"".join(dump_json(d, exclude_none=True) + b"\n" for d in rejects))
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_dir(path.parent)


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return 0 if row is None else int(row[0])


def _docs(path: Path) -> Iterator[dict[str, object]]:
    with suppress(FileNotFoundError), path.open("rb") as handle:
        for line in handle:
            with suppress(orjson.JSONDecodeError):
                doc = orjson.loads(line)
                if isinstance(doc, dict):
                    yield doc


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
