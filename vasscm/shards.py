"""``vasscm replay --jobs N``: one log, its containers shared out among N processes.

The results are those of ``--jobs 1``, byte for byte. What makes that hard is the clock:
a visit's alerts are judged at the event-time watermark, the highest ``occurred_at`` of
every valid event read so far, whatever its container. So the workers go through the
file together, a block of lines at a time:

1. Each worker works out, for its N-th of the block's lines, which workers own each
   line: those that hold one of its containers (CRC-32 of the number, modulo N). A
   line whose containers cannot be read belongs to one worker (line number modulo N),
   which will reject it. The owners go into a shared array as a bit mask a line: each
   line is read as JSON for routing once, not N times. This is done a block ahead,
   so that the barrier of step 3 makes the next block's owners known too.
2. Each worker parses the lines it owns and writes, for each line of the block, the
   ``occurred_at`` of a valid event it owns (else -1) into its row of a shared array.
3. All wait at a barrier. The clock at every line is then the running maximum over
   every row: the clock ``--jobs 1`` has, known to each worker without parsing what is
   not its own.
4. Each worker applies its own containers' events at that clock, and runs its own
   deadline checks where ``--jobs 1`` would find one of them due: after each line it
   steps, and at the first line whose clock reaches its earliest deadline (the clocks
   only rise, so a bisect finds it; at any other line ``--jobs 1``'s check finds
   none of this worker's containers due). Lines it does not own are not visited.

Every output is written with a sort key, ``(line, 0, index of the container in the
event)`` for what an event produced and ``(line, 1, deadline, container)`` for a
check (``--jobs 1`` runs the checks that fall due in that order), so merging the
workers' files by key gives the order ``--jobs 1`` writes. ``state.jsonl`` merges by
container number. The forecasts (contract 8.2) are a sum over visits, the completed
ones learned and the open ones tallied: each worker learns its own records and
tallies its own open visits, all meet at the barrier once more, and each forecasts its
open visits from every worker's sum, the forecasts one process makes from the merged
files (:mod:`vasscm.replay_forecasts`). The parent starts the workers and merges
their files.

The workers are forked where that is safe, a process of one thread (the command line:
a worker then starts in milliseconds, with vasscm already imported), and spawned
otherwise (a fork copies no other thread, and a lock one of them held stays held).
"""

from __future__ import annotations

import gc
import heapq
import multiprocessing
import os
import pickle
import shutil
import tempfile
import time
import zlib
from bisect import bisect_left
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import islice
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path
from typing import IO, Any, Final

import orjson

from vasscm.durations import to_ms
from vasscm.errors import VasscmError
from vasscm.events import (
    MAX_EVENT_BYTES,
    Rejection,
    containers_named,
    parse_container_no,
)
from vasscm.forecast import Curves, Forecaster, Key, add_tallies
from vasscm.replay import (
    _OUTPUTS,
    FewCollections,
    Replayer,
    Summary,
    numbered_lines,
    parse_line,
)
from vasscm.replay_forecasts import learn_records, open_visits, write_forecasts
from vasscm.tracking import DEFAULT_POLICY, Policy

__all__ = ["ShardFailed", "replay_sharded"]


class ShardFailed(VasscmError, RuntimeError):
    """A worker process of ``replay --jobs`` died; the outputs are incomplete."""


BLOCK: Final = 16384  # lines between two barriers (4,096 left 16 % of the time waiting)
_STREAMS: Final = ("clearances.jsonl", "alerts.jsonl", "rejected.jsonl")
_BARRIER_TIMEOUT: Final = 600.0  # a worker that has died is noticed by then at worst


def shard_of(container_no: str, jobs: int) -> int:
    """The worker that owns a container (stable across runs and machines)."""
    return zlib.crc32(container_no.encode()) % jobs


def owners(line: bytes, number: int, jobs: int) -> tuple[int, ...]:
    """The workers that own a line: those of its containers, in order; else one worker."""
    mask = owner_mask(line, number, jobs)
    return tuple(j for j in range(jobs) if mask >> j & 1)


def owner_mask(line: bytes, number: int, jobs: int) -> int:
    """The workers that own a line (:func:`owners`) as a bit mask, bit ``j`` for worker
    ``j``. The line is read as JSON once: this is each line's cost of routing."""
    try:
        doc = orjson.loads(line)
        if isinstance(doc, dict):
            if "type" not in doc and ("eventType" in doc or "metadata" in doc):
                return _dcsa_mask(doc, jobs)
            named = containers_named(doc)
            if named is None:  # a vessel call: every worker's containers may name it
                return (1 << jobs) - 1
            mask = 0
            for container_no in named:
                mask |= 1 << shard_of(container_no, jobs)
            if mask:
                return mask
    except Exception:  # not readable here: the parser says why, once
        pass
    return 1 << (number % jobs)


