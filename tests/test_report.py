"""Tests for vasscm.report: TRS statistics, de-duplication, grouping, compare, formats, CLI."""

from __future__ import annotations

import csv
import io
import itertools
import subprocess
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from commands import vasscm
from factories import clearance_record

from vasscm.events import ClearanceRecord, dump_json
from vasscm.report import (
    SEGMENTS,
    Change,
    ReportUsageError,
    build_report,
    compare_groups,
    group_stats,
    latest_records,
    load_clearances,
    parse_duration,
    parse_targets,
    parse_utc_offset,
    percentile,
    period_of,
    release_histogram,
    render,
    run_report,
    summarize,
)
from vasscm.report.wording import wording

H = 3600.0
MakeRecord = Callable[..., ClearanceRecord]


@pytest.fixture
def make_record() -> MakeRecord:
    """A factory of valid clearance records; keyword arguments override fields."""
    serial = itertools.count(1)

    def make(**fields: Any) -> ClearanceRecord:
        return clearance_record(next(serial), **fields)

    return make


def write_jsonl(path: Path, records: Iterable[ClearanceRecord], extra: Iterable[str] = ()) -> Path:
    """Records as ``vasscm replay`` writes them, then any extra raw lines."""
    lines = [dump_json(r).decode() for r in records] + list(extra)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def releases(
    make_record: MakeRecord, hours: Iterable[float], **fields: Any
) -> list[ClearanceRecord]:
    return [make_record(segments={"release": h * H, "dwell": h * H + H}, **fields) for h in hours]


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return vasscm("report", "--lang", "en", *map(str, args))


# --- statistics ------------------------------------------------------------------------


def test_percentile_interpolates_linearly_like_numpy() -> None:
    """Percentiles follow numpy's default (linear between closest ranks)."""
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 0.5) == 25.0
    assert percentile(values, 0.9) == pytest.approx(37.0)
    assert percentile(values, 0.0) == 10.0
    assert percentile(values, 1.0) == 40.0
    assert percentile([7.0], 0.95) == 7.0


def test_summarize_on_a_hand_computed_set() -> None:
    """Release 1, 2, 3, 4, 30 h: mean 8 h, median 3 h, p90 19.6 h, p95 24.8 h, 4/5 within 24 h."""
    stats = summarize("release", [30 * H, 1 * H, 4 * H, 2 * H, 3 * H], target=24 * H)
    assert stats.count == 5
    assert stats.mean == pytest.approx(8 * H)
    assert stats.median == pytest.approx(3 * H)
    assert stats.p90 == pytest.approx(19.6 * H)  # rank 3.6: 4h + 0.6 * 26h
    assert stats.p95 == pytest.approx(24.8 * H)  # rank 3.8: 4h + 0.8 * 26h
    assert stats.max == 30 * H
    assert stats.within_target == pytest.approx(0.8)


def test_summarize_counts_the_target_itself_as_within() -> None:
    """A duration exactly at the target is within it; no target gives no share."""
    assert summarize("release", [24 * H], target=24 * H).within_target == 1.0
    assert summarize("exit", [H]).within_target is None
    empty = summarize("exit", [])
    assert (empty.count, empty.mean, empty.max) == (0, None, None)


def test_absent_segment_does_not_count(make_record: MakeRecord) -> None:
    """A record without scan_wait (never scanned) is not a zero in scan_wait."""
    records = [
        make_record(segments={"release": H, "scan_wait": 600.0}, scanned=True),
        make_record(segments={"release": 3 * H}),
    ]
    (total,) = group_stats(records, ())
    assert total.segments["release"].count == 2
    assert total.segments["scan_wait"].count == 1
    assert total.segments["scan_wait"].mean == 600.0
    assert total.segments["exit"].count == 0
    assert total.scanned == 0.5


def test_headline_shares(make_record: MakeRecord) -> None:
    """Visits, pre-cleared, scanned and alerted shares per group."""
    records = [
        make_record(pre_cleared=True, segments={"release": 0.0}),
        make_record(scanned=True, alerts=["SEAL_MISMATCH"]),
        make_record(),
        make_record(alerts=["LATE_REPORT"]),
    ]
    (total,) = group_stats(records, ())
    assert (total.key, total.visits) == ((), 4)
    assert (total.pre_cleared, total.scanned, total.alerted) == (0.25, 0.25, 0.5)


