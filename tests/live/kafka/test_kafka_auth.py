"""Kafka TLS and SASL settings reach faust and aiokafka, and secrets stay secret."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import faust
import pydantic
import pytest

from vasscm.live.kafka.auth import aiokafka_options, faust_credentials, ssl_context
from vasscm.settings import Settings

PASSWORD = "pa55-w0rd-never-logged"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and key (openssl), standing for a CA and a client."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to make a test certificate"
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=vasscm-test", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


def test_plaintext_by_default_passes_nothing() -> None:
    settings = Settings()
    assert faust_credentials(settings) is None
    assert {"security_protocol": "PLAINTEXT"} == aiokafka_options(settings)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_over_tls_reaches_faust_and_aiokafka(
    mechanism: str, certificate: tuple[Path, Path]
) -> None:
    cert, _ = certificate
    settings = Settings(
        broker_security_protocol="SASL_SSL",
        broker_sasl_mechanism=mechanism,
        broker_sasl_username="vasscm",
        broker_sasl_password=PASSWORD,
        broker_ssl_cafile=cert,
    )
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert (mechanism, "SASL_SSL") == (credentials.mechanism.value, credentials.protocol.value)
    assert ("vasscm", PASSWORD) == (credentials.username, credentials.password)
    assert PASSWORD not in repr(credentials)
    options = aiokafka_options(settings)
    assert "SASL_SSL" == options["security_protocol"]
    assert mechanism == options["sasl_mechanism"]
    assert PASSWORD == options["sasl_plain_password"]
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_tls_with_a_client_certificate(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    settings = Settings(
        broker_security_protocol="SSL",
        broker_ssl_cafile=cert,
        broker_ssl_certfile=cert,
        broker_ssl_keyfile=key,
    )
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SSLCredentials)
    context = ssl_context(settings)
    assert context is not None
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"broker_security_protocol": "SASL_PLAINTEXT"}, "needs VASSCM_BROKER_SASL_USERNAME"),
        ({"broker_ssl_certfile": "/etc/hostname"}, "_KEYFILE go together"),
        ({"broker_ssl_cafile": "/nonexistent/ca.pem"}, "no such file"),
        ({"broker_sasl_mechanism": "GSSAPI"}, "broker_sasl_mechanism"),
    ],
)
def test_incomplete_security_settings_are_refused_by_name(
    fields: dict[str, str], message: str
) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        Settings(**fields)  # type: ignore[arg-type]


def test_secrets_never_show_in_the_settings_repr_or_dump() -> None:
    settings = Settings(
        broker_security_protocol="SASL_PLAINTEXT",
        broker_sasl_username="vasscm",
        broker_sasl_password=PASSWORD,
        web_token="web-token-never-logged",
    )
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert PASSWORD not in text
        assert "web-token-never-logged" not in text
