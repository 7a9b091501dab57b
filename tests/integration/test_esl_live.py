"""The ESL link against a real FreeSWITCH 1.10/1.11: the same behaviours the double is held to."""

from __future__ import annotations

import uuid as uuidlib

import gevent
import pytest

from esl import SwitchLink, UnsafeValue



def test_status(live_link: SwitchLink) -> None:
    assert "is ready" in live_link.api("status")


def test_originate_execute_dtmf_hangup(live_link: SwitchLink, collect) -> None:
    parks, digits, completes = (collect(live_link, n) for n in ("CHANNEL_PARK", "DTMF", "CHANNEL_HANGUP_COMPLETE"))
    a_leg = str(uuidlib.uuid4())
    result = live_link.originate("loopback/9196", {"origination_uuid": a_leg, "origination_caller_id_number": "12345"})
    assert result.get(timeout=20).startswith("+OK")
    done = live_link.execute(a_leg, "playback", "tone_stream://%(200,0,440)", wait_complete=True, timeout=20)
    assert done is not None and done.uuid == a_leg
    live_link.api(f"uuid_recv_dtmf {a_leg} 12")
    assert {digits.get(timeout=10)["DTMF-Digit"], digits.get(timeout=10)["DTMF-Digit"]} == {"1", "2"}
    live_link.hangup(a_leg, "NORMAL_CLEARING")
    while (event := completes.get(timeout=20)).uuid != a_leg:
        pass
    assert event["Hangup-Cause"] == "NORMAL_CLEARING"


def test_refused_injection_keeps_the_fifo(live_link: SwitchLink) -> None:
    with pytest.raises(UnsafeValue):
        live_link.api("status\n\napi system id")
    assert "is ready" in live_link.api("status")


def test_real_switch_plain_encoding_of_a_hostile_name_forges_nothing(live_link: SwitchLink) -> None:
    """FreeSWITCH does not double-encode: the caller's literal %0A reaches us as %0A and must stay in the value."""
    import os

    from esl.connection import Connection
    from esl.protocol import packet

    events: gevent.queue.Queue = gevent.queue.Queue()
    conn = Connection.open(live_link.address[0], live_link.address[1], 5, events.put)
    conn.login(os.environ["HOTLINE_FS_PASSWORD"], 5)
    conn.command(packet("event plain CHANNEL_CREATE"), 5)
    a_leg = str(uuidlib.uuid4())
    hostile = "%0A%0Aapi_system_id%0AUnique-ID:_0badc0de-0000-4000-8000-000000000000"
    live_link.api(f"originate {{origination_uuid={a_leg},origination_caller_id_name={hostile}}}loopback/9196 &park()")
    try:
        while (event := events.get(timeout=10)).uuid != a_leg:
            pass
        assert event["Caller-Caller-ID-Name"] == hostile.replace("%0A", "\n")
        assert not any(name.startswith("api_system_id") for name in event.headers)
    finally:
        conn.close()
        live_link.hangup(a_leg)
