"""DCSA documents as records: what ``vasscm.dcsa-events`` carries and how it is read.

The topic carries each DCSA T&T event as its producer (or ``POST /dcsa/events``) sent
it; the fan-out maps it with :func:`read_dcsa` and dead-letters what cannot be mapped,
the reason naming the DCSA field.
"""

from __future__ import annotations

from typing import Final

import orjson
from pydantic import BaseModel, ConfigDict, Field

from vasscm.dcsa.inbound import from_dcsa
from vasscm.events import MAX_EVENT_BYTES, InputEvent, RejectCode, Rejection
from vasscm.sites import Registry

__all__ = ["DcsaEvent", "dcsa_key", "read_dcsa"]


class DcsaEvent(BaseModel):
    """A DCSA Track & Trace event (2.2 flat, or 3.0 ``metadata``/``payload``): the
    fields the adapter reads first; the rest as the DCSA specification defines them
    (dcsaorg/DCSA-OpenAPI, ``tnt/``)."""

    model_config = ConfigDict(extra="allow")

    eventID: str | None = Field(default=None, description="a UUID (2.2); in 3.0 under metadata")
    eventType: str | None = Field(
        default=None, description="EQUIPMENT or TRANSPORT (others are refused)"
    )
    eventClassifierCode: str | None = Field(default=None, description="ACT, EST or PLN")
    eventDateTime: str | None = None
    equipmentEventTypeCode: str | None = Field(
        default=None, description="GTIN, GTOT, LOAD, DISC; CUSS, CUSR from customs"
    )
    transportEventTypeCode: str | None = Field(default=None, description="ARRI or DEPA")
    equipmentReference: str | None = Field(default=None, description="the container number")


_KEYS: Final = ("equipmentReference", "eventID")


def read_dcsa(
    raw: bytes,
    *,
    default_site: str | None = None,
    sites: Registry | None = None,
    max_bytes: int = MAX_EVENT_BYTES,
) -> InputEvent | Rejection:
    """The contract event of one DCSA record, or why not. Never raises. The site is
    the one ``sites`` (the site registry) knows its UN/LOCODE for, else
    ``default_site`` (VASSCM_DCSA_SITE)."""
    if len(raw) > max_bytes:
        return Rejection(
            code=RejectCode.TOO_LARGE,
            reason=f"record is {len(raw):,} bytes; the limit is {max_bytes:,}",
        )
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejection(code=RejectCode.INVALID_JSON, reason=f"invalid JSON: {exc}")
    return from_dcsa(doc, default_site=default_site, sites=sites)


def dcsa_key(raw: bytes) -> bytes | None:
    """The key a DCSA record is sent with: its container (so one container's events
    stay in order on one partition), else its event id (3.0: under metadata)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    for part in (doc.get("payload"), doc.get("metadata"), doc):
        if isinstance(part, dict):
            for name in _KEYS:
                value = part.get(name)
                if isinstance(value, str) and value:
                    return value.encode()[:256]
    return None
