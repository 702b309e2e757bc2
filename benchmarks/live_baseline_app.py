"""The baselines of ``live_bench.py``: a faust app whose one agent iterates the inputs.

    BENCH_BROKER=kafka://127.0.0.1:PORT BENCH_EXPECT=100000 BENCH_OUT=result.json \
        [BENCH_MODE=table|output] python benchmarks/live_baseline_app.py worker -l warn

With ``BENCH_MODE=table`` the agent also does the least any per-event state costs in
faust: one table write per record (its changelog write) and one output record, both
raw bytes, no parsing: the floor under any pipeline that keeps its state in a faust
table and answers each event. With ``BENCH_MODE=output``, one output record per record
and no table: the floor of a pipeline whose state's changelog is written per batch,
not per record (what a changelog of its own would cost, less its one write a batch).

Same broker settings as :func:`vasscm.live.app.create_app` (group timeouts, batch size,
fetch size, memory store, 8 partitions, raw bytes), no parsing; by default no table
and no output.
When the agent has seen ``BENCH_EXPECT`` records it writes the wall-clock time
(``time.time()``) of the first and of the last record to ``BENCH_OUT``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import faust
import orjson

from vasscm.events import MAX_EVENT_BYTES
from vasscm.topics import (
    CUSTOMS_EVENTS,
    DEFAULT_PARTITIONS,
    PORT_EVENTS,
    SCAN_EVENTS,
    VESSEL_EVENTS,
)

__all__ = ["app"]

_EXPECT = int(os.environ.get("BENCH_EXPECT", "0"))
_OUT = Path(os.environ.get("BENCH_OUT", "baseline.json"))
_MODE = os.environ.get("BENCH_MODE") or "iterate"
_TABLE = _MODE == "table"
_ANSWER = _MODE in ("table", "output")

app = faust.App(
    f"vasscm-bench-{_MODE}",  # a consumer group (and changelog) per mode
    broker=os.environ.get("BENCH_BROKER", "kafka://127.0.0.1:9092"),
    store="memory://",
    datadir=os.environ.get("BENCH_DATA_DIR", "baseline-data"),
    web_enabled=False,
    autodiscover=False,
    topic_partitions=DEFAULT_PARTITIONS,
    broker_session_timeout=6.0,
    broker_rebalance_timeout=6.0,
    broker_heartbeat_interval=1.0,
    producer_max_request_size=2 * MAX_EVENT_BYTES + 4096,
    producer_max_batch_size=64,  # as create_app with broker_flavour=tansu
    consumer_max_fetch_size=4 * MAX_EVENT_BYTES,
)
inputs = app.topic(  # every input the simulator writes (vessel calls too, contract 7.2)
    PORT_EVENTS,
    SCAN_EVENTS,
    CUSTOMS_EVENTS,
    VESSEL_EVENTS,
    partitions=DEFAULT_PARTITIONS,
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
)


state = app.Table(
    "bench-state", default=None, partitions=DEFAULT_PARTITIONS, key_type=bytes, value_type=bytes
)
answers = app.topic(
    "bench-answers",
    partitions=DEFAULT_PARTITIONS,
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
)


@app.agent(inputs, name="bench.iterate")
async def iterate(stream: Any) -> None:
    seen = 0
    first = 0.0
    async for key, value in stream.items():
        if _TABLE:
            state[key] = value
        if _ANSWER:
            await answers.send(key=key, value=value)
        now = time.time()
        seen += 1
        if seen == 1:
            first = now
        if seen == _EXPECT:
            _OUT.write_bytes(orjson.dumps({"first": first, "last": now, "seen": seen}))


if __name__ == "__main__":
    app.main()
