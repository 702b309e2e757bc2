"""The forecaster (contract 8.2): Kaplan-Meier over binned durations, conditional on
the time already waited, strata widened below the minimum basis; and the backtest."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from vasscm.backtest import run_backtest
from vasscm.backtest_render import render_backtest
from vasscm.forecast import EDGES_MS, Forecast, Forecaster, Observation
from vasscm.report.wording import wording
from vasscm.simulate import PROFILES, LogSpec, profile, synthetic_log

H = 3_600_000
DAY = 24 * H
T0 = 1_700_000_000_000 - 1_700_000_000_000 % DAY  # a midnight, UTC


def closed(release_h: float, *, site: str = "cai-lan", channel: str = "green", at: int = T0):
    released = at + round(release_h * H)
    return Observation(site, "import", channel, at, released, released + H)


def test_bins_are_about_five_per_cent_wide_up_to_four_months() -> None:
    widths = [(b - a) / a for a, b in itertools.pairwise(EDGES_MS[1:])]
    assert max(widths) <= 0.051
    assert EDGES_MS[-1] >= 120 * DAY


def test_without_open_visits_the_quantiles_are_the_empirical_ones_within_a_bin() -> None:
    f = Forecaster()
    for hours in range(1, 101):  # 1 h .. 100 h
        f.learn(closed(hours))
    now = T0 + 200 * H
    visit = Observation("cai-lan", "import", "green", now, None, None)
    forecast = f.forecast(visit, now, f.curves([visit], now))
    assert forecast is not None
    assert forecast.basis == 100
    assert forecast.release_p50 is not None
    assert forecast.release_p90 is not None
    assert forecast.release_p50 - now == pytest.approx(50 * H, rel=0.06)
    assert forecast.release_p90 - now == pytest.approx(90 * H, rel=0.06)


def test_the_forecast_is_conditional_on_what_the_visit_has_waited() -> None:
    f = Forecaster()
    for hours in range(1, 101):
        f.learn(closed(hours))
    arrived = T0 + 100 * H
    now = arrived + 60 * H  # waited 60 h: only the 40 visits beyond speak
    visit = Observation("cai-lan", "import", "green", arrived, None, None)
    forecast = f.forecast(visit, now, f.curves([visit], now))
    # the basis counts from the waited time's bin (5 % wide): 40 visits, and a few more
    assert forecast is not None
    assert 40 <= forecast.basis <= 44
    assert forecast.release_p50 is not None
    assert forecast.release_p50 >= now
    assert forecast.release_p50 - arrived == pytest.approx(80 * H, rel=0.06)


def test_open_visits_that_waited_long_lengthen_the_tail() -> None:
    def forecast(open_waited_h: list[int]) -> tuple[int, int | None]:
        f = Forecaster(min_basis=1)
        for hours in range(1, 41):
            f.learn(closed(hours))
        now = T0 + 100 * H
        still = [
            Observation("cai-lan", "import", "green", now - w * H, None, None)
            for w in open_waited_h
        ]
        fresh = Observation("cai-lan", "import", "green", now, None, None)
        made = f.forecast(fresh, now, f.curves([*still, fresh], now))
        assert made is not None
        assert made.release_p50 is not None
        return made.release_p50 - now, None if made.release_p90 is None else made.release_p90

    p50, p90 = forecast([])
    assert p50 == pytest.approx(20 * H, rel=0.06)
    assert p90 is not None
    # twenty containers still waiting after 60 h: a third of the visits outlast every
    # completed one, so the median moves out and the 90th percentile is not known
    p50, p90 = forecast([60] * 20)
    assert p50 == pytest.approx(30 * H, rel=0.1)
    assert p90 is None


def test_a_thin_stratum_is_widened_to_site_and_direction() -> None:
    f = Forecaster(min_basis=30)
    for hours in range(1, 51):
        f.learn(closed(hours, channel="green"))
    for hours in (100, 110):  # two red visits only
        f.learn(closed(hours, channel="red"))
    now = T0 + 300 * H
    red = Observation("cai-lan", "import", "red", now, None, None)
    forecast = f.forecast(red, now, f.curves([red], now))
    assert forecast is not None
    assert forecast.basis == 52


def test_learning_does_not_depend_on_order_and_a_withdrawal_takes_back() -> None:
    rng = random.Random(3)
    visits = [
        closed(rng.uniform(0.5, 50), channel=rng.choice(["green", "red"])) for _ in range(300)
    ]
    now = T0 + 400 * H
    probe = Observation("cai-lan", "import", "red", now - 5 * H, None, None)

    def run(order: list[Observation], extra: Observation | None = None):
        f = Forecaster()
        for obs in order:
            f.learn(obs)
        if extra is not None:
            f.learn(extra)
            f.learn(extra, -1)
        return f.forecast(probe, now, f.curves([probe], now))

    shuffled = visits[:]
    rng.shuffle(shuffled)
    assert run(visits) == run(shuffled) == run(visits, closed(500))


def test_two_forecasters_added_give_what_one_that_learned_everything_gives() -> None:
    """replay --jobs: each worker learns its own containers' records, the parent adds
    the workers' counts (a worker's settings are the parent's: Forecaster.fresh)."""
    rng = random.Random(5)
    base = Forecaster(window_ms=20 * DAY, min_basis=5)
    visits = [
        closed(rng.uniform(0.5, 80), channel=rng.choice(["green", "red"]), at=T0 + d * DAY)
        for d in range(30)
        for _ in range(10)
    ]
    now = T0 + 31 * DAY
    probes = [
        Observation("cai-lan", "import", c, now - 5 * H, None, None) for c in ("green", "red")
    ]

    def forecasts(f: Forecaster) -> list[Forecast | None]:
        return [f.forecast(p, now, f.curves(probes, now)) for p in probes]

    whole = base.fresh()
    whole.advance(now)
    for obs in visits:
        whole.learn(obs)
    parts = [base.fresh(), base.fresh()]
    for i, obs in enumerate(visits):
        parts[i % 2].advance(now)
        parts[i % 2].learn(obs)
    added = base.fresh()
    added.advance(now)
    for part in parts:
        added.absorb(part)
    assert (added.window_ms, added.min_basis) == (20 * DAY, 5)
    assert forecasts(added) == forecasts(whole)
    assert all(f is not None for f in forecasts(whole))
    stale = base.fresh()  # its window not moved: its counts cannot be added
    with pytest.raises(ValueError, match="windows"):
        added.absorb(stale)


