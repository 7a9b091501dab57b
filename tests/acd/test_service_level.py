"""Service level by the centre's day: "today" starts at local midnight, and only two days stay in memory."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from acd.service_level import ServiceLevel

BEIJING = ZoneInfo("Asia/Shanghai")


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=BEIJING).timestamp() * 1000)


def test_today_is_the_centres_day_not_utcs_nor_the_processs() -> None:
    levels = ServiceLevel()
    levels.request("general", ms("2026-11-30 23:59:00"))
    levels.answered("general", ms("2026-11-30 23:59:00"), ms("2026-11-30 23:59:10"))
    levels.request("general", ms("2026-12-01 00:01:00"))  # 16:01 UTC of the 30th, but tomorrow in Nanning
    assert levels.today("general", ms("2026-12-01 00:02:00")).requests == 1
    assert levels.today("general", ms("2026-11-30 23:59:30")).answered == 1
    assert levels.day_start(ms("2026-12-01 07:59:00")) == ms("2026-12-01 00:00:00")


def test_only_today_and_yesterday_stay_in_memory() -> None:
    levels = ServiceLevel()
    for day in ("2026-11-28", "2026-11-29", "2026-11-30", "2026-12-01"):
        levels.request("general", ms(f"{day} 10:00:00"))
    days = sorted({start for (_, name, start) in levels.buckets if name == "day"})
    assert days == [ms("2026-11-30 00:00:00"), ms("2026-12-01 00:00:00")]
    unbounded = ServiceLevel(keep_days=None)  # a simulation keeps its whole run
    for day in ("2026-11-28", "2026-11-29", "2026-11-30"):
        unbounded.request("general", ms(f"{day} 10:00:00"))
    assert unbounded.total("general").requests == 3


def test_a_restarted_engine_counts_todays_finished_calls_from_their_records() -> None:
    from calls.record import CallTimeline

    levels = ServiceLevel()
    at = ms("2026-11-30 10:00:00")
    answered = CallTimeline("a", "1", "12345", at, queue="general", queue_entry_ms=at, answered_ms=at + 25_000,
                            exit_reason="answered")
    gave_up = CallTimeline("b", "2", "12345", at, queue="general", queue_entry_ms=at, hangup_ms=at + 40_000,
                           exit_reason="abandoned")
    lost = CallTimeline("c", "3", "12345", at, exit_reason="system_failure")
    for record in (answered, gave_up, lost):
        levels.count(record)
    today = levels.today("general", at)
    assert (today.requests, today.answered, today.abandoned, levels.lost_in_switch) == (2, 1, 1, 1)
    assert today.levels(20)["hotline_12345"] == 0 and today.levels(30)["hotline_12345"] == 0.5
