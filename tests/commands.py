"""The ``vasscm`` command run as a user runs it: a child process, its output kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def vasscm(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``python -m vasscm ARGS`` (UTF-8 text output; ``env`` added to this process's)."""
    return subprocess.run(
        [sys.executable, "-m", "vasscm", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def vasscm_bytes(*args: str) -> subprocess.CompletedProcess[bytes]:
    """As :func:`vasscm`, output as bytes (a log to compare byte for byte)."""
    return subprocess.run(
        [sys.executable, "-m", "vasscm", *args], capture_output=True, timeout=120, check=False
    )
