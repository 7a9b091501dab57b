"""Live state in a real Redis, and engine restarts: other processes read the floor, and a restarted engine
takes back every call from the switch (with its journalled record and agents) and drops none."""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest
import redis

from acd.agents import Agent, AgentState
from acd.distributor import Distributor
from acd.queues import QueueSpec
from calls.record import CallTimeline
from engine.journal import RedisJournal
from fakeswitch.channels import Room


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    client.delete(*(f"{name}:{section}" for section in ("agents", "callers", "calls", "engine")))


def test_journal_reaches_redis_and_reads_back(redis_url: str, prefix: str) -> None:
    journal = RedisJournal(redis_url, prefix)
    core = Distributor([QueueSpec("general", "general")], journal=journal)
    core.add_agent(Agent("1001", "user/1001", {"general": 5}))
    core.login("1001", 1_000)
    core.not_ready("1001", "meal", 2_000)
    for n in range(3):
        core.enqueue(f"c{n}", "general", f"1380000000{n}", 3_000 + n)
    core.caller_left("c1", 4_000)
    assert journal.flush(5)
    agents, callers = journal.load("agents"), journal.load("callers")
    journal.close()
    assert agents["1001"]["state"] == "not_ready" and agents["1001"]["reason"] == "meal"
    assert sorted(callers) == ["c0", "c2"] and callers["c2"]["entered_ms"] == 3_002


def test_engine_restart_keeps_waiting_callers_and_agent_states(switch, make_engine, redis_url: str,
                                                               prefix: str) -> None:
    state = {"backend": "redis", "redis_url": redis_url, "prefix": prefix}
    first = make_engine(state=state)
    first.queueing.command("1001", "login")
    first.queueing.command("1001", "not_ready", "meal")
    first.queueing.command("1002", "login")
    first.queueing.command("1002", "not_ready", "training")
    calls = []
    for n in range(3):  # one after another: each has its own place in line
        calls.append(switch.place_call(caller_id_number=f"1380000000{n}", destination_number="12345", dtmf="1"))
        assert switch.wait(lambda: len(first.queueing.core.callers) == n + 1, timeout=10)
    entered = {c: first.queueing.core.callers[c].entered_ms for c in first.queueing.core.callers}
    order = [call for _, call in first.queueing.core.waiting["general"]]
    assert first.journal.flush(5)
    first.stop()  # the engine goes away; FreeSWITCH keeps the calls parked
    calls[2].hangup()  # this caller gives up while the engine is down...
    assert switch.wait(lambda: calls[2].uuid not in switch.channels, timeout=5)

    second = make_engine(state=state)
    core = second.queueing.core
    assert [call for _, call in core.waiting["general"]] == [c for c in order if c != calls[2].uuid]
    assert all(core.callers[c].entered_ms == entered[c] for c in core.callers)  # read back from the channels
    assert (core.agents["1001"].state, core.agents["1001"].reason) == (AgentState.NOT_READY, "meal")
    second.queueing.command("1001", "ready")  # ...and the first caller in line is the one answered
    first_in_line, second_in_line = (switch.channels[c] for c in order if c != calls[2].uuid)
    assert switch.wait(lambda: first_in_line.bridged_to is not None, timeout=10)
    assert second_in_line.bridged_to is None and second_in_line.hangup_cause is None
    gone = [r for r in second.records if r.call_id == calls[2].uuid]  # ...and still has a record
    assert [(r.hangup_ms, r.exit_reason, r.queue_entry_ms) for r in gone] == [(None, "abandoned", entered[calls[2].uuid])]


