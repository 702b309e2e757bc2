"""Delivery: what a worker reads, what it writes, and what it commits when.

- :mod:`.consumer` reads every record of its stream partitions in order, and commits
  up to the first record not taken or still owed by the tracker;
- :mod:`.producer` flushes every table write, not only most;
- :mod:`.batch` keeps the state changes of many records and writes each container once;
- :mod:`.outbox` holds each output until the state change it reports is written;
- :mod:`.checkpoint` is the order of those steps before each commit, and how far each
  partition may be committed (the consumer asks it);
- :mod:`.transport` registers the consumer and producer with faust (``vasscm://``).
"""

from __future__ import annotations

from vasscm.live.delivery.batch import Batch
from vasscm.live.delivery.checkpoint import Checkpoint
from vasscm.live.delivery.consumer import Consumer
from vasscm.live.delivery.outbox import Outbox, Send, VisitsTable
from vasscm.live.delivery.producer import Buffer, Producer
from vasscm.live.delivery.transport import SCHEME, Transport

__all__ = [
    "SCHEME",
    "Batch",
    "Buffer",
    "Checkpoint",
    "Consumer",
    "Outbox",
    "Producer",
    "Send",
    "Transport",
    "VisitsTable",
]
