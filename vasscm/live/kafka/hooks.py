"""The faust and aiokafka internals the live shell relies on, checked at start-up.

Crash safety and arrival order rest on a few private parts of faust-streaming
0.15.3 (the version pinned in pyproject.toml, on which each was read): the
consumer's commit bookkeeping and seek, the producer buffer's sender, the
producer's aiokafka client, the RocksDB store's per-partition databases, the
consumer thread that makes the aiokafka consumer. A faust release that renames one
of them would not fail: the shell would quietly lose its guarantees. So each is
checked when the worker is created (:func:`check_classes`) and, once the app has
made its consumer and producer, that vasscm's own transport is the one wired in
(:func:`check_wiring`); either raises :class:`HookMissing`, naming what is missing.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version
from typing import Any, Final

from vasscm.errors import VasscmError

__all__ = ["FAUST_VERSION", "HookMissing", "check_classes", "check_wiring", "existing_consumer"]

FAUST_VERSION: Final = "0.15.3"


class HookMissing(VasscmError):
    """A faust or aiokafka internal the shell relies on is not there."""


def _required() -> list[tuple[str, Any, str]]:
    """(where, object, attribute) for every internal the shell uses or overrides."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from faust import App
    from faust.tables.base import Collection
    from faust.transport.consumer import Consumer
    from faust.transport.drivers import aiokafka as driver
    from faust.transport.producer import ProducerBuffer

    need: list[tuple[str, Any, str]] = [
        # transport.Consumer: commits up to the first record not processed
        ("faust Consumer", Consumer, "_new_offset"),
        ("faust Consumer", Consumer, "perform_seek"),
        ("faust Consumer", Consumer, "seek"),
        ("faust Consumer", Consumer, "pause_partitions"),
        ("faust Consumer", Consumer, "resume_partitions"),
        ("faust Consumer", Consumer, "_read_offset"),
        ("faust Consumer", Consumer, "wait_first"),  # mode's Service.wait_first
        ("faust Consumer", Consumer, "self.suspend_flow"),
        ("faust aiokafka Consumer", driver.Consumer, "getmany"),
        ("faust aiokafka Consumer", driver.Consumer, "_getmany"),
        ("faust aiokafka Consumer", driver.Consumer, "flow_active"),
        ("faust aiokafka Consumer", driver.Consumer, "highwater"),
        ("faust aiokafka Consumer", driver.Consumer, "on_partitions_revoked"),
        # transport._Buffer: a flush that waits for every table write
        ("faust ProducerBuffer", ProducerBuffer, "_send_pending"),
        ("faust ProducerBuffer", ProducerBuffer, "flush"),
        ("faust ProducerBuffer", ProducerBuffer, "put"),
        # transport._Producer: the aiokafka client (broker probe), its flush
        ("faust aiokafka Producer", driver.Producer, "_producer"),
        ("faust aiokafka Producer", driver.Producer, "flush"),
        ("aiokafka AIOKafkaProducer", AIOKafkaProducer, "self.client"),
        # tansu: the worker consumer's fetch wait, true partition ends
        ("faust AIOKafkaConsumerThread", driver.AIOKafkaConsumerThread, "_create_worker_consumer"),
        ("faust AIOKafkaConsumerThread", driver.AIOKafkaConsumerThread, "_create_client_consumer"),
        ("faust AIOKafkaConsumerThread", driver.AIOKafkaConsumerThread, "_highwaters"),
        ("aiokafka AIOKafkaConsumer", AIOKafkaConsumer, "self._fetch_max_wait_ms"),
        # outbox.VisitsTable: each partition's latest changelog write
        ("faust Collection", Collection, "send_changelog"),
        # existing_consumer (the pipeline's scrape reads highwaters without creating one)
        ("faust App", App, "_consumer"),
        ("faust App", App, "_producer"),  # existing_producer (the watchdog)
    ]
    return need


def _calls() -> list[tuple[str, Any, str]]:
    """(where, function, call) for each internal call an override relies on being made:
    an override faust no longer calls is as lost as a missing one."""
    from faust.transport.consumer import Consumer

    return [
        # delivery.Consumer._new_offset (commits stop at what is owed) is what faust's
        # commit asks for each partition's offset
        ("faust Consumer._filter_committable_offsets", Consumer._filter_committable_offsets,
         "self._new_offset(tp)"),
        # delivery.Consumer.wait_first (a record handed to the agents without four tasks)
        # is what faust's fetch loop awaits for each record
        ("faust Consumer._drain_messages", Consumer._drain_messages,
         "callback(message), self.suspend_flow.wait()"),
    ]  # fmt: skip


def check_classes() -> None:
    """Every internal exists on the classes, and faust is the version they were read on."""
    found = version("faust-streaming")
    missing = [f"{where}.{name}" for where, owner, name in _required() if not _has(owner, name)]
    missing += [
        f"{where} calling {call}"
        for where, function, call in _calls()
        if call not in inspect.getsource(function)
    ]
    if missing or found != FAUST_VERSION:
        raise HookMissing(
            f"faust-streaming {found} (vasscm's live shell was checked on {FAUST_VERSION}): "
            + (f"missing {', '.join(missing)}" if missing else "install the pinned version")
        )


def _has(owner: Any, name: str) -> bool:
    if name.startswith("self."):  # an instance attribute: set in __init__
        return f"{name} =" in inspect.getsource(owner.__init__)
    return hasattr(owner, name) or name in inspect.get_annotations(owner)


def existing_consumer(app: Any) -> Any:
    """The app's consumer if it has made one, else None (``app.consumer`` would make
    one: a metrics scrape before start-up must not). faust's ``App._consumer``."""
    return app._consumer


def existing_producer(app: Any) -> Any:
    """The app's producer if it has made one, else None. faust's ``App._producer``."""
    return app._producer


def check_wiring(app: Any, visits: Any, checkpoint: Any = None) -> None:
    """The app's consumer, producer and table are vasscm's (vasscm.live.delivery), and
    the consumer and the producer hold one checkpoint (``checkpoint``, when given): the
    order of the steps before a commit, and how far each partition may be committed."""
    from vasscm.live.delivery import Buffer, Consumer, Producer, VisitsTable
    from vasscm.live.delivery.outbox import is_rocksdb

    problems = []
    if not isinstance(app.consumer, Consumer):
        problems.append(f"consumer is {type(app.consumer).__qualname__}, not vasscm's")
    producer = app.producer
    if not isinstance(producer, Producer):
        problems.append(f"producer is {type(producer).__qualname__}, not vasscm's")
    elif not isinstance(producer.buffer, Buffer):
        problems.append(f"producer buffer is {type(producer.buffer).__qualname__}, not vasscm's")
    if not isinstance(visits, VisitsTable):
        problems.append(f"visits table is {type(visits).__qualname__}, not vasscm's")
    asks = getattr(app.consumer, "checkpoint", None)
    flushes = getattr(producer, "checkpoint", None)
    if asks is None or (checkpoint is not None and asks is not checkpoint):
        problems.append("the consumer does not ask the worker's checkpoint how far to commit")
    if flushes is None or flushes is not asks:
        problems.append("the producer does not flush through the consumer's checkpoint")
    store = getattr(visits, "data", None)
    if is_rocksdb(store):  # VisitsTable.write: a state written with its partition named
        for name in ("_db_for_partition", "_key_index", "_encode_key", "_del"):
            if not hasattr(store, name):
                problems.append(f"faust RocksDB Store.{name} is missing")
    if problems:
        raise HookMissing("the live shell is not wired as it must be: " + "; ".join(problems))
