"""Agents' call control on a live FreeSWITCH: hold and resume, blind transfers to a queue and to an outside unit
(a sipp "110" behind the switch's gateway ``units``), and three-way calls with 110 (the agent leaving; 110 not
answering). Each checks what the switch did (its channels, the SIP
that sipp saw) and the stored record.

The three-way calls need the ``hotline`` conference profile (``hotline switch-conf render``, included in
conference.conf.xml as the README says). The tests with a unit need a gateway named ``units`` on the switch's external profile that sends calls to the
sipp UAS on 127.0.0.1:5093 (``<gateway name="units"><param name="proxy" value="127.0.0.1:5093"/><param
name="register" value="false"/><param name="caller-id-in-from" value="true"/></gateway>``: the last for the
caller ID in From, which the tests check); without it that test is skipped, saying so."""

from __future__ import annotations

import json
import os
import uuid as uuidlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from live import (AGENT_MEDIA, AGENT_PORT, OWN_CALL_MEDIA, OWN_CALL_PORT, SECOND_AGENT_MEDIA, SECOND_AGENT_PORT,
                  UNIT_MEDIA, UNIT_PORT, api, archived, call, only_record, with_units)
from softphone import PASSWORD as SIP_PASSWORD, eventually

from calls.legs import LegState
from engine.process import Engine
from esl import CommandFailed, Event, SwitchLink



def conversation(engine: Engine, agent: str) -> str | None:
    """The agent's leg bridged to its caller, by the engine's book, once media flows (the caller's recording has
    grown past its header); None until then. An action in the bridge's first few tens of ms can make FreeSWITCH
    hang up the agent's leg (switch_ivr_bridge.c: the bridge thread finds its partner gone before it was marked
    bridged): the engine then puts the caller back in line, but the test would be testing that race."""
    for held, leg in engine.book.legs():
        if leg.party == agent and leg.outcome == "answered" and leg.state is LegState.BRIDGED:
            recording = Path(held.record.recording or "/nonexistent")
            return leg.uuid if recording.exists() and recording.stat().st_size > 8192 else None
    return None


def call_state(engine: Engine, uuid: str) -> str:
    """The channel's call state as the switch shows it (ACTIVE, HELD, ...; "" once it is gone)."""
    rows = json.loads(engine.link.api("show channels as json")).get("rows") or []
    return next((row["callstate"] for row in rows if row["uuid"] == uuid), "")


def test_hold_plays_the_caller_music_and_the_time_held_is_recorded(live_engine, sipp, tmp_path: Path) -> None:
    engine = live_engine()
    agent = sipp.run(sipp.agent(ring_ms=300), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA)
    citizen = call(sipp, tmp_path, [("", 800), ("1", 0), ("", 8000)])
    assert eventually(lambda: conversation(engine, "a1") is not None)
    leg = conversation(engine, "a1")
    assert api(engine, "POST", "/agents/a1/hold")["state"] == "on_call"
    assert eventually(lambda: call_state(engine, leg) == "HELD")
    assert eventually(lambda: engine.book.find(leg)[1].state is LegState.HELD)  # the engine read CHANNEL_HOLD
    assert "held" in api(engine, "POST", "/agents/a1/hold")["error"]  # once is enough
    assert api(engine, "POST", "/agents/a1/resume")["state"] == "on_call"
    assert eventually(lambda: call_state(engine, leg) == "ACTIVE")
    assert citizen.wait() == 0 and agent.wait() == 0
    record = only_record(engine)
    offer, hold, resume = agent.messages_of("received", "INVITE")  # the offer, then two re-INVITEs
    assert "a=sendonly" in hold[1] and "a=sendonly" not in resume[1]  # the phone is told it is held, then not
    sipp_held_ms = (resume[0] - hold[0]) * 1000
    # the switch stamps hold and unhold in 20 ms steps, a few ms before sipp reads each re-INVITE
    assert record.held_ms > 0 and abs(record.held_ms - sipp_held_ms) <= 100
    assert record.exit_reason == "answered" and record.hangup_side == "caller"
    assert engine.tickets.get(record.call_id).held_ms == record.held_ms


