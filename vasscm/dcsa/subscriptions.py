"""DCSA T&T 2.2 event subscriptions: what a subscriber asks for, and how a delivery is
signed. Pure: no I/O (the deliveries are vasscm.live.dcsa_out.webhooks).

A subscription is created with ``POST /dcsa/subscriptions`` (T&T 2.2's
``/v2/event-subscriptions`` body): ``callbackUrl`` and a Base64 ``secret``, and the
filters vasscm's events can match, each a list (or a comma-separated text) of which
any one value matches, all filters together (DCSA: OR within a filter, AND between):
``eventType`` (only ``EQUIPMENT`` is sent), ``equipmentEventTypeCode`` (CUSS, CUSI,
CUSR, GTOT, LOAD) and ``equipmentReference``; and vasscm's ``vasscmSite``.

Each delivery is a POST of a JSON array of events to the callback, with
``Notification-Signature: sha256=<hex>``, the HMAC-SHA256 of the exact body with the
decoded secret, ``Subscription-ID`` and ``API-Version``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vasscm.dcsa.milestones import MILESTONE_CODES
from vasscm.errors import VasscmError

__all__ = [
    "API_VERSION",
    "CLASSIFIERS",
    "Subscription",
    "SubscriptionError",
    "matches",
    "new_subscription",
    "sign",
    "stored",
    "valid_secret",
    "verify",
    "with_new_secret",
]

#: The T&T version of the events sent, in every delivery's API-Version header.
API_VERSION: Final = "2.2.0"
_MAX_SECRET: Final = 1024
#: The eventClassifierCodes vasscm sends: milestones reached, and estimated exits.
CLASSIFIERS: Final = ("ACT", "EST")


class SubscriptionError(VasscmError, ValueError):
    """A subscription request that cannot be taken: names the field and the problem."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def _listed(value: Any) -> Any:
    if isinstance(value, str):  # DCSA's query form: comma-separated
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


