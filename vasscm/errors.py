"""The package's one root exception; adapters wrap library errors in it."""

from __future__ import annotations

__all__ = ["VasscmError"]


class VasscmError(Exception):
    """Root of every error vasscm raises on purpose (catch this, not library errors)."""
