"""The live figures and the report say the same: the API's N秒接通率 count only decided calls (a caller still in
line under N seconds is no failure yet), and once every call has ended they equal the report's for the centre's
day, queue by queue."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from acd.agents import AgentState
from config.acd import Token
from reports import report_for
from reports.figures import values
from tests.acd.test_api import call as api
from tests.acd.test_queueing import queued_caller

TOKEN = "supervisor-reports-token-abcdefgh"


def rates(engine) -> dict[str, dict[str, float | None]]:
    status, queues = api(engine, "GET", "/queues", TOKEN)
    assert status == 200
    return {q["queue"]: {k: v for k, v in q.items() if k.startswith("answered_within_")} for q in queues}


def test_a_caller_in_line_is_no_failure_and_the_day_ends_as_the_report_says(switch, make_engine) -> None:
    switch.set_endpoint("user/1001", answer_after=0.0)
    engine = make_engine(agents=("1001",), tokens=[Token(token=SecretStr(TOKEN), role="supervisor")])
    engine.queueing.command("1001", "login")
    answered = queued_caller(switch, engine, "13800000001")
    assert switch.wait(lambda: answered.bridged_to is not None, timeout=10)
    waiting = queued_caller(switch, engine, "13800000002")  # the only agent is busy: in line, seconds from 20 s
    assert waiting.uuid in engine.queueing.core.callers
    assert rates(engine)["general"] == {"answered_within_15s_today": 1.0, "answered_within_20s_today": 1.0,
                                        "answered_within_30s_today": 1.0}  # not 50%: the second call is undecided
    waiting.hangup()  # a quick abandon: out of the denominator for good
    answered.hangup()
    assert switch.wait(lambda: len(engine.records) == 2 and engine.queueing.core.agents["1001"].state
                       is not AgentState.ON_CALL, timeout=10)
    assert engine.writer.flush(10)
    day = dt.datetime.fromtimestamp(engine.clock() / 1000, ZoneInfo(engine.settings.centre.timezone)).date()
    report = report_for(engine.settings, engine.tickets.engine, day, day, "queue")
    live = rates(engine)
    for row in report.rows:
        figures = values(report, row)
        assert {f"answered_within_{t}s_today": figures[f"within_{t}"] for t in (15, 20, 30)} == live[row.key]


def test_agents_state_changes_reach_the_store_and_the_report_by_agent(switch, make_engine) -> None:
    from sqlalchemy import select

    from tickets.store import AgentStateRow

    engine = make_engine(agents=("1001",), tokens=[Token(token=SecretStr(TOKEN), role="supervisor")])
    for action, reason in (("login", ""), ("not_ready", "meal"), ("ready", ""), ("logout", "")):
        engine.queueing.command("1001", action, reason or None)
    assert engine.writer.flush(10)
    with engine.tickets.engine.connect() as connection:
        stored = connection.execute(select(AgentStateRow.at_ms, AgentStateRow.state, AgentStateRow.reason)
                                    .where(AgentStateRow.agent == "1001").order_by(AgentStateRow.id)).all()
    assert [(state, reason) for _, state, reason in stored][-4:] == [("ready", ""), ("not_ready", "meal"),
                                                                     ("ready", ""), ("logged_out", "")]
    day = dt.datetime.fromtimestamp(engine.clock() / 1000, ZoneInfo(engine.settings.centre.timezone)).date()
    report = report_for(engine.settings, engine.tickets.engine, day, day, "agent")
    [agent] = [row for row in report.rows if row.key == "1001"]
    meal = stored[-2][0] - stored[-3][0]  # from not ready to ready
    assert agent.counts["not_ready_meal_ms"] == meal and agent.counts["login_ms"] == stored[-1][0] - stored[-4][0]


def test_each_operation_centre_has_its_live_figures(switch, make_engine) -> None:
    from config.ivr import Tenant

    switch.set_endpoint("user/1001", answer_after=0.0)
    engine = make_engine(agents=("1001",), tokens=[Token(token=SecretStr(TOKEN), role="supervisor")],
                         ivr={"tenants": {"beijing": Tenant(regions=["北京市"]), "default": Tenant()}})
    engine.queueing.command("1001", "login")
    from_beijing = queued_caller(switch, engine, "13800138000")  # answered at once
    assert switch.wait(lambda: from_beijing.bridged_to is not None, timeout=10)
    from_shanghai = queued_caller(switch, engine, "13900139000")  # in line behind it
    status, tenants = api(engine, "GET", "/tenants", TOKEN)
    assert status == 200
    by_name = {t["tenant"]: t for t in tenants}
    assert (by_name["beijing"]["answered_today"], by_name["beijing"]["waiting"]) == (1, 0)
    assert (by_name["default"]["answered_today"], by_name["default"]["waiting"]) == (0, 1)
    assert by_name["default"]["answered_within_20s_today"] is None  # its only request is undecided
    floor = api(engine, "GET", "/floor", TOKEN)[1]
    assert [t["tenant"] for t in floor["tenants"]] == ["beijing", "default"]
    from_shanghai.hangup()
    from_beijing.hangup()