def test_the_toolbars_hang_up_ends_the_agents_leg_and_the_record_says_the_agent(live_engine, sipp,
                                                                                tmp_path: Path) -> None:
    engine = live_engine()
    agent = sipp.run(sipp.agent(ring_ms=300), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA)
    citizen = call(sipp, tmp_path, [("", 800), ("1", 0)], hangs_up=False)
    assert eventually(lambda: conversation(engine, "a1") is not None)
    leg = conversation(engine, "a1")
    assert "error" not in api(engine, "POST", "/agents/a1/hangup")
    assert agent.wait() == 0 and citizen.wait() == 0  # the agent's phone got the switch's BYE, then the caller's
    assert call_state(engine, leg) == ""
    record = only_record(engine)
    assert (record.exit_reason, record.hangup_side, record.agent) == ("answered", "agent", "a1")


def test_a_blind_transfer_to_another_queue_reaches_its_agent_keeping_the_first_answer(live_engine, sipp,
                                                                                    tmp_path: Path) -> None:
    engine = live_engine(agents=(AGENT_PORT, SECOND_AGENT_PORT), queue={"wrap_up": 10})
    first = sipp.run(sipp.agent(ring_ms=300), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA)
    second = sipp.run(sipp.agent(ring_ms=300), tmp_path, "agent2", SECOND_AGENT_PORT, SECOND_AGENT_MEDIA)
    engine.queueing.command("a2", "not_ready", "meal")  # until a1 has the caller
    citizen = call(sipp, tmp_path, [("", 800), ("1", 0), ("", 7000)])
    assert eventually(lambda: conversation(engine, "a1") is not None)
    first_leg = conversation(engine, "a1")
    engine.queueing.command("a2", "ready")
    assert "error" not in api(engine, "POST", "/agents/a1/transfer", {"to": "queue:second"})
    assert eventually(lambda: engine.queueing.core.agents["a1"].state.value == "wrap_up")
    assert eventually(lambda: conversation(engine, "a2") is not None)
    assert call_state(engine, first_leg) == "" and first.wait() == 0  # a1's phone got its BYE
    assert citizen.wait() == 0 and second.wait() == 0
    record = only_record(engine)
    assert [(o.agent, o.result) for o in record.offers] == [("a1", "answered"), ("a2", "answered")]
    assert record.answered_ms == record.offers[0].ring_end_ms and record.agent == "a2"
    [transfer] = record.transfers
    assert (transfer.by, transfer.target, transfer.result, transfer.queue) == ("a1", "queue:second", "done", "second")
    first_queue, second_queue = (engine.queueing.core.service_level.total(q) for q in ("general", "second"))
    assert (first_queue.requests, first_queue.answered, first_queue.transfers_in) == (1, 1, 0)  # answered once
    assert (second_queue.requests, second_queue.answered, second_queue.transfers_in) == (0, 0, 1)  # a transfer in
    assert record.queue == "general" and record.wait_ms == record.offers[0].ring_end_ms - record.queue_entry_ms
    assert engine.tickets.get(record.call_id).transfers == record.transfers


