"""Tracking throughput with DCSA webhook subscribers: none, one that answers, one that is down.

    python benchmarks/webhook_bench.py [--events 20000] [--rounds 2]

Each row is live_bench's (b) row (``python -m vasscm worker``, memory:// store, on a
fresh embedded Tansu broker with the log pre-produced; events/s = N / (last - first
answer), "done" = the group's commits at the end of the inputs), under one condition:

  none   no subscription: DCSA out idle (VASSCM_DCSA_OUT=auto runs the milestones feed
         only once a subscription exists).
  up     one subscription whose callback, a receiver in this process (aiohttp, on its
         own thread), checks every delivery's signature and answers 204.
  down   one subscription whose callback port has nothing listening: every delivery
         fails, is tried again with backoff, and the subscriber is paused.

The subscription is written onto vasscm.dcsa-subscriptions before the worker starts,
as POST /dcsa/subscriptions writes it. Rows alternate (none, up, down, none, ...) so
that the machine's drift does not favour one condition; the ratios are against the
mean of the "none" rows of the same run. Beside "up": the events the receiver got by
the time tracking was done, of the milestones on vasscm.dcsa-out then.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_bench import (
    Rate,
    create_all_topics,
    end_offsets,
    header,
    preproduce,
    replayed_visits,
    run_pipeline,
)

from vasscm.dcsa.subscriptions import new_subscription, stored, verify
from vasscm.live.tools.broker import EmbeddedBroker
from vasscm.live.tools.broker_probe import free_port
from vasscm.simulate import synthetic_log
from vasscm.topics import DCSA_OUT, DCSA_SUBSCRIPTIONS

SECRET = b"the benchmark's shared secret"


@dataclass
class Receiver:
    """A subscriber on its own thread and event loop."""

    port: int = field(default_factory=free_port)
    events: int = 0
    forged: int = 0
    _loop: asyncio.AbstractEventLoop | None = None

    async def _take(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not verify(SECRET, body, request.headers.get("Notification-Signature")):
            self.forged += 1
            return web.Response(status=401)
        self.events += len(orjson.loads(body))
        return web.Response(status=204)

    def start(self) -> Receiver:
        ready = threading.Event()

        async def serve() -> None:
            app = web.Application()
            app.router.add_post("/hook", self._take)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
            self._loop = asyncio.get_running_loop()
            ready.set()
            await asyncio.Event().wait()  # until the process ends

        threading.Thread(target=lambda: asyncio.run(serve()), daemon=True).start()
        ready.wait(10)
        return self


async def subscribe(bootstrap: str, port: int) -> None:
    sub = new_subscription(
        {
            "callbackUrl": f"http://127.0.0.1:{port}/hook",
            "secret": base64.b64encode(SECRET).decode(),
        }
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            DCSA_SUBSCRIPTIONS, stored(sub), key=sub.subscriptionID.encode()
        )
    finally:
        await producer.stop()


async def milestones_out(bootstrap: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        await consumer.topics()
        return sum((await end_offsets(consumer, [DCSA_OUT], bootstrap)).values())
    finally:
        await consumer.stop()


def one_run(
    condition: str, lines: list[bytes], visits: int, work: Path, timeout: float
) -> tuple[Rate, str]:
    work.mkdir(parents=True, exist_ok=True)
    with EmbeddedBroker() as broker:
        asyncio.run(create_all_topics(broker))
        asyncio.run(preproduce(broker.bootstrap, lines))
        receiver = None
        if condition == "up":
            receiver = Receiver().start()
            asyncio.run(subscribe(broker.bootstrap, receiver.port))
        elif condition == "down":
            asyncio.run(subscribe(broker.bootstrap, free_port()))
        row = run_pipeline(broker, work, len(lines), "memory://", visits, timeout)
        note = ""
        if condition != "none":
            out = asyncio.run(milestones_out(broker.bootstrap))
            got = (
                f"receiver got {receiver.events:,} events (forged {receiver.forged}) of "
                if receiver
                else ""
            )
            note = f"{got}{out:,} milestones on vasscm.dcsa-out when tracking was done"
        return row, note


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=240.0)
    args = parser.parse_args()
    header()
    lines = list(synthetic_log(args.events))
    visits = replayed_visits(lines)
    print(f"log: {len(lines):,} events (synthetic_log), {visits:,} visits completed in replay")
    work = Path(tempfile.mkdtemp(prefix="vasscm-webhook-bench-"))
    rows: dict[str, list[float]] = {"none": [], "up": [], "down": []}
    for round_no in range(1, args.rounds + 1):
        for condition in rows:
            row, note = one_run(
                condition, lines, visits, work / f"{condition}{round_no}", args.timeout
            )
            rows[condition].append(row.per_s)
            print(
                f"round {round_no} {condition:<5} {row.per_s:>8,.0f} events/s ({row.seconds:.1f} s)"
                + (f"  {note}" if note else "")
            )
            print(f"      {row.note}")
    base = sum(rows["none"]) / len(rows["none"])
    for condition, rates in rows.items():
        mean = sum(rates) / len(rates)
        print(
            f"{condition:<5} mean {mean:>8,.0f} events/s  ratio to none {mean / base:.2f}  "
            f"(runs: {', '.join(f'{r:,.0f}' for r in rates)})"
        )


if __name__ == "__main__":
    main()
