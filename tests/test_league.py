"""The league table of contract 8.3 (``vasscm report --league``): ranks per period with
ties, the change against the site's previous period, outliers (dwell beyond Q3 + 3 IQR)
counted, listed and kept out of the means only; the summary's ranking in vi and en; and
the page at 1280 px in a real browser.

Also the time-interval analysis (``--intervals``) that sits beside it."""

from __future__ import annotations

import itertools
import re
import statistics
from pathlib import Path
from typing import Any

import orjson
import pytest
from browser import chromium, report_fits, screenshot
from factories import clearance_record

from vasscm.events import dump_json
from vasscm.report import run_report

H = 3600.0
_serial = itertools.count(1)


def _visit(site: str, exited: str, release_h: float, dwell_h: float | None = None) -> bytes:
    dwell = (release_h + 1) * H if dwell_h is None else dwell_h * H
    record = clearance_record(
        next(_serial),
        site=site,
        exited_at=exited,
        segments={
            "release": release_h * H,
            "lodgement": release_h * H / 4,
            "customs": release_h * H * 3 / 4,
            "exit": H,
            "dwell": dwell,
        },
    )
    return dump_json(record) + b"\n"


def _write(path: Path, rows: list[bytes]) -> Path:
    path.write_bytes(b"".join(rows))
    return path


def _league(path: Path, tmp: Path, **options: Any) -> dict[str, Any]:
    out = tmp / "league.json"
    assert run_report(path, "json", out=out, league=True, **options) == 0
    doc: dict[str, Any] = orjson.loads(out.read_bytes())
    return doc


def _rows(doc: dict[str, Any], period: str) -> list[tuple[str, int | None]]:
    return [(r["site"], r["rank"]) for r in doc["league"] if r["period"] == period]


MARCH = "2018-03-10T03:00:00Z"
FEBRUARY = "2018-02-10T03:00:00Z"


def test_sites_are_ranked_by_median_release_with_ties_sharing_a_rank(tmp_path: Path) -> None:
    """Equal median and equal p90: one rank, and the next site's rank skips (1, 1, 3);
    equal median but a lower p90 ranks ahead. A site without a release is unranked."""
    rows = []
    for site, hours in (
        ("cai-lan", [1, 2, 3]),  # median 2 h, p90 2.8 h
        ("mong-cai", [1, 2, 3]),  # the same: tied
        ("cat-lai", [1.9, 2, 2.1]),  # median 2 h, p90 2.08 h: ahead of both
        ("hai-phong", [5, 6, 7]),
    ):
        rows += [_visit(site, MARCH, h) for h in hours]
    unreleased = clearance_record(next(_serial), site="lao-cai", exited_at=MARCH, segments={})
    path = _write(tmp_path / "c.jsonl", [*rows, dump_json(unreleased) + b"\n"])

    doc = _league(path, tmp_path)

    assert [
        ("cat-lai", 1),
        ("cai-lan", 2),
        ("mong-cai", 2),
        ("hai-phong", 4),
        ("lao-cai", None),
    ] == _rows(doc, "2018-03")
    row = next(r for r in doc["league"] if r["site"] == "cai-lan")
    assert 3 == row["visits"]
    assert 2 * H == row["segments"]["release"]["median_seconds"]
    assert 0.5 * H == row["segments"]["lodgement"]["median_seconds"]


def test_the_change_is_against_the_sites_previous_period(tmp_path: Path) -> None:
    """Cái Lân took 4 h in February and 2 h in March: 2 h (50 %) faster, and from rank 2
    to rank 1; Móng Cái had no February, so no change; quarters compare with the
    quarter before."""
    rows = [_visit("cai-lan", FEBRUARY, 4), _visit("mong-cai", FEBRUARY, 3)]
    rows += [_visit("cai-lan", MARCH, 2), _visit("cat-lai", MARCH, 3)]
    path = _write(tmp_path / "c.jsonl", rows)

    doc = _league(path, tmp_path)
    march = {r["site"]: r for r in doc["league"] if r["period"] == "2018-03"}

    assert -2 * H == march["cai-lan"]["change_seconds"]
    assert -50.0 == march["cai-lan"]["change_percent"]
    assert (2, 1) == (march["cai-lan"]["previous_rank"], march["cai-lan"]["rank"])
    assert march["cat-lai"]["change_seconds"] is None
    assert [("mong-cai", 1), ("cai-lan", 2)] == _rows(doc, "2018-02")
    quarters = _league(path, tmp_path, period="quarter")
    assert {"2018-Q1"} == {r["period"] for r in quarters["league"]}


