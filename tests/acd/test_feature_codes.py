"""Agents change state by dialling feature codes from their softphones, through the real engine and ESL."""

from __future__ import annotations

from pathlib import Path

import pytest

import config
from acd.agents import AgentState
from engine.process import Engine
from acd.feature_codes import AgentCommand, parse
from config.acd import Agent as AgentConfig


def test_codes_map_to_commands() -> None:
    acd = config.defaults().acd.model_copy(update={"agents": {"1001": AgentConfig(contact="user/1001", skills={"general": 5})}})
    assert parse(acd, "1001", "*21") == AgentCommand("1001", "ready")
    assert parse(acd, "1001", "*222") == AgentCommand("1001", "not_ready", "meal")
    assert parse(acd, "1001", "*22") == AgentCommand("1001", "not_ready", "rest")
    assert parse(acd, "1001", "*2299") is None
    assert parse(acd, "9999", "*21") is None  # not an agent
    assert parse(acd, "1001", "*21;api system") is None


@pytest.fixture
def engine(make_engine) -> Engine:
    return make_engine(agents=("1001",))


def test_agent_logs_in_goes_not_ready_for_a_meal_and_back(switch, played_apps, engine: Engine) -> None:
    agent = engine.queueing.core.agents["1001"]
    for code, state, prompt in (("*20", AgentState.READY, "code_login"), ("*222", AgentState.NOT_READY, "code_not_ready"),
                                ("*21", AgentState.READY, "code_ready"), ("*23", AgentState.LOGGED_OUT, "code_logout"),
                                ("*23", AgentState.LOGGED_OUT, "code_refused")):  # out already
        call = switch.place_call(caller_id_number="1001", destination_number=code, user="1001")
        assert switch.wait(lambda: call.hangup_cause is not None and agent.state is state, timeout=5), code
        # The phone hears it done (or refused), in the engine's own prompts: stock FreeSWITCH has none for it.
        heard = [arg for uuid, app, arg in played_apps if uuid == call.uuid and app == "playback"]
        assert heard == [engine.front_door.flow.sound(prompt)] and Path(heard[0]).is_file(), code
    assert [t.reason for t in agent.log if t.new is AgentState.NOT_READY] == ["meal"]
    assert AgentState.ON_CALL not in [t.new for t in agent.log], "a feature code's own call is no conversation"


def test_a_second_login_or_ready_while_ringing_is_refused_and_changes_nothing(switch, engine: Engine) -> None:
    """*20 from a logged-in agent on a call, or *21 while a call rings on their phone, would free the agent while
    the switch still has them on the call (found by the property test of the connector)."""
    agent = engine.queueing.core.agents["1001"]
    engine.queueing.command("1001", "login")
    switch.set_endpoint("user/1001", answer_after=None)  # rings until the caller gives up
    citizen = switch.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="1")
    assert switch.wait(lambda: agent.state is AgentState.OFFERED, timeout=10)
    for code in ("*20", "*21"):
        call = switch.place_call(caller_id_number="1001", destination_number=code, user="1001")
        assert switch.wait(lambda: call.hangup_cause is not None, timeout=5), code
        assert agent.state is AgentState.OFFERED, code
    citizen.hangup()
    assert switch.wait(lambda: agent.state is AgentState.READY, timeout=5)


def test_a_caller_id_claiming_to_be_an_agent_changes_nothing(switch, engine: Engine) -> None:
    agent = engine.queueing.core.agents["1001"]
    handled: list[str] = []
    engine.link.on("CHANNEL_PARK", lambda event: handled.append(event.uuid))  # runs after the engine's handler
    call = switch.place_call(caller_id_number="1001", destination_number="*20")  # external, unauthenticated
    assert switch.wait(lambda: call.uuid in handled, timeout=5)
    assert agent.state is AgentState.LOGGED_OUT and not agent.log
