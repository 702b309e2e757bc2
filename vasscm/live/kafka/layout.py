"""The worker's topic layout, taken from the topics that already exist.

In production the input topics are created by whoever runs Kafka, often before any
worker starts, and a producer may auto-create one with the broker's default count.
The tracker reads the port and scan events, its repartition topic, its stall checks
and its table's changelog *together*, partition by partition, so they must have one
partition count; the customs, vessel and DCSA topics (read by the fan-out alone)
may have any. Before
it builds its app the worker reads the counts of the topics that exist and either
takes theirs, creating the rest alike, or refuses to start with a message that names
each topic and its count. It never starts with a layout that would dead-letter good
records.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from vasscm.errors import VasscmError
from vasscm.topics import (
    CONTAINER_EVENTS,
    CUSTOMS_EVENTS,
    DCSA_EVENTS,
    PORT_EVENTS,
    SCAN_EVENTS,
    STALL_CHECKS,
    VESSEL_EVENTS,
)

__all__ = ["CHANGELOG", "COPARTITIONED", "Layout", "LayoutError", "plan", "read_partitions"]

CHANGELOG = "vasscm-visits-changelog"  # faust: "{app id}-{table name}-changelog"
# Read together by the tracker, partition by partition.
COPARTITIONED = (PORT_EVENTS, SCAN_EVENTS, CONTAINER_EVENTS, STALL_CHECKS, CHANGELOG)


class LayoutError(VasscmError):
    """The topics that exist cannot be read together; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Layout:
    partitions: int  # of every topic the tracker reads, and of those vasscm creates
    customs_partitions: int  # of vasscm.customs-events
    existing: dict[str, int]
    vessel_partitions: int = 1  # of vasscm.vessel-events
    dcsa_partitions: int = 1  # of vasscm.dcsa-events

    @property
    def hops(self) -> dict[str, int]:
        """The topics the fan-out reads, each with the number its partition 0 has among
        the hop inputs (customs, vessel, DCSA partitions in turn): each sends marks."""
        return {
            CUSTOMS_EVENTS: 0,
            VESSEL_EVENTS: self.customs_partitions,
            DCSA_EVENTS: self.customs_partitions + self.vessel_partitions,
        }

    @property
    def hop_partitions(self) -> int:
        return self.customs_partitions + self.vessel_partitions + self.dcsa_partitions


def plan(existing: dict[str, int], default: int) -> Layout:
    """The layout for ``existing`` topics (name -> partition count), or LayoutError."""
    together = {name: existing[name] for name in COPARTITIONED if name in existing}
    counts = set(together.values())
    if len(counts) > 1:
        listed = ", ".join(f"{name} has {n}" for name, n in sorted(together.items()))
        raise LayoutError(
            f"topics the tracker reads together have different partition counts ({listed}); "
            "they need one count: recreate the ones that differ with the same number of "
            "partitions (the internal ones, vasscm.container-events, vasscm.stall-checks and "
            f"{CHANGELOG}, are rebuilt from the inputs if deleted while no worker runs)"
        )
    partitions = counts.pop() if counts else default
    return Layout(
        partitions,
        existing.get(CUSTOMS_EVENTS, partitions),
        dict(existing),
        existing.get(VESSEL_EVENTS, partitions),
        existing.get(DCSA_EVENTS, partitions),
    )


async def read_partitions(
    bootstrap: str, options: dict[str, object], timeout: float
) -> dict[str, int]:
    """Partition counts of the vasscm topics that exist (reading metadata creates none)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000), **options
    )
    try:
        await asyncio.wait_for(consumer.start(), timeout)
        names = await asyncio.wait_for(consumer.topics(), timeout)
        wanted = {*COPARTITIONED, CUSTOMS_EVENTS, VESSEL_EVENTS, DCSA_EVENTS}
        return {
            name: len(consumer.partitions_for_topic(name) or ())
            for name in sorted(names)
            if name in wanted
        }
    except (KafkaError, OSError, TimeoutError) as exc:
        raise LayoutError(
            f"cannot read the topics of the broker at {bootstrap}: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        await consumer.stop()
