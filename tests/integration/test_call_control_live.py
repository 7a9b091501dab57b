"""Agents' call control on a live FreeSWITCH: hold and resume, and blind transfers to a queue and to an outside
unit (a sipp "110" behind the switch's gateway ``units``). Each checks what the switch did (its channels, the SIP
that sipp saw) and the stored record.

The transfer to a unit needs a gateway named ``units`` on the switch's external profile that sends calls to the
sipp UAS on 127.0.0.1:5093 (``<gateway name="units"><param name="proxy" value="127.0.0.1:5093"/><param
name="register" value="false"/></gateway>``); without it that test is skipped, saying so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from live import (AGENT_MEDIA, AGENT_PORT, SECOND_AGENT_MEDIA, SECOND_AGENT_PORT, api, call, only_record)
from softphone import eventually

from calls.legs import LegState
from engine.process import Engine

UNIT_PORT, UNIT_MEDIA = 5093, 6097  # sipp takes a media port and the two above it
UNITS = {"directory": {"110": {"name": "公安 110", "number": "110", "trunk": "sofia/gateway/units",
                               "caller_id": "12345", "mode": "handover"}}}


def conversation(engine: Engine, agent: str) -> str | None:
    """The agent's leg bridged to its caller, by the engine's book (None if none)."""
    return next((leg.uuid for _, leg in engine.book.legs() if leg.party == agent and leg.outcome == "answered"
                 and leg.state is LegState.BRIDGED), None)


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


def test_a_blind_transfer_to_a_queue_reaches_the_next_agent_keeping_the_first_answer(live_engine, sipp,
                                                                                    tmp_path: Path) -> None:
    engine = live_engine(agents=(AGENT_PORT, SECOND_AGENT_PORT), queue={"wrap_up": 10})
    first = sipp.run(sipp.agent(ring_ms=300), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA)
    second = sipp.run(sipp.agent(ring_ms=300), tmp_path, "agent2", SECOND_AGENT_PORT, SECOND_AGENT_MEDIA)
    engine.queueing.command("a2", "not_ready", "meal")  # until a1 has the caller
    citizen = call(sipp, tmp_path, [("", 800), ("1", 0), ("", 7000)])
    assert eventually(lambda: conversation(engine, "a1") is not None)
    first_leg = conversation(engine, "a1")
    engine.queueing.command("a2", "ready")
    assert "error" not in api(engine, "POST", "/agents/a1/transfer", {"to": "queue:general"})
    assert eventually(lambda: engine.queueing.core.agents["a1"].state.value == "wrap_up")
    assert eventually(lambda: conversation(engine, "a2") is not None)
    assert call_state(engine, first_leg) == "" and first.wait() == 0  # a1's phone got its BYE
    assert citizen.wait() == 0 and second.wait() == 0
    record = only_record(engine)
    assert [(o.agent, o.result) for o in record.offers] == [("a1", "answered"), ("a2", "answered")]
    assert record.answered_ms == record.offers[0].ring_end_ms and record.agent == "a2"
    [transfer] = record.transfers
    assert (transfer.by, transfer.target, transfer.result, transfer.queue) == ("a1", "queue:general", "done", "general")
    counts = engine.queueing.core.service_level.total("general")
    assert (counts.requests, counts.answered, counts.transfers_in) == (1, 1, 1)
    assert engine.tickets.get(record.call_id).transfers == record.transfers


def test_a_blind_transfer_to_110_hands_the_caller_to_the_unit(live_engine, sipp, tmp_path: Path) -> None:
    engine = live_engine(linkage=UNITS)
    if "Invalid Gateway" in engine.link.api("sofia status gateway units"):
        pytest.skip("the switch has no gateway 'units' to 127.0.0.1:5093 (see this module's docstring)")
    agent = sipp.run(sipp.agent(ring_ms=300), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA)
    unit = sipp.run(sipp.agent(ring_ms=500, talk_ms=2000), tmp_path, "unit110", UNIT_PORT, UNIT_MEDIA)
    citizen = call(sipp, tmp_path, [("", 800), ("1", 0)], hangs_up=False)
    assert eventually(lambda: conversation(engine, "a1") is not None)
    assert "error" not in api(engine, "POST", "/agents/a1/transfer", {"to": "110"})
    assert citizen.wait() == 0 and agent.wait() == 0 and unit.wait() == 0  # 110 hung up; the switch ended the call
    [(_, invite)] = unit.messages_of("received", "INVITE")
    assert invite.startswith("INVITE sip:110@127.0.0.1:5093") and "sip:12345@" in invite.split("From:")[1].split("\n")[0]
    record = only_record(engine)
    [transfer] = record.transfers
    assert (transfer.target, transfer.result, transfer.queue) == ("110", "done", None) and transfer.leg
    assert (record.agent, record.exit_reason, record.hangup_side) == ("a1", "answered", "unit")
    assert record.survey is None
