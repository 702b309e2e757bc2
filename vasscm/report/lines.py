"""What a line of a clearances file is, before any model reads it: a malformed line,
or the sign that the whole file is another kind of vasscm file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import orjson

from vasscm.errors import VasscmError

__all__ = ["Malformed", "NotClearances", "kind_of_line", "other_kind"]


class NotClearances(VasscmError):
    """The file is another kind of vasscm file (an event log, alerts, ...)."""


@dataclass(frozen=True, slots=True)
class Malformed:
    """A line that is not a clearance record (1-based line number)."""

    line: int
    reason: str


#: What a file is, told by fields its first record has (and a clearance record lacks).
_OTHER_KINDS: Final = (
    (("occurred_at", "event_id", "type"), "an event log, the input of `vasscm replay`"),
    (("alert_id", "kind", "severity"), "alerts (alerts.jsonl)"),
    (("stage", "stage_since", "visit_id"), "visit states (state.jsonl)"),
    (("reason", "code", "raw"), "rejected records (rejected.jsonl)"),
)


def other_kind(doc: object) -> str | None:
    """The kind of vasscm file a parsed first record belongs to, if not clearances."""
    if not isinstance(doc, dict) or ("exited_at" in doc and "segments" in doc):
        return None
    for fields, kind in _OTHER_KINDS:
        if all(name in doc for name in fields):
            return kind
    return None


def kind_of_line(raw: bytes) -> str | None:
    """As :func:`other_kind`, of a raw line (None when it is not JSON)."""
    try:
        return other_kind(orjson.loads(raw))
    except orjson.JSONDecodeError:
        return None
