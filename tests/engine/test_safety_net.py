"""The switch's own safety net, from the rendered dialplan, run by the double: a caller no engine takes hears
ringback, then a message and the overflow; an engine that is up takes every call before it fires."""

from __future__ import annotations

from pathlib import Path

import pytest

import config
from config.ivr import SafetyNet
from ivr.front_door import NET_EXTENSION
from switch_conf.render import PUBLIC_DIALPLAN, render


@pytest.fixture
def net_switch(switch, tmp_path: Path, prompt_cache: Path):
    """The double running the dialplan rendered for a net that fires after 5 s (50 ms at this time scale)."""
    def load(then: str = "hangup", number: str = "") -> None:
        base = config.defaults()
        settings = base.model_copy(update={"ivr": base.ivr.model_copy(update={
            "prompt_cache": str(prompt_cache), "safety_net": SafetyNet(after=5, then=then, number=number)})})
        render(settings, tmp_path / "freeswitch")
        switch.load_dialplan(str(tmp_path / "freeswitch" / PUBLIC_DIALPLAN))
        switch.time_scale = 0.01
    switch.load_net = load
    return switch


def test_with_no_engine_the_caller_hears_ringback_then_the_message_then_goodbye(net_switch, played_apps) -> None:
    net_switch.load_net()
    call = net_switch.place_call(caller_id_number="13800138000", destination_number="12345")
    assert net_switch.wait(lambda: call.hangup_cause is not None, timeout=10)
    apps = [app for uuid, app, _ in played_apps if uuid == call.uuid]
    assert apps == ["ring_ready", "sched_transfer", "park", "transfer", "set", "answer", "playback", "hangup"]
    assert call.destination == NET_EXTENSION and call.variables["hotline_net"] == "fired"
    assert call.variables["sip_hangup_disposition"] == "send_bye"  # the switch said goodbye, not the caller


def test_the_net_can_send_callers_to_an_overflow_number(net_switch) -> None:
    net_switch.load_net(then="number", number="07712345000")
    call = net_switch.place_call(caller_id_number="13800138000", destination_number="12345")
    assert net_switch.wait(lambda: call.bridged_to is not None, timeout=10)
    assert call.bridged_to.name == "sofia/gateway/pstn/07712345000"


def test_an_engine_that_is_up_takes_the_call_before_the_net_fires(switch, make_engine) -> None:
    engine = make_engine()  # its fixture loads the rendered dialplan: the net is armed on every call
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="1")
    assert switch.wait(lambda: call.uuid in engine.queueing.core.callers, timeout=10)
    assert f"api sched_del {call.uuid}" in [line for _, line in switch.received]
    assert call.uuid not in switch.scheduled  # nothing left to fire


def test_an_engine_that_starts_while_the_net_plays_records_the_call(net_switch, make_engine) -> None:
    net_switch.load_net()
    net_switch.playback_seconds = 300.0  # 3 s at this time scale: the message still plays when the engine starts
    call = net_switch.place_call(caller_id_number="13800138000", destination_number="12345")
    assert net_switch.wait(lambda: call.destination == NET_EXTENSION, timeout=10)
    engine = make_engine()
    assert engine.book.get(call.uuid) is not None  # followed, not driven
    call.hangup()
    assert net_switch.wait(lambda: any(r.call_id == call.uuid for r in engine.records), timeout=10)
    record = next(r for r in engine.records if r.call_id == call.uuid)
    assert (record.exit_reason, record.hangup_side) == ("safety_net", "caller")


def test_a_claim_cut_off_on_its_way_is_made_again_when_the_call_is_resumed(switch, make_engine) -> None:
    """The link drops as the engine cancels the net's transfer (found by the chaos benchmark): the caller is
    resumed to a human after the reconnect, and the net is cancelled then, so it cannot take them from the
    queue."""
    engine = make_engine()
    switch.cut_before("sched_del")
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="1")
    assert switch.wait(lambda: call.uuid in engine.queueing.core.callers, timeout=15)
    assert engine.book.get(call.uuid).record.ivr_path == ["resumed"]
    assert call.uuid not in switch.scheduled
