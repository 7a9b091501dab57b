"""Every figure of the report equals its recomputation in plain Python from the raw records (tests/reports/
recompute.py, written from the definitions), over generated days of traffic and agents' state changes (login
time, not-ready time by reason, occupancy; states begun before the range): calls around the centre's midnight
and across it between arrival and queue entry, waits exactly on the thresholds, quick abandons, transfers back
into a queue, unseen ends, lost calls, voicemail, callbacks early and late, surveys; in China's zone and in one
with daylight saving (where a day has 23 or 25 hours), by every view; on SQLite, and on PostgreSQL (one code path)."""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import delete

from calls.record import CallTimeline, TransferTrace
from reports.figures import VIEWS, compute, values
from tickets.agent_states import StateChange
from tickets.store import AgentStateRow, CallbackRow, CallRow, OfferRow, TicketStore

sys.path.insert(0, os.path.dirname(__file__))
from recompute import LEVELS, rates, recompute  # noqa: E402

THRESHOLDS, QUICK_S, CALLBACK_H, DIMENSIONS = (15, 20, 30), 5.0, 24.0, ("attitude", "result")
REASONS = ("rest", "meal")
FIRST, LAST = dt.date(2026, 3, 7), dt.date(2026, 3, 9)
"""Three days; in New York the middle one (8 March 2026) has 23 hours."""
ZONES = ("Asia/Shanghai", "America/New_York")


@st.composite
def days_of_traffic(draw: st.DrawFn, zone: str) -> tuple[list[CallTimeline], dict[str, int], list[StateChange]]:
    local_midnight = int(dt.datetime.combine(FIRST, dt.time(), ZoneInfo(zone)).timestamp() * 1000)
    calls, callbacks = [], {}
    changes = [StateChange(local_midnight + draw(st.integers(-2, 4)) * 86_400_000 + draw(st.integers(-60_000, 60_000)),
                           draw(st.sampled_from(["1001", "1002"])), state,
                           draw(st.sampled_from(REASONS)) if state == "not_ready" else "")
               for state in draw(st.lists(st.sampled_from(
                   ["ready", "offered", "on_call", "wrap_up", "not_ready", "logged_out"]), max_size=30))]
    for n in range(draw(st.integers(0, 40))):
        day = draw(st.integers(-1, 3))  # a day before and after the range too
        near_midnight = draw(st.booleans())
        offset = draw(st.integers(-40_000, 40_000)) if near_midnight else draw(st.integers(0, 86_399_999))
        arrived = local_midnight + day * 86_400_000 + offset
        kind = draw(st.sampled_from(["answered", "abandoned", "timeout", "exit_key", "lost", "safety_net",
                                     "voicemail", "ivr_abandoned", "unseen"]))
        queued = None if kind in ("lost", "safety_net", "voicemail", "ivr_abandoned") else \
            arrived + draw(st.integers(0, 60_000))
        wait = draw(st.sampled_from([0, 4_999, 5_000, 15_000, 20_000, 20_001, 30_000, 45_000, 90_000]) |
                    st.integers(0, 120_000))
        answered = queued + wait if kind == "answered" else None
        end = None if kind == "unseen" or draw(st.integers(0, 9)) == 0 else \
            (answered or queued or arrived) + (draw(st.integers(1_000, 600_000)) if answered else wait)
        held, consult = (draw(st.integers(0, 60_000)), draw(st.integers(0, 30_000))) if answered else (0, 0)
        transfers = [TransferTrace("1001", "second", "blind", arrived, "done", queue="second")] \
            if answered and draw(st.booleans()) else []
        survey = {d: draw(st.sampled_from([*LEVELS, "not_rated"])) for d in DIMENSIONS} \
            if answered and draw(st.booleans()) else None
        reason = {"answered": "answered", "lost": "system_failure", "unseen": "unseen"}.get(kind, kind)
        call = CallTimeline(
            f"call-{n}", f"1380013{n:04d}", "12345", arrived, queue_entry_ms=queued,
            queue=draw(st.sampled_from(["general", "second"])) if queued else None, answered_ms=answered,
            agent=draw(st.sampled_from(["1001", "1002"])) if answered else None, held_ms=held, consult_ms=consult,
            transfers=transfers, hangup_ms=end, exit_reason=reason, survey=survey,
            tenant=draw(st.sampled_from(["default", "nanning", None])))
        calls.append(call)
        if draw(st.integers(0, 2)) == 0:
            callbacks[call.call_id] = (end or arrived) + draw(st.sampled_from([0, 3_600_000, 86_400_000,
                                                                              86_400_001, 172_800_000]))
    return calls, callbacks, changes