def test_visits_that_arrived_before_the_window_are_forgotten() -> None:
    f = Forecaster(window_ms=10 * DAY, min_basis=1)
    f.learn(closed(100, at=T0))  # 30 days before the forecast: outside
    for hours in range(1, 11):
        f.learn(closed(hours, at=T0 + 25 * DAY))
    now = T0 + 30 * DAY
    visit = Observation("cai-lan", "import", "green", now, None, None)
    forecast = f.forecast(visit, now, f.curves([visit], now))
    assert forecast is not None
    assert forecast.basis == 10
    f.learn(closed(200, at=T0))  # learned late: still outside
    assert f.forecast(visit, now, f.curves([visit], now)) == forecast


def test_nothing_learned_gives_no_forecast() -> None:
    f = Forecaster()
    visit = Observation("cai-lan", "import", "green", T0, None, None)
    assert f.forecast(visit, T0 + H, f.curves([visit], T0 + H)) is None


def test_the_profiles_are_the_ones_the_command_line_offers() -> None:
    from vasscm.cli.live import SIMULATION_PROFILES

    assert set(SIMULATION_PROFILES) == set(PROFILES)


@pytest.mark.parametrize("name", ["red-heavy", "slow-branch", "office-hours"])
def test_the_backtest_is_calibrated_on_ports_unlike_the_defaults(name: str, tmp_path: Path) -> None:
    """Contract 8.2's quality bar on three simulated ports whose timing differs from the
    defaults, a month of visits each: p50 covers 50 +- 5 %, p90 90 +- 4 %, and both
    pinball losses at most 0.8 of the site-and-direction forecast's."""
    spec = profile(name, LogSpec(every=LogSpec().every * 3))
    lines = list(synthetic_log(90_000, seed=11, spec=spec))
    result = run_backtest(lines, tmp_path / f"{name}.jsonl", every_ms=12 * H)
    overall = result.cells[("all", "all", "all")].as_dict()
    (tmp_path / "backtest.md").write_text(render_backtest(result, "md", wording("en")))
    assert overall["forecasts"] > 2000
    assert 0.45 <= overall["share_by_p50"] <= 0.55, overall
    assert 0.86 <= overall["share_by_p90"] <= 0.94, overall
    assert overall["loss_ratio_p50"] <= 0.8, overall
    assert overall["loss_ratio_p90"] <= 0.8, overall


