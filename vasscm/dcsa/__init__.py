"""DCSA Track & Trace events to and from the contract's input events. Pure: no I/O.

A terminal or carrier that speaks DCSA T&T can feed vasscm through :func:`from_dcsa`,
and the simulator's log can be written as DCSA with :func:`to_dcsa`; the round trip
gives back the contract events (tested on a simulated log).

Specs followed, from github.com/dcsaorg/DCSA-OpenAPI at commit 5d0f8337a994:

- ``tnt/v2/test/tnt_v2.2.0.yaml``: T&T 2.2.0 with Event Domain 1.0.4 resolved (the
  ``tnt/v2/TNT_v2.2.0.yaml`` beside it only points at SwaggerHub). Flat events:
  ``eventType``, ``eventClassifierCode``, ``equipmentEventTypeCode`` /
  ``transportEventTypeCode``, ``transportCall`` with ``UNLocationCode``,
  ``importVoyageNumber``, ``exportVoyageNumber``, ``vessel.vesselIMONumber``. The
  output of :func:`to_dcsa` is this shape.
- ``tnt/v2/tnt_v2.3.0.yaml`` (Event Domain 2.0.0): ``transportCall.location.UNLocationCode``
  replaces ``transportCall.UNLocationCode``; both are read.
- ``tnt/v3/tnt.yaml``, which is 3.0.0-Beta-1 (Event Domain 3.1.0), the only 3.x T&T in
  that repository: an event is ``{"metadata": {...}, "payload": {...}}``, the vessel's
  name is ``name``, a seal's number ``number``, the voyages
  ``carrierImportVoyageNumber`` / ``carrierExportVoyageNumber``, document links
  ``relatedDocumentReferences`` of ``type``/``value``. Read by :func:`from_dcsa`, with
  rejections naming ``payload.…`` / ``metadata.…``. Its codes are still the four-letter
  ones; no full-word enums (``GATED_OUT``…) exist in that repository, so none are read.
- ``domain/event/event_domain_v3.1.0.yaml``: the customs codes ``CUSS`` (selected for
  scan), ``CUSI`` (selected for inspection), ``CUSR`` (released), and the document type
  ``CUC`` (Customs Clearance) that carries the declaration number.

Choices, each because DCSA has no place for what the contract needs:

- Only ``ACT`` equipment events map: a planned or estimated move is not a movement.
  ``ARRI`` ``EST``/``PLN`` is a ``VESSEL_EXPECTED`` (``eta`` = ``eventDateTime``,
  ``occurred_at`` = ``eventCreatedDateTime``); ``DEPA`` ``EST``/``PLN`` has no contract
  event and is refused. ``CUSI`` is refused: a physical inspection is no contract
  stage, and reading it as a scan selection would invent one.
- The voyage is the import voyage for ``DISC`` and ``ARRI`` and the export voyage for
  ``LOAD`` and ``DEPA`` (``carrierVoyageNumber``, deprecated in 2.x, failing both): each
  pairing the core makes (a discharge with its arrival, a loading with its departure)
  then reads the same number. A carrier whose two numbers differ puts a call's
  arrival and departure under two voyages.
- ``GTIN`` needs a direction DCSA does not give (``emptyIndicatorCode`` and
  ``modeOfTransport`` do not tell import from export): the ``direction`` argument,
  ``"export"`` by default, a gate-in at a seaport being an export's arrival.
- The gate of ``GTIN``/``GTOT`` is ``transportCall.facilityCode`` or
  ``eventLocation.facilityCode`` or ``transportCall.otherFacility``; an event with none
  is refused rather than given a made-up gate.
- ``declaration_no`` is the ``CUC`` document reference. DCSA 2.2's ``references``
  types (FF, SI, PO, CR, AAO, EQ) hold no customs reference (CR is the customer's), so
  a 2.x document gives it as ``documentReferences`` with ``documentReferenceType``
  ``CUC``, outside the 2.2 enum (which lists only BKG and TRD).
- The site is the ``site`` argument, else the UN/LOCODE through :data:`SITE_OF_LOCODE`.
- Contract fields without a DCSA field travel as vendor fields ``vasscm…`` (the 2.2
  schemas do not forbid extra properties): the contract ``event_id`` (DCSA's
  ``eventID`` must be a UUID: a UUID5 of it), ``received_at``, ``source``, a GATE_IN's
  direction, gate and plate, ELIGIBLE's basis (``released`` when absent), a vessel
  known only by name (2.2's ``vessel`` requires the IMO number), a site without a
  UN/LOCODE. They win over the arguments, so a log written as DCSA reads back as it was.
- :func:`to_dcsa` writes ``emptyIndicatorCode`` ``LADEN`` and ``sealType`` ``BLT``,
  required by 2.2 and unknown to the contract.
"""

from __future__ import annotations

from vasscm.dcsa.codes import LOCODE_OF_SITE, NAMESPACE, SITE_OF_LOCODE, event_uuid
from vasscm.dcsa.inbound import from_dcsa
from vasscm.dcsa.outbound import to_dcsa
from vasscm.dcsa.records import DcsaEvent, dcsa_key, read_dcsa

__all__ = [
    "LOCODE_OF_SITE",
    "NAMESPACE",
    "SITE_OF_LOCODE",
    "DcsaEvent",
    "dcsa_key",
    "event_uuid",
    "from_dcsa",
    "read_dcsa",
    "to_dcsa",
]