def _shared_size(jobs: int) -> int:
    """Bytes of the shared arrays :func:`_views` reads."""
    return 2 * jobs * BLOCK * 8 + 2 * BLOCK * 8


def _views(buf: memoryview, jobs: int) -> tuple[memoryview, memoryview]:
    """The shared arrays, two blocks of each (a worker may be a block ahead): each
    worker's row of ``occurred_at`` (ms, signed), and each line's owners' mask."""
    split = 2 * jobs * BLOCK * 8
    return buf[:split].cast("q"), buf[split:].cast("Q")


def _dcsa_mask(doc: dict[str, Any], jobs: int) -> int:
    """A DCSA T&T line's owners (vasscm.dcsa): a transport event is every worker's (a
    vessel call), an equipment event its container's; raises when neither can be read."""
    payload, meta = doc.get("payload"), doc.get("metadata")
    body: dict[str, Any] = payload if isinstance(payload, dict) else doc
    head: dict[str, Any] = meta if isinstance(meta, dict) else doc
    if head.get("eventType") == "TRANSPORT":
        return (1 << jobs) - 1
    return 1 << _raw_shard(body["equipmentReference"], jobs)


def _raw_shard(raw: str, jobs: int) -> int:
    """shard_of the number as the parser writes it; raises as the parser would."""
    return shard_of(parse_container_no(raw), jobs)


def _key(slot: tuple[Any, ...]) -> bytes:
    line = slot[0]
    if slot[1] == 0:
        return b"%012d0%05d" % (line, slot[2])
    return b"%012d1%015d%s" % (line, slot[2], slot[3].encode())


def _worker(
    k: int,
    jobs: int,
    events: str,
    tmp: str,
    shm_name: str,
    barrier: Any,
    as_of: datetime | None,
    policy: Policy,
    max_event_bytes: int,
    forecaster: Forecaster,
) -> None:
    shm = SharedMemory(name=shm_name)
    assert shm.buf is not None
    rows, masks = _views(shm.buf, jobs)
    files = {name: open(Path(tmp) / f"{k}.{name}", "wb", buffering=1 << 20) for name in _OUTPUTS}  # noqa: SIM115
    shared = open(Path(tmp) / f"{k}.shared", "wb", buffering=1 << 20)  # noqa: SIM115
    try:
        replayer = Replayer(
            on_record=_keyed(files["clearances.jsonl"], lambda: replayer.slot),
            on_alert=_keyed(files["alerts.jsonl"], lambda: replayer.slot),
            on_rejected=_keyed(files["rejected.jsonl"], lambda: replayer.slot),
            policy=policy,
            as_of=as_of,
            max_event_bytes=max_event_bytes,
        )
        summary = replayer.summary

        def mine(container_no: str) -> bool:
            return shard_of(container_no, jobs) == k

        with open(events, "rb", buffering=1 << 20) as stream, FewCollections() as gc_:
            blocks = _blocks(stream, max_event_bytes)
            first = next(blocks)
            _route(first, masks, 0, k, jobs)
            block: list[tuple[int, int, bytes, bool]] | None = first
            barrier.wait(_BARRIER_TIMEOUT)  # the first block's owners are known
            parity = 0
            while block is not None:
                gc_.tick(len(block))
                base = (parity & 1) * jobs * BLOCK
                own = base + k * BLOCK
                routed = (parity & 1) * BLOCK
                # The next block's share of the routing, before the one barrier: its
                # owners are known when this block's clock is.
                after = next(blocks, None) if len(block) == BLOCK else None
                if after is not None:
                    _route(after, masks, (parity + 1) & 1, k, jobs)
                stepped: list[tuple[int, Any, bool, bool]] = []  # the lines it steps
                bit = 1 << k
                for i, (number, size, line, oversized) in enumerate(block):
                    rows[own + i] = -1
                    mask = masks[routed + i]
                    if not mask & bit:
                        continue
                    primary = (mask & -mask) == bit  # the lowest owner counts the line, rejects it
                    if oversized:
                        replayer.feed_oversized(line, size, line=number)
                        continue
                    # From the bytes (the parser's fast path), not from ``doc``: a
                    # third faster than validating the dict orjson made for routing.
                    parsed = parse_line(line, max_bytes=max_event_bytes)
                    if isinstance(parsed, Rejection):
                        if primary:
                            summary.lines += 1
                            replayer.refuse(line, parsed, line=number)
                        continue
                    stepped.append((i, parsed, primary, mask != bit))
                    rows[own + i] = to_ms(parsed.occurred_at)
                barrier.wait(_BARRIER_TIMEOUT)
                n = len(block)
                every = (rows[r : r + n] for r in range(base, base + jobs * BLOCK, BLOCK))
                # Each line's occurred_at, from every worker's row:
                occurred = list(map(max, *every)) if jobs > 1 else list(next(every))
                done, clocks = replayer.clocks(occurred)  # done: lines stepped and checked
                for i, parsed, primary, split in stepped:  # each has a valid event: a clock
                    _check_until(replayer, block, clocks, done, i)
                    number, _, line, _ = block[i]
                    clock = clocks[i]
                    accepted = replayer.track(line, parsed, clock, line=number, mine=mine)
                    if split:  # its owners' answers are combined by the parent
                        shared.write(b"%012d%d\n" % (number, accepted))
                    if primary:
                        summary.lines += 1
                        if not split:
                            summary.accepted += accepted
                            summary.duplicates += not accepted
                    replayer.tick(clock, line=number)
                    done = i + 1
                _check_until(replayer, block, clocks, done, n)
                block, parity = after, parity + 1
        as_of_ = replayer.finish()
        for state in replayer.open_states():
            files["state.jsonl"].write(state + b"\n")
        with open(Path(tmp) / f"{k}.summary", "wb") as out:
            pickle.dump(summary, out)
    finally:
        for handle in (*files.values(), shared):
            handle.close()
        del rows, masks
        shm.close()
    if as_of_ is not None:  # every worker's: they all keep the one clock
        _forecast(k, jobs, Path(tmp), as_of_, forecaster, barrier)