def test_where_releases_come_only_in_office_hours_the_office_clock_is_used() -> None:
    """Customs decides Mon-Fri 08-17 (UTC+7): a container that arrives on a Friday at
    16:00 with a usual wait of four office hours is forecast for Monday morning."""
    from datetime import datetime, timedelta, timezone

    local = timezone(timedelta(hours=7))
    monday = round(datetime(2018, 1, 1, 8, tzinfo=local).timestamp() * 1000)  # a Monday
    f = Forecaster()
    for day in range(0, 21):
        if day % 7 >= 5:
            continue
        for k in range(8):  # arrivals at 08:00..08:35, released four office hours later
            arrived = monday + day * DAY + k * 5 * 60_000
            released = arrived + 4 * H
            f.learn(Observation("cai-lan", "import", "yellow", arrived, released, released + H))
    friday = monday + 25 * DAY + 8 * H  # Friday 16:00 local, a week after the last
    visit = Observation("cai-lan", "import", "yellow", friday, None, None)
    curves = f.curves([visit], friday)
    curve = curves.get((("cai-lan", "import", "yellow"), "release"))
    assert curve is not None
    assert curve.office
    forecast = f.forecast(visit, friday, curves)
    assert forecast is not None
    assert forecast.release_p50 is not None
    p50 = datetime.fromtimestamp(forecast.release_p50 / 1000, local)
    assert (p50.weekday(), p50.hour) == (0, 11), p50  # Monday, 1 h Friday + 3 h Monday
    walls = curves.on_the_wall()
    on_the_wall = f.forecast(visit, friday, walls)
    assert on_the_wall is not None
    assert on_the_wall.release_p50 is not None
    assert on_the_wall.release_p50 - friday == pytest.approx(4 * H, rel=0.06)


def test_replay_forecasts_every_open_visit_it_can_in_state_jsonl(tmp_path: Path) -> None:
    """Contract 8.2 in replay's state.jsonl: each open visit that has arrived gets a
    forecast at the watermark when anything was learned for it; never earlier than
    as_of, p50 before p90, no release forecast once released."""
    import orjson

    from vasscm.events import VisitState
    from vasscm.replay import replay_file

    log = tmp_path / "events.jsonl"
    log.write_bytes(b"".join(line + b"\n" for line in synthetic_log(40_000, seed=4)))
    summary = replay_file(log, tmp_path / "out")
    assert summary.as_of is not None
    rows = [orjson.loads(line) for line in (tmp_path / "out" / "state.jsonl").open("rb")]
    as_of = summary.as_of.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    waiting = [r for r in rows if r["waiting_on"] in ("declarant", "scan", "customs")]
    assert waiting
    assert all(r["forecast"] is not None for r in waiting)
    for row in rows:
        VisitState.model_validate(row)
        forecast = row["forecast"]
        if forecast is None:
            continue
        assert forecast["as_of"] == as_of
        assert forecast["basis"] >= 1
        if row["waiting_on"] == "owner":
            assert forecast["release_p50"] is None
            assert forecast["release_p90"] is None
        for first, then in (("release_p50", "release_p90"), ("exit_p50", "exit_p90")):
            if forecast[first] is not None:
                assert as_of <= forecast[first]
                assert forecast[then] is None or forecast[first] <= forecast[then]
    none = replay_file(log, tmp_path / "plain", forecasts=False)
    assert none.as_of == summary.as_of
    plain = [orjson.loads(line) for line in (tmp_path / "plain" / "state.jsonl").open("rb")]
    assert [{**r, "forecast": None} for r in rows] == [{**r, "forecast": None} for r in plain]


