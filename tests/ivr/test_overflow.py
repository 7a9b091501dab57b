"""A caller who leaves a queue without an agent goes where the queue's overflow says, end to end on the double,
and lands on the callback list with the reason."""

from __future__ import annotations

import pytest

from config.acd import Overflow, Queue


@pytest.fixture
def fast(switch):
    switch.time_scale = 0.01
    switch.schedule_scale = 1.0  # the safety net's deadline stays real: these tests are not about it
    return switch


def record_of(switch, engine, call):
    assert switch.wait(lambda: any(r.call_id == call.uuid for r in engine.records), timeout=15)
    assert engine.writer.flush(10)
    return next(r for r in engine.records if r.call_id == call.uuid)


@pytest.mark.parametrize("action", ["voicemail", "callback", "announce-hangup", "number"])
def test_a_caller_timing_out_goes_where_the_overflow_says_and_is_called_back(fast, make_engine, action: str) -> None:
    target = "07712345000" if action == "number" else ""
    engine = make_engine(max_wait=0.3, on_timeout=Overflow(action=action, target=target))  # nobody logged in
    call = fast.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="1")
    if action == "number":
        assert fast.wait(lambda: call.bridged_to is not None, timeout=10)
        assert call.bridged_to.name == "sofia/gateway/pstn/07712345000"
        call.bridged_to.hangup()
    record = record_of(fast, engine, call)
    assert record.exit_reason == "timeout" and record.queue == "general" and record.answered_ms is None
    assert f"left_queue:timeout:{action}" in record.ivr_path
    assert (record.recording is not None) == (action == "voicemail")
    missed = engine.tickets.missed(0, 5_000)
    assert [(m.call_id, m.exit_reason) for m in missed] == [(call.uuid, "timeout")]


def test_an_overflow_to_another_queue_keeps_the_callers_place_and_reaches_its_agents(fast, make_engine) -> None:
    queues = {"general": Queue(skill="general", max_wait=0.3, on_timeout=Overflow(action="queue", target="second")),
              "second": Queue(skill="second")}
    fast.set_endpoint("user/1002", answer_after=0.0)
    engine = make_engine(agents=("1001", "1002:second"), queues=queues)
    engine.queueing.command("1002", "login")  # only the second queue is staffed
    call = fast.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="1")
    assert fast.wait(lambda: call.bridged_to is not None, timeout=10)
    assert call.bridged_to.name == "user/1002"
    entered = call.variables["hotline_entered"]
    call.hangup()
    record = record_of(fast, engine, call)
    assert (record.queue, record.agent, record.exit_reason) == ("second", "1002", "answered")
    assert "left_queue:timeout:queue" in record.ivr_path and str(record.queue_entry_ms) == entered
    assert engine.tickets.missed(0, 5_000) == []  # answered in the end: nobody to call back


def test_a_full_or_unstaffed_queue_turns_the_caller_away_onto_the_callback_list(fast, make_engine) -> None:
    engine = make_engine(on_no_agents=Overflow(action="callback"))
    call = fast.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="1")
    record = record_of(fast, engine, call)
    assert record.exit_reason == "no_agents" and "left_queue:no_agents:callback" in record.ivr_path
    assert [m.exit_reason for m in engine.tickets.missed(0, 5_000)] == ["no_agents"]