@pytest.mark.parametrize("to", ["110", "07712345678"])
def test_a_blind_transfer_to_110_or_a_number_hands_the_caller_to_the_unit(live_engine, sipp, tmp_path: Path,
                                                                          to: str) -> None:
    """To the directory's 110, or to a plain number (out through ``ivr.trunk``, here the same gateway), with the
    service number as caller ID."""
    engine = with_units(live_engine, trunk="sofia/gateway/units")
    agent = sipp.run(sipp.agent(ring_ms=300), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA)
    unit = sipp.run(sipp.agent(ring_ms=500, talk_ms=2000), tmp_path, "unit110", UNIT_PORT, UNIT_MEDIA)
    citizen = call(sipp, tmp_path, [("", 800), ("1", 0)], hangs_up=False)
    assert eventually(lambda: conversation(engine, "a1") is not None)
    assert "error" not in api(engine, "POST", "/agents/a1/transfer", {"to": to})
    assert citizen.wait() == 0 and agent.wait() == 0 and unit.wait() == 0  # the unit hung up; the switch ended the call
    [(_, invite)] = unit.messages_of("received", "INVITE")
    assert invite.startswith(f"INVITE sip:{to}@127.0.0.1:5093") and "sip:12345@" in invite.split("From:")[1].split("\n")[0]
    record = only_record(engine)
    [transfer] = record.transfers
    label = to if to == "110" else f"number:{to}"
    assert (transfer.target, transfer.result, transfer.queue) == (label, "done", None) and transfer.leg
    assert (record.agent, record.exit_reason, record.hangup_side) == ("a1", "answered", "unit")
    assert record.survey is None


def test_an_attended_transfer_from_the_agents_phone_hands_the_caller_to_110(live_engine, sipp,
                                                                            tmp_path: Path) -> None:
    """The agent's phone calls 110 itself (the rendered linkage route in the default context, out through the
    gateway), talks, then transfers attended (REFER with Replaces naming that call): the switch bridges the caller
    to 110's leg and hangs up both of the phone's calls; the engine follows, the agent is free, and the record has
    the transfer and 110's part."""
    engine = with_units(live_engine)
    if "hotline_linkage_110" not in engine.link.api("xml_locate dialplan context name default"):
        pytest.skip("the switch's default context has no rendered linkage route (hotline switch-conf render)")
    own_call = f"own-{uuidlib.uuid4().hex[:12]}@127.0.0.1"
    agent = sipp.run(sipp.agent_transferring(ring_ms=300, talk_ms=4000, replaces=own_call), tmp_path, "agent",
                     AGENT_PORT, AGENT_MEDIA)
    unit = sipp.run(sipp.agent(ring_ms=300), tmp_path, "unit110", UNIT_PORT, UNIT_MEDIA)
    citizen = call(sipp, tmp_path, [("", 800), ("1", 0), ("", 9000)])
    assert eventually(lambda: conversation(engine, "a1") is not None)
    agent_leg = conversation(engine, "a1")
    phone = sipp.run(sipp.phone_call("110", "1005"), tmp_path, "own_call", OWN_CALL_PORT, OWN_CALL_MEDIA,
                     target="127.0.0.1:5060", extra=("-cid_str", own_call, "-au", "1005", "-ap", SIP_PASSWORD))
    [transferred] = engine.book.calls.values()
    unit_legs = lambda: [leg.uuid for leg in transferred.legs.values() if leg.party == "110"]  # noqa: E731
    assert eventually(lambda: len(unit_legs()) == 1, timeout=20)  # the switch's bridge to 110's leg, followed
    [unit_leg] = unit_legs()
    assert bridged_to(engine, transferred.id) == unit_leg  # the switch agrees
    assert eventually(lambda: engine.queueing.core.agents["a1"].state.value != "on_call")
    assert eventually(lambda: call_state(engine, agent_leg) == "")  # the agent's leg is gone
    assert citizen.wait() == 0 and agent.wait() == 0 and phone.wait() == 0 and unit.wait() == 0
    [(_, invite)] = unit.messages_of("received", "INVITE")
    assert "sip:12345@" in invite.split("From:")[1].split("\n")[0]  # the directory's caller ID, as the toolbar's
    [(_, refer_notify)] = agent.messages_of("received", "NOTIFY")
    assert "SIP/2.0 200 OK" in refer_notify  # the switch took the transfer
    record = only_record(engine)
    [transfer] = record.transfers
    assert (transfer.by, transfer.target, transfer.kind, transfer.result, transfer.leg) == (
        "a1", "110", "refer_attended", "done", unit_leg)
    assert (record.agent, record.exit_reason, record.hangup_side, record.survey) == ("a1", "answered", "caller", None)
    [party] = [p for p in record.parties if p.role == "unit"]
    assert party.leg == unit_leg and party.answered_ms and party.answered_ms < transfer.at_ms


