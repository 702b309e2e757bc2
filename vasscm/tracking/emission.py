"""What goes out for a visit: its clearance record, and the books that remember it.

A record is re-emitted (revision + 1) only when its content changes, which the
book's digest of the last content tells. When a visit's id changes (its arrival
became known, or a late exit split it), its book follows it: the new id's records
list the old ids in ``supersedes`` and alerts raised under an old id are resolved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from vasscm.durations import iso_ms, to_ms
from vasscm.events import Alert, ClearanceRecord, Rejection
from vasscm.tracking.alerts import AlertSpec, Row, retired_alert
from vasscm.tracking.obligations import Obligation
from vasscm.tracking.state import Book
from vasscm.tracking.visit import Visit

Outcome = Literal["accepted", "duplicate", "stale", "future"]


@dataclass(slots=True)
class Effects:
    """What applying an event (or a check) produced, for the shell to publish.

    Outputs are plain data (:data:`Row`) until they are written: ``orjson.dumps`` of a
    row is the record's line. :attr:`records` and :attr:`alerts` give them as the
    contract's models, validated, for the shells that count them and for tests.
    """

    outcome: Outcome = "accepted"
    record_rows: list[Row] = field(default_factory=list)
    alert_rows: list[Row] = field(default_factory=list)
    rejection: Rejection | None = None  # why a "stale" event was refused

    @property
    def records(self) -> list[ClearanceRecord]:
        return [ClearanceRecord.model_validate(row) for row in self.record_rows]

    @property
    def alerts(self) -> list[Alert]:
        return [Alert.model_validate(row) for row in self.alert_rows]


def record(v: Visit, desired: dict[str, AlertSpec], duties: Sequence[Obligation]) -> dict[str, Any]:
    """The record content (no revision): its digest decides whether to re-emit."""
    assert v.exited is not None
    segments: dict[str, float] = {}
    pre_cleared = v.eligible is not None and v.arrived is not None and v.eligible < v.arrived
    if v.eligible is not None:
        if v.arrived is not None:
            release = max(0, v.eligible - v.arrived)
            segments["release"] = release / 1000
            if v.lodged is not None:  # contract 8.1: whose time the release was
                lodgement = min(max(0, v.lodged - v.arrived), release)
                segments["lodgement"] = lodgement / 1000
                segments["customs"] = (release - lodgement) / 1000
        start = v.arrived if pre_cleared and v.arrived is not None else v.eligible
        segments["exit"] = max(0, v.exited - start) / 1000
    if v.arrived is not None:
        segments["dwell"] = max(0, v.exited - v.arrived) / 1000
    if v.scanned is not None:
        froms = [t for t in (v.selected, v.arrived) if t is not None]
        if froms:
            segments["scan_wait"] = max(0, v.scanned - max(froms)) / 1000
    kinds = sorted({spec.kind.value for spec in desired.values()})
    return {
        "container_no": v.container_no,
        "site": v.site,
        "direction": v.direction,
        "visit_id": v.visit_id,
        "declaration_nos": v.decls,
        "channel": v.channel,
        "arrived_at": v.arrived,
        "eligible_at": v.eligible,
        "exited_at": v.exited,
        "segments": segments,
        "pre_cleared": pre_cleared,
        "pre_lodged": v.lodged is not None and v.arrived is not None and v.lodged <= v.arrived,
        "scanned": v.scanned is not None,
        "scan_result": v.scan_result,
        "alerts": kinds,
        # As epoch-ms tuples: the content is digested at every event of a closed visit,
        # and formatted only when it goes out (to_record).
        "obligations": [duty[:5] for duty in duties],
    }


def to_record(content: dict[str, Any], book: Book) -> Row:
    """The clearance record as plain data, in the contract's field order
    (:class:`ClearanceRecord`)."""
    arrived, eligible = content["arrived_at"], content["eligible_at"]
    return {
        **content,
        "arrived_at": None if arrived is None else iso_ms(arrived),
        "eligible_at": None if eligible is None else iso_ms(eligible),
        "exited_at": iso_ms(content["exited_at"]),
        "obligations": [Obligation(*duty).row() for duty in content["obligations"]],
        "revision": book.revision,
        "supersedes": list(book.aliases),
    }


def match_books(
    old: list[Book],
    visits: list[Visit],
    alerts: list[Row],
    now: int,
    earlier: list[Book] | tuple[()] = (),
) -> list[Book]:
    """Carry each visit's emission history over by visit id.

    A visit whose id changed (its arrival became known, or a late exit split it)
    takes the history of the old visit that held its first event, lists the old id
    in ``supersedes`` when a record went out under it, and resolves alerts still
    firing under the old id (appended to ``alerts``). ``earlier``: the books of the
    visits before these, unchanged, but one of them may list an id that a visit
    here takes up again.
    """
    by_id = {b.visit_id: b for b in old}
    out: list[Book] = []
    for v in visits:
        book = by_id.pop(v.visit_id, None)
        if book is None:
            book = Book(visit_id=v.visit_id)
            for other in (*earlier, *old, *out):
                if v.visit_id in other.aliases:  # the id is its own visit again
                    other.aliases.remove(v.visit_id)
                    book.revision = max(book.revision, other.revision)
                other.retired = [r for r in other.retired if r[0] != v.visit_id]
        out.append(book)
    if by_id:  # ids no longer in use
        for stale in by_id.values():
            if not stale.revision and all(a[0] != "f" for a in stale.alerts.values()):
                continue  # nothing went out under the old id
            target = _owner(stale, visits, out)
            if stale.revision and target is not None:
                known = {*target.aliases, stale.visit_id, *stale.aliases}
                target.aliases = sorted(known - {target.visit_id})
                target.revision = max(target.revision, stale.revision)
            for key, (status, since) in stale.alerts.items():
                if status == "f":
                    kind, stage = key.split("/", 1)
                    alerts.append(
                        retired_alert(stale.visit_id, kind, stage, since, now, visits, target)
                    )
                    if target is not None:
                        target.retired.append([stale.visit_id, key, since])
            if target is not None:
                target.retired.extend(stale.retired)
    return out


def _owner(stale: Book, visits: list[Visit], books: list[Book]) -> Book | None:
    # The id encodes the anchor instant to the second; the visit whose span covers
    # that second took over. (Compared to the millisecond, an anchor event at 38.6 s
    # falls before its own visit's 38.0 s stamp, and the old id went to the last visit
    # instead: a ghost record nothing superseded.)
    # Where two visits share that second (one's exit, the next one's first event),
    # the one whose first event or arrival is in it: ids are stamped from those.
    anchor = _anchor_of(stale.visit_id)
    covering = [
        (v, b)
        for v, b in zip(visits, books, strict=True)
        if v.events[0].t // 1000 * 1000 <= anchor <= v.events[-1].t
    ]
    for v, b in covering:
        if anchor in (v.events[0].t // 1000 * 1000, (v.arrived or 0) // 1000 * 1000):
            return b
    if covering:
        return covering[0][1]
    return books[-1] if books else None


def _anchor_of(visit_id: str) -> int:
    stamp = visit_id.rsplit("-", 1)[1]
    return to_ms(datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC))
