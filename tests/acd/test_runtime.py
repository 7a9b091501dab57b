"""The ACD under gevent against the FreeSWITCH double: offers become agent legs, answers become bridges."""

from __future__ import annotations

from typing import Iterator

import pytest

from acd.agents import Agent, AgentState
from acd.distributor import Distributor
from acd.queues import QueueSpec, Strategy
from acd.runtime import AcdRuntime
from esl import Backoff, SwitchLink


@pytest.fixture
def acd(switch) -> Iterator[AcdRuntime]:
    link = SwitchLink(*switch.address, switch.password, events=["CHANNEL_CREATE", "CHANNEL_PARK", "CHANNEL_HANGUP"],
                      backoff=Backoff(0.01, 0.05))
    link.start()
    link.wait_connected(5)
    core = Distributor([QueueSpec("general", "general", strategy=Strategy.TOP_DOWN, wrap_up_s=30)])
    for agent_id in ("1001", "1002"):
        core.add_agent(Agent(agent_id, f"user/{agent_id}", {"general": 5}))
    runtime = AcdRuntime(core, link)
    yield runtime
    runtime.stop()
    link.stop()


def parked_caller(switch):
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345")
    assert switch.wait(lambda: call.parked, timeout=5)
    return call


def test_answering_agent_is_bridged_to_the_caller(switch, acd: AcdRuntime) -> None:
    switch.set_endpoint("user/1001", answer_after=0.0)
    acd.login("1001")
    call = parked_caller(switch)
    acd.enqueue(call.uuid, "general", "13800138000")
    assert switch.wait(lambda: call.bridged_to is not None, timeout=5)
    assert call.bridged_to.name == "user/1001"
    assert acd.core.agents["1001"].state is AgentState.ON_CALL


def test_no_answer_goes_to_the_next_agent(switch, acd: AcdRuntime) -> None:
    switch.set_endpoint("user/1001", cause="NO_ANSWER")
    switch.set_endpoint("user/1002", answer_after=0.0)
    acd.login("1001")
    acd.login("1002")
    call = parked_caller(switch)
    acd.enqueue(call.uuid, "general", "13800138000")
    assert switch.wait(lambda: call.bridged_to is not None, timeout=5)
    assert call.bridged_to.name == "user/1002"
    first = acd.core.agents["1001"]
    assert first.state is AgentState.READY and first.missed_in_a_row == {"no_answer": 1}


def test_caller_hang_up_cancels_the_ringing_agent(switch, acd: AcdRuntime) -> None:
    switch.set_endpoint("user/1001", answer_after=None)
    acd.login("1001")
    call = parked_caller(switch)
    acd.enqueue(call.uuid, "general", "13800138000")
    assert switch.wait(lambda: any(c.name == "user/1001" for c in switch.channels.values()), timeout=5)
    call.hangup()
    assert switch.wait(lambda: not switch.channels, timeout=5)
    assert switch.wait(lambda: acd.core.agents["1001"].state is AgentState.READY, timeout=5)
    assert acd.core.service_level.total("general").abandoned == 1


def test_agent_hang_up_starts_wrap_up(switch, acd: AcdRuntime) -> None:
    switch.set_endpoint("user/1001", answer_after=0.0)
    acd.login("1001")
    call = parked_caller(switch)
    acd.enqueue(call.uuid, "general", "13800138000")
    assert switch.wait(lambda: call.bridged_to is not None, timeout=5)
    call.bridged_to.hangup()
    assert switch.wait(lambda: acd.core.agents["1001"].state is AgentState.WRAP_UP, timeout=5)


def test_an_agent_dialling_out_is_not_offered_and_is_ready_again_when_it_ends(switch, acd: AcdRuntime) -> None:
    switch.set_endpoint("user/1002", answer_after=0.0)
    acd.login("1001")
    acd.login("1002")
    own = switch.place_call(caller_id_number="1001", destination_number="057112345", user="1001")
    assert switch.wait(lambda: acd.core.agents["1001"].state is AgentState.ON_CALL, timeout=5)
    call = parked_caller(switch)
    acd.enqueue(call.uuid, "general", "13800138000")
    assert switch.wait(lambda: call.bridged_to is not None, timeout=5)
    assert call.bridged_to.name == "user/1002"  # top-down would have picked 1001
    own.hangup()
    assert switch.wait(lambda: acd.core.agents["1001"].state is AgentState.READY, timeout=5)
    assert [t.reason for t in acd.core.agents["1001"].log][-2:] == ["non_queue", ""]


def test_a_direct_call_to_a_not_ready_agent_leaves_them_not_ready_after(switch, acd: AcdRuntime) -> None:
    acd.login("1001")
    acd.not_ready("1001", "meal")
    assert switch.api("originate user/1001 &park()").startswith("+OK")
    direct = next(c for c in switch.channels.values() if c.name == "user/1001")
    assert switch.wait(lambda: acd.core.agents["1001"].state is AgentState.ON_CALL, timeout=5)
    acd.ready("1001")  # asked for during the call: takes effect when it ends
    assert acd.core.agents["1001"].state is AgentState.ON_CALL
    direct.hangup()
    assert switch.wait(lambda: acd.core.agents["1001"].state is AgentState.READY, timeout=5)


def test_a_citizen_claiming_an_agents_number_is_not_taken_for_the_agent(switch, acd: AcdRuntime) -> None:
    acd.login("1001")
    parked: list[str] = []
    acd.link.on("CHANNEL_PARK", lambda event: parked.append(event.uuid))  # each call's events arrive in order
    forged = switch.place_call(caller_id_number="1001", destination_number="12345", sip_headers={"X-User": "1001"})
    assert switch.wait(lambda: forged.uuid in parked, timeout=5)
    assert acd.core.agents["1001"].state is AgentState.READY