# --- de-duplication ----------------------------------------------------------------------


def test_latest_revision_wins_and_superseded_visits_drop(make_record: MakeRecord) -> None:
    """Only the highest revision of a visit counts; a superseded visit id counts not at all."""
    old = make_record(visit_id="V-1", revision=1, segments={"release": 10 * H})
    new = make_record(visit_id="V-1", revision=2, segments={"release": 2 * H})
    stale = make_record(visit_id="V-0", revision=1, segments={"release": 50 * H})
    heir = make_record(visit_id="V-2", revision=2, supersedes=["V-0"], segments={"release": H})
    kept, older, superseded = latest_records([new, stale, old, heir])
    assert sorted((r.visit_id, r.revision) for r in kept) == [("V-1", 2), ("V-2", 2)]
    assert (older, superseded) == (1, 1)


def test_supersede_cycle_keeps_the_higher_revision(make_record: MakeRecord) -> None:
    """Two visits naming each other (an id re-identified back) leave the newer one."""
    a = make_record(visit_id="A", revision=2, supersedes=["B"])
    b = make_record(visit_id="B", revision=3, supersedes=["A"])
    kept, _, superseded = latest_records([a, b])
    assert ([r.visit_id for r in kept], superseded) == (["B"], 1)


def test_load_dedups_a_file(make_record: MakeRecord, tmp_path: Path) -> None:
    """load_clearances streams the file and applies revision and supersedes rules."""
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [
            make_record(visit_id="V-1", revision=1),
            make_record(visit_id="V-1", revision=2),
            make_record(visit_id="V-0"),
            make_record(visit_id="V-9", revision=2, supersedes=["V-0"]),
        ],
        extra=["", "   "],
    )
    loaded = load_clearances(path)
    assert sorted(r.visit_id for r in loaded.records) == ["V-1", "V-9"]
    assert (loaded.lines, loaded.records_read, loaded.older_revisions) == (6, 4, 1)
    assert (loaded.superseded, loaded.malformed) == (1, 0)


# --- grouping ---------------------------------------------------------------------------------


def test_groups_by_site_direction_channel(make_record: MakeRecord) -> None:
    """Each combination of the --by fields is a group, after the overall "all" group."""
    records = [
        *releases(make_record, [1, 3], site="cai-lan", direction="import", channel="green"),
        *releases(make_record, [5], site="cai-lan", direction="export", channel="green"),
        *releases(make_record, [7], site="mong-cai", direction="import", channel="red"),
    ]
    groups = group_stats(records, ("site", "direction", "channel"))
    assert [g.label for g in groups] == [
        "all",
        "site=cai-lan · direction=export · channel=green",
        "site=cai-lan · direction=import · channel=green",
        "site=mong-cai · direction=import · channel=red",
    ]
    assert [g.segments["release"].mean for g in groups] == [4 * H, 5 * H, 2 * H, 7 * H]
    assert [g.visits for g in groups] == [4, 1, 2, 1]