class Subscription(BaseModel):
    """A subscription as stored on ``vasscm.dcsa-subscriptions`` (key: its id). The
    secret is stored as given, Base64, because every worker signs with it; it is
    never returned, logged or exported."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subscriptionID: str = Field(description="a UUID given by vasscm")
    callbackUrl: str = Field(max_length=2000, description="http(s) URL the events are posted to")
    secret: str = Field(description="Base64 shared secret the signature is computed with")
    eventType: tuple[str, ...] = ()
    # ACT, EST; none given: ACT only (estimates go to those that ask for them)
    eventClassifierCode: tuple[str, ...] = ()
    equipmentEventTypeCode: tuple[str, ...] = ()
    equipmentReference: tuple[str, ...] = ()
    vasscmSite: tuple[str, ...] = ()
    createdDateTime: str = Field(description="when it was created: only later events are sent")
    created_ms: int = Field(description="createdDateTime in epoch milliseconds")

    @field_validator(
        "eventType",
        "eventClassifierCode",
        "equipmentEventTypeCode",
        "equipmentReference",
        "vasscmSite",
        mode="before",
    )
    @classmethod
    def split_lists(cls, value: Any) -> Any:
        return _listed(value)

    @property
    def filtered(self) -> bool:
        """Whether any filter is set (without one, every event matches)."""
        return bool(
            self.eventType or self.eventClassifierCode or self.equipmentEventTypeCode
            or self.equipmentReference or self.vasscmSite
        )  # fmt: skip

    @property
    def key(self) -> bytes:
        return base64.b64decode(self.secret)

    def public(self) -> dict[str, Any]:
        """What GET returns: everything but the secret (DCSA: only valid in POST)."""
        data = self.model_dump(exclude={"secret", "created_ms"})
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items() if v != ()}


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise SubscriptionError("callbackUrl", "required, an http or https URL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SubscriptionError("callbackUrl", f"{value[:200]!r} is not an http or https URL")
    if len(value) > 2000:
        raise SubscriptionError("callbackUrl", "longer than 2,000 characters")
    return value


def valid_secret(value: Any) -> str:
    """``value`` when it is a Base64 secret of 16 to 1,024 bytes, else SubscriptionError."""
    if not isinstance(value, str) or not value:
        raise SubscriptionError("secret", "required, Base64 text of the shared secret")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SubscriptionError("secret", "is not Base64") from None
    if not 16 <= len(raw) <= _MAX_SECRET:
        raise SubscriptionError("secret", f"decodes to {len(raw)} bytes; 16 to 1,024 are taken")
    return value


def new_subscription(body: Any, now: datetime | None = None) -> Subscription:
    """The subscription a POST body asks for, or :class:`SubscriptionError`."""
    if not isinstance(body, Mapping):
        raise SubscriptionError("body", "must be a JSON object")
    known = {"callbackUrl", "secret", "eventType", "eventClassifierCode", "equipmentEventTypeCode"}
    known |= {"equipmentReference", "vasscmSite"}
    unknown = sorted(set(body) - known)
    if unknown:  # a filter vasscm cannot apply would silently widen the subscription
        raise SubscriptionError(
            unknown[0],
            "is not a filter vasscm's events can match (" + ", ".join(sorted(known)) + ")",
        )
    now = now or datetime.now(UTC)
    data: dict[str, Any] = {
        "subscriptionID": str(uuid.uuid4()),
        "callbackUrl": _url(body.get("callbackUrl")),
        "secret": valid_secret(body.get("secret")),
        "createdDateTime": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "created_ms": int(now.timestamp() * 1000),
    }
    for name in (
        "eventType",
        "eventClassifierCode",
        "equipmentEventTypeCode",
        "equipmentReference",
        "vasscmSite",
    ):
        if name in body:
            values = _listed(body[name])
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise SubscriptionError(name, "must be a list of texts, or one comma-separated")
            data[name] = values
    for code in data.get("equipmentEventTypeCode", ()):
        if code not in MILESTONE_CODES:
            raise SubscriptionError(
                "equipmentEventTypeCode",
                f"{code!r} is never sent; vasscm sends " + ", ".join(MILESTONE_CODES),
            )
    for classifier in data.get("eventClassifierCode", ()):
        if classifier not in CLASSIFIERS:
            raise SubscriptionError(
                "eventClassifierCode",
                f"{classifier!r} is never sent; vasscm sends " + ", ".join(CLASSIFIERS),
            )
    for kind in data.get("eventType", ()):
        if kind not in ("EQUIPMENT", "TRANSPORT", "SHIPMENT"):
            raise SubscriptionError("eventType", f"{kind!r} is not a DCSA event type")
    try:
        return Subscription.model_validate(data)
    except ValidationError as exc:  # pragma: no cover - the checks above come first
        error = exc.errors()[0]
        raise SubscriptionError(str(error["loc"][0]), error["msg"]) from None


def with_new_secret(sub: Subscription, body: Any) -> Subscription:
    """``sub`` with the secret of a PUT .../secret body, or SubscriptionError."""
    if not isinstance(body, Mapping) or set(body) != {"secret"}:
        raise SubscriptionError("body", 'must be {"secret": "<Base64>"} and nothing else')
    return sub.model_copy(update={"secret": valid_secret(body["secret"])})


def matches(sub: Subscription, doc: Mapping[str, Any]) -> bool:
    """Whether an event passes every filter of the subscription (without a classifier
    filter, only ``ACT`` events do: an estimate goes to those who asked for it)."""
    if doc.get("eventClassifierCode", "ACT") not in (sub.eventClassifierCode or ("ACT",)):
        return False
    for name, wanted in (
        ("eventType", sub.eventType),
        ("equipmentEventTypeCode", sub.equipmentEventTypeCode),
        ("equipmentReference", sub.equipmentReference),
        ("vasscmSite", sub.vasscmSite),
    ):
        if wanted and doc.get(name) not in wanted:
            return False
    return True


def sign(key: bytes, body: bytes) -> str:
    """The Notification-Signature header's value for ``body``."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(key: bytes, body: bytes, header: str | None) -> bool:
    """What a receiver checks: the header is the body's signature (constant time)."""
    return header is not None and hmac.compare_digest(sign(key, body), header.strip())


def stored(sub: Subscription) -> bytes:
    return orjson.dumps(sub.model_dump())