def test_the_backtest_reads_in_vietnamese_and_english_with_a_reliability_chart(
    tmp_path: Path,
) -> None:
    spec = profile("office-hours")
    lines = list(synthetic_log(25_000, seed=2, spec=spec))
    result = run_backtest(
        lines, tmp_path / "port.jsonl", every_ms=12 * H, warmup_ms=2 * DAY, horizon_ms=DAY
    )
    assert result.cells[("all", "all", "all")].forecasts > 100
    vi = render_backtest(result, "html", wording("vi"))
    en = render_backtest(result, "html", wording("en"))
    assert "Kiểm định hồi cứu dự báo thời điểm giải phóng hàng: port.jsonl" in vi
    assert "Độ tin cậy: tỷ lệ được giải phóng trước mỗi phân vị" in vi
    assert "luồng vàng" in vi
    assert "Release forecasts backtested: port.jsonl" in en
    assert "Reliability: the share released by each quantile" in en
    for page in (vi, en):
        assert page.count("<svg") == 1
        assert page.count("<tr") == 1 + sum(
            1 for cell in result.cells.values() if cell.forecasts or cell.no_forecast
        )
    md = render_backtest(result, "md", wording("vi"))
    assert md.splitlines()[0] == "# Kiểm định hồi cứu dự báo thời điểm giải phóng hàng: port.jsonl"
    levels = result.as_dict()["levels"]
    assert levels == [0.1, 0.25, 0.5, 0.75, 0.9]


def test_late_means_the_median_lies_past_the_stall_threshold_of_what_it_waits_for() -> None:
    """vasscm.late: a release median past arrival + the AWAITING_RELEASE threshold of
    the direction is late; one within it is not; a released visit is judged by its
    exit median against release + the RELEASED threshold; the list is latest first."""
    from vasscm.board import Entry, Group
    from vasscm.late import late, late_rows
    from vasscm.tracking import DEFAULT_POLICY

    hour = 3_600_000
    t0 = 1_700_000_000_000
    entry = Entry(Group("cai-lan", "import", "AWAITING_RELEASE", "customs"), t0)
    waiting = Observation("cai-lan", "import", "red", t0)
    limit = DEFAULT_POLICY.stall_after("AWAITING_RELEASE", "import")
    assert limit == 48 * hour
    on_time = Forecast(t0 + 47 * hour, t0 + 60 * hour, None, None, 40, t0)
    assert late("A", waiting, entry, on_time, DEFAULT_POLICY) is None
    behind = Forecast(t0 + 50 * hour, t0 + 60 * hour, None, None, 40, t0)
    one = late("A", waiting, entry, behind, DEFAULT_POLICY)
    assert one is not None
    assert one.of == "release"
    assert one.by_ms == 2 * hour
    unknown = Forecast(None, None, None, None, 40, t0)  # beyond what the window saw
    assert late("B", waiting, entry, unknown, DEFAULT_POLICY) is not None
    released = Observation("cai-lan", "import", "red", t0, t0 + hour)
    owner = Entry(Group("cai-lan", "import", "RELEASED", "owner"), t0 + hour)
    leaves = Forecast(None, None, t0 + 74 * hour, t0 + 80 * hour, 40, t0)
    gone = late("C", released, owner, leaves, DEFAULT_POLICY)
    assert gone is not None
    assert gone.of == "exit"
    assert gone.by_ms == hour
    assert (
        late("C", released, owner, leaves._replace(exit_p50=t0 + 73 * hour), DEFAULT_POLICY) is None
    )
    rows = late_rows([one, gone, late("B", waiting, entry, unknown, DEFAULT_POLICY)], 2)
    assert [r["container_no"] for r in rows["late"]] == ["B", "A"]
    assert rows["total"] == 3
    assert rows["by_site"] == {"cai-lan": 3}
    assert late_rows([one], 5, direction="export")["total"] == 0
