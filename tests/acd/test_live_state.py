"""Live state in a real Redis: other processes read it, and a restarted engine drops no call."""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest
import redis

from acd.agents import Agent, AgentState
from acd.distributor import Distributor
from acd.live_state import RedisState
from acd.queues import QueueSpec
from acd.tracking import CallTimeline


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    client.delete(f"{name}:agents", f"{name}:callers", f"{name}:calls", f"{name}:legs")


def test_journal_reaches_redis_and_reads_back_in_order(redis_url: str, prefix: str) -> None:
    journal = RedisState(redis_url, prefix)
    core = Distributor([QueueSpec("general", "general")], journal=journal)
    core.add_agent(Agent("1001", "user/1001", {"general": 5}))
    core.login("1001", 1_000)
    core.not_ready("1001", "meal", 2_000)
    for n in range(3):
        core.enqueue(f"c{n}", "general", f"1380000000{n}", 3_000 + n)
    core.caller_left("c1", 4_000)
    assert journal.flush(5)
    agents, callers = journal.load()
    journal.close()
    assert agents["1001"]["state"] == "not_ready" and agents["1001"]["reason"] == "meal"
    assert [c["call_id"] for c in callers] == ["c0", "c2"] and callers[1]["entered_ms"] == 3_002


def test_engine_restart_keeps_waiting_callers_and_agent_states(switch, make_engine, redis_url: str,
                                                               prefix: str) -> None:
    switch.set_endpoint("user/1001", answer_after=0.0)
    state = {"backend": "redis", "redis_url": redis_url, "prefix": prefix}
    first = make_engine(state=state)
    first.acd.command("1001", "login")
    first.acd.command("1001", "not_ready", "meal")
    first.acd.command("1002", "login")
    first.acd.command("1002", "not_ready", "training")
    calls = [switch.place_call(caller_id_number=f"1380000000{n}", destination_number="12345", dtmf="1")
             for n in range(3)]
    assert switch.wait(lambda: len(first.acd.core.callers) == 3, timeout=10)
    entered = {c: first.acd.core.callers[c].entered_ms for c in first.acd.core.callers}
    order = [call for _, call in first.acd.core.waiting["general"]]
    calls[2].hangup()  # this caller gives up while the engine is down...
    assert first.journal.flush(5)
    first.stop()  # the engine goes away; FreeSWITCH keeps the other calls parked
    assert switch.wait(lambda: calls[2].uuid not in switch.channels, timeout=5)

    second = make_engine(state=state)
    try:
        core = second.acd.core
        assert [call for _, call in core.waiting["general"]] == [c for c in order if c != calls[2].uuid]
        assert all(core.callers[c].entered_ms == entered[c] for c in core.callers)
        assert (core.agents["1001"].state, core.agents["1001"].reason) == (AgentState.NOT_READY, "meal")
        second.acd.command("1001", "ready")  # ...and the first caller in line is the one answered
        first_in_line, second_in_line = (switch.channels[c] for c in order if c != calls[2].uuid)
        assert switch.wait(lambda: first_in_line.bridged_to is not None, timeout=10)
        assert second_in_line.bridged_to is None and second_in_line.hangup_cause is None
    finally:
        second.stop()


def test_a_restarted_engine_finishes_every_call_the_old_one_was_handling(switch, make_engine, redis_url: str,
                                                                         prefix: str) -> None:
    """One call was in the front door when the engine died (still parked in the switch), one ended meanwhile."""
    switch.set_endpoint("user/1001", answer_after=0.0)
    in_ivr = switch.place_call(caller_id_number="13800000001", destination_number="12345")
    assert switch.wait(lambda: in_ivr.parked, timeout=5)
    old = RedisState(redis_url, prefix)
    old.call_changed(CallTimeline(in_ivr.uuid, "13800000001", "12345", 1_000, 1_100, ["menu:main"]))
    old.call_changed(CallTimeline("0f0e0d0c-0000-4000-8000-000000000001", "13800000002", "12345", 2_000, 2_100,
                                  ["menu:main", "timeout", "default"], 2_500, "general"))
    assert old.flush(5)
    old.close()

    engine = make_engine(state={"backend": "redis", "redis_url": redis_url, "prefix": prefix})
    engine.acd.command("1001", "login")
    assert switch.wait(lambda: in_ivr.bridged_to is not None, timeout=10)
    in_ivr.hangup()
    assert switch.wait(lambda: len(engine.records) == 2, timeout=10)
    records = {record.call_id: record for record in engine.records}
    served = records[in_ivr.uuid]
    assert (served.switch_entry_ms, served.ivr_path, served.agent) == (1_000, ["menu:main", "restarted"], "1001")
    assert served.exit_reason == "answered" and served.queue == "general"
    gone = records["0f0e0d0c-0000-4000-8000-000000000001"]
    assert (gone.exit_reason, gone.hangup_ms, gone.queue_entry_ms) == ("abandoned", None, 2_500)
    assert engine.journal.flush(5)
    assert redis.Redis.from_url(redis_url).hlen(f"{prefix}:calls") == 0


def test_an_agent_talking_through_a_restart_stays_on_the_call_until_it_ends(switch, make_engine, redis_url: str,
                                                                          prefix: str) -> None:
    switch.set_endpoint("user/1001", answer_after=0.0)
    state = {"backend": "redis", "redis_url": redis_url, "prefix": prefix}
    first = make_engine(state=state, wrap_up=0)
    first.acd.command("1001", "login")
    call = switch.place_call(caller_id_number="13800000001", destination_number="12345", dtmf="1")
    assert switch.wait(lambda: call.bridged_to is not None, timeout=10)
    agent_leg = call.bridged_to
    assert first.journal.flush(5)
    first.stop()  # the conversation goes on in the switch

    second = make_engine(state=state, wrap_up=0)
    agent = second.acd.core.agents["1001"]
    assert agent.state is AgentState.ON_CALL  # not guessed into wrap-up: its leg is still up
    agent_leg.hangup()
    assert switch.wait(lambda: agent.state is AgentState.READY, timeout=10)
    assert [t.new for t in agent.log][-1:] == [AgentState.READY]
    assert second.journal.flush(5)
    assert redis.Redis.from_url(redis_url).hlen(f"{prefix}:legs") == 0


def test_cli_status_reads_the_floor_from_redis(redis_url: str, prefix: str, tmp_path) -> None:
    from click.testing import CliRunner

    from cli import main

    journal = RedisState(redis_url, prefix)
    core = Distributor([QueueSpec("general", "general")], journal=journal)
    for agent_id in ("1001", "1002"):
        core.add_agent(Agent(agent_id, f"user/{agent_id}", {"general": 5}))
        core.login(agent_id, 1_000)
    core.not_ready("1002", "meal", 2_000)
    core.ready("1001", 2_000)
    core.not_ready("1001", "training", 2_500)
    core.enqueue("c1", "general", "13800000001", 3_000)
    assert journal.flush(5)
    journal.close()
    config_file = tmp_path / "hotline.yaml"
    config_file.write_text("centre: {name: t}\nswitch: {password: a-strong-password-1}\n"
                           f"state: {{backend: redis, redis_url: '{redis_url}', prefix: {prefix}}}\n")
    result = CliRunner().invoke(main, ["--config", str(config_file), "status"])
    assert result.exit_code == 0, result.output
    assert "agents: not_ready 2" in result.output
    assert "1002 not ready: meal" in result.output and "queue general: 1 waiting" in result.output