def test_outliers_are_listed_and_kept_out_of_the_means_only(tmp_path: Path) -> None:
    """Dwell of 10 visits between 5 and 6 h and one of 200 h: beyond Q3 + 3 IQR, so
    counted and listed, left out of the dwell and release means, kept in the median and
    the p90."""
    dwells = [5.0, 5.1, 5.2, 5.3, 5.4, 5.5, 5.6, 5.7, 5.8, 6.0, 200.0]
    rows = [_visit("cai-lan", MARCH, d - 1, dwell_h=d) for d in dwells]
    path = _write(tmp_path / "c.jsonl", rows)

    doc = _league(path, tmp_path)
    [row] = doc["league"]
    dwell = row["segments"]["dwell"]

    assert 1 == row["outliers"]
    assert 1 == doc["league_outliers"]["total"]
    [listed] = doc["league_outliers"]["listed"]
    assert 200 * H == listed["dwell_seconds"]
    assert listed["fence_seconds"] < 200 * H
    assert pytest.approx(statistics.fmean(dwells[:-1]) * H) == dwell["mean_seconds"]
    assert (
        pytest.approx(statistics.fmean(d - 1 for d in dwells[:-1]) * H)
        == (row["segments"]["release"]["mean_seconds"])
    )
    assert 5.5 * H == pytest.approx(dwell["median_seconds"])
    # numpy's p90 of the 11 values, the outlier included: 6.0 + 0.0 * (200 - 6.0)
    assert pytest.approx(6.0 * H) == dwell["p90_seconds"]
    assert 11 == row["visits"]


def test_the_summary_ranks_the_sites_in_vietnamese_and_english(tmp_path: Path) -> None:
    rows = [_visit("cai-lan", FEBRUARY, 5), _visit("mong-cai", FEBRUARY, 4)]
    rows += [_visit("cai-lan", MARCH, 2), _visit("mong-cai", MARCH, 3)]
    path = _write(tmp_path / "c.jsonl", rows)

    def md(lang: str) -> str:
        out = tmp_path / f"r-{lang}.md"
        assert run_report(path, "md", out=out, lang=lang, league=True) == 0
        return out.read_text(encoding="utf-8")

    en, vi = md("en"), md("vi")
    assert (
        "In March 2018, Cai Lan port led the 2 sites with a median release time of "
        "2h00m00s (p90 2h00m00s); Mong Cai international border gate ranked last at "
        "3h00m00s." in en
    )
    assert "Cai Lan port gained most on February 2018: its median release time fell by " in en
    assert "from rank 2 to 1." in en
    assert "Trong tháng 3/2018, Cảng Cái Lân dẫn đầu 2 địa điểm" in vi
    assert "Cảng Cái Lân cải thiện nhiều nhất so với tháng 2/2018" in vi
    assert "## Bảng xếp hạng các địa điểm" in vi
    assert "### tháng 3/2018" in vi


def test_the_league_csv_has_one_row_per_site_and_period(tmp_path: Path) -> None:
    rows = [_visit("cai-lan", MARCH, 2), _visit("mong-cai", MARCH, 3)]
    path = _write(tmp_path / "c.jsonl", rows)
    out = tmp_path / "l.csv"
    assert run_report(path, "csv", out=out, league=True) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("site,period,rank,visits,outliers,lodgement_count,")
    assert lines[1].startswith("cai-lan,2018-03,1,1,0,")
    assert 3 == len(lines)
    both = run_report(path, "csv", out=out, league=True, intervals=True)
    assert 2 == both  # one csv holds one table


