"""Every IVR path through the real engine over ESL against the FreeSWITCH double, and what each call records.

The double's clock runs 100 times fast (``time_scale``) so a caller's 5 s of silence takes 50 ms; nothing
here waits on time, only on the switch's or the engine's state.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from engine.process import Engine
from config.ivr import Blacklist, Emergency, Hours, Tenant
from fakeswitch.channels import Channel
from tickets.store import Block


@pytest.fixture
def played(played_apps) -> list[tuple[str, str, str]]:
    return played_apps


@pytest.fixture
def fast(switch):
    switch.time_scale = 0.01
    switch.schedule_scale = 1.0  # the safety net's deadline stays real: these tests are not about it
    return switch


def record_of(engine: Engine, call: Channel, switch) -> object:
    assert switch.wait(lambda: any(r.call_id == call.uuid for r in engine.records), timeout=10)
    return next(r for r in engine.records if r.call_id == call.uuid)


def sound(engine: Engine, name: str) -> str:
    return engine.front_door.flow.sound(name)


def test_silence_reaches_the_human_queue_and_the_path_is_recorded(fast, make_engine, played) -> None:
    engine = make_engine()
    call = fast.place_call(caller_id_number="13800138000", destination_number="12345")
    assert fast.wait(lambda: call.uuid in engine.queueing.core.callers, timeout=10)
    assert engine.queueing.core.callers[call.uuid].queue == "general"
    heard = [arg for uuid, app, arg in played if uuid == call.uuid and app in ("playback", "play_and_get_digits")]
    assert heard[0] == sound(engine, "welcome") and heard[1] == sound(engine, "recording_notice")
    assert sound(engine, "choice") in heard[2]
    call.hangup()
    record = record_of(engine, call, fast)
    assert record.ivr_path == ["menu:main", "timeout", "default"] and record.tenant == "default"
    assert record.exit_reason == "abandoned" and record.queue == "general"


def test_the_emergency_key_queues_at_top_priority(fast, make_engine) -> None:
    engine = make_engine()
    calm = fast.place_call(caller_id_number="13800000001", destination_number="12345", dtmf="1")
    urgent = fast.place_call(caller_id_number="13800000002", destination_number="12345", dtmf="9")
    assert fast.wait(lambda: {calm.uuid, urgent.uuid} <= set(engine.queueing.core.callers), timeout=10)
    assert engine.queueing.core.callers[urgent.uuid].priority == 9
    assert [call for _, call in engine.queueing.core.waiting["general"]][0] == urgent.uuid


def test_callers_on_the_emergency_list_skip_the_menus(fast, make_engine, played) -> None:
    engine = make_engine(ivr={"emergency": Emergency(callers=["13907710110"])})
    call = fast.place_call(caller_id_number="13907710110", destination_number="12345")
    assert fast.wait(lambda: call.uuid in engine.queueing.core.callers, timeout=10)
    assert engine.queueing.core.callers[call.uuid].priority == 9
    assert not [app for uuid, app, _ in played if uuid == call.uuid and app == "play_and_get_digits"]


def test_a_call_110_transfers_in_skips_the_menus_and_is_flagged_origin_110(fast, make_engine, played) -> None:
    engine = make_engine(ivr={"emergency": Emergency(from_110="96110110")})
    call = fast.place_call(caller_id_number="13800138000", destination_number="96110110")
    citizen = fast.place_call(caller_id_number="13800138001", destination_number="12345", dtmf="1")
    assert fast.wait(lambda: {call.uuid, citizen.uuid} <= set(engine.queueing.core.callers), timeout=10)
    assert engine.queueing.core.callers[call.uuid].priority == 9
    assert not [app for uuid, app, _ in played if uuid == call.uuid and app == "play_and_get_digits"]
    call.hangup()
    citizen.hangup()
    assert (record_of(engine, call, fast).origin, record_of(engine, citizen, fast).origin) == ("110", None)
    assert engine.writer.flush(10) and engine.tickets.get(call.uuid).origin == "110"


@pytest.mark.parametrize("action", ["message", "reject"])
def test_a_blocked_caller_is_turned_away_and_recorded(fast, make_engine, played, action: str) -> None:
    engine = make_engine(ivr={"blacklist": Blacklist(action=action)})
    engine.tickets.block(Block("13666666666", "harassment", 0, "test", None))
    engine.front_door.blacklist.refresh()  # what the engine does every two seconds
    call = fast.place_call(caller_id_number="13666666666", destination_number="12345")
    record = record_of(engine, call, fast)
    assert record.exit_reason == "blocked" and record.ivr_path == ["blocked"] and record.queue_entry_ms is None
    apps = [(app, arg) for uuid, app, arg in played if uuid == call.uuid]
    if action == "reject":
        assert call.hangup_cause == "CALL_REJECTED" and not call.answered
    else:
        assert ("playback", sound(engine, "blocked")) in apps and call.answered


def test_an_expired_block_lets_the_caller_in(fast, make_engine) -> None:
    engine = make_engine()
    engine.tickets.block(Block("13666666666", "old case", 0, "test", int(time.time() * 1000) + 60_000))
    engine.front_door.blacklist.refresh()
    engine.front_door.flow.now = lambda: dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=2)  # it expired since
    call = fast.place_call(caller_id_number="13666666666", destination_number="12345")
    assert fast.wait(lambda: call.uuid in engine.queueing.core.callers, timeout=10)


def test_after_hours_the_caller_leaves_a_message_that_goes_on_the_callback_list(fast, make_engine) -> None:
    closed = Tenant(hours=Hours(weekdays=[], weekends=[]))
    engine = make_engine(ivr={"tenants": {"default": closed}})
    call = fast.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="#")
    record = record_of(engine, call, fast)
    assert record.exit_reason == "voicemail" and record.ivr_path == ["after_hours", "voicemail"]
    assert record.recording and Path(record.recording).exists() and call.uuid in record.recording
    assert engine.writer.flush(10)
    assert [c.call_id for c in engine.tickets.missed(0, 5_000)] == [call.uuid]


def test_a_ticket_number_is_looked_up_then_the_caller_goes_on(fast, make_engine, played) -> None:
    engine = make_engine()
    engine.tickets.set_status("2026112200017", "processing", 0)
    call = fast.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="32026112200017#1")
    assert fast.wait(lambda: call.uuid in engine.queueing.core.callers, timeout=10)
    assert ("playback", sound(engine, "status_processing")) in [(a, g) for u, a, g in played if u == call.uuid]
    call.hangup()
    assert record_of(engine, call, fast).ivr_path == ["menu:main", "key:3", "lookup:processing", "key:1"]


def test_an_unknown_or_malformed_ticket_number_is_not_found(fast, make_engine, played) -> None:
    engine = make_engine()
    call = fast.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="3*#12#")
    assert fast.wait(lambda: call.uuid in engine.queueing.core.callers, timeout=10)
    assert ("playback", sound(engine, "lookup_not_found")) in [(a, g) for u, a, g in played if u == call.uuid]


def test_the_110_key_bridges_out_with_the_centre_caller_id(fast, make_engine, played) -> None:
    from config.ivr import Menu, ToNumber

    menus = {"main": Menu(prompt="choice", keys={"0": ToNumber(do="number", number="110")})}
    engine = make_engine(ivr={"menus": menus})
    call = fast.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="0")
    assert fast.wait(lambda: call.bridged_to is not None, timeout=10)
    assert call.bridged_to.name == "sofia/gateway/pstn/110"
    assert call.bridged_to.variables["origination_caller_id_number"] == "12345"
    call.bridged_to.hangup()  # 110 ends the call
    record = record_of(engine, call, fast)
    assert record.exit_reason == "transferred" and record.ivr_path[-1] == "number:110"


def test_when_110_cannot_be_reached_the_caller_goes_to_the_emergency_desk(fast, make_engine) -> None:
    from config.ivr import Menu, ToNumber

    fast.set_endpoint("sofia/gateway/pstn/110", cause="NORMAL_TEMPORARY_FAILURE")
    engine = make_engine(ivr={"menus": {"main": Menu(prompt="choice", keys={"0": ToNumber(do="number", number="110")})}})
    call = fast.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="0")
    assert fast.wait(lambda: call.uuid in engine.queueing.core.callers, timeout=10)
    assert engine.queueing.core.callers[call.uuid].priority == 9


def test_the_caller_rates_the_call_after_the_agent_hangs_up(fast, make_engine) -> None:
    fast.set_endpoint("user/1001", answer_after=0.0)
    from config.ivr import Dimension, Survey

    survey = Survey(dimensions=[Dimension(name="attitude", prompt="survey_attitude"),
                                Dimension(name="efficiency", prompt="survey_efficiency"),
                                Dimension(name="result", prompt="survey_result")])
    engine = make_engine(ivr={"survey": survey})
    engine.queueing.command("1001", "login")
    call = fast.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="1")
    assert fast.wait(lambda: call.bridged_to is not None, timeout=10)
    call.press("27")  # a rating for attitude; 7 is not on the scale; then silence for the result
    call.bridged_to.hangup()  # the agent hangs up first
    record = record_of(engine, call, fast)
    assert record.survey == {"attitude": "满意", "efficiency": "not_rated", "result": "not_rated"}
    assert record.hangup_side == "agent" and record.exit_reason == "answered"


def test_no_survey_when_the_caller_hangs_up_first(fast, make_engine) -> None:
    fast.set_endpoint("user/1001", answer_after=0.0)
    engine = make_engine()
    engine.queueing.command("1001", "login")
    call = fast.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="1")
    assert fast.wait(lambda: call.bridged_to is not None, timeout=10)
    call.hangup()
    record = record_of(engine, call, fast)
    assert record.survey is None and record.hangup_side == "caller"


def test_caller_data_never_reaches_an_application_argument(fast, make_engine, played) -> None:
    engine = make_engine()
    hostile = "1380013${system(id)}"
    call = fast.place_call(caller_id_number=hostile, destination_number="12345", caller_id_name="x'; hupall",
                           dtmf="3A*9")
    assert fast.wait(lambda: call.uuid in engine.queueing.core.callers, timeout=10)
    arguments = " ".join(arg for uuid, _, arg in played if uuid == call.uuid)
    assert "system" not in arguments and "hupall" not in arguments and "A*9" not in arguments


def test_waiting_callers_hear_their_position_and_wait_then_the_music_again(fast, make_engine, played) -> None:
    engine = make_engine(announce_every=0.05)
    call = fast.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="1")
    waits = {sound(engine, f"wait_{n}") for n in range(1, 21)}

    def announced() -> bool:
        heard = [arg for uuid, app, arg in played if uuid == call.uuid and app == "playback"]
        return any(heard[n] == sound(engine, "position_1") and heard[n + 1] in waits
                   and heard[n + 2] == "local_stream://moh" for n in range(len(heard) - 2))

    assert fast.wait(announced, timeout=10)
    assert ("uuid_break " + call.uuid) in [line.split(" ", 1)[1] for _, line in fast.received if line.startswith("api ")]



def test_a_hangup_key_says_goodbye_and_records_why(fast, make_engine, played) -> None:
    from config.ivr import Menu, ToHangup

    engine = make_engine(ivr={"menus": {"main": Menu(prompt="choice", keys={"#": ToHangup(do="hangup")})}})
    call = fast.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="#")
    record = record_of(engine, call, fast)
    assert (record.exit_reason, record.hangup_side, record.ivr_path) == ("ivr_hangup", "system", ["menu:main", "key:#"])
    assert ("playback", sound(engine, "goodbye")) in [(a, g) for u, a, g in played if u == call.uuid]
