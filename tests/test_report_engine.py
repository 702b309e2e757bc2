"""The DuckDB report engine against the Python reference (vasscm.report.stats.build_report
over load_clearances): every figure of the Report, on the golden files and on a
generated year-like file; Parquet against JSONL; malformed lines and inputs.

Floats are compared with a relative tolerance of 1e-9: DuckDB's quantile_cont
interpolates with other floating-point steps than the reference (last-bit
differences), and fsum is compensated, math.fsum exact. Counts and shares are exact.
"""

from __future__ import annotations

import gzip
import math
import shutil
from datetime import UTC, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from commands import vasscm

from vasscm.report.engine import Engine, connect, engine_report
from vasscm.report.inputs import resolve_inputs
from vasscm.report.load import load_clearances
from vasscm.report.run import run_report
from vasscm.report.stats import Report, build_report
from vasscm.report.synthetic import write_synthetic

GOLDEN = Path(__file__).parent / "golden"
REL = 1e-9
ICT = timezone(timedelta(hours=7))


def _same(a: Any, b: Any, where: str) -> None:
    if isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=REL, abs_tol=0.0), f"{where}: {a!r} != {b!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def assert_same_report(new: Report, old: Report) -> None:
    """Every figure of two reports, floats within REL."""
    assert new.source == old.source
    assert (new.by, new.period, new.tz, new.targets) == (old.by, old.period, old.tz, old.targets)
    assert (new.first_exit, new.last_exit) == (old.first_exit, old.last_exit)
    assert [g.key for g in new.groups] == [g.key for g in old.groups]
    for g, h in zip(new.groups, old.groups, strict=True):
        for name in ("visits", "pre_cleared", "scanned", "alerted"):
            _same(getattr(g, name), getattr(h, name), f"{g.label} {name}")
        assert list(g.segments) == list(h.segments)
        for segment, s in g.segments.items():
            t = h.segments[segment]
            for name in ("count", "mean", "median", "p90", "p95", "max", "target"):
                _same(getattr(s, name), getattr(t, name), f"{g.label} {segment} {name}")
            _same(s.within_target, t.within_target, f"{g.label} {segment} within")
    assert new.histogram == old.histogram
    assert new.duties == old.duties
    assert len(new.summaries) == len(old.summaries)
    for s, t in zip(new.summaries, old.summaries, strict=True):
        assert (s.direction, s.visits) == (t.direction, t.visits)
        for name in ("release_mean", "previous_release_mean"):
            _same(getattr(s, name), getattr(t, name), f"summary {s.direction} {name}")
    assert (new.comparison is None) == (old.comparison is None)
    if new.comparison is not None and old.comparison is not None:
        c, d = new.comparison, old.comparison
        assert (c.path, c.visits, c.first_exit, c.last_exit) == (
            d.path,
            d.visits,
            d.first_exit,
            d.last_exit,
        )
        assert [(x.key, x.segment, x.metric) for x in c.changes] == [
            (x.key, x.segment, x.metric) for x in d.changes
        ]
        for x, y in zip(c.changes, d.changes, strict=True):
            _same(x.current, y.current, f"change {x.key} {x.segment} {x.metric}")
            _same(x.previous, y.previous, f"change {x.key} {x.segment} {x.metric}")


def both(path: Path, previous: Path | None = None, **options: Any) -> tuple[Report, Report]:
    """(engine's report, reference's report) of the same file(s) and options."""
    with connect(memory="256MB") as con:
        current = Engine.load(con, resolve_inputs(path), "cur")
        before = None if previous is None else Engine.load(con, resolve_inputs(previous), "old")
        new = engine_report(current, previous=before, **options)
    old = build_report(
        load_clearances(path),
        previous=None if previous is None else load_clearances(previous),
        **options,
    )
    return new, old