def stored(store: TicketStore, calls: list[CallTimeline], callbacks: dict[str, int],
           changes: list[StateChange] = ()) -> None:
    with store.engine.begin() as connection:
        for table in (CallbackRow, OfferRow, CallRow, AgentStateRow):
            connection.execute(delete(table))
    store.save_all([(call, None) for call in calls], (), changes)
    for call_id, at_ms in callbacks.items():
        store.called_back(call_id, "1001", "", at_ms)


def same(report, expected: dict[str, dict]) -> None:
    """The report's rows (or its total, without ``by``) are the recomputation's, figure by figure."""
    if report.by:
        got = {row.key: values(report, row) for row in report.rows}
    else:  # the total is always there, if only of nothing
        got = {"合计 total": values(report, report.total)}
        expected = expected or {"合计 total": rates({}, THRESHOLDS, DIMENSIONS, REASONS)}
    assert set(got) == set(expected)
    for key, figures in expected.items():
        for name, value in figures.items():
            mine = got[key][name]
            assert (mine is None) == (value is None) and (value is None or math.isclose(mine, value, abs_tol=1e-9)), \
                (key, name, mine, value)


def check(store: TicketStore, zone: str, traffic) -> None:
    calls, callbacks, changes = traffic
    stored(store, calls, callbacks, changes)
    now = max([c.at_ms for c in changes], default=0) + 1  # a state with no change after it lasts until now
    for by in (None, *VIEWS):
        if by == "hour" and zone != "Asia/Shanghai":
            continue  # a repeated hour has one name twice: the hours are checked in China's zone
        report = compute(store.engine, FIRST, LAST, zone, by, THRESHOLDS, QUICK_S, CALLBACK_H, DIMENSIONS,
                         reasons=REASONS, now_ms=now)
        same(report, recompute(calls, callbacks, FIRST, LAST, zone, by, THRESHOLDS, QUICK_S, CALLBACK_H, DIMENSIONS,
                               changes, REASONS, now))


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory) -> TicketStore:
    store = TicketStore(f"sqlite:///{tmp_path_factory.mktemp('report')}/tickets.db")
    store.migrate()
    return store


@pytest.mark.parametrize("zone", ZONES)
def test_every_figure_equals_its_recomputation_on_sqlite(sqlite_store, zone: str) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(days_of_traffic(zone))
    def run(traffic) -> None:
        check(sqlite_store, zone, traffic)

    run()


def test_every_figure_equals_its_recomputation_on_postgresql(postgres) -> None:
    from sqlalchemy import text

    store = TicketStore(postgres.url)
    with store.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    store.migrate()

    @settings(max_examples=25, deadline=None)
    @given(days_of_traffic("Asia/Shanghai"))
    def run(traffic) -> None:
        check(store, "Asia/Shanghai", traffic)

    run()


def test_a_day_with_23_hours_has_23_hour_rows(sqlite_store) -> None:
    midnight = int(dt.datetime(2026, 3, 8, tzinfo=ZoneInfo("America/New_York")).timestamp() * 1000)
    calls = [CallTimeline(f"c{h}", "13800138000", "12345", midnight + h * 3_600_000 + 1, queue_entry_ms=midnight
                          + h * 3_600_000 + 2, queue="general", exit_reason="abandoned") for h in range(23)]
    stored(sqlite_store, calls, {})
    report = compute(sqlite_store.engine, dt.date(2026, 3, 8), dt.date(2026, 3, 8), "America/New_York", "hour",
                     THRESHOLDS, QUICK_S, CALLBACK_H, DIMENSIONS)
    assert [row.key[11:13] for row in report.rows] == ["00", "01", *(f"{h:02d}" for h in range(3, 24))]
    assert all(row.counts["requests"] == 1 for row in report.rows)


def test_the_total_is_the_sum_of_its_rows(sqlite_store) -> None:
    report = compute(sqlite_store.engine, FIRST, LAST, "Asia/Shanghai", "agent", THRESHOLDS, QUICK_S, CALLBACK_H,
                     DIMENSIONS)
    for name, value in report.total.counts.items():
        assert value == sum(row.counts.get(name, 0) for row in report.rows)