def test_a_restarted_engine_finishes_every_call_the_old_one_was_handling(switch, make_engine, redis_url: str,
                                                                         prefix: str) -> None:
    """One caller was in the IVR when the engine died (answered, still parked in the switch), one ended
    meanwhile: the first goes to a human with their record so far, the second's record is finished."""
    in_ivr = switch.place_call(caller_id_number="13800000001", destination_number="12345")
    assert switch.wait(lambda: in_ivr.parked, timeout=5)
    assert switch.api(f"uuid_answer {in_ivr.uuid}").startswith("+OK")
    old = RedisJournal(redis_url, prefix)
    old.put("calls", in_ivr.uuid, CallTimeline(in_ivr.uuid, "13800000001", "12345", 1_000, 1_100, ["menu:main"]).to_json())
    gone_id = "0f0e0d0c-0000-4000-8000-000000000001"
    old.put("calls", gone_id, CallTimeline(gone_id, "13800000002", "12345", 2_000, 2_100,
                                           ["menu:main", "timeout", "default"], 2_500, "general").to_json())
    assert old.flush(5)
    old.close()

    engine = make_engine(state={"backend": "redis", "redis_url": redis_url, "prefix": prefix})
    engine.queueing.command("1001", "login")
    switch.set_endpoint("user/1001", answer_after=0.0)
    assert switch.wait(lambda: in_ivr.bridged_to is not None, timeout=10)
    in_ivr.hangup()
    assert switch.wait(lambda: len(engine.records) == 2, timeout=10)
    records = {record.call_id: record for record in engine.records}
    served = records[in_ivr.uuid]
    assert (served.switch_entry_ms, served.ivr_path, served.agent) == (1_000, ["menu:main", "restarted"], "1001")
    assert served.exit_reason == "answered" and served.queue == "general" and served.queue_entry_ms == 1_000
    gone = records[gone_id]
    assert (gone.exit_reason, gone.hangup_ms, gone.queue_entry_ms) == ("abandoned", None, 2_500)
    assert engine.journal.flush(5)
    assert redis.Redis.from_url(redis_url).hlen(f"{prefix}:calls") == 0


def _talking_when_the_engine_stops(switch, make_engine, state: dict[str, str], **engine: object):
    """Agent 1001 talking with a caller when the engine (journal in ``state``) stops: (caller leg, agent leg)."""
    switch.set_endpoint("user/1001", answer_after=0.0)
    first = make_engine(state=state, wrap_up=0, **engine)
    first.queueing.command("1001", "login")
    call = switch.place_call(caller_id_number="13800000001", destination_number="12345", dtmf="1")
    assert switch.wait(lambda: first.queueing.core.agents["1001"].state is AgentState.ON_CALL, timeout=10)
    assert first.journal.flush(5)
    first.stop()  # the conversation goes on in the switch
    return call, call.bridged_to


def _talking_to_1001(switch, make_engine, state: dict[str, str]):
    """A first engine (journal in ``state``) whose agent 1001 talks with a caller, the bridge settled in its book:
    (engine, caller leg, agent leg)."""
    first = make_engine(state=state, wrap_up=0, strategy="top-down")
    first.queueing.command("1001", "login")
    caller = switch.place_call(caller_id_number="13800001001", destination_number="12345", dtmf="1")
    assert switch.wait(lambda: caller.bridged_to is not None and caller.bridged_to.name == "user/1001", timeout=10)
    agent_leg = caller.bridged_to
    assert switch.wait(lambda: first.book.find(agent_leg.uuid)[1].state.value == "bridged", timeout=5)
    return first, caller, agent_leg


def test_an_agent_talking_through_a_restart_stays_on_the_call_until_it_ends(switch, make_engine, redis_url: str,
                                                                          prefix: str) -> None:
    state = {"backend": "redis", "redis_url": redis_url, "prefix": prefix}
    call, agent_leg = _talking_when_the_engine_stops(switch, make_engine, state)
    second = make_engine(state=state, wrap_up=0)
    agent = second.queueing.core.agents["1001"]
    assert agent.state is AgentState.ON_CALL  # not guessed into wrap-up: the switch still bridges them
    agent_leg.hangup()
    assert switch.wait(lambda: agent.state is AgentState.READY, timeout=10)
    assert [t.new for t in agent.log][-1:] == [AgentState.READY]
    assert switch.wait(lambda: any(r.call_id == call.uuid for r in second.records), timeout=10)
    record = next(r for r in second.records if r.call_id == call.uuid)
    assert (record.agent, record.exit_reason, record.hangup_side) == ("1001", "answered", "agent")
    levels = second.queueing.core.service_level  # the conversation taken back counts for its queue and its tenant
    assert record.tenant == "default"
    assert levels.total("general").answered == levels.total("tenant:default").answered == 1


