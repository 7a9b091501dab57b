"""Agents on real softphones (baresip, registered as the switch's directory users): feature codes, queue calls to
``user/NNNN`` with the caller's audio heard, the agent's own calls, registration followed, and an agent whose SIP
user is someone else's refused at start. Each checks the agent through the engine's API and the stored record.

Users 1005-1007 of the switch's stock directory stand for the agents' phones (their password: the switch's
``default_password``, given as HOTLINE_FS_SIP_PASSWORD); 1007 is a citizen's phone that dials 12345."""

from __future__ import annotations

from pathlib import Path

from live import UNIT_MEDIA, UNIT_PORT, api, dial_queue, records, with_units
from softphone import TONE, eventually, peak

from engine.process import Engine

AGENT = {"contact": "user/1005", "skills": {"general": 5}}


def agent_is(engine: Engine, state: str, reason: str | None = None, registered: bool = True) -> bool:
    [view] = [a for a in api(engine, "GET", "/agents") if a["id"] == "1005"]  # type: ignore[union-attr]
    return view["state"] == state and view["registered"] is registered and reason in (None, view["reason"])


def test_an_agent_works_the_shift_by_feature_codes(live_engine, phones) -> None:
    engine = live_engine(directory={"1005": AGENT})
    phone = phones("1005")
    assert eventually(lambda: agent_is(engine, "logged_out"))
    for code, state, reason in (("*20", "ready", ""), ("*222", "not_ready", "meal"), ("*21", "ready", ""),
                                ("*23", "logged_out", "")):
        phone.dial(code)
        phone.wait_event("CALL_CLOSED", 15)  # the engine confirms the code, then hangs up
        assert eventually(lambda: agent_is(engine, state, reason)), code
    assert "on_call" not in [t.new.value for t in engine.queueing.core.agents["1005"].log]
    assert list(engine.records) == []  # feature codes are no calls of the hotline's


def test_a_queue_call_rings_the_registered_phone_and_the_agent_hears_the_caller(live_engine, phones) -> None:
    engine = live_engine(directory={"1005": AGENT})
    agent, citizen = phones("1005"), phones("1007")
    api(engine, "POST", "/agents/1005/login")
    dial_queue(citizen, engine)
    agent.wait_event("CALL_ESTABLISHED", 20)
    assert eventually(lambda: agent_is(engine, "on_call"))
    assert eventually(lambda: agent.heard is not None and peak(agent.heard) > TONE), "the agent heard silence"
    citizen.hangup()
    [record] = records(engine, 1)
    assert (record.agent, record.exit_reason, record.hangup_side) == ("1005", "answered", "caller")
    assert eventually(lambda: agent_is(engine, "wrap_up") or agent_is(engine, "ready"))


def test_the_agents_own_calls_keep_them_off_the_queue_and_back_where_they_were(live_engine, phones) -> None:
    engine = live_engine(directory={"1005": AGENT})
    agent, other = phones("1005"), phones("1007")
    api(engine, "POST", "/agents/1005/login")
    agent.dial("1007")  # out, to a colleague's extension
    other.wait_event("CALL_ESTABLISHED", 15)
    assert eventually(lambda: agent_is(engine, "on_call", "non_queue"))
    agent.hangup()
    assert eventually(lambda: agent_is(engine, "ready"))
    api(engine, "POST", "/agents/1005/not_ready", {"reason": "meal"})
    other.dial("1005")  # in, straight to the agent's extension
    agent.wait_event("CALL_ESTABLISHED", 15)
    assert eventually(lambda: agent_is(engine, "on_call", "non_queue"))
    other.hangup()
    assert eventually(lambda: agent_is(engine, "not_ready", "meal"))
    assert list(engine.records) == []


def test_an_unregistered_phone_is_not_offered_and_is_offered_again_once_back(live_engine, phones) -> None:
    engine = live_engine(directory={"1005": AGENT})
    agent, citizen = phones("1005"), phones("1007")
    api(engine, "POST", "/agents/1005/login")
    agent.unregister()
    assert eventually(lambda: agent_is(engine, "ready", registered=False))
    dial_queue(citizen, engine)
    assert eventually(lambda: len(engine.queueing.core.callers) == 1)
    assert agent_is(engine, "ready", registered=False)  # waiting for the phone, not offered
    agent.register()
    agent.wait_event("CALL_ESTABLISHED", 20)
    assert eventually(lambda: agent_is(engine, "on_call"))
    citizen.hangup()
    [record] = records(engine, 1)
    assert (record.agent, record.exit_reason) == ("1005", "answered")
    assert [offer.agent for offer in record.offers] == ["1005"]


def test_an_agent_whose_sip_user_is_a_stock_user_stops_the_engine(live_engine) -> None:
    """The stock directory defines 1005 before the rendered agents' file: the agent's password would be ignored."""
    engine = live_engine(directory={"1005": {**AGENT, "sip_password": "a-password-nobody-uses-9"}})
    assert engine.stopped.wait(15)
    assert "SIP user 1005 is defined elsewhere" in (engine.refused or "")


def test_a_blind_refer_from_the_softphone_is_followed_to_110(live_engine, phones, sipp, tmp_path: Path) -> None:
    """The agent transfers the caller with the softphone's own transfer key (SIP REFER to 110): the switch parks
    the caller for the engine (rendered hotline_referred extension), which hands them to 110 as a blind transfer
    would; the agent is free, and the record says who transferred whom where."""
    engine = with_units(live_engine, directory={"1005": AGENT})
    agent, citizen = phones("1005"), phones("1007")
    unit = sipp.run(sipp.agent(ring_ms=300, talk_ms=2000), tmp_path, "unit110", UNIT_PORT, UNIT_MEDIA)
    api(engine, "POST", "/agents/1005/login")
    dial_queue(citizen, engine)
    agent.wait_event("CALL_ESTABLISHED", 20)
    assert eventually(lambda: agent_is(engine, "on_call"))
    agent.command("transfer", "110")
    agent.wait_event("CALL_CLOSED", 15)  # the phone hangs up once the switch took the transfer
    assert unit.wait() == 0  # 110 answered, talked and hung up
    citizen.wait_event("CALL_CLOSED", 15)
    [record] = records(engine, 1)
    [transfer] = record.transfers
    assert (transfer.by, transfer.target, transfer.kind, transfer.result) == ("1005", "110", "refer", "done")
    assert (record.agent, record.hangup_side, record.survey) == ("1005", "unit", None)
    assert eventually(lambda: agent_is(engine, "wrap_up") or agent_is(engine, "ready"))