def test_utc_offset_moves_an_exit_across_a_month_boundary(make_record: MakeRecord) -> None:
    """18:00Z on 31 March is 1 April at +07:00: the period follows --utc-offset."""
    record = make_record(exited_at="2018-03-31T18:00:00Z")
    in_utc = group_stats([record], ("period",), period="month", tz=UTC)
    in_hanoi = group_stats([record], ("period",), period="month", tz=parse_utc_offset("+07:00"))
    assert in_utc[1].key == (("period", "2018-03"),)
    assert in_hanoi[1].key == (("period", "2018-04"),)


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("day", "2018-12-31"),
        ("week", "2019-W01"),  # ISO week year
        ("month", "2018-12"),
        ("quarter", "2018-Q4"),
        ("year", "2018"),
    ],
)
def test_period_labels(period: str, expected: str) -> None:
    """Period buckets are labelled 2018-12-31, 2019-W01, 2018-12, 2018-Q4, 2018."""
    moment = datetime(2018, 12, 31, 5, 0, tzinfo=UTC)
    assert period_of(moment, period, UTC) == expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("24h", 86400), ("4h30m", 16200), ("90m", 5400), ("3600s", 3600), ("1d", 86400),
     ("1d12h", 129600), ("7200", 7200), ("2.5", 2.5)],
)  # fmt: skip
def test_parse_duration(text: str, seconds: float) -> None:
    """Targets accept h/m/s/d forms and plain seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("item", ["release=abc", "release", "storage=24h", "release=", "exit=-5"])
def test_bad_target_is_a_usage_error(item: str) -> None:
    """A malformed target, unknown segment or negative duration is refused with the option named."""
    with pytest.raises(ReportUsageError, match="--target"):
        parse_targets([item])


def test_targets_default_and_override() -> None:
    """No --target means release=24h; given targets replace the default."""
    assert parse_targets([]) == {"release": 86400.0}
    assert parse_targets(["exit=2h", "exit=90m"]) == {"exit": 5400.0}


def test_parse_utc_offset() -> None:
    """Offsets in the usual spellings; nonsense is a usage error."""
    assert parse_utc_offset("+07:00") == timezone(timedelta(hours=7))
    assert parse_utc_offset("-0530") == timezone(-timedelta(hours=5, minutes=30))
    assert parse_utc_offset("Z") == UTC
    with pytest.raises(ReportUsageError, match="--utc-offset"):
        parse_utc_offset("Asia/Hanoi")


# --- compare ----------------------------------------------------------------------------------


def test_change_wording_like_reform_reports() -> None:
    """The sentence of a reform report: both values, the difference, the direction, the %."""
    faster = Change((), "release", "mean", 86429.0, 122710.0)
    assert faster.sentence == "mean release 24h00m29s vs 34h05m10s: 10h04m41s faster (-29.6%)"
    slower = Change((), "exit", "median", 3 * H, 2 * H)
    assert slower.sentence == "median exit 3h00m00s vs 2h00m00s: 1h00m00s slower (+50.0%)"
    same = Change((), "dwell", "mean", H, H)
    assert same.sentence == "mean dwell 1h00m00s vs 1h00m00s: no change (+0.0%)"
    assert Change((), "release", "mean", H, 0.0).percent is None


def test_compare_pairs_groups_present_in_both(make_record: MakeRecord) -> None:
    """Only (group, segment) pairs with data in both files are compared, mean then median."""
    now = group_stats(
        releases(make_record, [1, 3], site="cai-lan") + releases(make_record, [2], site="new-site"),
        ("site",),
    )
    before = group_stats(releases(make_record, [4, 6], site="cai-lan"), ("site",))
    changes = compare_groups(now, before)
    keys = {(c.key, c.segment) for c in changes}
    assert keys == {((), "release"), ((), "dwell"), ((("site", "cai-lan"),), "release"),
                    ((("site", "cai-lan"),), "dwell")}  # fmt: skip
    site_release = [c for c in changes if c.key and c.segment == "release"]
    assert [(c.metric, c.delta) for c in site_release] == [("mean", -3 * H), ("median", -3 * H)]


def test_compare_in_json_has_numeric_deltas(make_record: MakeRecord, tmp_path: Path) -> None:
    """--compare adds comparison.changes with seconds, delta, percent and the sentence."""
    current = write_jsonl(tmp_path / "now.jsonl", releases(make_record, [2, 4]))
    previous = write_jsonl(tmp_path / "before.jsonl", releases(make_record, [4, 8]))
    out = tmp_path / "r.json"
    assert run_report(current, "json", ["site"], compare=previous, out=out) == 0
    doc = orjson.loads(out.read_bytes())
    (entry,) = [
        c for c in doc["comparison"]["changes"] if c["label"] == "all" and c["segment"] == "release"
    ]
    assert entry["mean"]["delta_seconds"] == -3 * H
    assert entry["mean"]["delta_percent"] == -50.0
    assert entry["mean"]["previous"] == {"seconds": 6 * H, "text": "6h00m00s"}
    assert (
        entry["median"]["sentence"]
        == "median release 3h00m00s vs 6h00m00s: 3h00m00s faster (-50.0%)"
    )


# --- formats ----------------------------------------------------------------------------------


@pytest.fixture
def sample(make_record: MakeRecord, tmp_path: Path) -> Path:
    """A small clearances file: two sites, both directions, one scan."""
    records = [
        *releases(make_record, [1, 2, 30], site="cai-lan", direction="import"),
        *releases(make_record, [3], site="cai-lan", direction="export"),
        make_record(
            site="mong-cai",
            segments={"release": 86429.0, "scan_wait": 900.0, "dwell": 90000.0},
            scanned=True,
            scan_result="CLEAR",
        ),
    ]
    return write_jsonl(tmp_path / "clearances.jsonl", records)


def test_md_has_title_input_range_counts_and_duration_text(sample: Path, tmp_path: Path) -> None:
    """Markdown names the file, the exit range, the counts and shows h/m/s with seconds."""
    out = tmp_path / "r.md"
    assert run_report(sample, "md", ["site", "direction"], out=out, lang="en") == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Time Release Study")
    assert "clearances.jsonl" in text
    assert "Exits covered: 2018-03-10 10:00 (UTC+07:00) to 2018-03-10 10:00 (UTC+07:00)" in text
    assert "5 visits from 5 records" in text
    assert "24h00m29s (86429 s)" in text
    assert "| Mong Cai international border gate | import | 1 |" in text  # the registry's name


def test_csv_parses_with_header_one_row_per_group_and_segment(sample: Path, tmp_path: Path) -> None:
    """CSV: a header, then (groups x segments) rows with seconds and text side by side."""
    out = tmp_path / "r.csv"
    assert run_report(sample, "csv", ["site"], out=out) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == 3 * len(SEGMENTS)  # all, cai-lan, mong-cai
    row = next(r for r in rows if r["site"] == "mong-cai" and r["segment"] == "release")
    assert row["group"] == "site=mong-cai"
    assert (row["count"], row["mean_s"], row["mean_text"]) == ("1", "86429", "24h00m29s")
    assert (row["target_s"], row["within_target_share"]) == ("86400", "0")
    total = next(r for r in rows if r["group"] == "all" and r["segment"] == "release")
    assert (total["site"], total["count"], total["visits"]) == ("", "5", "5")


def test_json_structure(sample: Path, tmp_path: Path) -> None:
    """JSON: schema version, input counts, exits, targets, groups with per-segment figures."""
    out = tmp_path / "r.json"
    assert run_report(sample, "json", ["direction"], utc_offset="Z", out=out) == 0
    doc = orjson.loads(out.read_bytes())
    assert doc["schema"] == 1
    assert doc["input"]["visits"] == 5
    assert doc["exits"] == {"first": "2018-03-10T03:00:00.000Z", "last": "2018-03-10T03:00:00.000Z"}
    assert doc["targets"] == {"release": {"seconds": 86400.0, "text": "24h00m00s"}}
    assert [g["key"] for g in doc["groups"]] == [
        {},
        {"direction": "export"},
        {"direction": "import"},
    ]
    release = doc["groups"][0]["segments"]["release"]
    assert set(release) == {
        "count",
        "mean",
        "median",
        "p90",
        "p95",
        "max",
        "target",
        "within_target_share",
    }
    assert release["max"] == {"seconds": 108000.0, "text": "30h00m00s"}
    assert release["within_target_share"] == 0.6
    assert doc["groups"][0]["segments"]["exit"]["mean"] is None
    assert doc["comparison"] is None


def test_html_is_self_contained_with_svg_and_escapes_data(
    make_record: MakeRecord, tmp_path: Path
) -> None:
    """HTML: inline SVG histogram, no scripts or remote loads, data text escaped."""
    records = [
        *releases(make_record, [0.1, 1.5, 30], site="<script>alert(1)</script>"),
        *releases(make_record, [3], direction="export"),
    ]
    path = write_jsonl(tmp_path / "x.jsonl", records)
    out = tmp_path / "r.html"
    assert run_report(path, "html", ["site"], out=out, lang="en") == 0
    page = out.read_text(encoding="utf-8")
    assert page.count('class="hist"') == 2  # one histogram per direction
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    assert ">visits</text>" in page


def test_histogram_buckets_release_per_direction(make_record: MakeRecord) -> None:
    """Release times land in hour-ish buckets per direction; the last bucket is open-ended."""
    records = [
        *releases(make_record, [0.1, 1.5, 30, 24 * 10], direction="import"),
        *releases(make_record, [3], direction="export"),
    ]
    histogram = release_histogram(records)
    imports = dict(zip(histogram.labels, histogram.counts["import"], strict=True))
    assert (imports["<15m"], imports["1–2h"], imports["1–2d"], imports["≥7d"]) == (1, 1, 1, 1)
    assert sum(histogram.counts["export"]) == 1


def test_every_format_renders_an_empty_report(tmp_path: Path) -> None:
    """No records is a report saying so, in every format, not an error."""
    path = tmp_path / "empty.jsonl"
    path.write_text("\n", encoding="utf-8")
    report = build_report(load_clearances(path))
    assert "No clearance records" in render(report, "md", wording("en"))
    assert "No clearance records" in render(report, "html", wording("en"))
    assert "Không có bản ghi thông quan nào" in render(report, "md", wording("vi"))
    assert orjson.loads(render(report, "json"))["input"]["visits"] == 0
    assert render(report, "csv").startswith("group,site,direction,segment,count,")


# --- robustness --------------------------------------------------------------------------------


def test_malformed_lines_are_counted_and_reported(
    make_record: MakeRecord, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad JSON and non-records are skipped with their line numbers on stderr; the report runs."""
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [make_record()],
        extra=["{not json", "[1, 2]", '{"visit_id": "x"}', make_record().model_dump_json()],
    )
    out = tmp_path / "r.json"
    assert run_report(path, "json", [], out=out) == 0
    err = capsys.readouterr().err
    assert f"{path}:2: skipped malformed line: invalid JSON" in err
    assert f"{path}:3: skipped malformed line: expected a JSON object" in err
    assert f"{path}:4: skipped malformed line: not a clearance record" in err
    assert "3 malformed lines skipped" in err
    doc = orjson.loads(out.read_bytes())
    assert (doc["input"]["malformed"], doc["input"]["visits"]) == (3, 2)