def gunzip(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name.removesuffix(".gz")
    with gzip.open(GOLDEN / name, "rb") as src, target.open("wb") as out:
        shutil.copyfileobj(src, out)
    return target


GROUPINGS = [
    ("site", "direction"),
    ("site", "direction", "channel", "period"),
    ("period",),
    (),
]


@pytest.mark.parametrize("name", ["plain", "shuffled", "faults"])
@pytest.mark.parametrize("by", GROUPINGS)
def test_golden_files_give_the_reference_report(tmp_path: Path, name: str, by: tuple[str]) -> None:
    """On each golden clearances file, the engine's report equals the reference's in
    every figure, for the default grouping, all four fields, period alone and none."""
    path = gunzip(f"{name}.clearances.jsonl.gz", tmp_path)
    new, old = both(path, by=by, period="week", tz=ICT)
    assert new.groups
    assert new.source.visits > 0
    assert_same_report(new, old)


@pytest.mark.parametrize("period", ["day", "week", "month", "quarter", "year"])
def test_every_period_label_and_the_comparison_match(tmp_path: Path, period: str) -> None:
    """Period labels (in +07:00), duties per period and --compare's changes and
    direction summaries equal the reference's, shuffled compared against plain."""
    now = gunzip("shuffled.clearances.jsonl.gz", tmp_path)
    before = gunzip("plain.clearances.jsonl.gz", tmp_path)
    new, old = both(
        now, before, by=("site", "period"), period=period, tz=ICT, targets={"exit": 3600.0}
    )
    assert new.comparison is not None
    assert new.comparison.changes
    assert_same_report(new, old)


@pytest.fixture(scope="module")
def year_like(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """150k generated records (revisions, equal revisions with other figures, so the
    file order decides, supersedes, obligations) and an earlier 50k to compare with
    (equal revisions the same record twice: read without the order)."""
    root = tmp_path_factory.mktemp("year")
    return (
        write_synthetic(root / "now.jsonl", 150_000, seed=3, conflicts=True),
        write_synthetic(root / "before.jsonl", 50_000, seed=4),
    )


def test_a_large_generated_file_gives_the_reference_report(year_like: tuple[Path, Path]) -> None:
    """150k records grouped by all four fields, compared with another file: the same
    report, and the consumer rule dropped both older revisions and superseded ids."""
    now, before = year_like
    new, old = both(
        now, before, by=("site", "direction", "channel", "period"), period="month", tz=ICT
    )
    assert new.source.older_revisions > 0
    assert new.source.superseded > 0
    assert_same_report(new, old)


def test_parquet_from_replay_reads_as_the_jsonl(tmp_path: Path) -> None:
    """`vasscm replay --format parquet` writes clearances.parquet (and no
    clearances.jsonl); `vasscm report` over it prints what it prints over the JSONL,
    also with --jobs 2."""
    events = gunzip("shuffled.events.jsonl.gz", tmp_path)
    outputs = {}
    for label, extra in (("jsonl", []), ("parquet", ["--format", "parquet"])):
        out = tmp_path / label
        done = vasscm("replay", str(events), "--out", str(out), *extra)
        assert done.returncode == 0, done.stderr
        outputs[label] = out
    sharded = tmp_path / "sharded"
    done = vasscm(
        "replay", str(events), "--out", str(sharded), "--jobs", "2", "--format", "parquet"
    )
    assert done.returncode == 0, done.stderr
    assert (outputs["parquet"] / "clearances.parquet").is_file()
    assert not (outputs["parquet"] / "clearances.jsonl").exists()

    def report(path: Path) -> dict[str, Any]:
        done = vasscm("report", str(path), "--format", "json", "--lang", "en")
        assert done.returncode == 0, done.stderr
        doc: dict[str, Any] = orjson.loads(done.stdout)
        doc["input"].pop("path")
        return doc

    expected = report(outputs["jsonl"] / "clearances.jsonl")
    assert expected["input"]["visits"] > 0
    assert report(outputs["parquet"] / "clearances.parquet") == expected
    assert report(sharded) == expected  # a directory: replay's --out, other outputs skipped


def test_generated_parquet_reads_as_its_jsonl(tmp_path: Path) -> None:
    """The same generated records as JSONL and as Parquet give the same report,
    lodgement and customs segments included."""
    jsonl = write_synthetic(tmp_path / "c.jsonl", 20_000, seed=5, lodgement=True)
    parquet = write_synthetic(tmp_path / "c.parquet", 20_000, seed=5, fmt="parquet", lodgement=True)
    with connect() as con:
        a = engine_report(Engine.load(con, resolve_inputs(jsonl), "a"), tz=ICT)
        b = engine_report(Engine.load(con, resolve_inputs(parquet), "b"), tz=ICT)
    assert a.groups[0].segments["lodgement"].count > 0
    assert a.groups[0].segments["customs"].count == a.groups[0].segments["lodgement"].count
    assert a.groups == b.groups
    assert a.duties == b.duties
    assert a.histogram == b.histogram
    assert a.source.visits == b.source.visits


def _record(visit_id: str, revision: int = 1, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "container_no": "MSKU0000001",
        "site": "cai-lan",
        "direction": "import",
        "visit_id": visit_id,
        "declaration_nos": ["300000000001"],
        "channel": "green",
        "arrived_at": "2018-03-01T00:00:00Z",
        "eligible_at": None,
        "exited_at": "2018-03-01T10:00:00Z",
        "segments": {"exit": 60.0},
        "pre_cleared": False,
        "scanned": False,
        "scan_result": None,
        "alerts": [],
        "obligations": [],
        "revision": revision,
        "supersedes": [],
    }
    doc.update(fields)
    return doc


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_consumer_rule_ties_and_supersedes(tmp_path: Path) -> None:
    """Equal revisions: the later line wins; a record listing an id in ``supersedes``
    drops it unless the id has a higher revision than the lister (current_records: kept
    only when its revision exceeds the highest listing it); absent segments are not
    zeros."""
    lines = [
        orjson.dumps(_record("A", 1, segments={"release": 100.0})),
        orjson.dumps(_record("A", 1, segments={"release": 300.0})),  # same revision, later
        orjson.dumps(_record("G", 2, segments={"release": 5.0})),
        orjson.dumps(_record("B", 2, supersedes=["G"], segments={"lodgement": 7.0})),
        orjson.dumps(_record("H", 1, segments={"release": 9.0})),
        orjson.dumps(_record("C", 1, supersedes=["H"])),  # H not above 1: dropped
        orjson.dumps(_record("G", 3, segments={"release": 50.0})),  # G at 3 > 2: kept again
    ]
    path = _write(tmp_path / "c.jsonl", lines)
    with connect() as con:
        report = engine_report(Engine.load(con, resolve_inputs(path), "c"), by=())
    overall = report.groups[0]
    assert report.source.visits == 4  # A, G(3), B, C
    assert (report.source.older_revisions, report.source.superseded) == (2, 1)
    assert overall.segments["release"].count == 2  # A's later 300, G's 50
    assert overall.segments["release"].max == 300.0
    assert overall.segments["release"].median == 175.0
    assert overall.segments["lodgement"].count == 1
    assert overall.segments["customs"].count == 0
    assert overall.segments["customs"].mean is None


def test_malformed_lines_are_named_and_counted(tmp_path: Path) -> None:
    """Bad lines are reported on stderr with their line number (blank lines counted) and
    the field at fault, counted in the report, and never stop it."""
    good = orjson.dumps(_record("A"))
    lines = [
        good,
        b"",
        b"{not json",
        orjson.dumps(_record("B", revision=0)),
        orjson.dumps(_record("C", direction="sideways")),
        orjson.dumps(_record("D", exited_at="yesterday")),
        orjson.dumps(_record("E", segments="fast")),
        b"[1, 2]",
        orjson.dumps(_record("F")),
    ]
    path = _write(tmp_path / "c.jsonl", lines)
    result = vasscm("report", str(path), "--format", "json", "--lang", "en")
    assert result.returncode == 0, result.stderr
    doc = orjson.loads(result.stdout)
    assert doc["input"]["malformed"] == 6
    assert doc["input"]["visits"] == 2
    err = result.stderr
    for number, field in ((4, "revision"), (5, "direction"), (6, "exited_at"), (7, "segments")):
        assert f"c.jsonl:{number}: skipped malformed line" in err
        assert f"'{field}" in err.split(f"c.jsonl:{number}:")[1].splitlines()[0]
    assert "c.jsonl:3: skipped malformed line: invalid JSON" in err
    assert "c.jsonl:8: skipped malformed line" in err
    assert "6 malformed lines skipped" in err
    assert "Traceback" not in err


def test_other_vasscm_files_and_missing_inputs_are_refused(tmp_path: Path) -> None:
    """An alerts file is refused naming its kind (exit 2); a glob matching nothing or
    a missing file is an error naming it (exit 1); neither prints a traceback."""
    alerts = gunzip("plain.alerts.jsonl.gz", tmp_path)
    result = vasscm("report", str(alerts))
    assert result.returncode == 2
    assert "holds alerts" in result.stderr
    result = vasscm("report", str(tmp_path / "none-*.parquet"))
    assert result.returncode == 1
    assert "matches no" in result.stderr
    result = vasscm("report", str(tmp_path / "missing.jsonl"))
    assert result.returncode == 1
    assert "missing.jsonl" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_glob_of_files_reads_them_in_path_order(tmp_path: Path) -> None:
    """A glob over two files is one input: a record re-emitted at the same revision in
    the later file (by path) wins, and the counts add up."""
    a = orjson.dumps(_record("A", segments={"release": 10.0}))
    b = orjson.dumps(_record("A", segments={"release": 20.0}))
    _write(tmp_path / "2018-01.jsonl", [a])
    _write(tmp_path / "2018-02.jsonl", [b, orjson.dumps(_record("Z"))])
    code = run_report(str(tmp_path / "2018-*.jsonl"), fmt="json", out=tmp_path / "r.json")
    assert code == 0
    doc = orjson.loads((tmp_path / "r.json").read_bytes())
    assert doc["input"]["records_read"] == 3
    assert doc["input"]["visits"] == 2
    release = doc["groups"][0]["segments"]["release"]
    assert release["count"] == 1
    assert release["max"]["seconds"] == 20.0


def test_utc_default_offset_is_the_reference_too(tmp_path: Path) -> None:
    """Week labels in UTC (ISO year across new year) equal the reference's."""
    path = gunzip("plain.clearances.jsonl.gz", tmp_path)
    new, old = both(path, by=("period",), period="week", tz=UTC)
    assert_same_report(new, old)


def test_the_scans_directions_and_channels_are_the_contracts() -> None:
    from typing import get_args

    from vasscm.events import Channel, Direction
    from vasscm.report import scan

    assert scan._DIRECTIONS == (*(d.value for d in Direction), "unknown")
    assert scan._CHANNELS == (*get_args(Channel), "unknown")
