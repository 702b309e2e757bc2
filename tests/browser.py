"""Headless Chromium for the page tests: one command line, run blocking or beside an
event loop that serves the page, and where the screenshots go."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"  # CI keeps what the tests leave here (gitignored)


def command(*args: str, profile: Path) -> list[str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, "chromium is not installed (.ci/run installs the Debian package)"
    return [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *args,
    ]


def chromium(*args: str, profile: Path) -> str:
    """Chromium's stdout (``--dump-dom``); it must exit 0."""
    done = subprocess.run(
        command(*args, profile=profile), capture_output=True, text=True, timeout=120, check=False
    )
    assert 0 == done.returncode, done.stderr[-2000:]
    return done.stdout


async def chromium_beside(*args: str, profile: Path) -> str:
    """:func:`chromium` while this event loop goes on serving the page it loads."""
    proc = await asyncio.create_subprocess_exec(
        *command(*args, profile=profile),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()


def screenshot(name: str) -> Path:
    """Where a test writes its screenshot ``name`` (the old one removed first)."""
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    shot.unlink(missing_ok=True)
    return shot