def members(engine: Engine, caller: str) -> int:
    """How many are in the caller's three-way room, by the switch (0 when there is no room)."""
    try:
        return int(engine.link.api(f"conference hotline-{caller} list count").strip())
    except CommandFailed:  # -ERR Conference ... not found
        return 0


@pytest.fixture
def room_events() -> Iterator[list[Event]]:
    """Every conference::maintenance event of the test, on a link of its own."""
    seen: list[Event] = []
    link = SwitchLink(os.environ["HOTLINE_FS_HOST"], int(os.environ.get("HOTLINE_FS_PORT", "8021")),
                      os.environ["HOTLINE_FS_PASSWORD"], events=["CUSTOM conference::maintenance"])
    link.on("conference::maintenance", seen.append)
    link.start()
    link.wait_connected(10)
    yield seen
    link.stop()


def test_a_three_way_call_with_110_goes_on_after_the_agent_leaves(live_engine, sipp, tmp_path: Path,
                                                                 room_events: list[Event]) -> None:
    engine = with_units(live_engine)
    agent = sipp.run(sipp.agent(ring_ms=300), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA)
    unit = sipp.run(sipp.agent(ring_ms=500, talk_ms=4000), tmp_path, "unit110", UNIT_PORT, UNIT_MEDIA)
    citizen = call(sipp, tmp_path, [("", 800), ("1", 0)], hangs_up=False)
    assert eventually(lambda: conversation(engine, "a1") is not None)
    caller = next(iter(engine.book.calls))
    assert "error" not in api(engine, "POST", "/agents/a1/three_way", {"to": "110"})
    assert eventually(lambda: members(engine, caller) == 3)  # caller, agent and 110 in one room
    assert "error" not in api(engine, "POST", "/agents/a1/leave")
    assert eventually(lambda: members(engine, caller) == 2) and agent.wait() == 0  # the agent's phone got its BYE
    assert eventually(lambda: engine.queueing.core.agents["a1"].state.value != "on_call")
    assert citizen.wait() == 0 and unit.wait() == 0  # 110 hung up: under two members the switch ended the call
    record = only_record(engine)
    [transfer] = record.transfers
    assert (transfer.kind, transfer.target, transfer.result) == ("three_way", "110", "done")
    parties = {p.role: p for p in record.parties}
    assert (parties["agent"].ended_by, parties["unit"].ended_by) == ("engine", "self")
    assert parties["unit"].answered_ms <= parties["agent"].left_ms <= parties["unit"].left_ms
    assert (record.hangup_side, record.exit_reason) == ("unit", "answered")
    joined = [e.uuid for e in room_events if e["Action"] == "add-member"]
    assert set(joined[:2]) == {caller, conversation_leg(record, "agent")} and joined[2:] == [transfer.leg]
    kept, _ = archived(engine, record.call_id)  # one file: the caller's, through the bridge and the room
    assert kept.duration_ms >= parties["unit"].left_ms - record.answered_ms - 1000


