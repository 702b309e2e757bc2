"""Tests for ``vasscm.settings``: defaults, ``VASSCM_`` overrides, and that it alone reads
the environment.

The defaults are the contract's thresholds (section 4); the policy they build must be
the one the pure core uses when nobody configures anything, so replay and live judge
stalls alike.
"""

from __future__ import annotations

import ast
import os
from datetime import timedelta
from pathlib import Path

import pydantic
import pytest

import vasscm
from vasscm.settings import Settings, bootstrap_servers
from vasscm.tracking import DEFAULT_POLICY

_HOUR_MS = 3_600_000
PACKAGE = Path(vasscm.__file__).parent


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``VASSCM_`` variable of the machine running the tests leaks into these tests."""
    for name in list(os.environ):
        if name.upper().startswith("VASSCM_"):
            monkeypatch.delenv(name)


def settings_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    """``Settings()`` read with these ``VASSCM_*`` variables set (names without the prefix)."""
    for name, value in env.items():
        monkeypatch.setenv(f"VASSCM_{name.upper()}", value)
    return Settings()


# --- defaults -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        pytest.param("stall_awaiting_scan", timedelta(hours=4), id="AWAITING_SCAN-4h"),
        pytest.param(
            "stall_awaiting_release_import", timedelta(hours=48), id="AWAITING_RELEASE-import-48h"
        ),
        pytest.param(
            "stall_awaiting_release_export", timedelta(hours=24), id="AWAITING_RELEASE-export-24h"
        ),
        pytest.param("stall_released", timedelta(hours=72), id="RELEASED-72h"),
        pytest.param("stall_held", timedelta(hours=24), id="HELD-24h"),
        pytest.param("stall_suspended", timedelta(hours=24), id="SUSPENDED-24h"),
        pytest.param("stall_expected", timedelta(days=7), id="EXPECTED-7d"),
        pytest.param("late_gate_out", timedelta(minutes=15), id="LATE-GATE_OUT-15min"),
        pytest.param("late_loaded", timedelta(minutes=30), id="LATE-LOADED-30min"),
    ],
)
def test_defaults_are_the_contract_thresholds(field: str, expected: timedelta) -> None:
    """Unconfigured, every threshold is the contract's (section 4)."""
    assert expected == getattr(Settings(), field)


def test_default_policy_is_the_cores_default() -> None:
    """``Settings().policy()`` is exactly ``DEFAULT_POLICY``: live and replay agree."""
    assert DEFAULT_POLICY == Settings().policy()


@pytest.mark.parametrize(
    ("stage", "direction", "hours"),
    [
        pytest.param("AWAITING_SCAN", "import", 4, id="AWAITING_SCAN"),
        pytest.param("AWAITING_RELEASE", "import", 48, id="AWAITING_RELEASE-import"),
        pytest.param("AWAITING_RELEASE", "export", 24, id="AWAITING_RELEASE-export"),
        pytest.param("AWAITING_RELEASE", "", 48, id="AWAITING_RELEASE-direction-unknown"),
        pytest.param("RELEASED", "export", 72, id="RELEASED"),
        pytest.param("HELD", "import", 24, id="HELD"),
        pytest.param("SUSPENDED", "export", 24, id="SUSPENDED"),
        pytest.param("EXPECTED", "import", 7 * 24, id="EXPECTED"),
    ],
)
def test_default_policy_stall_thresholds_in_ms(stage: str, direction: str, hours: int) -> None:
    """The policy hands the core the contract's thresholds in milliseconds."""
    assert hours * _HOUR_MS == Settings().policy().stall_after(stage, direction)


def test_default_policy_late_report_deadlines_in_ms() -> None:
    """Art. 52/52a deadlines: GATE_OUT within 15 min, LOADED within 30 min."""
    policy = Settings().policy()

    assert (15 * 60_000, 30 * 60_000) == (policy.late_gate_out, policy.late_loaded)


def test_web_host_defaults_to_loopback() -> None:
    """The worker's web server is not exposed beyond the machine unless asked."""
    assert "127.0.0.1" == Settings().web_host


# --- environment overrides ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        pytest.param("stall_awaiting_scan", "14400", timedelta(hours=4), id="seconds"),
        pytest.param("stall_awaiting_scan", "2.5", timedelta(seconds=2.5), id="fractional-seconds"),
        pytest.param("stall_awaiting_scan", "PT4H", timedelta(hours=4), id="iso-hours"),
        pytest.param("stall_expected", "P3D", timedelta(days=3), id="iso-days"),
        pytest.param("stall_held", "PT1H30M", timedelta(minutes=90), id="iso-hours-minutes"),
        pytest.param("late_gate_out", "PT20M", timedelta(minutes=20), id="late-gate-out"),
        pytest.param("arrival_grace", "0.25", timedelta(milliseconds=250), id="arrival-grace"),
        pytest.param("mark_interval", "PT1S", timedelta(seconds=1), id="mark-interval"),
    ],
)
def test_duration_env_vars_accept_seconds_or_iso8601(
    monkeypatch: pytest.MonkeyPatch, name: str, text: str, expected: timedelta
) -> None:
    """``VASSCM_<FIELD>`` overrides a duration, given as seconds or ISO 8601."""
    assert expected == getattr(settings_with(monkeypatch, **{name: text}), name)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        pytest.param("broker", "kafka://k1:9092;k2:9092", "kafka://k1:9092;k2:9092", id="broker"),
        pytest.param("web_host", "0.0.0.0", "0.0.0.0", id="web-host"),
        pytest.param("web_port", "7000", 7000, id="web-port"),
        pytest.param("stall_clock", "event", "event", id="stall-clock"),
        pytest.param("store", "memory://", "memory://", id="store"),
        pytest.param("partitions", "3", 3, id="partitions"),
        pytest.param("data_dir", "/var/lib/vasscm", Path("/var/lib/vasscm"), id="data-dir"),
        pytest.param("archive_group", "archive-2", "archive-2", id="archive-group"),
        pytest.param("archive_flush_records", "5000", 5000, id="archive-flush-records"),
        pytest.param(
            "archive_flush_interval", "PT1M", timedelta(minutes=1), id="archive-flush-interval"
        ),
    ],
)
def test_env_vars_override_other_settings(
    monkeypatch: pytest.MonkeyPatch, name: str, text: str, expected: object
) -> None:
    """Every setting is read from ``VASSCM_<FIELD>``."""
    assert expected == getattr(settings_with(monkeypatch, **{name: text}), name)