def test_unknown_fields_from_a_newer_writer_are_ignored(
    make_record: MakeRecord, tmp_path: Path
) -> None:
    """The contract grows by optional fields: an extra field does not make a record malformed."""
    doc = orjson.loads(dump_json(make_record()))
    doc["future_field"] = 1
    path = tmp_path / "c.jsonl"
    path.write_bytes(orjson.dumps(doc) + b"\n")
    assert len(load_clearances(path).records) == 1


def test_bad_group_field_is_a_usage_error(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--by with an unknown field exits 2 with a click-style message."""
    assert run_report(sample, "md", ["site", "vessel"]) == 2
    assert "vasscm report: Invalid value for '--by': 'vessel'" in capsys.readouterr().err


# --- end to end through the command -----------------------------------------------------------


def test_cli_report_json_by_period(make_record: MakeRecord, tmp_path: Path) -> None:
    """`vasscm report --format json --by period --utc-offset` writes the report to --out."""
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [
            make_record(exited_at="2018-03-31T18:00:00Z"),
            make_record(exited_at="2018-03-01T00:00:00Z"),
        ],
    )
    out = tmp_path / "r.json"
    result = run_cli(path, "--format", "json", "--by", "period", "--utc-offset", "+07:00",
                     "--target", "release=4h30m", "--out", out)  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = orjson.loads(out.read_bytes())
    assert [g["label"] for g in doc["groups"]] == ["all", "period=2018-03", "period=2018-04"]
    assert doc["targets"]["release"]["text"] == "4h30m00s"


def test_cli_bad_target_exits_2(sample: Path) -> None:
    """A bad --target is a usage error: exit 2 and a message naming the option."""
    result = run_cli(sample, "--target", "release=soon")
    assert result.returncode == 2
    assert "Invalid value for '--target'" in result.stderr
    assert "'soon' is not a duration" in result.stderr


def test_cli_empty_file_says_no_records(tmp_path: Path) -> None:
    """An empty clearances file gives a report saying there are no records, exit 0, on stdout."""
    path = tmp_path / "empty.jsonl"
    path.touch()
    result = run_cli(path)
    assert result.returncode == 0, result.stderr
    assert "No clearance records" in result.stdout
