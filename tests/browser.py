"""Headless Chromium for the page tests: one command line, run blocking or beside an
event loop that serves the page, and where the screenshots go."""

from __future__ import annotations

import asyncio
import re
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


#: Appended to a copy of the page (the report itself allows no script): every table and
#: chart checked against the box it sits in, and the page against the window.
_PROBE = """<script>
const wide = [];
for (const el of document.querySelectorAll("table, svg, p, ul")) {
  const box = el.parentElement.getBoundingClientRect();
  const own = el.getBoundingClientRect();
  if (own.right > box.right + 0.5 || el.scrollWidth > el.clientWidth + 1 && el.tagName === "TABLE")
    wide.push(el.tagName + ":" + (el.previousElementSibling?.textContent || "").slice(0, 60));
}
if (document.documentElement.scrollWidth > window.innerWidth) wide.push("PAGE");
document.body.dataset.overflow = wide.join("|");
document.body.dataset.checked = "yes";
</script>"""


def report_fits(page: str, lang: str, tmp_path: Path) -> str:
    """A report page's DOM in Chromium at 1280 px, asserted to overflow nowhere (the
    page is probed in a copy: the report itself allows no script)."""
    assert f'<html lang="{lang}">' in page
    probe = tmp_path / f"probe-{lang}.html"
    probe.write_text(
        re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page).replace(
            "</body>", _PROBE + "</body>"
        ),
        encoding="utf-8",
    )
    dom = chromium(
        "--window-size=1280,2400", "--virtual-time-budget=3000", "--dump-dom",
        probe.as_uri(), profile=tmp_path / "profile",
    )  # fmt: skip
    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None
    assert 'data-checked="yes"' in body.group(1)
    assert 'data-overflow=""' in body.group(1), body.group(1)
    return dom
