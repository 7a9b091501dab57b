"""Every call leaves a millisecond timeline whose steps are in order and match what happened on the switch."""

from __future__ import annotations

from engine.process import Engine
from calls.book import CallBook


def finished(switch, engine: Engine, count: int = 1):
    assert switch.wait(lambda: len(engine.records) >= count, timeout=10)
    return engine.records[-1]


def talking(switch, make_engine):
    """An engine with agent 1001 logged in, and a caller (who pressed 1) bridged to them."""
    switch.set_endpoint("user/1001", answer_after=0.0)
    engine = make_engine(agents=("1001",))
    engine.queueing.command("1001", "login")
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="1")
    assert switch.wait(lambda: call.bridged_to is not None, timeout=10)
    return engine, call


def test_answered_call_timeline_is_complete_and_ordered(switch, make_engine) -> None:
    engine, call = talking(switch, make_engine)
    call.hangup()
    t = finished(switch, engine)
    assert (t.call_id, t.caller_number, t.called_number) == (call.uuid, "13800138000", "12345")
    assert t.switch_entry_ms <= t.ivr_entry_ms <= t.queue_entry_ms <= t.offers[0].ring_start_ms
    assert t.offers[0].ring_end_ms == t.answered_ms <= t.hangup_ms
    assert [(o.agent, o.result) for o in t.offers] == [("1001", "answered")]
    assert (t.agent, t.exit_reason, t.hangup_side, t.queue, t.original_position) == ("1001", "answered", "caller", "general", 1)
    assert t.ivr_path == ["menu:main", "key:1"] and t.wait_ms == t.answered_ms - t.queue_entry_ms
    assert engine.writer.flush(10)
    assert engine.tickets.get(call.uuid) == t  # the same record, durably in the ticket store


def test_agent_hanging_up_first_is_recorded(switch, make_engine) -> None:
    engine, call = talking(switch, make_engine)
    call.bridged_to.hangup()
    assert finished(switch, engine).hangup_side == "agent"


def test_the_caller_hanging_up_is_recorded_even_when_the_agent_leg_is_announced_first(switch, make_engine) -> None:
    """As on FreeSWITCH 1.10.12 now and then: the caller's BYE, yet the agent leg's CHANNEL_HANGUP comes
    first; only the dispositions on CHANNEL_HANGUP_COMPLETE say who ended the call."""
    switch.partner_hangs_up_first = True
    engine, call = talking(switch, make_engine)
    call.hangup()
    record = finished(switch, engine)
    assert (record.exit_reason, record.hangup_side, record.agent) == ("answered", "caller", "1001")


def test_missed_offer_then_answer_and_abandon_while_ringing(switch, make_engine) -> None:
    switch.set_endpoint("user/1001", cause="NO_ANSWER")
    switch.set_endpoint("user/1002", answer_after=None)
    engine = make_engine(agents=("1001", "1002"), strategy="top-down")
    engine.queueing.command("1001", "login")
    engine.queueing.command("1002", "login")
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="1")
    assert switch.wait(lambda: any(c.name == "user/1002" for c in switch.channels.values()), timeout=10)
    call.hangup("NORMAL_CLEARING")
    t = finished(switch, engine)
    assert [(o.agent, o.result) for o in t.offers] == [("1001", "no_answer"), ("1002", "cancelled")]
    assert (t.exit_reason, t.hangup_side, t.answered_ms, t.hangup_cause) == ("abandoned", "caller", None, "NORMAL_CLEARING")


def test_unknown_calls_are_ignored_and_system_endings_are_failures() -> None:
    done = []
    book = CallBook(done.append)
    book.offered("nobody", "1001", 5)
    call = book.open("c1", "13800138000", "12345", 0)
    book.queued("c1", "general", 10)
    book.ending("c1", "system")
    call.caller.gone("DESTINATION_OUT_OF_ORDER", "send_bye")
    book.finish(call, 20)
    assert [(t.call_id, t.exit_reason, t.hangup_side) for t in done] == [("c1", "system_failure", "system")]
    assert book.get("c1") is None


def test_loss_inside_the_switch_is_counted_apart(make_engine) -> None:
    engine = make_engine(agents=("1001",))
    call = engine.book.open("0badc0de-0000-4000-8000-000000000001", "13800138000", "12345", 0)
    engine.book.ending(call.id, "system")
    call.caller.gone("NORMAL_TEMPORARY_FAILURE", "send_bye")
    engine.book.finish(call, 10)
    assert engine.queueing.core.service_level.lost_in_switch == 1
    assert engine.queueing.core.service_level.total("general").requests == 0  # never a human request


def test_a_finished_call_stays_out_of_the_journal_whatever_its_legs_say_after() -> None:
    """The caller hung up while a transfer's unit still rang: the record is finished (dropped from the journal)
    and the call kept for its legs. The unit's late result must not put it back, or the next engine would finish
    the call again from the journal (found by the chaos bench with call control)."""
    from calls.legs import Leg, Role
    from calls.record import TransferTrace

    class Journal:
        def __init__(self) -> None:
            self.calls: dict[str, object] = {}

        def put(self, section: str, key: str, value: object) -> None:
            self.calls[key] = value

        def drop(self, section: str, key: str) -> None:
            self.calls.pop(key, None)

    journal, done = Journal(), []
    book = CallBook(done.append, journal)
    call = book.open("c1", "13800138000", "12345", 0)
    book.transferring("c1", TransferTrace("1001", "110", "blind", 10))
    book.add(call, Leg("u1", Role.UNIT, "110")).created(11)
    call.caller.gone("NORMAL_CLEARING", "recv_bye")
    book.finish(call, 20)
    assert "c1" not in journal.calls and book.get("c1") is call  # kept for the unit's leg, still up
    book.transferred("c1", "done", "u1")
    book.note("c1", survey={"attitude": "满意"})
    assert "c1" not in journal.calls and [t.call_id for t in done] == ["c1"]
