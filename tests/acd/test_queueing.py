"""The ACD in the engine against the FreeSWITCH double: offers become agent legs, answers become bridges, and
agents' own calls keep them from being offered."""

from __future__ import annotations

from acd.agents import AgentState


def queued_caller(switch, engine, number: str = "13800138000"):
    call = switch.place_call(caller_id_number=number, destination_number="12345", dtmf="1")
    assert switch.wait(lambda: call.uuid in engine.queueing.core.callers or call.bridged_to is not None, timeout=10)
    return call


def test_answering_agent_is_bridged_to_the_caller(switch, make_engine) -> None:
    switch.set_endpoint("user/1001", answer_after=0.0)
    engine = make_engine(strategy="top-down")
    engine.queueing.command("1001", "login")
    call = queued_caller(switch, engine)
    assert switch.wait(lambda: engine.queueing.core.agents["1001"].state is AgentState.ON_CALL, timeout=5)
    assert call.bridged_to is not None and call.bridged_to.name == "user/1001"


def test_no_answer_goes_to_the_next_agent(switch, make_engine) -> None:
    switch.set_endpoint("user/1001", cause="NO_ANSWER")
    switch.set_endpoint("user/1002", answer_after=0.0)
    engine = make_engine(strategy="top-down")
    engine.queueing.command("1001", "login")
    engine.queueing.command("1002", "login")
    call = queued_caller(switch, engine)
    assert switch.wait(lambda: call.bridged_to is not None, timeout=5)
    assert call.bridged_to.name == "user/1002"
    first = engine.queueing.core.agents["1001"]
    assert first.state is AgentState.READY and first.missed_in_a_row == {"no_answer": 1}


def test_caller_hang_up_cancels_the_ringing_agent_with_uuid_kill(switch, make_engine) -> None:
    switch.set_endpoint("user/1001", answer_after=None)
    engine = make_engine()
    engine.queueing.command("1001", "login")
    call = queued_caller(switch, engine)
    assert switch.wait(lambda: any(c.name == "user/1001" for c in switch.channels.values()), timeout=5)
    leg = next(c for c in switch.channels.values() if c.name == "user/1001")
    call.hangup()
    assert switch.wait(lambda: not switch.channels, timeout=5)
    assert any(line.startswith(f"api uuid_kill {leg.uuid} ORIGINATOR_CANCEL") for _, line in switch.received)
    assert leg.variables["sip_hangup_disposition"] == "send_cancel"
    assert switch.wait(lambda: engine.queueing.core.agents["1001"].state is AgentState.READY, timeout=5)
    assert engine.queueing.core.service_level.total("general").abandoned == 1


def test_agent_hang_up_starts_wrap_up(switch, make_engine) -> None:
    switch.set_endpoint("user/1001", answer_after=0.0)
    engine = make_engine(wrap_up=30)
    engine.queueing.command("1001", "login")
    call = queued_caller(switch, engine)
    assert switch.wait(lambda: call.bridged_to is not None, timeout=5)
    call.bridged_to.hangup()
    assert switch.wait(lambda: engine.queueing.core.agents["1001"].state is AgentState.WRAP_UP, timeout=5)


def test_an_agent_dialling_out_is_not_offered_and_is_ready_again_when_it_ends(switch, make_engine) -> None:
    switch.set_endpoint("user/1002", answer_after=0.0)
    engine = make_engine(strategy="top-down")
    agents = engine.queueing.core.agents
    engine.queueing.command("1001", "login")
    engine.queueing.command("1002", "login")
    own = switch.place_call(caller_id_number="1001", destination_number="057112345", user="1001")
    assert switch.wait(lambda: agents["1001"].state is AgentState.ON_CALL, timeout=5)
    call = queued_caller(switch, engine)
    assert switch.wait(lambda: call.bridged_to is not None, timeout=5)
    assert call.bridged_to.name == "user/1002"  # top-down would have picked 1001
    own.hangup()
    assert switch.wait(lambda: agents["1001"].state is AgentState.READY, timeout=5)
    assert [t.reason for t in agents["1001"].log][-2:] == ["non_queue", ""]


def test_a_direct_call_to_a_not_ready_agent_leaves_them_not_ready_after(switch, make_engine) -> None:
    engine = make_engine()
    agent = engine.queueing.core.agents["1001"]
    engine.queueing.command("1001", "login")
    engine.queueing.command("1001", "not_ready", "meal")
    assert switch.api("originate user/1001 &park()").startswith("+OK")
    direct = next(c for c in switch.channels.values() if c.name == "user/1001")
    assert switch.wait(lambda: agent.state is AgentState.ON_CALL, timeout=5)
    engine.queueing.command("1001", "ready")  # asked for during the call: takes effect when it ends
    assert agent.state is AgentState.ON_CALL
    direct.hangup()
    assert switch.wait(lambda: agent.state is AgentState.READY, timeout=5)


def test_a_citizen_claiming_an_agents_number_is_not_taken_for_the_agent(switch, make_engine) -> None:
    engine = make_engine()
    engine.queueing.command("1001", "login")
    forged = switch.place_call(caller_id_number="1001", destination_number="12345", sip_headers={"X-User": "1001"})
    assert switch.wait(lambda: forged.uuid in engine.queueing.core.callers, timeout=10)
    assert engine.queueing.core.agents["1001"].state in (AgentState.READY, AgentState.OFFERED)
    assert "non_queue" not in [t.reason for t in engine.queueing.core.agents["1001"].log]