def test_an_agent_leg_that_hangs_up_while_a_restarted_engine_reads_it_does_not_leave_the_agent_on_a_call(
        switch, make_engine, redis_url: str, prefix: str, monkeypatch) -> None:
    """The race the chaos bench found: reconciliation reads a conversation (still talking), then its hang-ups arrive
    before it is taken back, for legs the book does not hold yet. Taken back on what was read, it would wait for
    hang-ups already spent: a later pass finds the legs gone but no longer knows who ended the call, and after the
    last pass the agent would stay on a call that is over (the chaos bench's stuck agent)."""
    import config
    from engine.reconcile import SwitchView

    state = {"backend": "redis", "redis_url": redis_url, "prefix": prefix}
    no_survey = {"survey": config.defaults().ivr.survey.model_copy(update={"enabled": False})}  # both legs end
    call, agent_leg = _talking_when_the_engine_stops(switch, make_engine, state, ivr=no_survey)
    read, asked = SwitchView.details, []

    def read_then_hang_up(view: SwitchView, uuid: str):
        channel = read(view, uuid)
        asked.append(uuid)
        if uuid == call.uuid and asked.count(uuid) == 2:  # read to take the conversation back (listed first)
            agent_leg.hangup()  # the agent hangs up just then, and the switch hangs up the caller
            assert switch.wait(lambda: {agent_leg.uuid, call.uuid} <= set(view.vanished), timeout=10)  # seen, unheld
        return channel

    monkeypatch.setattr(SwitchView, "details", read_then_hang_up)
    second = make_engine(state=state, wrap_up=0, ivr=no_survey)
    assert agent_leg.hangup_cause is not None and asked.count(call.uuid) == 2  # the race happened
    agent = second.queueing.core.agents["1001"]
    assert switch.wait(lambda: agent.state is AgentState.READY, timeout=10)
    assert switch.wait(lambda: any(r.call_id == call.uuid for r in second.records), timeout=10)
    record = next(r for r in second.records if r.call_id == call.uuid)
    assert (record.agent, record.exit_reason, record.hangup_side) == ("1001", "answered", "agent")


def test_cli_status_reads_the_floor_and_the_engine_from_redis(redis_url: str, prefix: str, tmp_path) -> None:
    from click.testing import CliRunner

    from cli import main

    journal = RedisJournal(redis_url, prefix)
    core = Distributor([QueueSpec("general", "general")], journal=journal)
    for agent_id in ("1001", "1002"):
        core.add_agent(Agent(agent_id, f"user/{agent_id}", {"general": 5}))
        core.login(agent_id, 1_000)
    core.not_ready("1002", "meal", 2_000)
    core.ready("1001", 2_000)
    core.not_ready("1001", "training", 2_500)
    core.enqueue("c1", "general", "13800000001", 3_000)
    journal.beat(1_000, link_up=True)  # an engine seen long ago
    assert journal.flush(5)
    config_file = tmp_path / "hotline.yaml"
    config_file.write_text("centre: {name: t}\nswitch: {password: a-strong-password-1}\n"
                           f"state: {{backend: redis, redis_url: '{redis_url}', prefix: {prefix}}}\n")

    def status() -> str:
        result = CliRunner().invoke(main, ["--config", str(config_file), "status"])
        assert result.exit_code == 0, result.output
        return result.output

    output = status()
    assert "agents: not_ready 2" in output
    assert "1002 not ready: meal" in output and "queue general: 1 waiting" in output
    assert "engine: not seen for" in output and "stale" in output
    import time

    journal.beat(int(time.time() * 1000), link_up=False)
    assert journal.flush(5)
    assert "engine: DEGRADED, no link to FreeSWITCH" in status()
    journal.beat(int(time.time() * 1000), link_up=False, stopped=True)
    assert journal.flush(5)
    journal.close()
    assert "engine: stopped at" in status()


def test_a_caller_whose_agent_transferred_them_as_the_engine_died_reaches_the_target(switch, make_engine, redis_url: str,
                                                                                   prefix: str) -> None:
    """The old engine marked the caller and hung up their agent's leg (acd.connector.Connector.transfer), then
    died: the caller sits parked; the new engine finds the mark and carries the transfer out, place kept."""
    state = {"backend": "redis", "redis_url": redis_url, "prefix": prefix}
    call, agent_leg = _talking_when_the_engine_stops(switch, make_engine, state)
    assert switch.api(f"uuid_setvar_multi {call.uuid} park_after_bridge=true;hotline_transfer=queue:general") == "+OK\n"
    agent_leg.hangup()
    assert switch.wait(lambda: call.parked, timeout=5)
    switch.set_endpoint("user/1002", answer_after=0.0)
    second = make_engine(state=state, wrap_up=0)
    second.queueing.command("1002", "login")
    assert switch.wait(lambda: call.bridged_to is not None and call.bridged_to.name == "user/1002", timeout=10)
    assert call.variables["hotline_transferred"] == "true"
    call.hangup()
    assert switch.wait(lambda: any(r.call_id == call.uuid for r in second.records), timeout=10)
    record = next(r for r in second.records if r.call_id == call.uuid)
    assert (record.agent, record.exit_reason) == ("1002", "answered") and "transfer:queue:general" in record.ivr_path
    assert record.answered_ms < record.offers[-1].ring_end_ms  # the first answer, before the restart, stands
    assert second.queueing.core.service_level.total("general").transfers_in == 1


