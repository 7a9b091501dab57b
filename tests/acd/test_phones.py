"""Agents' softphones as the registrar sees them: an unregistered phone is not offered a call, and a phone that
registers again is; the engine follows the switch's sofia::register/unregister events and, after every
(re)connect, its list of registrations."""

from __future__ import annotations

from acd.agents import AgentState
from acd.phones import Phones, Registration


def test_a_phone_is_gone_only_when_its_last_registration_is() -> None:
    phones = Phones({"1001": "user/1001", "gw": "sofia/gateway/pstn/88001234"})
    assert phones.agents == {"1001": "1001"}  # a gateway has nothing to register
    assert phones.apply(Registration("1001", "desk", True)) == ("1001", True)
    assert phones.apply(Registration("1001", "mobile", True)) is None
    assert phones.apply(Registration("1001", "desk", False)) is None
    assert phones.apply(Registration("1001", "mobile", False)) == ("1001", False)
    assert phones.apply(Registration("9999", "x", True)) is None  # not an agent's phone
    assert phones.reset([("1001", "desk")]) == [("1001", True)]


def test_an_unregistered_agent_is_not_offered_until_the_phone_is_back(switch, make_engine) -> None:
    engine = make_engine(agents=("1001",))
    agent = engine.queueing.core.agents["1001"]
    engine.queueing.command("1001", "login")
    switch.unregister("1001")
    assert switch.wait(lambda: not agent.registered, timeout=5)
    citizen = switch.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="1")
    assert switch.wait(lambda: citizen.uuid in engine.queueing.core.callers, timeout=10)
    assert agent.state is AgentState.READY and not any(c.name == "user/1001" for c in switch.channels.values())
    switch.register("1001")
    assert switch.wait(lambda: any(c.name == "user/1001" for c in switch.channels.values()), timeout=5)
    assert switch.wait(lambda: agent.state is AgentState.ON_CALL, timeout=5)
    citizen.hangup()
    [record] = _records(switch, engine, 1)
    assert record.agent == "1001"


def test_registrations_missed_while_the_link_was_down_are_taken_from_the_switch(switch, make_engine) -> None:
    engine = make_engine(agents=("1001",))
    agent = engine.queueing.core.agents["1001"]
    assert agent.registered
    switch.reload_event_socket(down_s=0.3)
    switch.unregister("1001")  # nobody listening: the event is lost
    assert switch.wait(lambda: not agent.registered, timeout=10)


def _records(switch, engine, count: int):
    assert switch.wait(lambda: len(engine.records) >= count, timeout=10)
    return list(engine.records)
