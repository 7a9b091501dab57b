"""Agents acting on their own conversation: hold and resume, from the real capture's events to the stored record."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from acd.agents import AgentState
from calls.facts import Held, HungUp, Parked, from_event
from calls.legs import LegState
from cli import main
from recorder.archive import kept
from config.acd import Token
from config.ivr import Dimension, Survey
from esl.protocol import EVENT_TYPES, iter_frames, parse_event
from switch_conf.render import AGENT_DIALPLAN, render
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
    assert switch.wait(lambda: engine.queueing.core.service_level.total("general").held_ms_total == held.held_ms,
                       timeout=5)  # reported apart from the talk, in the queue's figures
    [queue] = api(engine, "GET", "/queues", TOKEN)[1]
    assert queue["average_hold_s_today"] == round(held.held_ms / 1000, 1)


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


# --- blind transfer ---------------------------------------------------------------------------------------------


def answered_by_1001(switch, engine):
    """A caller in conversation with agent 1001 (1002 logged in, busy elsewhere, until the test frees them)."""
    engine.queueing.command("1001", "login")
    caller = queued_caller(switch, engine)
    assert switch.wait(lambda: caller.bridged_to is not None and caller.bridged_to.name == "user/1001", timeout=5)
    return caller


def finished(switch, engine, caller):
    assert switch.wait(lambda: any(r.call_id == caller.uuid for r in engine.records), timeout=10)
    return next(r for r in engine.records if r.call_id == caller.uuid)


def test_a_blind_transfer_to_a_queue_keeps_the_callers_place_and_first_answer(switch, engine) -> None:
    switch.set_endpoint("user/1002", answer_after=0.0)
    caller = answered_by_1001(switch, engine)
    first_leg = caller.bridged_to
    engine.queueing.command("1002", "login")
    assert api(engine, "POST", "/agents/1001/transfer", TOKEN, {"to": "queue:general"})[0] == 200
    assert switch.wait(lambda: caller.bridged_to is not None and caller.bridged_to.name == "user/1002", timeout=5)
    assert first_leg.hangup_cause is not None and caller.variables["hotline_transfer"] == "queue:general"
    assert switch.wait(lambda: engine.queueing.core.agents["1001"].state is not AgentState.ON_CALL, timeout=5)
    caller.hangup()
    record = finished(switch, engine, caller)
    first_answer = record.offers[0].ring_end_ms
    assert [(o.agent, o.result) for o in record.offers] == [("1001", "answered"), ("1002", "answered")]
    assert (record.agent, record.answered_ms, record.exit_reason) == ("1002", first_answer, "answered")
    [transfer] = record.transfers
    assert (transfer.by, transfer.target, transfer.kind, transfer.result, transfer.queue) == (
        "1001", "queue:general", "blind", "done", "general")
    assert record.survey is None and record.hangup_side == "caller"  # the transfer ran no survey
    counts = engine.queueing.core.service_level.total("general")
    assert (counts.requests, counts.answered, counts.transfers_in) == (1, 1, 1)  # one request, answered once
    assert engine.writer.flush(10) and engine.tickets.get(caller.uuid).transfers == record.transfers


def test_a_blind_transfer_to_an_agent_offers_that_agent_first(switch, make_engine) -> None:
    for user in ("1001", "1002", "1003"):
        switch.set_endpoint(f"user/{user}", answer_after=0.0)
    engine = make_engine(agents=("1001", "1002", "1003"), strategy="top-down",
                         tokens=[Token(token=SecretStr(TOKEN), role="agent", agent="1001")])
    caller = answered_by_1001(switch, engine)
    engine.queueing.command("1002", "login")
    engine.queueing.command("1003", "login")
    assert api(engine, "POST", "/agents/1001/transfer", TOKEN, {"to": "agent:1003"})[0] == 200
    assert switch.wait(lambda: caller.bridged_to is not None and caller.bridged_to.name == "user/1003", timeout=5)
    caller.hangup()
    record = finished(switch, engine, caller)
    assert [o.agent for o in record.offers] == ["1001", "1003"]  # top-down would have rung 1002
    assert record.transfers[0].target == "agent:1003" and record.transfers[0].result == "done"


def test_a_blind_transfer_to_110_hands_the_caller_over_with_the_units_leg_on_record(switch, engine) -> None:
    switch.set_endpoint("sofia/gateway/pstn/110", answer_after=0.0)
    caller = answered_by_1001(switch, engine)
    assert api(engine, "POST", "/agents/1001/transfer", TOKEN, {"to": "110"})[0] == 200
    assert switch.wait(lambda: caller.bridged_to is not None and caller.bridged_to.name == "sofia/gateway/pstn/110",
                       timeout=10)
    unit = caller.bridged_to
    assert switch.wait(lambda: engine.queueing.core.agents["1001"].state is not AgentState.ON_CALL, timeout=5)
    unit.hangup()  # 110 ends the call: the switch hangs the caller up (hangup_after_bridge)
    record = finished(switch, engine, caller)
    [transfer] = record.transfers
    assert (transfer.target, transfer.result, transfer.leg, transfer.queue) == ("110", "done", unit.uuid, None)
    assert (record.agent, record.exit_reason, record.hangup_side) == ("1001", "answered", "unit")
    assert record.survey is None and "transfer:110" in record.ivr_path
    counts = engine.queueing.core.service_level.total("general")
    assert (counts.requests, counts.answered, counts.transfers_in) == (1, 1, 0)


def test_a_unit_that_cannot_be_reached_sends_the_caller_back_to_the_queue_keeping_their_place(switch, engine) -> None:
    switch.set_endpoint("sofia/gateway/pstn/12315", cause="NORMAL_TEMPORARY_FAILURE")
    switch.set_endpoint("user/1002", answer_after=0.0)
    caller = answered_by_1001(switch, engine)
    engine.queueing.command("1002", "login")
    assert api(engine, "POST", "/agents/1001/transfer", TOKEN, {"to": "12315"})[0] == 200
    assert switch.wait(lambda: caller.bridged_to is not None and caller.bridged_to.name == "user/1002", timeout=10)
    caller.hangup()
    record = finished(switch, engine, caller)
    [transfer] = record.transfers
    assert (transfer.target, transfer.result, transfer.queue) == ("12315", "failed", "general")
    assert record.queue_entry_ms is not None and record.answered_ms == record.offers[0].ring_end_ms
    assert engine.queueing.core.service_level.total("general").transfers_in == 1


def test_a_bad_transfer_target_is_refused_before_anything_reaches_the_switch(switch, engine) -> None:
    caller = answered_by_1001(switch, engine)
    sent = len(switch.received)
    for target, status, says in (("110;api hupall", 400, "plain number"), ("queue:nowhere", 400, "no queue"),
                                 ("agent:1001", 400, "themselves"), ("agent:1002", 409, "logged out"),
                                 ("${system(reboot)}", 400, "plain number"), ("", 400, "plain number")):
        status_, body = api(engine, "POST", "/agents/1001/transfer", TOKEN, {"to": target})
        assert (status_, says in body["error"]) == (status, True), (target, body)
    assert api(engine, "POST", "/agents/1001/transfer", OTHER, {"to": "110"})[0] == 403  # not their call
    assert not any(word in line for _, line in switch.received[sent:] for word in ("uuid_kill", "uuid_setvar"))
    assert caller.bridged_to is not None and caller.bridged_to.name == "user/1001"


def test_the_cli_holds_resumes_and_transfers_and_says_why_it_cannot(switch, engine, tmp_path) -> None:
    switch.set_endpoint("user/1002", answer_after=0.0)
    host, port = engine.api.address[:2]
    path = tmp_path / "hotline.yaml"
    path.write_text(f"centre: {{name: cli test}}\nswitch: {{password: {switch.password}}}\n"
                    f"acd:\n  agents:\n    '1001': {{contact: user/1001, skills: {{general: 5}}}}\n"
                    f"  api: {{listen: '{host}:{port}'}}\n", encoding="utf-8")
    caller = answered_by_1001(switch, engine)
    agent_leg = caller.bridged_to

    def hotline(*args: str):
        return CliRunner().invoke(main, ["--config", str(path), "agent", "call", *args, "--token", TOKEN])

    assert hotline("1001", "hold").exit_code == 0
    assert switch.wait(lambda: agent_leg.call_state == "HELD", timeout=5)
    assert hotline("1001", "resume").exit_code == 0
    assert switch.wait(lambda: agent_leg.call_state == "ACTIVE", timeout=5)
    refused = hotline("1001", "transfer", "call-my-cousin")
    assert refused.exit_code == 1 and "400: transfer target 'call-my-cousin' is none of" in refused.output
    assert hotline("1001", "transfer").exit_code == 2 and hotline("1001", "dance").exit_code == 2  # usage errors
    engine.queueing.command("1002", "login")
    assert hotline("1001", "transfer", "queue:general").exit_code == 0
    assert switch.wait(lambda: caller.bridged_to is not None and caller.bridged_to.name == "user/1002", timeout=5)


# --- three-way calls and one-key linkage ---------------------------------------------------------------------

UNIT_110 = "sofia/gateway/pstn/110"


def room_of(switch, caller):
    return switch.rooms.get(f"hotline-{caller.uuid}")


def in_room(switch, caller, *legs) -> bool:
    room = room_of(switch, caller)
    return room is not None and {ch.uuid for ch, _ in room.members.values()} == {leg.uuid for leg in legs}


def test_a_three_way_call_keeps_caller_and_unit_talking_after_the_agent_leaves(switch, engine) -> None:
    switch.set_endpoint(UNIT_110, answer_after=0.0)
    caller = answered_by_1001(switch, engine)
    agent_leg = caller.bridged_to
    assert api(engine, "POST", "/agents/1001/three_way", TOKEN, {"to": "110"})[0] == 200
    assert switch.wait(lambda: any(ch.name == UNIT_110 for ch in switch.channels.values()), timeout=5)
    unit = next(ch for ch in switch.channels.values() if ch.name == UNIT_110)
    assert switch.wait(lambda: in_room(switch, caller, caller, agent_leg, unit), timeout=5)
    assert api(engine, "POST", "/agents/1001/hold", TOKEN)[0] == 409  # no hold inside the room
    assert api(engine, "POST", "/agents/1001/leave", TOKEN)[0] == 200
    assert switch.wait(lambda: in_room(switch, caller, caller, unit), timeout=5)
    assert switch.wait(lambda: engine.queueing.core.agents["1001"].state is not AgentState.ON_CALL, timeout=5)
    unit.hangup()  # 110 hangs up: under two members the room ends and the switch hangs the caller up
    record = finished(switch, engine, caller)
    [transfer] = record.transfers
    assert (transfer.by, transfer.target, transfer.kind, transfer.result, transfer.leg) == (
        "1001", "110", "three_way", "done", unit.uuid)
    parties = {(p.role, p.who): p for p in record.parties}
    assert set(parties) == {("agent", "1001"), ("unit", "110")}
    agent, unit_party = parties[("agent", "1001")], parties[("unit", "110")]
    assert agent.ended_by == "engine" and unit_party.ended_by == "self"
    # The unit's and the caller's hang-ups complete on two threads of the switch, in either order (CI saw the
    # caller's CHANNEL_HANGUP_COMPLETE a millisecond before the unit's): both come after the agent left.
    assert agent.answered_ms <= unit_party.answered_ms <= agent.left_ms <= min(unit_party.left_ms, record.hangup_ms)
    assert (record.exit_reason, record.hangup_side, record.survey) == ("answered", "unit", None)
    assert record.recording is not None  # the caller's recording, started at the answer, runs through the room
    assert engine.writer.flush(10) and engine.tickets.get(caller.uuid).parties == record.parties


def test_one_key_110_takes_the_agent_off_once_110_answers(switch, engine) -> None:
    switch.set_endpoint(UNIT_110, answer_after=0.2)
    caller = answered_by_1001(switch, engine)
    agent_leg = caller.bridged_to
    assert engine.settings.linkage.directory["110"].mode == "three_way"  # the built-in; this centre hands over
    linkage = engine.settings.linkage.model_copy(update={"directory": {
        "110": engine.settings.linkage.directory["110"].model_copy(update={"mode": "handover"})}})
    engine.queueing.settings = engine.queueing.settings.model_copy(update={"linkage": linkage})
    assert api(engine, "POST", "/agents/1001/linkage", TOKEN, {"to": "110"})[0] == 200
    assert switch.wait(lambda: agent_leg.hangup_cause is not None, timeout=5)
    unit = next(ch for ch in switch.channels.values() if ch.name == UNIT_110)
    assert switch.wait(lambda: in_room(switch, caller, caller, unit), timeout=5)
    caller.hangup()  # endconf: the caller leaving ends the room, 110's leg with it
    record = finished(switch, engine, caller)
    assert switch.wait(lambda: unit.hangup_cause is not None, timeout=5)
    assert [(t.kind, t.result) for t in record.transfers] == [("one_key", "done")]
    parties = {p.role: p for p in record.parties}
    assert parties["unit"].answered_ms <= parties["agent"].left_ms  # the agent stayed until 110 answered
    assert parties["agent"].ended_by == "engine" and record.hangup_side == "caller"


def test_when_110_does_not_answer_the_caller_is_still_with_the_agent_and_both_are_told(switch, engine) -> None:
    switch.set_endpoint(UNIT_110, cause="NO_ANSWER")
    caller = answered_by_1001(switch, engine)
    agent_leg = caller.bridged_to
    assert api(engine, "POST", "/agents/1001/three_way", TOKEN, {"to": "110"})[0] == 200
    told = f"conference hotline-{caller.uuid} play {engine.front_door.flow.sound('linkage_no_answer')}"
    assert switch.wait(lambda: any(line == f"api {told}" for _, line in switch.received), timeout=5)
    assert in_room(switch, caller, caller, agent_leg) and caller.hangup_cause is None
    assert engine.queueing.core.agents["1001"].state is AgentState.ON_CALL
    assert api(engine, "POST", "/agents/1001/leave", TOKEN)[0] == 200  # nobody else: out of the room, the survey
    assert switch.wait(lambda: caller.parked and room_of(switch, caller) is None, timeout=5)
    caller.hangup()
    record = finished(switch, engine, caller)
    assert [(t.kind, t.target, t.result) for t in record.transfers] == [("three_way", "110", "no_answer")]
    assert {p.who: p.answered_ms for p in record.parties}["110"] is None


def test_when_the_agent_left_and_110_does_not_answer_the_caller_goes_back_to_the_queue(switch, engine) -> None:
    switch.set_endpoint(UNIT_110, answer_after=None)
    switch.set_endpoint("user/1002", answer_after=0.0)
    caller = answered_by_1001(switch, engine)
    agent_leg = caller.bridged_to
    assert api(engine, "POST", "/agents/1001/three_way", TOKEN, {"to": "110"})[0] == 200
    assert switch.wait(lambda: in_room(switch, caller, caller, agent_leg), timeout=5)
    assert api(engine, "POST", "/agents/1001/leave", TOKEN)[0] == 200
    assert switch.wait(lambda: in_room(switch, caller, caller), timeout=5)  # waiting for 110, with music
    engine.queueing.command("1002", "login")
    assert api(engine, "POST", "/agents/1001/drop", TOKEN)[0] == 409  # 1001 has left: it is not their call now
    unit = next(ch for ch in switch.channels.values() if ch.name == UNIT_110)
    unit.hangup("NO_ANSWER", by_party=False)  # the ring time ran out
    assert switch.wait(lambda: caller.bridged_to is not None and caller.bridged_to.name == "user/1002", timeout=10)
    caller.hangup()
    record = finished(switch, engine, caller)
    assert [(t.kind, t.result) for t in record.transfers] == [("three_way", "no_answer")]
    assert record.agent == "1002" and record.answered_ms == record.offers[0].ring_end_ms
    assert engine.queueing.core.service_level.total("general").transfers_in == 1


def test_a_three_way_target_is_no_queue_and_a_linkage_one_is_in_the_directory(switch, engine) -> None:
    caller = answered_by_1001(switch, engine)
    sent = len(switch.received)
    for action, target, says in (("three_way", "queue:general", "linkage directory entry or a number"),
                                 ("linkage", "07712345678", "directory entry"), ("three_way", "1;x", "plain number")):
        status, body = api(engine, "POST", f"/agents/1001/{action}", TOKEN, {"to": target})
        assert status == 400 and says in body["error"], (action, target, body)
    assert api(engine, "POST", "/agents/1001/leave", TOKEN)[0] == 409  # no three-way call to leave
    assert not any(w in line for _, line in switch.received[sent:] for w in ("uuid_transfer", "originate"))
    assert caller.bridged_to is not None


# --- consultation ------------------------------------------------------------------------------------------------


def consulting(switch, engine, unit_answers: bool = True):
    """Agent 1001 talking with a caller starts a consultation with 110: (caller, agent leg, 110's leg)."""
    switch.set_endpoint(UNIT_110, answer_after=0.0 if unit_answers else None)
    caller = answered_by_1001(switch, engine)
    agent_leg = caller.bridged_to
    assert api(engine, "POST", "/agents/1001/consult", TOKEN, {"to": "110"})[0] == 200
    assert switch.wait(lambda: any(ch.name == UNIT_110 for ch in switch.channels.values()), timeout=5)
    unit = next(ch for ch in switch.channels.values() if ch.name == UNIT_110)
    assert switch.wait(lambda: caller.parked and caller.bridged_to is None, timeout=5)  # taken aside
    if unit_answers:
        assert switch.wait(lambda: agent_leg.bridged_to is unit, timeout=5)
    return caller, agent_leg, unit


def test_a_consultation_plays_the_caller_music_then_completes_to_the_unit(switch, engine, played_apps) -> None:
    caller, agent_leg, unit = consulting(switch, engine)
    music = engine.settings.acd.queues["general"].music_on_hold
    assert switch.wait(lambda: (caller.uuid, "playback", music) in played_apps, timeout=5)
    assert api(engine, "POST", "/agents/1001/hold", TOKEN)[0] == 409  # the caller is aside already
    assert api(engine, "POST", "/agents/1001/complete", TOKEN)[0] == 200
    assert switch.wait(lambda: caller.bridged_to is unit and agent_leg.hangup_cause is not None, timeout=5)
    assert switch.wait(lambda: engine.queueing.core.agents["1001"].state is not AgentState.ON_CALL, timeout=5)
    consult = Path(engine.book.get(caller.uuid).record.transfers[0].recording)
    assert switch.wait(lambda: not unit.recordings and consult.exists(), timeout=5)  # stopped as the caller came
    with wave.open(str(consult)) as audio:
        assert (audio.getnchannels(), consult.name) == (2, f"{caller.uuid}-consult-{unit.uuid[:8]}.wav")
    unit.hangup()  # 110 ends the call: the caller is not kept for a survey
    record = finished(switch, engine, caller)
    assert [(t.kind, t.target, t.result, t.leg, t.recording) for t in record.transfers] == [
        ("consult", "110", "done", unit.uuid, str(consult))]
    assert kept(record.recording).exists() and record.recording != str(consult)  # the caller's own goes on
    assert (record.hangup_side, record.survey) == ("unit", None)
    assert {p.role: p.ended_by for p in record.parties} == {"agent": "engine", "unit": "self"}


def test_a_cancelled_consultation_brings_the_agent_back_to_the_caller(switch, engine) -> None:
    caller, agent_leg, unit = consulting(switch, engine)
    assert api(engine, "POST", "/agents/1001/cancel", TOKEN)[0] == 200
    assert switch.wait(lambda: caller.bridged_to is agent_leg and unit.hangup_cause is not None, timeout=5)
    call = engine.book.get(caller.uuid)
    assert switch.wait(lambda: call.aside_since_ms is None, timeout=5)  # the consultation's time closed with it
    assert api(engine, "POST", "/agents/1001/hold", TOKEN)[0] == 200  # a conversation like any other again
    assert api(engine, "POST", "/agents/1001/resume", TOKEN)[0] == 200
    caller.hangup()
    record = finished(switch, engine, caller)
    assert [(t.kind, t.result) for t in record.transfers] == [("consult", "cancelled")]
    assert kept(record.transfers[0].recording).exists()  # the talk the caller did not hear, ended with 110's leg
    assert record.hangup_side == "caller" and record.agent == "1001"
    assert switch.wait(lambda: agent_leg.hangup_cause is not None, timeout=5)  # not left parked


def test_a_joined_consultation_is_a_three_way_call(switch, engine) -> None:
    caller, agent_leg, unit = consulting(switch, engine)
    assert api(engine, "POST", "/agents/1001/join", TOKEN)[0] == 200
    assert switch.wait(lambda: in_room(switch, caller, caller, agent_leg, unit), timeout=5)
    assert api(engine, "POST", "/agents/1001/leave", TOKEN)[0] == 200
    assert switch.wait(lambda: in_room(switch, caller, caller, unit), timeout=5)
    caller.hangup()
    record = finished(switch, engine, caller)
    assert switch.wait(lambda: unit.hangup_cause is not None, timeout=5)  # endconf: the room ended with the caller
    assert [(t.kind, t.result) for t in record.transfers] == [("consult", "joined")]


def test_a_unit_that_does_not_answer_a_consultation_brings_the_agent_back(switch, engine) -> None:
    caller, agent_leg, unit = consulting(switch, engine, unit_answers=False)
    assert api(engine, "POST", "/agents/1001/complete", TOKEN)[0] == 409  # nobody to hand the caller to yet
    unit.hangup("NO_ANSWER", by_party=False)
    assert switch.wait(lambda: caller.bridged_to is agent_leg, timeout=5)
    caller.hangup()
    assert [(t.kind, t.result) for t in finished(switch, engine, caller).transfers] == [("consult", "no_answer")]


def test_an_agent_who_hangs_up_mid_consultation_leaves_the_caller_to_the_queue(switch, engine) -> None:
    switch.set_endpoint("user/1002", answer_after=0.0)
    caller, agent_leg, unit = consulting(switch, engine)
    engine.queueing.command("1002", "login")
    agent_leg.hangup()
    assert switch.wait(lambda: caller.bridged_to is not None and caller.bridged_to.name == "user/1002", timeout=10)
    assert unit.hangup_cause is not None
    caller.hangup()
    record = finished(switch, engine, caller)
    assert [(t.kind, t.result) for t in record.transfers] == [("consult", "agent_left")]
    assert record.agent == "1002" and engine.queueing.core.service_level.total("general").transfers_in == 1


def test_an_agent_hangs_up_from_the_toolbar_but_not_while_the_caller_is_aside(switch, make_engine,
                                                                              played_apps) -> None:
    """挂机 ends the agent's leg as the phone's hang-up would: the caller goes on to the survey, and the record
    says the agent ended the call even when the caller hangs up during it. While the caller is aside for a
    consultation it is refused, for it would send them back in line."""
    switch.set_endpoint("user/1001", answer_after=0.0)
    survey = Survey(dimensions=[Dimension(name="attitude", prompt="survey_attitude")])
    engine = make_engine(ivr={"survey": survey}, tokens=[Token(token=SecretStr(TOKEN), role="agent", agent="1001"),
                                                         Token(token=SecretStr(OTHER), role="agent", agent="1002")])
    caller, agent_leg, unit = consulting(switch, engine)
    status, body = api(engine, "POST", "/agents/1001/hangup", TOKEN)
    assert status == 409 and "consultation" in body["error"] and agent_leg.hangup_cause is None
    assert api(engine, "POST", "/agents/1001/cancel", TOKEN)[0] == 200
    assert switch.wait(lambda: caller.bridged_to is agent_leg and unit.hangup_cause is not None, timeout=5)
    assert api(engine, "POST", "/agents/1001/hangup", OTHER)[0] == 403
    assert api(engine, "POST", "/agents/1001/hangup", TOKEN)[0] == 200
    assert switch.wait(lambda: any(uuid == caller.uuid and "hotline_rating" in arg for uuid, _, arg in played_apps),
                       timeout=5)
    caller.hangup()  # during the survey
    record = finished(switch, engine, caller)
    assert agent_leg.hangup_cause == "NORMAL_CLEARING"
    assert (record.exit_reason, record.hangup_side, record.agent) == ("answered", "agent", "1001")
    assert switch.wait(lambda: engine.queueing.core.agents["1001"].state is not AgentState.ON_CALL, timeout=5)
    status, body = api(engine, "POST", "/agents/1001/hangup", TOKEN)
    assert status == 409 and "no conversation" in body["error"]


def test_a_caller_who_hangs_up_mid_consultation_ends_it(switch, engine) -> None:
    caller, agent_leg, unit = consulting(switch, engine)
    caller.hangup()
    assert switch.wait(lambda: agent_leg.hangup_cause is not None and unit.hangup_cause is not None, timeout=5)
    record = finished(switch, engine, caller)
    assert [(t.kind, t.result) for t in record.transfers] == [("consult", "caller_left")]
    assert switch.wait(lambda: engine.queueing.core.agents["1001"].state is not AgentState.ON_CALL, timeout=5)


# --- transfers from the softphone itself (SIP REFER) ------------------------------------------------------------


def test_the_real_capture_of_a_softphone_refer_reads_as_a_referral() -> None:
    """FreeSWITCH marks the referring agent's leg BLIND_TRANSFER before its BYE, then parks the caller on the
    number named with sip_refer_to set (tests/captures/esl_plain_refer_blind)."""
    path = CAPTURE.with_name("esl_plain_refer_blind_rx.txt")
    events = [parse_event(f) for f in iter_frames(path.read_bytes()) if f.content_type in EVENT_TYPES]
    facts = [from_event(e) for e in events]
    [agent_gone] = [f for f in facts if isinstance(f, HungUp) and f.referred]
    [referred] = [f for f in facts if isinstance(f, Parked) and f.referred_to]
    assert referred.referred_to == "110" and agent_gone.disposition == "recv_bye"
    assert facts.index(agent_gone) < facts.index(referred)  # the agent's leg goes first


def test_a_softphone_refer_to_110_is_carried_out_as_a_blind_transfer(switch, engine) -> None:
    switch.set_endpoint(UNIT_110, answer_after=0.0)
    caller = answered_by_1001(switch, engine)
    switch.refer(caller.bridged_to, "110")
    assert switch.wait(lambda: caller.bridged_to is not None and caller.bridged_to.name == UNIT_110, timeout=10)
    unit = caller.bridged_to
    assert switch.wait(lambda: engine.queueing.core.agents["1001"].state is not AgentState.ON_CALL, timeout=5)
    unit.hangup()
    record = finished(switch, engine, caller)
    assert [(t.by, t.target, t.kind, t.result, t.leg) for t in record.transfers] == [
        ("1001", "110", "refer", "done", unit.uuid)]
    assert (record.hangup_side, record.survey) == ("unit", None)


def test_a_softphone_refer_to_a_colleague_or_nowhere_keeps_the_callers_place(switch, engine) -> None:
    switch.set_endpoint("user/1002", answer_after=0.0)
    caller = answered_by_1001(switch, engine)
    engine.queueing.command("1002", "login")
    switch.refer(caller.bridged_to, "1002")  # the colleague's extension: their SIP user
    assert switch.wait(lambda: caller.bridged_to is not None and caller.bridged_to.name == "user/1002", timeout=10)
    colleague = caller.bridged_to
    assert switch.wait(lambda: engine.book.find(colleague.uuid)[1].state is LegState.BRIDGED, timeout=5)
    switch.refer(colleague, "nobody")  # 1002 sends them on to a name that is nothing here
    assert switch.wait(lambda: engine.queueing.core.agents["1002"].state is not AgentState.ON_CALL, timeout=5)
    assert switch.wait(lambda: caller.uuid in engine.queueing.core.callers, timeout=5)  # back in line, not lost
    caller.hangup()
    record = finished(switch, engine, caller)
    assert [(t.by, t.target, t.kind, t.result) for t in record.transfers] == [
        ("1001", "agent:1002", "refer", "done"), ("1002", "number:nobody", "refer", "failed")]
    assert record.answered_ms == record.offers[0].ring_end_ms


def test_a_softphone_attended_transfer_to_110_hands_the_caller_over(switch, engine, tmp_path: Path) -> None:
    """The agent's phone calls 110 itself (the rendered linkage route: the agent stays on their queue call), talks,
    then transfers attended (REFER with Replaces): the caller is 110's and ends with 110, no survey; the agent is
    free; the record has the transfer and 110's part by the switch's clock."""
    render(engine.settings, tmp_path)
    switch.load_dialplan(str(tmp_path / AGENT_DIALPLAN))
    switch.set_endpoint(UNIT_110, answer_after=0.0)
    caller = answered_by_1001(switch, engine)
    agent_leg = caller.bridged_to
    own = switch.place_call("1001", "110", user="1001")
    assert switch.wait(lambda: own.bridged_to is not None, timeout=5)
    unit = own.bridged_to
    assert unit.name == UNIT_110 and engine.queueing.core.agents["1001"].state is AgentState.ON_CALL
    switch.refer_replacing(agent_leg, own)
    assert switch.wait(lambda: caller.bridged_to is unit, timeout=5)
    assert switch.wait(lambda: engine.queueing.core.agents["1001"].state is not AgentState.ON_CALL, timeout=5)
    assert switch.wait(lambda: caller.variables.get("park_after_bridge") == "false", timeout=5)
    unit.hangup()
    record = finished(switch, engine, caller)
    assert [(t.by, t.target, t.kind, t.result, t.leg) for t in record.transfers] == [
        ("1001", "110", "refer_attended", "done", unit.uuid)]
    assert (record.exit_reason, record.hangup_side, record.survey) == ("answered", "unit", None)
    [party] = [p for p in record.parties if p.role == "unit"]
    assert (party.who, party.leg, party.answered_ms) == ("110", unit.uuid, unit.answered_us // 1000)
    assert caller.hangup_cause is not None  # nothing left behind: the phone's own call ends after its park_timeout
    assert switch.wait(lambda: own.hangup_cause == "ATTENDED_TRANSFER", timeout=5)


def test_an_agent_mutes_and_unmutes_in_a_bridge_and_in_a_room(switch, engine) -> None:
    switch.set_endpoint(UNIT_110, answer_after=0.0)
    caller = answered_by_1001(switch, engine)
    agent_leg = caller.bridged_to
    assert api(engine, "POST", "/agents/1001/unmute", TOKEN)[0] == 409  # not muted
    status, view = api(engine, "POST", "/agents/1001/mute", TOKEN)
    assert status == 200 and view["call"] == {"call": caller.uuid, "caller": "13800138000", "held": False,
                                              "muted": True, "consulting": False, "three_way": False,
                                              "third_party": None}
    assert switch.wait(lambda: agent_leg.muted, timeout=5)
    assert api(engine, "POST", "/agents/1001/three_way", TOKEN, {"to": "110"})[0] == 200
    assert switch.wait(lambda: room_of(switch, caller) is not None and len(room_of(switch, caller).members) == 3,
                       timeout=5)
    assert switch.wait(lambda: api(engine, "GET", "/agents", TOKEN)[1][0]["call"]["third_party"] == "110", timeout=5)
    assert agent_leg.muted and api(engine, "POST", "/agents/1001/unmute", TOKEN)[0] == 200  # the mute went along
    assert switch.wait(lambda: not agent_leg.muted, timeout=5)


# --- in-call keys on the agent's phone ---------------------------------------------------------------------------


def test_in_call_keys_on_the_agents_phone_hold_resume_and_call_110(switch, engine) -> None:
    from config.acd import CallKey

    switch.set_endpoint(UNIT_110, answer_after=0.0)
    keys = {"1": CallKey(action="hold"), "2": CallKey(action="resume"), "0": CallKey(action="linkage", to="110")}
    acd = engine.settings.acd.model_copy(update={"call_keys": keys})
    engine.queueing.settings = engine.queueing.settings.model_copy(update={"acd": acd})
    engine.queueing.connector.call_keys = tuple(sorted(keys))
    caller = answered_by_1001(switch, engine)
    agent_leg = caller.bridged_to
    assert switch.wait(lambda: engine.book.find(agent_leg.uuid)[1].state is LegState.BRIDGED, timeout=5)
    assert sorted(agent_leg.meta_apps) == ["0", "1", "2"]  # bound before the bridge
    agent_leg.press("*2")  # resume while not held: refused, nothing sent
    agent_leg.press("*1")
    assert switch.wait(lambda: agent_leg.call_state == "HELD", timeout=5)
    agent_leg.press("*2")
    assert switch.wait(lambda: agent_leg.call_state == "ACTIVE", timeout=5)
    agent_leg.press("*0")  # one-key 110 (the built-in mode: three-way)
    assert switch.wait(lambda: in_room(switch, caller, caller, agent_leg,
                                       *[c for c in switch.channels.values() if c.name == UNIT_110]), timeout=5)
    caller.hangup()
    assert [t.kind for t in finished(switch, engine, caller).transfers] == ["three_way"]


def test_a_call_key_with_a_target_outside_the_directory_fails_the_configuration() -> None:
    import config

    base = config.defaults()
    with pytest.raises(ValueError, match="acd.call_keys.0.to: transfer target 'x;y'"):
        config.Settings.model_validate({**base.model_dump(mode="json"), "switch": {"password": "x" * 16},
                                        "acd": {"call_keys": {"0": {"action": "linkage", "to": "x;y"}}}})
    with pytest.raises(ValueError, match="hold takes no target"):
        config.Settings.model_validate({**base.model_dump(mode="json"), "switch": {"password": "x" * 16},
                                        "acd": {"call_keys": {"1": {"action": "hold", "to": "110"}}}})



def test_an_agent_consults_a_colleague_who_is_kept_from_the_queue_and_takes_the_call(switch, engine) -> None:
    switch.set_endpoint("user/1002", answer_after=0.0)
    caller = answered_by_1001(switch, engine)
    agent_leg = caller.bridged_to
    colleague = engine.queueing.core.agents["1002"]
    assert api(engine, "POST", "/agents/1001/consult", TOKEN, {"to": "agent:1002"})[0] == 409  # logged out
    engine.queueing.command("1002", "login")
    assert api(engine, "POST", "/agents/1001/consult", TOKEN, {"to": "agent:1001"})[0] == 400  # themselves
    assert api(engine, "POST", "/agents/1001/consult", TOKEN, {"to": "agent:1002"})[0] == 200
    assert switch.wait(lambda: agent_leg.bridged_to is not None and agent_leg.bridged_to.name == "user/1002",
                       timeout=5)
    team_leader = agent_leg.bridged_to
    assert (colleague.state, colleague.reason) == (AgentState.ON_CALL, "non_queue")  # not offered meanwhile
    assert api(engine, "POST", "/agents/1001/complete", TOKEN)[0] == 200
    assert switch.wait(lambda: caller.bridged_to is team_leader and agent_leg.hangup_cause is not None, timeout=5)
    caller.hangup()
    record = finished(switch, engine, caller)
    assert [(t.target, t.kind, t.result) for t in record.transfers] == [("agent:1002", "consult", "done")]
    assert switch.wait(lambda: colleague.state is AgentState.READY, timeout=5)  # back where they were


def test_a_unit_that_answers_while_the_link_is_down_joins_the_room_once_reconciled(switch, engine) -> None:
    from calls.facts import Channel as SwitchChannel

    switch.set_endpoint(UNIT_110, answer_after=None)
    caller = answered_by_1001(switch, engine)
    assert api(engine, "POST", "/agents/1001/three_way", TOKEN, {"to": "110"})[0] == 200
    call = engine.book.get(caller.uuid)
    assert switch.wait(lambda: call.three_way is not None and call.legs[call.three_way.unit].state is LegState.RINGING,
                       timeout=5)
    unit = call.legs[call.three_way.unit]
    shown = SwitchChannel(unit.uuid, "outbound", "110", "ACTIVE", "park", 0, "")  # answered and parked, unseen
    effects = engine.queueing.connector.reconcile(lambda uuid: shown if uuid == unit.uuid else SwitchChannel(
        uuid, "inbound", "12345", "ACTIVE", "conference", 0, ""))
    assert [type(e).__name__ for e in effects] == ["ToConference"] and effects[0].flags == ("mintwo",)
    assert unit.outcome == "answered" and call.record.transfers[-1].result == "done"


def test_a_consulted_unit_that_hangs_up_brings_the_agent_back_to_the_caller(switch, engine) -> None:
    caller, agent_leg, unit = consulting(switch, engine)
    unit.hangup()  # 110 hangs up on the agent mid-consultation
    assert switch.wait(lambda: caller.bridged_to is agent_leg, timeout=5)
    assert agent_leg.variables["park_after_bridge"] == "false"  # as before: the agent ends with the caller
    caller.hangup()
    record = finished(switch, engine, caller)
    assert [(t.kind, t.result) for t in record.transfers] == [("consult", "unit_left")]
    assert switch.wait(lambda: agent_leg.hangup_cause is not None, timeout=5)


def test_a_caller_who_hangs_up_while_the_unit_rings_for_a_three_way_call_cancels_it(switch, engine) -> None:
    switch.set_endpoint(UNIT_110, answer_after=None)
    caller = answered_by_1001(switch, engine)
    agent_leg = caller.bridged_to
    assert api(engine, "POST", "/agents/1001/three_way", TOKEN, {"to": "110"})[0] == 200
    assert switch.wait(lambda: in_room(switch, caller, caller, agent_leg), timeout=5)
    assert switch.wait(lambda: any(ch.name == UNIT_110 for ch in switch.channels.values()), timeout=5)
    unit = next(ch for ch in switch.channels.values() if ch.name == UNIT_110)
    caller.hangup()  # endconf ends the room (the agent with it); the ringing unit is the engine's to cancel
    assert switch.wait(lambda: unit.hangup_cause == "ORIGINATOR_CANCEL" and agent_leg.hangup_cause is not None,
                       timeout=5)
    record = finished(switch, engine, caller)
    assert [(t.kind, t.result) for t in record.transfers] == [("three_way", "caller_left")]
    assert switch.wait(lambda: engine.queueing.core.agents["1001"].state is not AgentState.ON_CALL, timeout=5)