def test_stall_override_reaches_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """``VASSCM_STALL_AWAITING_RELEASE_IMPORT=PT36H`` changes the import threshold (and the
    one used before the direction is known), not the export one."""
    policy = settings_with(monkeypatch, stall_awaiting_release_import="PT36H").policy()

    actual = tuple(policy.stall_after("AWAITING_RELEASE", d) for d in ("import", "", "export"))

    assert (36 * _HOUR_MS, 36 * _HOUR_MS, 24 * _HOUR_MS) == actual


@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param("stall_held", "soon", id="duration-not-a-duration"),
        pytest.param("stall_awaiting_scan", "4 hours", id="duration-free-text"),
        pytest.param("web_port", "70000", id="port-out-of-range"),
        pytest.param("web_port", "http", id="port-not-a-number"),
        pytest.param("stall_clock", "sometimes", id="clock-not-wall-or-event"),
        pytest.param("partitions", "0", id="partitions-zero"),
        pytest.param("broker_flavour", "redpanda", id="unknown-flavour"),
        pytest.param("archive_flush_records", "0", id="archive-flush-records-zero"),
    ],
)
def test_bad_value_is_a_validation_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, text: str
) -> None:
    """A bad value fails at start-up with an error that says which setting is wrong."""
    with pytest.raises(pydantic.ValidationError) as caught:
        settings_with(monkeypatch, **{name: text})

    assert [(name,)] == [error["loc"] for error in caught.value.errors()]
    assert name in str(caught.value)


# --- bootstrap_servers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("kafka://a:1", "a:1", id="faust-one-host"),
        pytest.param("kafka://a:1;b:2", "a:1,b:2", id="faust-semicolons"),
        pytest.param("kafka://a:1;kafka://b:2", "a:1,b:2", id="faust-scheme-per-host"),
        pytest.param("kafka://a:1/", "a:1", id="faust-trailing-slash"),
        pytest.param("a:1,b:2", "a:1,b:2", id="plain-commas"),
        pytest.param("a:1", "a:1", id="plain-one-host"),
        pytest.param("kafka://a:1;;b:2;", "a:1,b:2", id="empty-parts-dropped"),
    ],
)
def test_bootstrap_servers_converts_faust_urls(url: str, expected: str) -> None:
    """Kafka clients get ``host:port,host:port`` whatever form the URL was given in."""
    assert expected == bootstrap_servers(url)


# --- the one place that reads the environment ---------------------------------------

_ENV_NAMES = frozenset({"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"})


def _environment_uses(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, source) of every reference to the process environment in ``tree`` that is not
    the whole environment handed to a child process: ``{**os.environ, ...}`` or
    ``env=os.environ``. Reading or writing a variable (``os.environ["X"]``,
    ``os.environ.get``, ``os.getenv``) and importing ``environ``/``getenv`` are uses."""
    passed_through: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            passed_through |= {
                id(v) for k, v in zip(node.keys, node.values, strict=True) if k is None
            }
        elif isinstance(node, ast.keyword) and node.arg == "env":
            passed_through.add(id(node.value))
    uses: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _ENV_NAMES:
            if id(node) not in passed_through:
                uses.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Name) and node.id in _ENV_NAMES:
            uses.append((node.lineno, node.id))
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            uses += [
                (node.lineno, f"from os import {a.name}")
                for a in node.names
                if a.name in _ENV_NAMES
            ]
    return uses


def test_no_module_but_settings_reads_the_environment() -> None:
    """Configuration comes only from ``Settings``: no other module of the package reads or
    writes an environment variable. Passing the whole environment on to a subprocess (the
    embedded broker's ``env={**os.environ, "NO_COLOR": "1"}``) is not reading it."""
    offenders = {
        str(path.relative_to(PACKAGE)): uses
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "settings.py" or path.parent != PACKAGE
        if (uses := _environment_uses(ast.parse(path.read_text(), filename=str(path))))
    }

    assert {} == offenders


def test_environment_check_catches_reads() -> None:
    """The check above flags reads and imports, and lets a whole-environment hand-over pass."""
    source = "\n".join(
        [
            "import os",
            "from os import getenv",
            "a = os.environ['VASSCM_X']",
            "b = os.environ.get('VASSCM_Y')",
            "c = os.getenv('VASSCM_Z')",
            "child = {**os.environ, 'NO_COLOR': '1'}",
            "run(cmd, env=os.environ)",
        ]
    )

    assert [2, 3, 4, 5] == sorted(line for line, _ in _environment_uses(ast.parse(source)))