def test_110_that_does_not_answer_leaves_the_caller_with_the_agent_told_so(live_engine, sipp, tmp_path: Path,
                                                                           room_events: list[Event]) -> None:
    engine = with_units(live_engine, answer_timeout=2)
    agent = sipp.run(sipp.agent(ring_ms=300), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA)
    unit = sipp.run(sipp.unanswered_agent(), tmp_path, "unit110", UNIT_PORT, UNIT_MEDIA)
    citizen = call(sipp, tmp_path, [("", 800), ("1", 0), ("", 9000)])
    assert eventually(lambda: conversation(engine, "a1") is not None)
    caller = next(iter(engine.book.calls))
    assert "error" not in api(engine, "POST", "/agents/a1/three_way", {"to": "110"})
    assert unit.wait() == 0  # rang, then was cancelled by the switch
    told = engine.front_door.flow.sound("linkage_no_answer")
    assert eventually(lambda: any(e["Action"] == "play-file" and e["File"] == told for e in room_events))
    assert members(engine, caller) == 2 and engine.queueing.core.agents["a1"].state.value == "on_call"
    assert citizen.wait() == 0 and agent.wait() == 0  # the caller hung up; endconf ended the agent's leg
    record = only_record(engine)
    assert [(t.kind, t.result) for t in record.transfers] == [("three_way", "no_answer")]
    assert {p.role: p.answered_ms for p in record.parties}["unit"] is None
    assert record.hangup_side == "caller"


def conversation_leg(record, role: str) -> str:
    return next(p.leg for p in record.parties if p.role == role)


@pytest.mark.parametrize("how", ["complete", "cancel"])
def test_a_consultation_with_110_then_complete_or_cancel(live_engine, sipp, tmp_path: Path, how: str) -> None:
    """The caller is taken aside with music while the agent talks to 110; then completed (the caller to 110, the
    agent off; 110 hangs up and the switch ends the call) or cancelled (110 off, agent and caller again)."""
    engine = with_units(live_engine)
    agent = sipp.run(sipp.agent(ring_ms=300), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA)
    unit = sipp.run(sipp.agent(ring_ms=500, talk_ms=6000 if how == "complete" else None), tmp_path, "unit110",
                    UNIT_PORT, UNIT_MEDIA)
    waits = [("", 8000)] if how == "cancel" else []  # after a completion 110 hangs up: the switch sends the BYE
    citizen = call(sipp, tmp_path, [("", 800), ("1", 0), *waits], hangs_up=how == "cancel")
    assert eventually(lambda: conversation(engine, "a1") is not None)
    agent_leg = conversation(engine, "a1")
    caller = next(iter(engine.book.calls))
    assert "error" not in api(engine, "POST", "/agents/a1/consult", {"to": "110"})
    unit_leg = next(leg.uuid for _, leg in engine.book.legs() if leg.party == "110")
    assert eventually(lambda: bridged_to(engine, agent_leg) == unit_leg)  # the agent talks to 110 ...
    assert bridged_to(engine, caller) is None and channel_of(engine, caller)["application"] == "playback"  # aside
    consulted = lambda: Path(engine.book.get(caller).record.transfers[0].recording or "/nonexistent")  # noqa: E731
    assert eventually(lambda: consulted().exists() and consulted().stat().st_size > 8192)  # their talk is recorded
    assert "error" not in api(engine, "POST", f"/agents/a1/{how}")
    if how == "complete":
        assert eventually(lambda: bridged_to(engine, caller) == unit_leg) and agent.wait() == 0
    else:
        assert eventually(lambda: bridged_to(engine, caller) == agent_leg) and unit.wait() == 0
    assert citizen.wait() == 0 and agent.wait() == 0 and unit.wait() == 0
    record = only_record(engine)
    assert [(t.kind, t.target, t.result) for t in record.transfers] == [
        ("consult", "110", "done" if how == "complete" else "cancelled")]
    assert record.hangup_side == ("unit" if how == "complete" else "caller")
    # aside from its park to its next bridge, by the switch's clock: at least while 110 rang (sipp: 500 ms)
    assert record.consult_ms >= 500 and record.held_ms == 0 and record.consult_ms < record.hangup_ms - record.answered_ms
    assert {p.role: p.ended_by for p in record.parties}["agent"] == ("engine" if how == "complete" else "switch")
    kept, channels = archived(engine, record.call_id, "consult")  # from 110's answer to the caller's return
    assert channels == 2 and 0 < kept.duration_ms <= record.consult_ms + 100


