"""The dashboard in a real browser, in Vietnamese and English, at 1280 and 1920 px:
sites by name, true counts, filters, and no table wider than its panel (issue 15).

The page is served by the worker's own web application over its real lookups
(tests/webcore.py: the core fed directly, no broker); headless Chromium loads it
with virtual time, and a probe script served beside it measures the tables."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from browser import chromium_beside, screenshot
from factories import ROUTES, at, numbered
from webcore import NOW, Core

from vasscm.live.http.server import DASHBOARD, build_web
from vasscm.live.tools.broker_probe import free_port


def numbers(n: int) -> list[str]:
    return [numbered(i, "MSCU") for i in range(n)]


@pytest.fixture
async def core() -> Core:
    """Visits at both sites and in both directions: released and collected, released and
    waiting (stalled after 3 days), awaiting release (a third of them channelled), and
    exits without release."""
    c = Core()
    routes = list(ROUTES.values())
    for i, no in enumerate(numbers(48)):
        route = routes[i % len(routes)]
        hour = i % 12
        events = [route.arrive(at(hours=hour), container_no=no)]
        kind = (i // 4) % 4  # every kind on every route
        if kind in (0, 1):
            events.append(route.event("ELIGIBLE", at(hours=hour + 3 + i % 5), container_no=no))
        if kind == 2 and (i // 16) % 2:  # a channel: customs' move, not the declarant's
            events.append(route.event("CHANNEL_ASSIGNED", at(hours=hour + 1), container_no=no))
        if kind == 0:  # out within the dashboard's 24 h release window
            events.append(route.leave(at(hours=hour + 50), container_no=no))
        if kind == 3:  # leaves without release (a critical alert)
            events.append(route.leave(at(hours=hour + 6), container_no=no))
        await c.add(no, events)
    return c


_PROBE = """
// Once the dashboard has drawn: every table against its panel, the page against the window.
function check() {
  if (document.body.dataset.loaded !== "yes") { setTimeout(check, 200); return; }
  const wide = [];
  for (const table of document.querySelectorAll("table")) {
    const panel = table.closest("section");
    if (panel.hidden) continue;
    if (table.getBoundingClientRect().right > panel.getBoundingClientRect().right + 0.5
        || panel.scrollWidth > panel.clientWidth + 1) wide.push(table.id || "table");
  }
  if (document.documentElement.scrollWidth > window.innerWidth) wide.push("PAGE");
  const empty = [...document.querySelectorAll("[data-t]")].filter((n) => !n.textContent.trim());
  document.body.dataset.overflow = wide.join(" ");
  document.body.dataset.untranslated = empty.map((n) => n.dataset.t).join(" ");
  document.body.dataset.checked = "yes";
}
setTimeout(check, 1500);
"""


@pytest.fixture
async def page(core: Core) -> AsyncIterator[str]:
    """The dashboard on a free port; /probe is it with the probe script added."""
    async with served(core) as url:
        yield url


@asynccontextmanager
async def served(core: Core) -> AsyncIterator[str]:
    app = build_web(core.lookups)
    index = (DASHBOARD / "index.html").read_text(encoding="utf-8")
    probed = index.replace("</body>", '<script src="/probe.js"></script></body>')

    async def probe_page(request: web.Request) -> web.Response:
        return web.Response(text=probed, content_type="text/html")

    async def probe_script(request: web.Request) -> web.Response:
        return web.Response(text=_PROBE, content_type="text/javascript")

    app.router.add_get("/probe", probe_page)
    app.router.add_get("/probe.js", probe_script)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def assert_fits(body: str) -> None:
    """The probe ran: no table wider than its panel, the page no wider than the window,
    no text left untranslated."""
    assert 'data-checked="yes"' in body, body
    assert 'data-overflow=""' in body, body
    assert 'data-untranslated=""' in body, body


def _body(dom: str) -> str:
    found = re.search(r"<body([^>]*)>", dom)
    assert found is not None, dom[:500]
    return found.group(1)


@pytest.mark.parametrize("width", [1280, 1920])
@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_the_dashboard_fits_and_speaks_the_language(
    page: str, tmp_path: Path, lang: str, width: int
) -> None:
    dom = await chromium_beside(
        f"--window-size={width},1800", "--virtual-time-budget=6000", "--dump-dom",
        f"{page}/probe?lang={lang}", profile=tmp_path / "profile",
    )  # fmt: skip
    body = _body(dom)
    assert_fits(body)
    assert f'<html lang="{lang}">' in dom

    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", dom, re.S)
    text = " ".join(re.sub(r"<[^>]+>", " ", h) for h in headings)
    if lang == "vi":
        assert "Container theo trạng thái" in text
        assert "Đang chờ ai" in text
        assert "Cảnh báo gần đây" in text
        assert "Cảng Cái Lân" in dom
        assert "Containers per stage" not in dom
        assert "ra cổng khi chưa được giải phóng" in dom  # the alert kind in words
    else:
        assert "Containers per stage" in text
        assert "Whose move it is" in text
        assert "Cai Lan port" in dom
        assert "exit without release" in dom

    shot = screenshot(f"dashboard-{lang}-{width}.png")
    await chromium_beside(
        f"--window-size={width},1800", "--virtual-time-budget=6000", f"--screenshot={shot}",
        f"{page}/?lang={lang}", profile=tmp_path / "profile-shot",
    )  # fmt: skip
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_counts_are_true_and_the_filters_reach_the_lists(page: str, tmp_path: Path) -> None:
    """The stalled heading counts every stalled visit, not the list's limit; the stage
    choice lists each stage with its count; the site choice names the sites."""
    dom = await chromium_beside(
        "--window-size=1280,1800", "--virtual-time-budget=6000", "--dump-dom",
        f"{page}/probe?lang=en", profile=tmp_path / "profile",
    )  # fmt: skip
    count = re.search(r'<span id="stalled-count" class="count">\((\d+)\)</span>', dom)
    assert count is not None
    rows = re.search(r'<table id="stalled">.*?<tbody>(.*?)</tbody>', dom, re.S)
    assert rows is not None
    assert rows.group(1).count("<tr>") == int(count.group(1)) == 12  # every awaiting release
    stages = re.findall(r'<select id="f-stage"[^>]*>(.*?)</select>', dom, re.S)[0]
    assert ">awaiting release (12)</option>" in stages
    releases = re.search(r'<table id="releases">.*?<tbody>(.*?)</tbody>', dom, re.S)
    assert releases is not None
    assert releases.group(1).count("<tr>") == 4  # each site and direction released some
    sites = re.findall(r'<select id="f-site">(.*?)</select>', dom, re.S)[0]
    assert "Mong Cai international border gate" in sites


async def test_the_waiting_panel_counts_each_sites_containers_by_party(
    page: str, tmp_path: Path
) -> None:
    """Contract 8.1 on the dashboard: per site and direction, how many containers wait on
    the declarant, the scanner, customs and the owner; the English page names them."""
    dom = await chromium_beside(
        "--window-size=1280,1800", "--virtual-time-budget=6000", "--dump-dom",
        f"{page}/probe?lang=en", profile=tmp_path / "profile",
    )  # fmt: skip
    table = re.search(r'<table id="waiting">(.*?)</table>', dom, re.S)
    assert table is not None
    head, rows = table.group(1).split("<tbody>")
    assert ["declarant", "scanning", "customs", "owner (released)"] == [
        re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<th>(.*?)</th>", head)[2:6]
    ]
    per_row = [
        {p: int(n) for p, n in re.findall(r'data-party="(\w+)">(\d+)', r)}
        for r in rows.split("<tr>")[1:]
    ]
    # Per route: 3 released and waiting, 2 without a channel, 1 with one.
    assert [{"declarant": 2, "scan": 0, "customs": 1, "owner": 3}] * 4 == per_row


# --- forecasts (contract 8.2) ----------------------------------------------------------


@pytest.fixture
async def forecast_page() -> AsyncIterator[tuple[str, Core]]:
    """Ten days of history per route (release 4 h to 70 h after arrival, exit 2 h to
    21 h after release), then containers waiting 2 h to 70 h for release and two
    released 20 h ago: the forecasts rest on the history, the late list holds those
    whose median passes the AWAITING_RELEASE threshold."""
    c = Core()
    numbers = (numbered(i) for i in range(10**6))
    for route in ROUTES.values():
        for i in range(40):
            no = next(numbers)
            arrived = at(days=-12, hours=6 * i)
            released = arrived + timedelta(hours=4 + (i * 37) % 67)
            await c.add(no, [
                route.arrive(arrived, container_no=no),
                route.event("ELIGIBLE", released, container_no=no),
                route.leave(released + timedelta(hours=2 + (i * 13) % 20), container_no=no),
            ])  # fmt: skip
        for waited in (2, 10, 30, 44, 52, 60):
            no = next(numbers)
            await c.add(no, [route.arrive(NOW - timedelta(hours=waited), container_no=no)])
        for _ in range(2):
            no = next(numbers)
            arrived = NOW - timedelta(hours=30)
            await c.add(no, [
                route.arrive(arrived, container_no=no),
                route.event("ELIGIBLE", arrived + timedelta(hours=10), container_no=no),
            ])  # fmt: skip
    assert await c.forecast() == 160
    async with served(c) as url:
        yield url, c


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_a_lookup_shows_its_forecast_and_the_late_list_fits(
    forecast_page: tuple[str, Core], tmp_path: Path, lang: str
) -> None:
    """The lookup of a waiting container says when it is expected out, P50–P90 in the
    site's local time with its zone ("dự kiến giải phóng 14:00–18:30 (UTC+07:00)"); the
    late list names the containers forecast past their target; at 1280 px nothing
    overflows, in Vietnamese and in English."""
    url, core = forecast_page
    late = core.lookups.late(100)
    assert late["total"] > 0
    shown = next(r["container_no"] for r in core.lookups.late(100)["late"] if r["of"] == "release")
    visit = core.lookups.visits_of(shown)[-1][0]
    assert visit.forecast is not None
    assert visit.forecast.release_p50 is not None
    dom = await chromium_beside(
        "--window-size=1280,1800", "--virtual-time-budget=8000", "--dump-dom",
        f"{url}/probe?lang={lang}#{shown}", profile=tmp_path / "profile",
    )  # fmt: skip
    body = _body(dom)
    assert_fits(body)
    expected = re.findall(r'<p class="expected release">(.*?)</p>', dom)
    assert len(expected) == 1, dom[:3000]
    words = "dự kiến giải phóng " if lang == "vi" else "expected release "
    day = r"\d\d/\d\d" if lang == "vi" else r"\d{1,2} [A-Z][a-z]{2}"  # 07/03, 7 Mar
    assert expected[0].startswith(words), expected
    assert re.fullmatch(
        re.escape(words) + rf"({day} )?\d\d:\d\d–({day} )?\d\d:\d\d \(UTC\+07:00\)",
        expected[0],
    ), expected
    rows = re.search(r'<table id="late">.*?<tbody>(.*?)</tbody>', dom, re.S)
    assert rows is not None
    assert rows.group(1).count("<tr>") == late["total"]
    assert f">{shown}</a>" in rows.group(1)
    heading = "Dự kiến trễ hạn" if lang == "vi" else "Late by forecast"
    assert heading in dom
    shot = screenshot(f"dashboard-forecast-{lang}-1280.png")
    await chromium_beside(
        "--window-size=1280,1800", "--virtual-time-budget=8000", f"--screenshot={shot}",
        f"{url}/?lang={lang}#{shown}", profile=tmp_path / "profile-shot",
    )  # fmt: skip
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
