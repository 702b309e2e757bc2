"""Reading a clearances JSONL file: malformed lines counted, revisions de-duplicated."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import orjson
from pydantic import ConfigDict, ValidationError

from vasscm.events import ClearanceRecord
from vasscm.report.lines import Malformed, NotClearances, kind_of_line
from vasscm.report.visit import RecordLike, Visit

__all__ = [
    "Loaded",
    "Malformed",
    "NotClearances",
    "current_records",
    "latest_records",
    "load_clearances",
]

T = TypeVar("T")


class _StoredRecord(ClearanceRecord):
    # The contract grows by optional fields: a report over a newer writer's file
    # should still run, so unknown fields are ignored rather than rejected.
    model_config = ConfigDict(frozen=True, extra="ignore")


@dataclass(frozen=True, slots=True)
class Loaded:
    """The records of one file that count: latest revision, not superseded."""

    path: Path
    records: tuple[Visit, ...]
    lines: int
    records_read: int
    older_revisions: int
    superseded: int
    malformed: int


class _Tally:
    __slots__ = ("lines", "malformed")

    def __init__(self) -> None:
        self.lines = 0
        self.malformed = 0


def _read_lines(
    path: Path, tally: _Tally, on_malformed: Callable[[Malformed], None] | None
) -> Iterator[ClearanceRecord]:
    with path.open("rb") as stream:  # streamed: a year of clearances need not fit twice
        first = True
        for number, raw in enumerate(stream, start=1):
            tally.lines = number
            if not raw.strip():
                continue
            item = _parse_line(number, raw)
            if first and isinstance(item, Malformed):
                kind = kind_of_line(raw)
                if kind is not None:  # the first record says it: no line-by-line warnings
                    raise NotClearances(
                        f"{path} holds {kind} (line {number}); vasscm report reads the "
                        "clearance records that `vasscm replay` writes to clearances.jsonl"
                    )
            first = False
            if isinstance(item, Malformed):
                tally.malformed += 1
                if on_malformed is not None:
                    on_malformed(item)
            else:
                yield item


def _parse_line(number: int, raw: bytes) -> ClearanceRecord | Malformed:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Malformed(number, f"invalid JSON: {exc}")
    if not isinstance(doc, dict):
        return Malformed(number, f"expected a JSON object, got {type(doc).__name__}")
    try:
        return _StoredRecord.model_validate(doc)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        parts = [f"field '{'.'.join(map(str, e['loc']))}': {e['msg']}" for e in errors[:3]]
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        return Malformed(number, "not a clearance record: " + "; ".join(parts) + more)


def current_records(
    records: Iterable[T], ident: Callable[[T], tuple[str, int, Sequence[str]]]
) -> tuple[dict[str, T], int]:
    """The consumer rule of ``vasscm.clearances`` (README, "Extensions to the contract"):
    per visit id its latest revision (on equal revisions the later record), and an id
    dropped once a record of a revision at least its latest lists it in ``supersedes``
    (the tracker lists an old id only at a higher one). ``ident``
    gives a record's (visit id, revision, supersedes). Returns the records kept, by
    visit id, and how many were read.

    One rule for every reader: the report (here and in SQL, vasscm.report.engine), and
    the tests that compare live with replay.
    """
    best: dict[str, T] = {}
    revision: dict[str, int] = {}
    listed: dict[str, int] = {}  # id -> highest revision of a record listing it
    read = 0
    for item in records:
        read += 1
        visit_id, rev, supersedes = ident(item)
        if rev >= revision.get(visit_id, 0):
            best[visit_id], revision[visit_id] = item, rev
        for old in supersedes:
            if old != visit_id and rev > listed.get(old, 0):
                listed[old] = rev
    kept = {k: v for k, v in best.items() if revision[k] > listed.get(k, 0)}
    return kept, read


def latest_records(records: Iterable[RecordLike]) -> tuple[list[Visit], int, int]:
    """The records that count (:func:`current_records`), as report rows.

    Returns ``(kept, older_revisions_dropped, superseded_dropped)``.
    """
    ids: set[str] = set()

    def ident(visit: Visit) -> tuple[str, int, tuple[str, ...]]:
        ids.add(visit.visit_id)
        return visit.visit_id, visit.revision, visit.supersedes

    kept, read = current_records((Visit.of(item) for item in records), ident)
    return list(kept.values()), read - len(ids), len(ids) - len(kept)


def load_clearances(path: Path, on_malformed: Callable[[Malformed], None] | None = None) -> Loaded:
    """Stream ``path`` (JSONL), skip blank lines, count malformed ones, de-duplicate."""
    tally = _Tally()
    kept, older, superseded = latest_records(_read_lines(path, tally, on_malformed))
    read = len(kept) + older + superseded
    return Loaded(path, tuple(kept), tally.lines, read, older, superseded, tally.malformed)
