"""Agents acting on their own conversation: hold and resume, from the real capture's events to the stored record."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from acd.agents import AgentState
from calls.facts import Held, HungUp, from_event
from calls.legs import LegState
from config.acd import Token
from esl.protocol import EVENT_TYPES, iter_frames, parse_event
from tests.acd.test_api import call as api
from tests.acd.test_queueing import queued_caller

CAPTURE = Path(__file__).parents[1] / "captures" / "esl_plain_hold_resume_rx.txt"
TOKEN = "agent-1001-token-abcdefghijkl"
OTHER = "agent-1002-token-abcdefghijkl"


def test_the_switch_hold_and_its_end_are_read_from_the_real_capture() -> None:
    events = [parse_event(f) for f in iter_frames(CAPTURE.read_bytes()) if f.content_type in EVENT_TYPES]
    holds = [(event, from_event(event)) for event in events if event.name in ("CHANNEL_HOLD", "CHANNEL_UNHOLD")]
    (hold_event, hold), (unhold_event, unhold) = holds
    assert isinstance(hold, Held) and hold.on and isinstance(unhold, Held) and not unhold.on
    assert hold.uuid == unhold.uuid == hold_event.get("variable_uuid")
    assert hold.seq < unhold.seq and hold.since_ms == unhold.since_ms > 0
    accum_ms = int(unhold_event.get("Caller-Channel-Hold-Accum")) // 1000  # what the switch counted, 2001 ms
    assert accum_ms == 2001 and unhold.at_ms - unhold.since_ms >= accum_ms  # UNHOLD is stamped after the count
    assert not any(isinstance(from_event(e), Held) for e in events if e.name == "CHANNEL_CALLSTATE")


@pytest.fixture
def engine(switch, make_engine):
    switch.set_endpoint("user/1001", answer_after=0.0)
    return make_engine(tokens=[Token(token=SecretStr(TOKEN), role="agent", agent="1001"),
                               Token(token=SecretStr(OTHER), role="agent", agent="1002")])


def test_an_agent_holds_and_resumes_the_caller_and_the_record_has_the_time_held(switch, engine) -> None:
    engine.queueing.command("1001", "login")
    caller = queued_caller(switch, engine)
    assert switch.wait(lambda: caller.bridged_to is not None, timeout=5)
    agent_leg = caller.bridged_to
    assert api(engine, "POST", "/agents/1001/resume", TOKEN)[0] == 409  # not on hold
    assert api(engine, "POST", "/agents/1001/hold", TOKEN)[0] == 200
    assert switch.wait(lambda: agent_leg.call_state == "HELD", timeout=5)
    book_leg = engine.book.find(agent_leg.uuid)[1]
    assert switch.wait(lambda: book_leg.state is LegState.HELD, timeout=5)
    status, body = api(engine, "POST", "/agents/1001/hold", TOKEN)
    assert status == 409 and "held" in body["error"]  # once is enough
    assert api(engine, "POST", "/agents/1001/resume", TOKEN)[0] == 200
    assert switch.wait(lambda: agent_leg.call_state == "ACTIVE" and book_leg.state is LegState.BRIDGED, timeout=5)
    assert agent_leg.hold_accum_us > 0
    caller.hangup()
    assert switch.wait(lambda: any(r.call_id == caller.uuid for r in engine.records), timeout=5)
    held = next(r for r in engine.records if r.call_id == caller.uuid)
    assert held.exit_reason == "answered" and 0 < held.held_ms
    assert engine.writer.flush(10) and engine.tickets.get(caller.uuid).held_ms == held.held_ms


def test_a_caller_who_hangs_up_on_hold_has_the_hold_counted_to_the_hang_up(switch, engine) -> None:
    engine.queueing.command("1001", "login")
    caller = queued_caller(switch, engine)
    assert switch.wait(lambda: caller.bridged_to is not None, timeout=5)
    agent_leg = caller.bridged_to
    assert api(engine, "POST", "/agents/1001/hold", TOKEN)[0] == 200
    assert switch.wait(lambda: engine.book.get(caller.uuid).held_since_ms is not None, timeout=5)
    caller.hangup()
    assert switch.wait(lambda: any(r.call_id == caller.uuid for r in engine.records), timeout=5)
    record = next(r for r in engine.records if r.call_id == caller.uuid)
    assert record.held_ms >= 0 and record.hangup_side == "caller"
    assert switch.wait(lambda: engine.queueing.core.agents["1001"].state is not AgentState.ON_CALL, timeout=5)
    assert agent_leg.hangup_cause is not None


def test_an_agent_acts_only_on_its_own_conversation(switch, engine) -> None:
    engine.queueing.command("1001", "login")
    engine.queueing.command("1002", "login")
    caller = queued_caller(switch, engine)
    assert switch.wait(lambda: caller.bridged_to is not None, timeout=5)
    assert api(engine, "POST", "/agents/1001/hold", OTHER)[0] == 403
    status, body = api(engine, "POST", "/agents/1002/hold", OTHER)
    assert status == 409 and "no conversation" in body["error"]
    assert not any("uuid_hold" in line for _, line in switch.received)