@pytest.fixture(scope="module")
def year_of_months(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four sites over six months, a different order each month, an outlier or two."""
    tmp = tmp_path_factory.mktemp("league")
    sites = ("cai-lan", "mong-cai", "cat-lai", "hai-phong")
    rows = []
    for month in range(1, 7):
        for k, site in enumerate(sites):
            base = 2 + (k + month) % 4 * 3
            hours = [base + 0.5 * i for i in range(9)]
            rows += [
                _visit(site, f"2018-{month:02d}-1{i % 9}T03:00:00Z", h) for i, h in enumerate(hours)
            ]
            if (k + month) % 5 == 0:
                rows.append(_visit(site, f"2018-{month:02d}-20T03:00:00Z", 2, dwell_h=400))
    return _write(tmp / "c.jsonl", rows)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_league_page_fits_1280_px(year_of_months: Path, tmp_path: Path, lang: str) -> None:
    """The league table, its chart, the outliers and the time-interval analysis in a real
    browser at 1280 px: nothing wider than its box; a screenshot to look at."""
    out = tmp_path / f"report-{lang}.html"
    assert run_report(year_of_months, "html", out=out, lang=lang, league=True, intervals=True) == 0
    page = out.read_text(encoding="utf-8")
    dom = report_fits(page, lang, tmp_path)

    assert 'svg class="league-chart"' in dom
    assert len(re.findall(r'<table class="league">', dom)) == 6  # one per month
    heading = "Bảng xếp hạng các địa điểm" if lang == "vi" else "League table of sites"
    assert heading in dom
    # The league and what follows it, alone: the sections a reader looks at here.
    head, body = page.split("<body>", 1)
    section = tmp_path / f"league-{lang}.html"
    section.write_text(head + "<body>" + body[body.index('<h2 id="league">') :], "utf-8")
    shot = screenshot(f"report-league-{lang}-1280.png")
    chromium(
        "--window-size=1280,3000", f"--screenshot={shot}", section.as_uri(),
        profile=tmp_path / "profile-shot",
    )  # fmt: skip
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_time_intervals_split_the_segments_by_period_hour_weekday_and_channel(
    tmp_path: Path,
) -> None:
    """Arrivals on Monday mornings (office hours, +07:00) release in 2 or 3 h, on a
    Sunday night in 8 h: the office-hours table (office first), the weekday and hour
    tables and the sentence say so; the trend has one row per month; channels come in
    their own order."""
    rows = []
    for i in range(4):  # Monday 2018-03-05 09:00 local = 02:00Z
        rows.append(_intervals_visit(f"2018-03-05T02:0{i}:00Z", 2, "green"))
    for i in range(4):  # Sunday 2018-03-04 23:00 local = 16:00Z
        rows.append(_intervals_visit(f"2018-03-04T16:0{i}:00Z", 8, "red"))
    rows.append(_intervals_visit("2018-04-02T02:00:00Z", 3, "yellow"))
    path = _write(tmp_path / "c.jsonl", rows)
    out = tmp_path / "i.json"
    assert run_report(path, "json", out=out, intervals=True) == 0
    doc = orjson.loads(out.read_bytes())["intervals"]

    office = [(s["key"], s["median_seconds"]["release"]) for s in doc["office"]]
    assert [("office", 2 * H), ("off", 8 * H)] == office
    weekdays = {s["key"]: s["visits"] for s in doc["weekdays"]}
    assert {"1": 5, "7": 4} == weekdays
    hours = {s["key"]: s["visits"] for s in doc["hours"]}
    assert {"09": 5, "23": 4} == hours
    assert ["2018-03", "2018-04"] == [s["key"] for s in doc["trend"]["import"]]
    assert ["green", "yellow", "red"] == [s["key"] for s in doc["channels"]]
    md = tmp_path / "i.md"
    assert run_report(path, "md", out=md, lang="en", intervals=True) == 0
    assert "arriving outside office hours waited " in md.read_text(encoding="utf-8")


def _intervals_visit(arrived: str, release_h: float, channel: str) -> bytes:
    from datetime import datetime, timedelta

    arrival = datetime.fromisoformat(arrived)
    exited = arrival + timedelta(hours=release_h + 1)
    record = clearance_record(
        next(_serial),
        channel=channel,
        arrived_at=arrival,
        exited_at=exited.isoformat(),
        segments={"release": release_h * H, "exit": H, "dwell": (release_h + 1) * H},
    )
    return dump_json(record) + b"\n"