def test_a_three_way_call_and_a_consultation_under_way_survive_a_restart(switch, make_engine, redis_url: str,
                                                                        prefix: str) -> None:
    """The engine dies with one caller in a three-way room with agent 1001 and 110, and another aside while agent
    1002 consults 119: the next engine follows the room to its end and puts the second caller back in line."""
    from calls.targets import resolve

    state = {"backend": "redis", "redis_url": redis_url, "prefix": prefix}
    for endpoint in ("user/1001", "user/1002", "sofia/gateway/pstn/110", "sofia/gateway/pstn/119"):
        switch.set_endpoint(endpoint, answer_after=0.0)
    first = make_engine(state=state, wrap_up=0, strategy="top-down")
    connector, settings = first.queueing.connector, first.settings
    callers = []
    for agent, unit, act in (("1001", "110", connector.three_way), ("1002", "119", connector.consult)):
        first.queueing.command(agent, "login")
        caller = switch.place_call(caller_id_number=f"1380000{agent}", destination_number="12345", dtmf="1")
        assert switch.wait(lambda: caller.bridged_to is not None and caller.bridged_to.name == f"user/{agent}", timeout=10)
        assert switch.wait(lambda: first.book.find(caller.bridged_to.uuid)[1].state.value == "bridged", timeout=5)
        first.hub.run(act(agent, resolve(unit, settings)))
        callers.append(caller)
    in_room, aside = callers
    assert switch.wait(lambda: len(switch.rooms.get(f"hotline-{in_room.uuid}", Room("")).members) == 3, timeout=5)
    assert switch.wait(lambda: aside.parked, timeout=5)
    assert first.journal.flush(5)
    first.stop()

    second = make_engine(state=state, wrap_up=0)
    assert switch.wait(lambda: aside.uuid in second.queueing.core.callers, timeout=10)  # back in line, not dropped
    assert in_room.hangup_cause is None and len(switch.rooms[f"hotline-{in_room.uuid}"].members) == 3
    assert second.queueing.core.agents["1001"].state is AgentState.ON_CALL  # still in the room: not offered
    in_room.hangup()  # endconf: the room ends, the agent's leg with it
    assert switch.wait(lambda: second.queueing.core.agents["1001"].state is not AgentState.ON_CALL, timeout=10)
    assert switch.wait(lambda: any(r.call_id == in_room.uuid for r in second.records), timeout=10)
    record = next(r for r in second.records if r.call_id == in_room.uuid)
    assert (record.agent, record.exit_reason) == ("1001", "answered")
    assert [t.kind for t in record.transfers] == ["three_way"]  # from the first engine's journal
    aside.hangup()


def test_a_caller_left_alone_in_a_room_goes_back_in_line_after_a_restart(switch, make_engine, redis_url: str,
                                                                         prefix: str) -> None:
    """The agent left a three-way call while 110 still rang, then the engine died: the next engine finds the caller
    alone in the room (no engine would bring 110 in now), calls 110's ring off and puts the caller back in line,
    place kept, rather than leaving them with the room's music."""
    from calls.targets import resolve

    state = {"backend": "redis", "redis_url": redis_url, "prefix": prefix}
    switch.set_endpoint("user/1001", answer_after=0.0)
    switch.set_endpoint("sofia/gateway/pstn/110", answer_after=None)  # rings on
    first, caller, agent_leg = _talking_to_1001(switch, make_engine, state)
    first.hub.run(first.queueing.connector.three_way("1001", resolve("110", first.settings)))
    room = f"hotline-{caller.uuid}"
    assert switch.wait(lambda: len(switch.rooms.get(room, Room("")).members) == 2, timeout=5)
    ringing = lambda: [ch for ch in switch.channels.values() if ch.name == "sofia/gateway/pstn/110"]  # noqa: E731
    assert switch.wait(lambda: len(ringing()) == 1, timeout=5)
    [unit] = ringing()
    first.hub.run(first.queueing.connector.leave("1001"))
    assert switch.wait(lambda: agent_leg.hangup_cause is not None and len(switch.rooms[room].members) == 1, timeout=5)
    entered = first.book.get(caller.uuid).record.queue_entry_ms
    assert first.journal.flush(5)
    first.stop()

    second = make_engine(state=state, wrap_up=0)
    assert switch.wait(lambda: caller.uuid in second.queueing.core.callers, timeout=10)  # back in line
    assert unit.hangup_cause == "ORIGINATOR_CANCEL" and caller.hangup_cause is None and room not in switch.rooms
    assert second.queueing.core.callers[caller.uuid].entered_ms == entered  # the place kept
    caller.hangup()
    assert switch.wait(lambda: any(r.call_id == caller.uuid for r in second.records), timeout=10)
    record = next(r for r in second.records if r.call_id == caller.uuid)
    assert (record.agent, record.answered_ms is not None) == ("1001", True)  # answered once, by 1001