def channel_of(engine: Engine, uuid: str) -> dict[str, str]:
    rows = json.loads(engine.link.api("show channels as json")).get("rows") or []
    return next((row for row in rows if row["uuid"] == uuid), {})


def bridged_to(engine: Engine, uuid: str) -> str | None:
    """The leg ``uuid`` is bridged to, by the switch (None if none)."""
    try:
        peer = engine.link.api(f"uuid_getvar {uuid} bridge_to").strip()
    except CommandFailed:
        return None
    return None if peer in ("", "_undef_") else peer


def test_in_call_keys_from_the_agents_phone_mute_unmute_and_hold(live_engine, sipp, tmp_path: Path) -> None:
    """The agent's phone sends *3, *4, then *1 (RFC 2833): the switch swallows them (bind_meta_app) and the engine
    mutes, unmutes, then holds the caller; the toolbar resumes (FreeSWITCH ignores a held leg's RTP, its keys
    included, so no key can resume)."""
    engine = live_engine(call_keys={"1": {"action": "hold"}, "3": {"action": "mute"}, "4": {"action": "unmute"}})
    agent = sipp.run(sipp.agent_keying(300, [("*3", 1000), ("*4", 1000), ("*1", 0)]), tmp_path, "agent", AGENT_PORT,
                     AGENT_MEDIA)
    citizen = call(sipp, tmp_path, [("", 800), ("1", 0), ("", 9000)])
    assert eventually(lambda: (api(engine, "GET", "/agents")[0]["call"] or {}).get("muted") is True)
    assert eventually(lambda: (api(engine, "GET", "/agents")[0]["call"] or {}).get("held") is True)
    assert api(engine, "GET", "/agents")[0]["call"]["muted"] is False  # *4 came before *1
    assert "error" not in api(engine, "POST", "/agents/a1/resume")
    assert citizen.wait() == 0 and agent.wait() == 0
    (_, hold), (_, resume) = agent.messages_of("received", "INVITE")[1:]
    assert "a=sendonly" in hold and "a=sendonly" not in resume
    record = only_record(engine)
    assert record.held_ms > 0 and record.exit_reason == "answered"


def test_a_consultation_with_a_colleague_completed_hands_them_the_caller(live_engine, sipp, tmp_path: Path) -> None:
    """a1 consults a2 (a team leader, say) on a2's own phone: a2 is kept from the queue meanwhile, takes the caller
    when a1 completes, and is free again when the caller hangs up."""
    engine = live_engine(agents=(AGENT_PORT, SECOND_AGENT_PORT))
    first = sipp.run(sipp.agent(ring_ms=300), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA)
    second = sipp.run(sipp.agent(ring_ms=300), tmp_path, "agent2", SECOND_AGENT_PORT, SECOND_AGENT_MEDIA)
    engine.queueing.command("a2", "not_ready", "meal")  # until a1 has the caller
    citizen = call(sipp, tmp_path, [("", 800), ("1", 0), ("", 7000)])
    assert eventually(lambda: conversation(engine, "a1") is not None)
    agent_leg, caller = conversation(engine, "a1"), next(iter(engine.book.calls))
    assert "error" not in api(engine, "POST", "/agents/a2/ready")
    assert "error" not in api(engine, "POST", "/agents/a1/consult", {"to": "agent:a2"})
    assert eventually(lambda: bridged_to(engine, agent_leg) not in (None, caller))
    assert engine.queueing.core.agents["a2"].reason == "non_queue"  # on the consultation, not offered
    assert "error" not in api(engine, "POST", "/agents/a1/complete")
    assert first.wait() == 0  # a1's phone got its BYE
    assert citizen.wait() == 0 and second.wait() == 0
    record = only_record(engine)
    assert [(t.target, t.kind, t.result) for t in record.transfers] == [("agent:a2", "consult", "done")]
    assert eventually(lambda: engine.queueing.core.agents["a2"].state.value == "ready")