def _check_until(
    replayer: Replayer,
    block: list[tuple[int, int, bytes, bool]],
    clocks: list[int],
    done: int,
    end: int,
) -> None:
    """The deadline checks ``--jobs 1`` runs on this worker's containers at the lines
    from ``done`` to before ``end``, none of which it steps: at the first line whose
    clock reaches the earliest deadline, and so on (the clocks only rise, so a bisect
    finds it; at any other line no deadline is at or before the clock)."""
    while done < end:
        due = replayer.yard.deadlines.next_due()
        if due is None:
            return
        at = bisect_left(clocks, due, done, end)
        if at == end:
            return
        replayer.tick(clocks[at], line=block[at][0])
        done = at + 1


def _route(
    block: list[tuple[int, int, bytes, bool]], masks: memoryview, parity: int, k: int, jobs: int
) -> None:
    """Worker ``k``'s share of routing ``block``: each line's owners into ``masks``
    (the half of it for ``parity``). Two blocks' masks are held, as a worker may be a
    block ahead of another: it routes the next while another still reads this one."""
    routed = parity * BLOCK
    for i in range(len(block) * k // jobs, len(block) * (k + 1) // jobs):
        number, _, line, oversized = block[i]
        masks[routed + i] = 1 << (number % jobs) if oversized else owner_mask(line, number, jobs)


def _forecast(
    k: int, jobs: int, tmp: Path, as_of: datetime, forecaster: Forecaster, barrier: Any
) -> None:
    """Forecast this worker's open visits (see the module docstring): learn its records
    and tally its open visits, share both, and forecast from every worker's sum."""
    # The replay's states are still held, and the worker ends after this: the cyclic
    # collector would only walk them again (replay makes almost no cycles).
    gc.disable()
    state = tmp / f"{k}.state.jsonl"
    opened = open_visits(state)
    with open(tmp / f"{k}.clearances.jsonl", "rb") as keyed:
        records = (line[line.index(b"\t") + 1 :] for line in keyed)
        learned = learn_records(records, as_of, forecaster.fresh())
    tally: dict[Key, list[list[int]]] = {}
    learned.tally([obs for obs in opened if obs is not None], to_ms(as_of), tally)
    with open(tmp / f"{k}.learned", "wb") as out:
        pickle.dump((learned, tally), out)
    barrier.wait(_BARRIER_TIMEOUT)
    everyone = forecaster.fresh()
    everyone.advance(to_ms(as_of))
    tallies: dict[Key, list[list[int]]] = {}
    for j in range(jobs):
        with open(tmp / f"{j}.learned", "rb") as shared:
            theirs, their_tally = pickle.load(shared)
        everyone.absorb(theirs)
        add_tallies(tallies, their_tally)
    write_forecasts(state, opened, as_of, everyone, Curves(everyone, tallies))


def _blocks(stream: IO[bytes], limit: int) -> Iterator[list[tuple[int, int, bytes, bool]]]:
    """Blocks of (line number, size, line, oversized), blank lines left out, the last
    one possibly empty. Every worker reads the same file, so every worker meets the
    same number of barriers."""
    lines = (item for item in numbered_lines(stream, limit) if item[3] or item[2].strip())
    while True:
        block = list(islice(lines, BLOCK))
        yield block
        if len(block) < BLOCK:
            return


def _keyed(handle: IO[bytes], slot: Callable[[], tuple[Any, ...]]) -> Callable[[bytes], None]:
    def write(data: bytes) -> None:
        handle.write(_key(slot()) + b"\t" + data + b"\n")

    return write


def replay_sharded(
    events: Path,
    out: Path,
    *,
    jobs: int,
    as_of: datetime | None = None,
    policy: Policy = DEFAULT_POLICY,
    max_event_bytes: int = MAX_EVENT_BYTES,
    forecaster: Forecaster | None = None,
) -> Summary:
    """As :func:`vasscm.replay.replay_file`, with the containers shared out among
    ``jobs`` processes (see the module docstring)."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    forecaster = forecaster if forecaster is not None else Forecaster()
    ctx: Any = multiprocessing.get_context(start_method())
    tmp = tempfile.mkdtemp(prefix="vasscm-jobs-", dir=out)
    shm = SharedMemory(create=True, size=_shared_size(jobs))
    try:
        barrier = ctx.Barrier(jobs)
        workers = [
            ctx.Process(
                target=_worker,
                args=(
                    k,
                    jobs,
                    str(events),
                    tmp,
                    shm.name,
                    barrier,
                    as_of,
                    policy,
                    max_event_bytes,
                    forecaster,
                ),
                name=f"vasscm-replay-{k}",
            )
            for k in range(jobs)
        ]
        gc.freeze()  # a forked worker's collections then never touch (copy) our pages
        try:
            for w in workers:
                w.start()
        finally:
            gc.unfreeze()
        _wait(workers, barrier)
        summary = _merge(Path(tmp), out, jobs)
    finally:
        shm.close()
        shm.unlink()
        shutil.rmtree(tmp, ignore_errors=True)
    summary.seconds = time.perf_counter() - started
    return summary


def start_method() -> str:
    """``fork`` in a process of one thread where the system has it, else ``spawn``
    (see the module docstring). Threads are counted by the kernel (``/proc``): a
    library's own threads count too."""
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:  # no /proc (macOS, where forking is unsafe anyway)
        return "spawn"
    return "fork" if threads == 1 and "fork" in multiprocessing.get_all_start_methods() else "spawn"


def _wait(workers: list[Any], barrier: Any) -> None:
    pending = list(workers)
    while pending:
        for w in list(pending):
            w.join(0.2)
            if w.exitcode is None:
                continue
            pending.remove(w)
            if w.exitcode != 0:
                barrier.abort()  # the others stop waiting for it
                for other in pending:
                    other.join()
                raise ShardFailed(
                    f"worker {w.name} failed (exit code {w.exitcode}; its error is above); "
                    "the output files are incomplete"
                )


def _merge(tmp: Path, out: Path, jobs: int) -> Summary:
    summaries = []
    for k in range(jobs):
        with open(tmp / f"{k}.summary", "rb") as f:
            summaries.append(pickle.load(f))
    for name in _STREAMS:
        sources = [open(tmp / f"{k}.{name}", "rb") for k in range(jobs)]  # noqa: SIM115
        try:
            with open(out / name, "wb", buffering=1 << 20) as target:
                # Whole lines compare as their keys do: no two workers write one key,
                # and the tab after a key sorts before any character of a longer key.
                for line in heapq.merge(*sources):
                    target.write(line[line.index(b"\t") + 1 :])
        finally:
            for source in sources:
                source.close()
    sources = [open(tmp / f"{k}.state.jsonl", "rb") for k in range(jobs)]  # noqa: SIM115
    try:
        with open(out / "state.jsonl", "wb", buffering=1 << 20) as target:
            target.writelines(heapq.merge(*sources))
    finally:
        for source in sources:
            source.close()
    total = Summary()
    for s in summaries:
        total.lines += s.lines
        total.accepted += s.accepted
        total.duplicates += s.duplicates
        total.rejected.update(s.rejected)
        total.records += s.records
        total.visits_completed += s.visits_completed
        total.visits_open += s.visits_open
        total.alerts.update(s.alerts)
        total.as_of = total.as_of or s.as_of
    # Lines whose containers several workers hold: accepted when any of them accepted.
    sources = [open(tmp / f"{k}.shared", "rb") for k in range(jobs)]  # noqa: SIM115
    try:
        last, accepted = None, False
        for line in heapq.merge(*sources):
            number, answer = line[:12], line[12:13] == b"1"
            if number != last:
                if last is not None:
                    total.accepted += accepted
                    total.duplicates += not accepted
                last, accepted = number, answer
            else:
                accepted = accepted or answer
        if last is not None:
            total.accepted += accepted
            total.duplicates += not accepted
    finally:
        for source in sources:
            source.close()
    return total
