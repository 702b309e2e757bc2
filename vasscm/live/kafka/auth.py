"""Kafka security settings passed through to faust and to aiokafka clients.

One reading of ``VASSCM_BROKER_SECURITY_PROTOCOL`` and friends (vasscm.settings):
PLAINTEXT (the default), SSL (TLS, optionally with a client certificate),
SASL_PLAINTEXT or SASL_SSL with PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. Passwords stay
in ``SecretStr`` until the moment they are handed to the client.
"""

from __future__ import annotations

import ssl
from typing import Any

import faust
from faust.types.auth import CredentialsT

from vasscm.settings import Settings

__all__ = ["aiokafka_options", "faust_credentials", "ssl_context"]


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A client TLS context when the protocol uses TLS, else None."""
    if not settings.broker_security_protocol.endswith("SSL"):
        return None
    cafile = str(settings.broker_ssl_cafile) if settings.broker_ssl_cafile else None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    if settings.broker_ssl_certfile is not None and settings.broker_ssl_keyfile is not None:
        context.load_cert_chain(settings.broker_ssl_certfile, settings.broker_ssl_keyfile)
    return context


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """``broker_credentials`` for faust.App."""
    protocol = settings.broker_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(settings)
    if protocol == "SSL":
        assert context is not None
        return faust.SSLCredentials(context)
    password = settings.broker_sasl_password
    return faust.SASLCredentials(
        username=settings.broker_sasl_username,
        password=password.get_secret_value() if password is not None else None,
        ssl_context=context,
        mechanism=settings.broker_sasl_mechanism,
    )


def aiokafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaProducer/Consumer (vasscm produce, the demo)."""
    protocol = settings.broker_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if protocol.startswith("SASL"):
        password = settings.broker_sasl_password
        options |= {
            "sasl_mechanism": settings.broker_sasl_mechanism,
            "sasl_plain_username": settings.broker_sasl_username,
            "sasl_plain_password": password.get_secret_value() if password else None,
        }
    return options
