"""The menu walk and tenant rules, without a switch: exactly what calls and `hotline ivr walk` follow."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

import config
from cli import main
from config.ivr import Hours, Ivr, ToLookup, ToNumber, ToQueue
from ivr.menus import Ask, MenuWalk
from ivr.tenants import is_open, select

EXAMPLE = Path(__file__).parents[2] / "examples" / "nanning-12345.yaml"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(scope="module")
def ivr() -> Ivr:
    return config.load(EXAMPLE).ivr


def walk_keys(ivr: Ivr, tenant: str, keys: list[str | None]) -> tuple[object, MenuWalk]:
    walk = MenuWalk(ivr, ivr.tenants[tenant])
    step: object = walk.start()
    for key in keys:
        assert isinstance(step, Ask)
        step = walk.press(key)
    return step, walk


def test_silence_reaches_a_human_at_once(ivr: Ivr) -> None:
    step, walk = walk_keys(ivr, "nanning", [None])
    assert step == ToQueue(do="queue", queue="general") and walk.path == ["menu:main", "timeout", "default"]


def test_sub_menu_back_and_the_110_route(ivr: Ivr) -> None:
    step, walk = walk_keys(ivr, "nanning", ["9", "*", "9", "2"])
    assert step == ToNumber(do="number", number="110")
    assert walk.path == ["menu:main", "key:9", "menu:emergency", "key:*", "menu:main", "key:9", "menu:emergency",
                         "key:2"]


def test_a_wrong_key_is_retried_then_the_default_runs(ivr: Ivr) -> None:
    walk = MenuWalk(ivr, ivr.tenants["nanning"])
    walk.start()
    walk.press("9")
    again = walk.press("7")  # emergency menu: one retry
    assert isinstance(again, Ask) and again.before == ("invalid",) and again.menu == "emergency"
    assert walk.press("7").do == "emergency"


def test_lookup_returns_to_the_menu(ivr: Ivr) -> None:
    step, walk = walk_keys(ivr, "nanning", ["3"])
    assert isinstance(step, ToLookup)
    assert walk.again() == Ask("main", (), "choice", 5)


def test_tenant_by_called_number_then_region(ivr: Ivr) -> None:
    assert select(ivr, "077196333", None)[0] == "enterprise"
    assert select(ivr, "12345", "广西壮族自治区南宁市")[0] == "nanning"
    regional = ivr.model_copy(update={"tenants": {
        "guangzhou": ivr.tenants["nanning"].model_copy(update={"regions": ["广东省广州市"]}), **ivr.tenants}})
    assert select(regional, "12345", "广东省广州市")[0] == "guangzhou"
    assert select(regional, "12345", "广东省深圳市")[0] == "nanning"


@pytest.mark.parametrize("when, expected", [
    ("2026-10-12 09:00", True),    # a Monday, inside the morning span
    ("2026-10-12 12:30", False),   # lunch
    ("2026-10-12 17:30", False),   # the end is exclusive
    ("2026-10-11 10:00", False),   # a Sunday
    ("2026-10-10 10:00", True),    # a Saturday worked instead (调休)
    ("2026-10-05 10:00", False),   # National Day holiday, a Monday
    ("2026-10-12 01:00", False),
])
def test_business_hours_follow_the_chinese_calendar(ivr: Ivr, when: str, expected: bool) -> None:
    hours = ivr.tenants["enterprise"].hours
    assert is_open(hours, dt.datetime.fromisoformat(when).replace(tzinfo=SHANGHAI)) is expected


@pytest.mark.parametrize("holiday_hours, expected", [([], False), (["00:00-24:00"], True), (["09:00-12:00"], False)])
def test_a_round_the_clock_centre_keeps_the_hours_it_sets_for_holidays(holiday_hours: list[str], expected: bool) -> None:
    """Open all day every day needs no calendar, unless its holidays have hours of their own (none: closed)."""
    hours = Hours(holidays=["2026-10-01..2026-10-07"], holiday_hours=holiday_hours)
    assert is_open(hours, dt.datetime(2026, 10, 5, 20, 0, tzinfo=SHANGHAI)) is expected
    assert is_open(hours, dt.datetime(2026, 10, 12, 20, 0, tzinfo=SHANGHAI))
    assert is_open(Hours(), dt.datetime(2026, 10, 5, 3, 0, tzinfo=SHANGHAI))


def test_hours_are_read_in_the_centres_time_zone(ivr: Ivr) -> None:
    hours = ivr.tenants["enterprise"].hours
    assert is_open(hours, dt.datetime(2026, 10, 12, 1, 0, tzinfo=dt.timezone.utc))  # 09:00 in Nanning


def test_ivr_walk_prints_what_the_caller_hears_and_where_they_end() -> None:
    result = CliRunner().invoke(main, ["--config", str(EXAMPLE), "ivr", "walk", "--digits", "9,2"])
    assert result.exit_code == 0, result.output
    assert "紧急求助转人工请按1" in result.output and result.output.rstrip().endswith("ends at: number number=110")
    closed = CliRunner().invoke(main, ["--config", str(EXAMPLE), "ivr", "walk", "--called", "077196333",
                                       "--at", "2026-10-03 10:00"])
    assert "现在是非工作时间" in closed.output and "ends at: number 12345 (after hours)" in closed.output


def test_ivr_walk_refuses_anything_but_phone_keys() -> None:
    result = CliRunner().invoke(main, ["--config", str(EXAMPLE), "ivr", "walk", "--digits", "1,a"])
    assert result.exit_code == 2 and "'a'" in result.output


def test_ivr_show_prints_every_tenant_and_menu() -> None:
    result = CliRunner().invoke(main, ["--config", str(EXAMPLE), "ivr", "show"])
    assert result.exit_code == 0, result.output
    assert "tenant enterprise" in result.output and "[emergency]" in result.output and "-> number number=110" in result.output


def test_repeat_replays_the_menu_and_hangup_ends_it(ivr: Ivr) -> None:
    from config.ivr import Menu, Repeat, ToHangup

    menus = {**ivr.menus, "main": Menu(prompt="choice", keys={"0": Repeat(do="repeat"), "#": ToHangup(do="hangup")})}
    changed = ivr.model_copy(update={"menus": menus})
    step, walk = walk_keys(changed, "nanning", ["0", "#"])
    assert step == ToHangup(do="hangup", prompt="goodbye") and walk.path == ["menu:main", "key:0", "key:#"]
