"""vasscm: automated customs supervision as a stream processor.

The pure core (contract models, tracking, deadlines, reports) imports no Kafka,
faust, HTTP or Prometheus library; ``vasscm.live`` holds the shell around it.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
