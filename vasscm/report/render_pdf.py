"""The ``pdf`` format: the HTML report printed on A4 by headless Chromium.

Chromium is the renderer here because it is the one the HTML report (and its print
CSS) is tested in; it is looked up on the PATH, and a machine without it gets one
line saying what to install, or to print the ``html`` format from any browser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final

from vasscm.errors import VasscmError

__all__ = ["BROWSERS", "html_to_pdf"]

BROWSERS: Final = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def html_to_pdf(page: str, timeout: float = 120.0) -> bytes:
    """The page as PDF; VasscmError when no browser is found or printing fails."""
    binary = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    if binary is None:
        raise VasscmError(
            "--format pdf prints the html report with Chromium, which is not installed "
            "(Debian: apt-get install chromium); or write --format html and print it"
        )
    with tempfile.TemporaryDirectory(prefix="vasscm-pdf-") as work:
        source, target = Path(work) / "report.html", Path(work) / "report.pdf"
        source.write_text(page, encoding="utf-8")
        command = [
            binary,
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            f"--user-data-dir={Path(work) / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={target}",
            source.as_uri(),
        ]
        if os.geteuid() == 0:  # Chromium's sandbox refuses to run as root (containers, CI)
            command.insert(2, "--no-sandbox")
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise VasscmError(f"Chromium did not print the report within {timeout:g} s") from None
        if done.returncode != 0 or not target.exists():
            last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
            raise VasscmError(f"Chromium could not print the report: {last}")
        return target.read_bytes()
