"""The report as a reform office publishes it: in Vietnamese or English, sites by name,
a summary sentence per direction, the comparison labelled by period, and an HTML page
that fits at 1280 px in a real browser (issue 15)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from pathlib import Path

import pytest
from browser import chromium, report_fits, screenshot
from factories import clearance_record

from vasscm.events import dump_json
from vasscm.report import run_report

H = 3600.0
_serial = itertools.count(1)


def _records(year: int, import_hours: Iterable[float], export_hours: Iterable[float]) -> bytes:
    """Imports at Cái Lân and exports at Móng Cái, exits from January to December."""
    exits = itertools.cycle([f"{year}-01-15T03:00:00Z", f"{year}-12-15T03:00:00Z"])
    rows = [
        clearance_record(
            next(_serial),
            site=site,
            direction=direction,
            exited_at=next(exits),
            segments={"release": hours * H, "dwell": hours * H + H},
        )
        for site, direction, hours_list in (
            ("cai-lan", "import", import_hours),
            ("mong-cai", "export", export_hours),
        )
        for hours in hours_list
    ]
    return b"".join(dump_json(r) + b"\n" for r in rows)


@pytest.fixture
def two_years(tmp_path: Path) -> tuple[Path, Path]:
    """2018: imports average 24h00m29s, exports 4h; 2017: 34h00m29s and 5h."""
    now, before = tmp_path / "2018.jsonl", tmp_path / "2017.jsonl"
    now.write_bytes(_records(2018, [20 + 29 / H, 28 + 29 / H], [3.5, 4.5]))
    before.write_bytes(_records(2017, [30 + 29 / H, 38 + 29 / H], [5, 5]))
    return now, before


def _report(path: Path, fmt: str, lang: str, tmp: Path, **options: object) -> str:
    out = tmp / f"report-{lang}.{fmt}"
    assert run_report(path, fmt, out=out, lang=lang, **options) == 0  # type: ignore[arg-type]
    return out.read_text(encoding="utf-8")


def test_the_summary_reads_as_the_reform_report_writes_it(
    two_years: tuple[Path, Path], tmp_path: Path
) -> None:
    now, before = two_years
    text = _report(now, "md", "vi", tmp_path, compare=before)
    assert (
        "Thời gian thông quan hàng nhập khẩu năm 2018 là 24 giờ 00 phút 29 giây, "
        "giảm 10,0 giờ (29,4%) so với năm 2017."
    ) in text
    assert (
        "Thời gian thông quan hàng xuất khẩu năm 2018 là 4 giờ 00 phút 00 giây, "
        "giảm 1,0 giờ (20,0%) so với năm 2017."
    ) in text
    assert text.index("hàng nhập khẩu năm 2018") < text.index("hàng xuất khẩu năm 2018")
    assert "## Năm 2018 so với năm 2017" in text
    assert "| Cảng Cái Lân | nhập khẩu |" in text

    english = _report(now, "md", "en", tmp_path, compare=before)
    assert (
        "Import clearance averaged 24h00m29s in 2018, 10.0 hours (29.4%) faster than in 2017."
    ) in english
    assert "## 2018 compared with 2017" in english
    assert "| Cai Lan port | import |" in english


def test_without_a_comparison_the_summary_counts_the_containers(
    two_years: tuple[Path, Path], tmp_path: Path
) -> None:
    text = _report(two_years[0], "md", "vi", tmp_path)
    assert (
        "Thời gian thông quan hàng nhập khẩu năm 2018 là 24 giờ 00 phút 29 giây (2 container)."
    ) in text
    assert "so với" not in text


def test_periods_are_named_in_words(two_years: tuple[Path, Path], tmp_path: Path) -> None:
    text = _report(two_years[0], "md", "vi", tmp_path, by=["period"], period="quarter")
    assert "| quý 1/2018 |" in text
    assert "| quý 4/2018 |" in text
    month = _report(two_years[0], "md", "en", tmp_path, by=["period"])
    assert "| January 2018 |" in month


def test_the_machine_formats_keep_the_codes(two_years: tuple[Path, Path], tmp_path: Path) -> None:
    csv = _report(two_years[0], "csv", "vi", tmp_path, by=["site"])
    assert "site=cai-lan" in csv
    assert "Cảng" not in csv


# --- the page in a real browser ---------------------------------------------------------------


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_html_report_fits_1280_px_in_its_language(
    two_years: tuple[Path, Path], tmp_path: Path, lang: str
) -> None:
    now, before = two_years
    page = _report(now, "html", lang, tmp_path, compare=before)
    dom = report_fits(page, lang, tmp_path)

    headings = re.findall(r"<h2>(.*?)</h2>", dom)
    if lang == "vi":
        assert headings[:3] == ["Tóm tắt", "Lượt container", "Thời gian giải phóng hàng"]
        assert "Năm 2018 so với năm 2017" in headings
        english = {"Summary", "Visits", "Release time", "Dwell time", "visits", "mean"}
        assert not english & set(re.findall(r">([^<>]+)<", dom))
    else:
        assert headings[:3] == ["Summary", "Visits", "Release time"]
        assert "2018 compared with 2017" in headings

    shot = screenshot(f"report-{lang}-1280.png")
    report = tmp_path / f"report-{lang}.html"
    chromium(
        "--window-size=1280,2400", f"--screenshot={shot}", report.as_uri(),
        profile=tmp_path / "profile-shot",
    )  # fmt: skip
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_pdf_is_the_html_printed_on_a4(two_years: tuple[Path, Path], tmp_path: Path) -> None:
    now, before = two_years
    out = tmp_path / "report.pdf"
    assert run_report(now, "pdf", out=out, lang="vi", compare=before) == 0
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF-")
    pages = re.findall(rb"/Type\s*/Page\b", pdf)
    assert len(pages) >= 2  # the tables, the comparison and the charts do not fit one page
    sizes = set(re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf))
    assert sizes, "no page size found"
    for width, height in sizes:  # A4: 595 x 842 points
        assert (round(float(width)), round(float(height))) == (595, 842)


# --- both sides' obligations (contract 7.2) ---------------------------------------------------


@pytest.fixture(scope="module")
def replayed_port(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A day and a half of the simulated port with its faults, replayed."""
    from dataclasses import replace

    from vasscm.replay import replay_file
    from vasscm.simulate import Faults, LogSpec, synthetic_log

    tmp = tmp_path_factory.mktemp("port")
    spec = replace(LogSpec(), faults=Faults.realistic())
    (tmp / "events.jsonl").write_bytes(b"\n".join(synthetic_log(8000, seed=5, spec=spec)) + b"\n")
    replay_file(tmp / "events.jsonl", tmp / "out")
    return tmp / "out" / "clearances.jsonl"


