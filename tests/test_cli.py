"""The ``vasscm`` command line: vasscm's own help and version, and every failure as one
line on stderr with the right exit code, never a traceback (issue 15)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from commands import vasscm

from vasscm.live.tools.broker_probe import free_port


def one_line_failure(done: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """The failure's stderr is one line naming ``words``; exit ``code``; nothing on stdout."""
    lines = done.stderr.splitlines()
    assert (done.returncode, len(lines)) == (code, 1), done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.fixture
def event_log(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    done = vasscm("simulate", "--events", "30", "--out", str(path))
    assert done.returncode == 0, done.stderr
    return path


# --- help and version ------------------------------------------------------------------------


def test_help_lists_vasscm_commands_first_one_line_each_then_faust() -> None:
    done = vasscm("--help")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "Welcome" not in text
    assert "faust-streaming.github.io" not in text
    ours, faust = text.split("faust's commands", 1)
    listed = [line.split()[0] for line in ours.split("Commands:", 1)[1].splitlines() if line]
    assert listed == [
        "worker", "demo", "replay", "report", "backtest", "simulate", "produce", "broker",
        "archive", "topics",
    ]  # fmt: skip
    for line in ours.split("Commands:", 1)[1].splitlines():
        if line.strip():
            assert line[:2] == "  ", line
            assert line[2] != " ", line  # one line each: no continuation lines
    faust_listed = [line.split()[0] for line in faust.splitlines()[1:] if line.strip()]
    assert {"tables", "send", "agents"} <= set(faust_listed)
    assert "worker" not in faust_listed  # once, among vasscm's


def test_the_bare_command_shows_the_help() -> None:
    done = vasscm()
    assert (done.returncode, done.stdout) == (0, vasscm("--help").stdout)


def test_version_is_vasscm_then_faust() -> None:
    done = vasscm("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("vasscm 0.")
    assert "faust-streaming 0.15" in done.stdout


def test_worker_help_gives_vasscm_defaults() -> None:
    """faust's help says the web host defaults to 0.0.0.0; vasscm's worker binds 127.0.0.1."""
    done = vasscm("worker", "--help")
    assert done.returncode == 0, done.stderr
    assert "0.0.0.0" not in done.stdout
    assert "127.0.0.1" in done.stdout
    assert "VASSCM_WEB_PORT" in done.stdout
    assert "Start worker instance" not in done.stdout


# --- usage errors: one line, exit 2 ----------------------------------------------------------


def test_negative_event_count_is_a_usage_error() -> None:
    one_line_failure(vasscm("simulate", "--events", "-5"), 2, "--events", "-5")


def test_dcsa_with_a_broker_is_a_usage_error() -> None:
    one_line_failure(
        vasscm("simulate", "--dcsa", "--broker", "127.0.0.1:9"), 2, "--dcsa", "vasscm produce"
    )


def test_unknown_command_is_a_usage_error() -> None:
    one_line_failure(vasscm("replya"), 2, "replya", "vasscm --help")


def test_missing_argument_is_a_usage_error() -> None:
    one_line_failure(vasscm("replay"), 2, "vasscm replay", "EVENTS")


def test_report_of_an_event_log_says_what_it_wants(event_log: Path) -> None:
    line = one_line_failure(vasscm("report", str(event_log)), 2, "event log")
    assert "clearances.jsonl" in line
    assert "vasscm replay" in line


def test_report_of_alerts_says_what_it_wants(event_log: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert vasscm("replay", str(event_log), "--out", str(out)).returncode == 0
    alerts = out / "alerts.jsonl"
    if not alerts.read_bytes().strip():  # a quiet day: write one alert of the contract's shape
        state = orjson.loads((out / "state.jsonl").read_bytes().splitlines()[0])
        alerts.write_bytes(
            orjson.dumps({"alert_id": "a", "kind": "STALLED", "severity": "warning", **state})
        )
    one_line_failure(vasscm("report", str(alerts)), 2, "alerts", "clearances.jsonl")


# --- runtime failures: one line, exit 1 ------------------------------------------------------


def test_produce_without_a_broker(event_log: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    line = one_line_failure(vasscm("produce", str(event_log), "--broker", dead), 1, dead)
    assert "cannot reach the broker" in line
    assert "Unclosed" not in line


def test_traceback_flag_shows_where(event_log: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    done = vasscm("--traceback", "produce", str(event_log), "--broker", dead)
    assert done.returncode == 1
    assert "Traceback" in done.stderr
    assert "cannot reach the broker" in done.stderr


def test_demo_on_a_taken_port_names_the_option(taken_port: int) -> None:
    one_line_failure(vasscm("demo", "--port", str(taken_port)), 1, str(taken_port), "--port")


def test_worker_on_a_taken_port_names_the_option(taken_port: int) -> None:
    for done in (
        vasscm("worker", "--web-port", str(taken_port)),
        vasscm("worker", env={"VASSCM_WEB_PORT": str(taken_port)}),
    ):
        one_line_failure(done, 1, str(taken_port), "--web-port", "VASSCM_WEB_PORT")


def test_bad_setting_names_the_variable(event_log: Path, tmp_path: Path) -> None:
    done = vasscm(
        "replay", str(event_log), "--out", str(tmp_path / "o"), env={"VASSCM_PARTITIONS": "x"}
    )
    one_line_failure(done, 1, "VASSCM_PARTITIONS")


def test_pdf_without_chromium_says_what_to_install(event_log: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert vasscm("replay", str(event_log), "--out", str(out)).returncode == 0
    no_browser = {"PATH": str(Path(sys.executable).parent)}  # python, but no chromium
    done = vasscm("report", str(out / "clearances.jsonl"), "--format", "pdf", env=no_browser)
    one_line_failure(done, 1, "Chromium", "apt-get install chromium", "--format html")


def test_every_error_vasscm_raises_on_purpose_has_the_one_root() -> None:
    """The CLI's one catch (VasscmError: one line, exit 1) sees every public error class
    the package defines, whatever library error it also is (issue 28); a private one is
    a signal caught where it is raised."""
    import importlib
    import inspect
    import pkgutil

    import vasscm
    from vasscm.errors import VasscmError

    strays = []
    for module in pkgutil.walk_packages(vasscm.__path__, "vasscm."):
        if module.name.endswith("__main__"):
            continue
        loaded = importlib.import_module(module.name)
        for name, obj in vars(loaded).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == module.name
                and not name.startswith("_")
                and not issubclass(obj, VasscmError)
            ):
                strays.append(f"{module.name}.{name}")
    assert strays == []


def test_replay_report_simulate_and_backtest_start_without_the_live_stack(
    event_log: Path, tmp_path: Path
) -> None:
    """The offline commands never import faust, aiokafka or aiohttp (issue 28: they
    cost ~1.5 s and 35 MiB at every start)."""
    code = f"""
import sys
from vasscm.cli.main import _run
out = {str(tmp_path / "out")!r}
assert _run(["replay", {str(event_log)!r}, "--out", out]) == 0
assert _run(["report", out + "/clearances.jsonl", "--format", "json"]) == 0
assert _run(["simulate", "--events", "50"]) == 0
assert _run(["backtest", {str(event_log)!r}, "--format", "json"]) == 0
live = sorted(m for m in ("faust", "mode", "aiokafka", "aiohttp") if m in sys.modules)
print("LIVE", live, file=sys.stderr)
sys.exit(1 if live else 0)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "LIVE []" in done.stderr


def test_a_json_report_loads_no_renderer_of_text_for_people(
    event_log: Path, tmp_path: Path
) -> None:
    """`vasscm report --format json` imports neither the HTML renderer nor the wording:
    about 70 ms of a report's start-up, for nothing it writes."""
    out = tmp_path / "out"
    replay = [sys.executable, "-m", "vasscm", "replay", str(event_log), "--out", str(out)]
    subprocess.run(replay, capture_output=True, timeout=120, check=True)
    people = ("vasscm.report.render_html", "vasscm.report.wording")
    code = f"""
import sys
from vasscm.cli.main import _run
out = {str(out)!r}
assert _run(["report", out + "/clearances.jsonl", "--format", "json"]) == 0
print("JSON", sorted(m for m in sys.modules if m in {people!r}), file=sys.stderr)
assert _run(["report", out + "/clearances.jsonl", "--format", "html"]) == 0
print("HTML", sorted(m for m in sys.modules if m in {people!r}), file=sys.stderr)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "JSON []" in done.stderr
    assert f"HTML {sorted(people)}" in done.stderr  # html loads both: the check sees them
