"""`vasscm demo` end to end: broker, worker and simulator from one command, the
dashboard rendered by a real headless Chromium, hostile text shown as text, and no
child left behind after Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from browser import chromium, screenshot
from factories import event_doc
from livekit import eventually, produce

from vasscm.live.tools.broker import die_with_parent, free_port

pytestmark = [pytest.mark.broker, pytest.mark.slow]

HOSTILE = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"


@dataclass
class Demo:
    proc: subprocess.Popen[str]
    base: str
    broker: str
    broker_pid: int
    lines: list[str]

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=5) as response:
            return orjson.loads(response.read())

    def wait(self, what: str, check: Any, timeout: float = 90) -> Any:
        def answered() -> Any:
            assert self.proc.poll() is None, "demo exited:\n" + "\n".join(self.lines)
            try:
                return check()
            except (urllib.error.URLError, OSError):
                return None

        return eventually(answered, timeout, f"{what} (demo)", every=0.5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    port = free_port()
    # At 3600x a closed visit expires 168 s (wall) after its exit, with the default
    # retention of 7 days of port time: a test that looks a visit up after that (a
    # loaded machine, a slow Chromium start) found nothing (seen: the hostile seal
    # missing from the page). The worker the demo starts inherits this.
    env = {**os.environ, "VASSCM_LATE_EVENT_RETENTION": "P365D"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vasscm", "demo", "--port", str(port), "--duration", "600"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=die_with_parent(),
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while not any(line.startswith("port time runs") for line in lines):
        line = proc.stdout.readline()
        assert line or proc.poll() is None, "demo exited:\n" + "\n".join(lines)
        lines.append(line.rstrip())
        assert time.monotonic() < deadline, "\n".join(lines)
    banner = "\n".join(lines)
    broker = re.search(r"broker +kafka://(\S+) \(embedded Tansu, pid (\d+)\)", banner)
    dashboard = re.search(r"dashboard +(http://\S+)/", banner)
    assert broker is not None, banner
    assert dashboard is not None, banner
    running = Demo(proc, dashboard.group(1), broker.group(1), int(broker.group(2)), lines)
    try:
        yield running
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def rendered(demo: Demo, tmp: Path, fragment: str = "") -> str:
    """The dashboard's DOM after its script has fetched and drawn (virtual time)."""
    return chromium(
        "--virtual-time-budget=8000",
        "--dump-dom",
        f"{demo.base}/{fragment}",
        profile=tmp / "profile",
    )


def test_demo_dashboard_renders_stages_stalled_and_a_lookup(demo: Demo, tmp_path: Path) -> None:
    """Stage counts non-zero, the stalled list filled, a container looked up; and a
    screenshot for whoever reads the CI artifacts."""
    demo.wait("clearances", lambda: demo.get("/api/releases?hours=48")["groups"])
    stalled = demo.wait("stalled containers", lambda: demo.get("/api/stalled")["stalled"])
    container = stalled[0]["container_no"]

    dom = rendered(demo, tmp_path, f"#{container}")

    assert 'data-loaded="yes"' in dom
    counts = [int(n) for n in re.findall(r'<td class="num" data-stage="\w+">(\d+)', dom)]
    assert counts
    assert sum(counts) > 0
    stalled_rows = re.search(r'<table id="stalled">.*?<tbody>(.*?)</tbody>', dom, re.S)
    assert stalled_rows is not None
    # Rows of container links (which ones: the port clock moves on while the page loads).
    assert stalled_rows.group(1).count('class="container"') >= 1
    # the section without its hidden attribute
    lookup = re.search(r'<section id="lookup">(.*?)</section>', dom, re.S)
    assert lookup is not None, "the lookup section stayed hidden"
    assert container in lookup.group(1)
    assert "DISCHARGED" in lookup.group(1) or "GATE_IN" in lookup.group(1)
    releases = re.search(r'<table id="releases">.*?<tbody>(.*?)</tbody>', dom, re.S)
    assert releases is not None
    assert "Cai Lan port" in releases.group(1) or "Cảng Cái Lân" in releases.group(1)  # by name

    shot = screenshot("dashboard.png")
    chromium(
        "--virtual-time-budget=8000",
        "--window-size=1400,1600",
        f"--screenshot={shot}",
        f"{demo.base}/#{container}",
        profile=tmp_path / "profile-shot",
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000


def test_text_from_events_is_shown_as_text(demo: Demo, tmp_path: Path) -> None:
    """A seal number holding markup appears verbatim in the lookup and the alert list,
    and none of it runs (the title stays, no injected element exists)."""
    # The port clock once it has a time (null before the first event is applied: an
    # event dated by the placeholder, 2000-01-01, expired when the clock moved on).
    stamp = demo.wait("the port clock", lambda: demo.get("/api/overview")["now"])
    now = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    container = "TGHU1234567"
    docs = [
        event_doc("GATE_IN", now, container_no=container, site="mong-cai", direction="export"),
        event_doc("SEAL_CHANGED", now + timedelta(minutes=1), container_no=container,
                  site="mong-cai", seal_no=HOSTILE),
        event_doc("GATE_OUT", now + timedelta(minutes=2), container_no=container,
                  site="mong-cai", seal_no="VN-OTHER"),
    ]  # fmt: skip
    asyncio.run(produce(demo.broker, [orjson.dumps(d) for d in docs]))
    demo.wait("the hostile visit", lambda: _held(demo, container))

    # The page draws the lookup when its fetch answers; on a loaded machine the DOM can
    # be dumped before that (the lookup section titled, its visits not drawn yet):
    # render again until the visit's events are drawn, a few times at most.
    last: list[str] = []

    def drawn() -> str | None:
        dom = rendered(demo, tmp_path, f"#{container}")
        last[:] = [dom]
        return dom if "SEAL_CHANGED" in dom else None

    try:
        dom = eventually(drawn, 60, "the hostile visit drawn in the page", every=0)
    except AssertionError:  # say what the page and the API showed instead
        lookup = last[0].split('id="lookup"', 1)[-1][:3000] if last else ""
        api = demo.get(f"/api/containers/{container}")
        raise AssertionError(f"page's lookup: {lookup!r}\nAPI: {api!r}") from None

    assert "<title>vasscm · customs supervision</title>" in dom
    assert "pwned" not in re.sub(r"&[^;]+;", "", dom.split("<body", 1)[0])  # the head
    assert "<img" not in dom
    assert "<script>document.title" not in dom
    escaped = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert escaped in dom  # shown, as text


def _held(demo: Demo, container: str) -> bool:
    try:
        visit = demo.get(f"/api/containers/{container}")["visit"]
    except urllib.error.HTTPError:
        return False
    return visit["exited_at"] is not None


def test_ctrl_c_stops_every_child(demo: Demo) -> None:
    """SIGINT: the demo says it stops, exits 0, and leaves no broker or worker behind.
    (Runs last in this module: it ends the shared demo.)"""
    worker_port = int(demo.base.rsplit(":", 1)[1])
    demo.proc.send_signal(signal.SIGINT)
    out, _ = demo.proc.communicate(timeout=60)
    assert 0 == demo.proc.returncode, out
    assert "stopping:" in out
    deadline = time.monotonic() + 10
    while _alive(demo.broker_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(demo.broker_pid)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{worker_port}/healthz", timeout=2)
