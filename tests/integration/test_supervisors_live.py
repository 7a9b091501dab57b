"""Supervisors on a live FreeSWITCH, with real softphones (baresip) that each send a tone of their own, so what
each one hears tells who hears whom: the citizen (1007, 1000 Hz), the agent (1005, 600 Hz) and the supervisor
(1009, 1600 Hz, listening through ``eavesdrop`` on the agent's leg). The supervisor hears the call; listening,
nobody hears them; whispering, the agent does and the citizen does not; barging, both do. Then the supervisor takes
the call over (``intercept``: the agent's leg hung up, the agent free) or ends it (强拆); the records and the audit
log are checked."""

from __future__ import annotations

import pytest
from live import SUPERVISOR_TOKEN, api, dial_queue, records
from softphone import Softphone, eventually, samples, tone_share

from engine.process import Engine

CITIZEN_HZ, AGENT_HZ, SUPERVISOR_HZ = 1000, 600, 1600
AGENT = {"contact": "user/1005", "skills": {"general": 5}, "team": "a"}
SUPERVISORS = {"1009": {"contact": "user/1009", "teams": ["a"]}}
TOKEN = f"{SUPERVISOR_TOKEN}-1009"
HEARS, SILENT = 0.05, 0.005
"""A tone's share of what a phone heard: one of two or three mixed tones is a third or more; one not sent to the
phone, G.711's idle noise around 0."""


def seconds_heard(phone: Softphone) -> float:
    if phone.heard is None:
        return 0.0
    rate, heard = samples(phone.heard)
    return len(heard) / rate


def on_a_call(live_engine, phones) -> tuple[Engine, Softphone, Softphone, Softphone]:
    """The citizen talking with agent 1005; the supervisor's phone registered."""
    engine = live_engine(directory={"1005": AGENT}, supervisors=SUPERVISORS)
    agent, citizen = phones("1005", AGENT_HZ), phones("1007", CITIZEN_HZ)
    supervisor = phones("1009", SUPERVISOR_HZ)
    api(engine, "POST", "/agents/1005/login")
    dial_queue(citizen, engine)
    agent.wait_event("CALL_ESTABLISHED", 20)
    assert eventually(lambda: seconds_heard(agent) > 1 and seconds_heard(citizen) > 1, timeout=20)
    return engine, agent, citizen, supervisor


def act(engine: Engine, action: str) -> dict:
    result = api(engine, "POST", f"/supervise/1005/{action}", token=TOKEN)
    assert "error" not in result, result
    return result


def test_listen_whisper_and_barge_reach_only_the_ears_they_should(live_engine, phones) -> None:
    engine, agent, citizen, supervisor = on_a_call(live_engine, phones)
    act(engine, "listen")
    supervisor.wait_event("CALL_ESTABLISHED", 20)
    assert eventually(lambda: seconds_heard(supervisor) > 2, timeout=20)
    assert tone_share(supervisor.heard, CITIZEN_HZ, 1) > HEARS and tone_share(supervisor.heard, AGENT_HZ, 1) > HEARS
    for mode, agent_hears, citizen_hears in (("listen", False, False), ("whisper", True, False),
                                             ("barge", True, True), ("listen", False, False)):
        act(engine, mode)
        # from a moment after the switch (eavesdrop takes the key at its next frame), two seconds of each ear
        since = {phone: seconds_heard(phone) + 0.5 for phone in (agent, citizen)}
        assert eventually(lambda: all(seconds_heard(p) > since[p] + 2 for p in since), timeout=20)  # noqa: B023
        for phone, hears in ((agent, agent_hears), (citizen, citizen_hears)):
            share = tone_share(phone.heard, SUPERVISOR_HZ, since[phone])
            assert (share > HEARS) if hears else (share < SILENT), (mode, phone.user, share)
    citizen.hangup()
    [record] = records(engine, 1)
    [listened] = [p for p in record.parties if p.role == "supervisor"]
    assert (listened.who, record.hangup_side, record.forced_by) == ("1009", "caller", None)
    assert engine.writer.flush(10)
    assert [(e.actor, e.action, e.result) for e in engine.tickets.audit(actor="supervisor:1009")] == [
        ("supervisor:1009", mode, "done") for mode in ("listen", "listen", "whisper", "barge", "listen")]


