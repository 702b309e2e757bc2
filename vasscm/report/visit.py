"""The slim visit row the report keeps of each clearance record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final, TypeAlias

if TYPE_CHECKING:  # the models are the reference reader's; the engine runs without them
    from vasscm.events import ClearanceRecord

__all__ = ["SEGMENTS", "RecordLike", "Visit"]

#: Appended in contract v3 (8.1): lodgement + customs = release. Appended, so a CSV
#: reader of the v2 columns finds them where they were.
SEGMENTS: Final = ("release", "exit", "dwell", "scan_wait", "lodgement", "customs")


@dataclass(frozen=True, slots=True)
class Visit:
    """What the report keeps of a :class:`ClearanceRecord`: about a fifth of its memory,
    so a year of a busy port's clearances fits."""

    visit_id: str
    revision: int
    supersedes: tuple[str, ...]
    site: str
    direction: str
    channel: str
    exited_at: datetime
    durations: tuple[float | None, ...]  # one per SEGMENTS entry; None: did not happen
    pre_cleared: bool
    scanned: bool
    alerted: bool
    # Contract 7.2: (form, on time) of each report or notice that was due.
    duties: tuple[tuple[str, bool], ...] = ()

    @classmethod
    def of(cls, record: ClearanceRecord | Visit) -> Visit:
        if isinstance(record, Visit):
            return record
        return cls(
            visit_id=record.visit_id,
            revision=record.revision,
            supersedes=tuple(record.supersedes),
            site=record.site,
            direction=str(record.direction),
            channel=str(record.channel),
            exited_at=record.exited_at,
            durations=tuple(record.segments.get(s) for s in SEGMENTS),
            pre_cleared=record.pre_cleared,
            scanned=record.scanned,
            alerted=bool(record.alerts),
            duties=tuple((d.form, d.on_time) for d in record.obligations),
        )


#: Anything the statistics take: contract records, or the slim rows :class:`Loaded` holds.
RecordLike: TypeAlias = "ClearanceRecord | Visit"
