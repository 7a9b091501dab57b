"""Supervisors (班长) on the double through the engine's API: listen, whisper and barge on an agent's call and switch
between them (eavesdrop on the agent's leg, its whisper mixes and keys), take the call over (intercept), end it
(强拆), and force agents' states; scoped to their teams and queues; every attempt in the audit log."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from acd.agents import AgentState
from config.acd import Token
from tests.acd.test_api import call as api
from tests.acd.test_queueing import queued_caller

TEAM_A = "supervisor-1901-token-abcdefghij"
"""Supervisor 1901: team a (agent 1001) and the queue "second"; listens on user/1901."""
CENTRE = "supervisor-centre-token-abcdefghij"
"""A supervisor token naming no supervisor: the whole centre, no phone."""
AGENT = "agent-1001-token-abcdefghijklm"


def supervised(switch, make_engine):
    """Agents 1001 (team a) and 1002 (team b), supervisor 1901 of team a on user/1901, and the tokens above."""
    for phone in ("user/1001", "user/1002", "user/1901"):
        switch.set_endpoint(phone, answer_after=0.0)
    return make_engine(teams={"1001": "a", "1002": "b"},
                       supervisors={"1901": {"contact": "user/1901", "teams": ["a"]}},
                       tokens=[Token(token=SecretStr(TEAM_A), role="supervisor", supervisor="1901"),
                               Token(token=SecretStr(CENTRE), role="supervisor"),
                               Token(token=SecretStr(AGENT), role="agent", agent="1001")])


@pytest.fixture
def engine(switch, make_engine):
    return supervised(switch, make_engine)


def talking_to(switch, engine, agent: str = "1001"):
    """A caller in conversation with ``agent``: (caller, agent's leg)."""
    engine.queueing.command(agent, "login")
    caller = queued_caller(switch, engine)
    assert switch.wait(lambda: caller.bridged_to is not None and caller.bridged_to.name == f"user/{agent}", timeout=5)
    leg = caller.bridged_to
    assert switch.wait(lambda: engine.book.find(leg.uuid)[1].outcome == "answered", timeout=5)  # the engine's too
    return caller, leg


def supervisor_leg(switch):
    return next((ch for ch in switch.channels.values() if ch.name == "user/1901" and ch.hangup_cause is None), None)


def audit(engine, **where):
    assert engine.writer.flush(10)
    return [(e.actor, e.action, e.agent, e.result) for e in engine.tickets.audit(**where)]


def test_a_supervisor_listens_whispers_barges_and_back_on_one_phone_call(switch, engine) -> None:
    caller, agent_leg = talking_to(switch, engine)
    status, body = api(engine, "POST", "/supervise/1001/listen", TEAM_A)
    assert status == 200
    assert switch.wait(lambda: (leg := supervisor_leg(switch)) is not None and leg.listening == (agent_leg.uuid, False, False),
                       timeout=5)  # listening to the agent's leg: heard by no one
    phone = supervisor_leg(switch)
    for mode, heard in (("whisper", (True, False)), ("barge", (True, True)), ("listen", (False, False))):
        assert api(engine, "POST", f"/supervise/1001/{mode}", TEAM_A)[0] == 200
        assert switch.wait(lambda: phone.listening == (agent_leg.uuid, *heard), timeout=5), mode  # noqa: B023
    assert [ch for ch in switch.channels.values() if ch.name == "user/1901"] == [phone]  # one phone call throughout
    assert api(engine, "GET", "/agents", TEAM_A)[1][0]["call"]["call"] == caller.uuid
    assert api(engine, "POST", "/supervise/1001/stop", TEAM_A)[0] == 200
    assert switch.wait(lambda: phone.hangup_cause is not None, timeout=5)
    assert caller.bridged_to is agent_leg  # the conversation never noticed
    caller.hangup()
    assert switch.wait(lambda: any(r.call_id == caller.uuid for r in engine.records), timeout=5)
    record = next(r for r in engine.records if r.call_id == caller.uuid)
    [listened] = [p for p in record.parties if p.role == "supervisor"]
    assert (listened.who, listened.ended_by, record.hangup_side, record.forced_by) == ("1901", "engine", "caller", None)
    assert audit(engine) == [("supervisor:1901", action, "1001", "done")
                             for action in ("listen", "whisper", "barge", "listen", "stop")]


def test_a_supervisor_takes_the_call_over_and_the_agent_goes_to_wrap_up(switch, engine) -> None:
    caller, agent_leg = talking_to(switch, engine)
    assert api(engine, "POST", "/supervise/1001/takeover", TEAM_A)[0] == 409  # listen first
    assert api(engine, "POST", "/supervise/1001/listen", TEAM_A)[0] == 200
    assert switch.wait(lambda: supervisor_leg(switch) is not None and supervisor_leg(switch).listening, timeout=5)
    phone = supervisor_leg(switch)
    assert api(engine, "POST", "/supervise/1001/takeover", TEAM_A)[0] == 200
    assert switch.wait(lambda: caller.bridged_to is phone and agent_leg.hangup_cause == "PICKED_OFF", timeout=5)
    assert switch.wait(lambda: engine.queueing.core.agents["1001"].state is not AgentState.ON_CALL, timeout=5)
    phone.hangup()  # the supervisor ends it: the caller is asked for the survey, as after an agent
    assert switch.wait(lambda: any(r.call_id == caller.uuid for r in engine.records), timeout=15)
    record = next(r for r in engine.records if r.call_id == caller.uuid)
    assert (record.agent, record.exit_reason, record.hangup_side) == ("1001", "answered", "supervisor")
    assert {p.role: p.who for p in record.parties} == {"agent": "1001", "supervisor": "1901"}


def test_a_forced_hang_up_ends_the_call_and_the_record_says_by_whom(switch, engine) -> None:
    caller, agent_leg = talking_to(switch, engine)
    assert api(engine, "POST", "/supervise/1001/hangup", TEAM_A)[0] == 200
    assert switch.wait(lambda: caller.hangup_cause is not None and agent_leg.hangup_cause is not None, timeout=5)
    assert switch.wait(lambda: any(r.call_id == caller.uuid for r in engine.records), timeout=5)
    record = next(r for r in engine.records if r.call_id == caller.uuid)
    assert (record.hangup_side, record.forced_by, record.survey) == ("supervisor", "1901", None)
    assert engine.writer.flush(10) and engine.tickets.get(caller.uuid).forced_by == "1901"
    [entry] = engine.tickets.audit(action="hangup")
    assert (entry.actor, entry.call_id, entry.result) == ("supervisor:1901", caller.uuid, "done")


def test_a_supervisor_acts_only_within_their_teams_and_every_attempt_is_audited(switch, engine) -> None:
    caller, agent_leg = talking_to(switch, engine, "1002")  # team b
    assert api(engine, "POST", "/supervise/1002/listen", TEAM_A)[0] == 403
    assert api(engine, "POST", "/agents/1002/not_ready", TEAM_A, {"reason": "meal"})[0] == 403
    assert [a["id"] for a in api(engine, "GET", "/agents", TEAM_A)[1]] == ["1001"]  # the floor they may see
    assert api(engine, "POST", "/supervise/1002/listen", AGENT)[0] == 403  # agents do not supervise
    assert api(engine, "POST", "/supervise/1002/listen", CENTRE)[0] == 403  # no phone to listen on
    assert api(engine, "POST", "/supervise/1002/hangup", CENTRE)[0] == 200  # but may end it
    assert switch.wait(lambda: caller.hangup_cause is not None, timeout=5)
    assert supervisor_leg(switch) is None and agent_leg.hangup_cause is not None
    assert audit(engine) == [
        ("supervisor:1901", "listen", "1002", "agent 1002 is not in your teams or queues"),
        ("supervisor:1901", "not_ready", "1002", "agent 1002 is not in your teams or queues"),
        ("supervisor", "listen", "1002", "listen rings a supervisor's phone: use a token naming one (acd.supervisors)"),
        ("supervisor", "hangup", "1002", "done")]  # the agent's own attempt is no supervisor's


def test_forced_states_are_carried_out_and_audited_with_their_reason(switch, engine) -> None:
    engine.queueing.command("1001", "login")
    assert api(engine, "POST", "/agents/1001/not_ready", TEAM_A, {"reason": "meal"})[0] == 200
    assert engine.queueing.core.agents["1001"].reason == "meal"
    assert api(engine, "POST", "/agents/1001/logout", TEAM_A)[0] == 200
    assert engine.queueing.core.agents["1001"].state is AgentState.LOGGED_OUT
    assert api(engine, "POST", "/agents/1001/login", AGENT)[0] == 200  # the agent's own: not audited
    assert engine.writer.flush(10)
    assert [(e.action, e.detail, e.result) for e in engine.tickets.audit(agent="1001")] == [
        ("not_ready", "meal", "done"), ("logout", "", "done")]


def test_the_cli_supervises_and_lists_the_audit_log(switch, engine, tmp_path) -> None:
    """``hotline supervise`` goes through the same API and rules; ``hotline audit`` reads the log back, filtered."""
    from click.testing import CliRunner

    from cli import main

    host, port = engine.api.address[:2]
    path = tmp_path / "hotline.yaml"
    path.write_text(f"centre: {{name: cli test}}\nswitch: {{password: {switch.password}}}\n"
                    f"acd:\n  api: {{listen: '{host}:{port}'}}\n"
                    f"tickets: {{url: '{engine.settings.tickets.url}'}}\n", encoding="utf-8")
    caller, agent_leg = talking_to(switch, engine)

    def hotline(*args: str):
        return CliRunner().invoke(main, ["--config", str(path), *args])

    listened = hotline("supervise", "listen", "1001", "--token", TEAM_A)
    assert listened.exit_code == 0 and "1001: listen done; listening now: 1901 (listen)" in listened.output
    refused = hotline("supervise", "listen", "1002", "--token", TEAM_A)
    assert refused.exit_code == 1 and "403: agent 1002 is not in your teams or queues" in refused.output
    assert hotline("supervise", "hangup", "1001", "--token", TEAM_A).exit_code == 0
    assert switch.wait(lambda: caller.hangup_cause is not None, timeout=5)
    assert engine.writer.flush(10)
    log = hotline("audit", "--actor", "supervisor:1901", "--action", "hangup")
    assert log.exit_code == 0 and f"hangup agent 1001 call {caller.uuid}: done" in log.output
    assert log.output.rstrip().endswith("1 entry")
    assert hotline("audit", "--since", "not-a-day").exit_code == 2


def test_a_supervisor_listens_by_dialling_a_code_and_is_refused_outside_their_teams(switch, engine) -> None:
    """*31 and the agent's number from the supervisor's phone (its SIP user, as the switch authenticated it):
    that call listens in; *32 switches nothing on another call, it asks for a second listening call, which is
    refused; a team b agent's number is refused too, each with the refusal prompt and an audit entry."""
    caller, agent_leg = talking_to(switch, engine)
    switch.register("1901")
    phone = switch.place_call("1901", "*311001", user="1901")
    assert switch.wait(lambda: phone.listening == (agent_leg.uuid, False, False), timeout=5)
    assert phone.answered
    again = switch.place_call("1901", "*321001", user="1901")  # a second call onto the same call
    other = switch.place_call("1901", "*331002", user="1901")  # team b
    assert switch.wait(lambda: again.hangup_cause is not None and other.hangup_cause is not None, timeout=10)
    assert phone.listening == (agent_leg.uuid, False, False)
    spoof = switch.place_call("1901", "*311001")  # caller ID 1901, but no SIP user: a citizen could send it
    assert switch.wait(lambda: spoof.parked, timeout=5) and spoof.listening is None
    spoof.hangup()
    caller.hangup()
    assert switch.wait(lambda: phone.hangup_cause is not None, timeout=5)
    assert audit(engine) == [
        ("supervisor:1901", "listen", "1001", "done"),
        ("supervisor:1901", "whisper", "1001", "1901 listens to agent 1001's call already: switch modes there"),
        ("supervisor:1901", "barge", "1002", "agent 1002 is not in your teams or queues")]


def test_a_supervisor_listening_through_an_engine_restart_is_followed_by_the_next_engine(switch, make_engine) -> None:
    """The engine stops while a supervisor whispers to an agent: the switch goes on; the next engine takes the
    listening leg back with its mode, switches it on the same phone call, and the record has the supervisor."""
    first = supervised(switch, make_engine)
    caller, agent_leg = talking_to(switch, first)
    assert api(first, "POST", "/supervise/1001/whisper", TEAM_A)[0] == 200
    assert switch.wait(lambda: (leg := supervisor_leg(switch)) is not None and leg.listening == (agent_leg.uuid, True, False),
                       timeout=5)
    phone = supervisor_leg(switch)
    first.stop()
    second = supervised(switch, make_engine)
    assert switch.wait(lambda: second.queueing.connector.supervisors_of() == {
        "1001": [{"supervisor": "1901", "mode": "whisper"}]}, timeout=10)
    assert api(second, "POST", "/supervise/1001/listen", TEAM_A)[0] == 200
    assert switch.wait(lambda: phone.listening == (agent_leg.uuid, False, False), timeout=5)
    assert [ch for ch in switch.channels.values() if ch.name == "user/1901"] == [phone]  # no second phone call
    caller.hangup()
    assert switch.wait(lambda: any(r.call_id == caller.uuid for r in second.records), timeout=10)
    record = next(r for r in second.records if r.call_id == caller.uuid)
    assert [p.who for p in record.parties if p.role == "supervisor"] == ["1901"]


def test_a_supervisors_phone_still_ringing_when_the_caller_leaves_is_called_off(switch, engine) -> None:
    switch.set_endpoint("user/1901", answer_after=None)  # the supervisor does not pick up
    caller, agent_leg = talking_to(switch, engine)
    assert api(engine, "POST", "/supervise/1001/listen", TEAM_A)[0] == 200
    assert switch.wait(lambda: supervisor_leg(switch) is not None, timeout=5)
    ringing = supervisor_leg(switch)
    caller.hangup()
    assert switch.wait(lambda: ringing.hangup_cause is not None, timeout=5)
    assert ringing.hangup_cause == "ORIGINATOR_CANCEL"


def test_a_call_a_supervisor_took_over_goes_on_through_an_engine_restart(switch, make_engine) -> None:
    """The engine stops while a supervisor talks with the caller they took over: the next engine leaves the two
    talking (it follows the call to its end), and the call has its record."""
    first = supervised(switch, make_engine)
    caller, agent_leg = talking_to(switch, first)
    assert api(first, "POST", "/supervise/1001/listen", TEAM_A)[0] == 200
    assert switch.wait(lambda: supervisor_leg(switch) is not None and supervisor_leg(switch).listening, timeout=5)
    phone = supervisor_leg(switch)
    assert api(first, "POST", "/supervise/1001/takeover", TEAM_A)[0] == 200
    assert switch.wait(lambda: caller.bridged_to is phone, timeout=5)
    first.stop()
    second = supervised(switch, make_engine)
    assert second.reconciled.wait(10)
    assert switch.wait(lambda: second.book.get(caller.uuid) is not None, timeout=10)  # followed
    assert caller.bridged_to is phone and phone.hangup_cause is None  # still talking
    caller.hangup()
    assert switch.wait(lambda: any(r.call_id == caller.uuid for r in second.records), timeout=10)