@pytest.mark.parametrize("unit", ["agent:1002", "110"])
def test_a_third_party_whose_caller_left_while_no_engine_watched_is_hung_up(switch, make_engine, redis_url: str,
                                                                           prefix: str, unit: str) -> None:
    """Found by the chaos benchmark with call control: the engine died while agent 1001 consulted a colleague
    (1002) or 110, and the caller hung up meanwhile. The next engine finishes the call, but the link drops as it
    hangs up the consultation's legs, and the call has left the book by the next reconnect. There the consulted
    leg, marked with a caller the switch no longer has, is hung up, not taken for the colleague's own call (which
    kept them on a call for as long as that leg lived) nor left to 110."""
    from calls.targets import resolve

    state = {"backend": "redis", "redis_url": redis_url, "prefix": prefix}
    for endpoint in ("user/1001", "user/1002", "sofia/gateway/pstn/110"):
        switch.set_endpoint(endpoint, answer_after=0.0)
    first, caller, agent_leg = _talking_to_1001(switch, make_engine, state)
    first.queueing.command("1002", "login")
    first.hub.run(first.queueing.connector.consult("1001", resolve(unit, first.settings)))
    assert switch.wait(lambda: agent_leg.bridged_to is not None and agent_leg.bridged_to is not caller, timeout=5)
    consulted = agent_leg.bridged_to
    assert first.journal.flush(5)
    first.stop()
    caller.hangup()  # while no engine watches

    switch.cut_before("uuid_kill")  # the next engine's first hang-up of the call's legs never arrives
    second = make_engine(state=state, wrap_up=0)
    assert switch.wait(lambda: any(r.call_id == caller.uuid for r in second.records), timeout=10)
    assert switch.wait(lambda: consulted.hangup_cause is not None and agent_leg.hangup_cause is not None, timeout=10)
    assert switch.wait(lambda: all(agent.state is not AgentState.ON_CALL  # free, or wrapping up the missed end
                                   for agent in second.queueing.core.agents.values()), timeout=10)
    assert second.queueing.connector.private == {}  # the consulted leg was not taken for 1002's own call


def test_a_call_that_ended_unseen_is_recorded_once_when_the_first_reconciliation_is_cut(switch, make_engine,
                                                                                      redis_url: str, prefix: str) -> None:
    """Found by the chaos benchmark on FreeSWITCH: the journal holds two calls that ended while no engine ran; the
    new engine's first reconciliation finishes one, then the link drops before it reads the other. The next
    reconciliation finishes the second, and not the first again (it did: two records of one call, and two
    archivings of one WAV racing, the second failing on the file the first had removed)."""
    old = RedisJournal(redis_url, prefix)
    gone = [f"0f0e0d0c-0000-4000-8000-00000000000{n}" for n in (1, 2)]
    for n, call_id in enumerate(gone):
        old.put("calls", call_id, CallTimeline(call_id, f"1380000000{n}", "12345", 2_000, 2_100, ["menu:main"],
                                               2_500, "general").to_json())
    assert old.flush(5)
    old.close()
    switch.cut_before("uuid_dump", passing=1)  # the first record's channel is asked for; the second's, cut off

    engine = make_engine(state={"backend": "redis", "redis_url": redis_url, "prefix": prefix})
    assert switch.wait(lambda: len(switch.listeners) > 0 and "uuid_dump" not in switch._cuts
                       and not engine.queueing.core.paused, timeout=10)  # cut, reconnected and reconciled
    assert sorted(record.call_id for record in engine.records) == gone  # each once