def test_the_report_counts_both_sides_obligations_per_site(
    replayed_port: Path, tmp_path: Path
) -> None:
    """Its figures are the records' obligations (latest revisions), in Vietnamese."""
    import orjson

    latest: dict[str, dict[str, object]] = {}
    for line in replayed_port.read_bytes().splitlines():
        record = orjson.loads(line)
        latest[record["visit_id"]] = record
    superseded = {old for r in latest.values() for old in r["supersedes"]}  # type: ignore[union-attr]
    expected: dict[tuple[str, str], list[int]] = {}
    for visit_id, record in latest.items():
        if visit_id in superseded:
            continue
        for duty in record["obligations"]:  # type: ignore[union-attr]
            tally = expected.setdefault((record["site"], duty["form"]), [0, 0])  # type: ignore[index]
            tally[0] += 1
            tally[1] += duty["on_time"]  # type: ignore[index]

    doc = orjson.loads(_report(replayed_port, "json", "en", tmp_path))
    got = {(d["site"], d["form"]): [d["judged"], d["on_time"]] for d in doc["obligations"]}
    md = _report(replayed_port, "md", "vi", tmp_path)

    assert expected == got
    assert {"EXPECTED", "SCAN_SELECTED", "GATE_OUT", "LOADED"} == {form for _, form in got}
    assert all(0 < on_time < judged for judged, on_time in got.values() if judged > 100)
    assert "## Nghĩa vụ của hai bên" in md
    assert "| Cảng Cái Lân | tháng 1/2018 | Hải quan | Hàng dự kiến đến (mẫu 01) |" in md
    assert "Doanh nghiệp kinh doanh cảng | Báo cáo hàng xếp lên tàu" in md


def test_the_obligations_table_fits_1280_px(replayed_port: Path, tmp_path: Path) -> None:
    page = _report(replayed_port, "html", "vi", tmp_path)
    dom = report_fits(page, "vi", tmp_path)

    assert "Nghĩa vụ của hai bên" in re.findall(r"<h2>(.*?)</h2>", dom)
    shot = screenshot("report-obligations-vi-1280.png")
    chromium(
        "--window-size=1280,3600", f"--screenshot={shot}", (tmp_path / "report-vi.html").as_uri(),
        profile=tmp_path / "profile-shot",
    )  # fmt: skip
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
