"""The contract's limits on what an input may be: its size, the instants it may name,
the shape of a site code.

Apart from the models (:mod:`vasscm.events`, which re-exports them) so that the
settings and the report read them without building the models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

__all__ = ["EARLIEST", "LATEST", "MAX_EVENT_BYTES", "SITE_PATTERN"]

#: Larger records are rejected before any JSON parsing. A 500-container customs
#: declaration is about 40 KiB; a megabyte leaves room without inviting abuse.
MAX_EVENT_BYTES: Final = 1 << 20

#: Timestamps outside this window are data errors (epoch zero, 9999-12-31
#: placeholders), not events; rejecting them keeps durations and deadlines sane.
EARLIEST: Final = datetime(2000, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC)

#: A site code (a customs branch's gate, a port's terminal), like ``cai-lan``.
SITE_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{0,31}$"
