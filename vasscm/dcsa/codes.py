"""DCSA codes and the tables both directions share (vasscm.dcsa)."""

from __future__ import annotations

import uuid
from typing import Any, Final

from pydantic import TypeAdapter

from vasscm.events import Timestamp
from vasscm.sites import load_registry

#: UN/LOCODEs of the packaged site registry's sites (vasscm/data/sites.toml, where a
#: deployment's own registry adds its sites'). VNCLN (Cai Lan) and VNCLI (Cat Lai) are
#: in UN/LOCODE; VNHPH is Haiphong as carriers write it (VNHAP, UN/LOCODE's Hai Phong,
#: read too); VNMOC for Mong Cai is not confirmed against the UN/LOCODE table.
PACKAGED: Final = load_registry()
SITE_OF_LOCODE: Final = PACKAGED.locodes
LOCODE_OF_SITE: Final = {s: c for s in PACKAGED.sites if (c := PACKAGED.locode_of(s))}
#: UUID5 namespace of the DCSA ``eventID`` made from a contract ``event_id``.
NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "urn:vasscm:dcsa:eventID")

EQUIPMENT: Final = {
    "GTIN": "GATE_IN",
    "GTOT": "GATE_OUT",
    "LOAD": "LOADED",
    "DISC": "DISCHARGED",
    "CUSS": "SCAN_SELECTED",
    "CUSR": "ELIGIBLE",
}
CODE_OF: Final = {kind: code for code, kind in EQUIPMENT.items()}
UNMAPPED: Final = {  # Event Domain 3.1.0's other equipmentEventTypeCodes
    "STUF": "Stuffed",
    "STRP": "Stripped",
    "PICK": "Pick-up",
    "AVPU": "Available for Pick-up",
    "DROP": "Drop-off",
    "AVDO": "Available for Drop-off",
    "INSP": "Inspected",
    "RSEA": "Resealed",
    "RMVD": "Removed",
    "CROS": "Crossed",
}
CLASSIFIERS: Final = ("ACT", "PLN", "EST")
METADATA: Final = frozenset({"eventID", "eventCreatedDateTime", "eventType", "retractedEventID"})
TIMESTAMP: Final[TypeAdapter[Any]] = TypeAdapter(Timestamp)


def event_uuid(event_id: str, container_no: str | None = None) -> str:
    """The DCSA ``eventID`` of a contract event (of one container of a customs event:
    each DCSA document is one message and needs its own id)."""
    name = event_id if container_no is None else f"{event_id}/{container_no}"
    return str(uuid.uuid5(NAMESPACE, name))