def test_a_supervisor_takes_the_call_over_then_another_call_is_force_ended(live_engine, phones) -> None:
    engine, agent, citizen, supervisor = on_a_call(live_engine, phones)
    act(engine, "listen")
    supervisor.wait_event("CALL_ESTABLISHED", 20)
    assert eventually(lambda: seconds_heard(supervisor) > 1, timeout=20)
    heard_before = seconds_heard(citizen)
    act(engine, "takeover")
    agent.wait_event("CALL_CLOSED", 15)  # the switch hung the agent's leg up (PICKED_OFF)
    assert eventually(lambda: api(engine, "GET", "/agents")[0]["state"] != "on_call")  # type: ignore[index]
    assert eventually(lambda: seconds_heard(citizen) > heard_before + 2.5, timeout=20)
    assert tone_share(citizen.heard, SUPERVISOR_HZ, heard_before + 0.5) > HEARS  # the citizen talks to the supervisor
    assert tone_share(citizen.heard, AGENT_HZ, heard_before + 0.5) < SILENT  # and no longer to the agent
    citizen.hangup()
    [record] = records(engine, 1)
    assert (record.agent, record.exit_reason, record.hangup_side) == ("1005", "answered", "caller")
    assert {p.role: p.who for p in record.parties} == {"agent": "1005", "supervisor": "1009"}

    dial_queue(citizen, engine)
    agent.wait_event("CALL_ESTABLISHED", 20)
    assert eventually(lambda: api(engine, "GET", "/agents")[0]["state"] == "on_call")  # type: ignore[index]
    act(engine, "hangup")  # 强拆
    citizen.wait_event("CALL_CLOSED", 15)
    agent.wait_event("CALL_CLOSED", 15)
    second = records(engine, 2)[1]
    assert (second.hangup_side, second.forced_by) == ("supervisor", "1009")
    assert engine.writer.flush(10)
    assert [(e.action, e.call_id, e.result) for e in engine.tickets.audit(actor="supervisor:1009")] == [
        ("listen", record.call_id, "done"), ("takeover", record.call_id, "done"), ("hangup", second.call_id, "done")]


def test_a_supervisor_listens_by_dialling_a_code_from_their_phone(live_engine, phones) -> None:
    """*31 and the agent's number from the supervisor's phone (the rendered hotline_supervisor_codes extension
    parks it for the engine): that call hears the conversation, and nobody hears it."""
    engine, agent, citizen, supervisor = on_a_call(live_engine, phones)
    if "hotline_supervisor_codes" not in engine.link.api("xml_locate dialplan context name default"):
        pytest.skip("the switch's default context has no rendered supervisor codes (hotline switch-conf render)")
    supervisor.dial("*311005")
    assert eventually(lambda: seconds_heard(supervisor) > 2.5, timeout=20)
    assert tone_share(supervisor.heard, CITIZEN_HZ, 1) > HEARS and tone_share(supervisor.heard, AGENT_HZ, 1) > HEARS
    since = {phone: seconds_heard(phone) for phone in (agent, citizen)}
    assert eventually(lambda: all(seconds_heard(p) > since[p] + 2 for p in since), timeout=20)
    assert all(tone_share(phone.heard, SUPERVISOR_HZ, since[phone]) < SILENT for phone in since)
    citizen.hangup()
    supervisor.wait_event("CALL_CLOSED", 15)  # eavesdrop ends with the agent's leg
    records(engine, 1)
    assert engine.writer.flush(10)
    assert [(e.actor, e.action, e.result) for e in engine.tickets.audit(actor="supervisor:1009")] == [
        ("supervisor:1009", "listen", "done")]
