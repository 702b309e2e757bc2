"""Which files a report reads: a file, a glob or a directory; JSONL or Parquet.

A directory means every ``*.jsonl``, ``*.jsonl.gz`` and ``*.parquet`` directly in it
(not its subdirectories) but replay's other outputs (``alerts``, ``rejected``,
``state``), so a replay's ``--out`` directory reads as its clearances; a glob
(``clearances/2018-*.jsonl``, ``**`` allowed) every file it matches with one of those
endings; a file is read whatever it is called, as Parquet when it ends in ``.parquet``,
else as JSONL (``.gz``: gzip-compressed). Files are read in the order of their paths,
which is also the order the consumer rule's "the later record" follows across files.
"""

from __future__ import annotations

import glob
import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, cast

from vasscm.errors import VasscmError
from vasscm.report.lines import NotClearances, kind_of_line

__all__ = ["Inputs", "NoInput", "first_record", "resolve_inputs"]

_ENDINGS: Final = (".jsonl", ".jsonl.gz", ".parquet")
_GLOB_CHARS: Final = frozenset("*?[")
_OTHER_OUTPUTS: Final = frozenset({"alerts", "rejected", "state"})


class NoInput(VasscmError, OSError):
    """The input names no file the report can read."""


@dataclass(frozen=True, slots=True)
class Inputs:
    """The files of one input, in reading order, and what the user named."""

    label: Path
    files: tuple[Path, ...]

    @property
    def jsonl(self) -> tuple[Path, ...]:
        return tuple(f for f in self.files if not is_parquet(f))

    @property
    def parquet(self) -> tuple[Path, ...]:
        return tuple(f for f in self.files if is_parquet(f))


def is_parquet(path: Path) -> bool:
    return path.name.lower().endswith(".parquet")


def _readable(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(_ENDINGS)


def resolve_inputs(named: Path | str) -> Inputs:
    """The files ``named`` stands for (module docstring); :class:`NoInput` when none."""
    text = str(named)
    path = Path(text)
    if path.is_dir():
        files = sorted(
            p
            for p in path.iterdir()
            if _readable(p) and p.name.split(".", 1)[0] not in _OTHER_OUTPUTS
        )
        if not files:
            raise NoInput(f"{path} holds no *.jsonl, *.jsonl.gz or *.parquet file")
    elif path.is_file():
        files = [path]
    elif _GLOB_CHARS & set(text):
        files = sorted(p for p in map(Path, glob.glob(text, recursive=True)) if _readable(p))
        if not files:
            raise NoInput(f"{text} matches no *.jsonl, *.jsonl.gz or *.parquet file")
    else:
        raise NoInput(f"cannot read {text}: no such file or directory")
    return Inputs(path, tuple(files))


def _open(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def lines_of(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(line number, line)`` of a JSONL file, blank lines included (1-based)."""
    with _open(path) as stream:
        yield from enumerate(stream, start=1)


def first_record(path: Path) -> None:
    """Refuse a JSONL file whose first record is another vasscm file kind, as the
    line-by-line reader did (:class:`vasscm.report.load.NotClearances`)."""
    for number, raw in lines_of(path):
        if not raw.strip():
            continue
        kind = kind_of_line(raw)
        if kind is not None:
            raise NotClearances(
                f"{path} holds {kind} (line {number}); vasscm report reads the "
                "clearance records that `vasscm replay` writes to clearances.jsonl"
            )
        return
