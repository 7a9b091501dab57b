"""The outbound-socket server: FreeSWITCH's ``socket`` application hands a call to the engine."""

from __future__ import annotations

import gevent
import pytest
from gevent.queue import Queue

from esl import OutboundServer, OutboundSession, UnsafeValue


def test_wildcard_bind_is_refused() -> None:
    with pytest.raises(UnsafeValue, match="no authentication"):
        OutboundServer("0.0.0.0", 0, lambda session: None)


def test_socket_app_hands_the_call_to_the_engine(switch) -> None:
    results: Queue = Queue()

    def handle(session: OutboundSession) -> None:
        session.myevents()
        session.linger()
        answered = session.execute("answer", wait_complete=True, timeout=10)
        played = session.execute("playback", "ivr/welcome.wav", wait_complete=True, timeout=10)
        results.put((session.channel, answered, played, session.getvar("hotline_case")))
        names = []
        while "CHANNEL_HANGUP_COMPLETE" not in names:
            names.append(session.events.get(timeout=10).name)
        results.put(names)

    server = OutboundServer("127.0.0.1", 0, handle)
    server.start()
    try:
        host, port = server.address
        switch.dialplan["12345"] = [("set", "hotline_case=abc"), ("socket", f"{host}:{port} async full")]
        call = switch.place_call(caller_id_number="13800138000", caller_id_name="%0AUnique-ID: x", destination_number="12345")
        channel, answered, played, case = results.get(timeout=10)
        assert channel["Unique-ID"] == call.uuid
        assert channel["Caller-Caller-ID-Number"] == "13800138000"
        assert channel["Caller-Caller-ID-Name"] == "\nUnique-ID: x"
        assert answered["Application"] == "answer" and played["Application"] == "playback"
        assert case == "abc"
        call.hangup()
        names = results.get(timeout=10)
        assert names.index("CHANNEL_HANGUP") < names.index("CHANNEL_HANGUP_COMPLETE")
    finally:
        server.stop()


def test_hangup_from_the_engine(switch) -> None:
    def handle(session: OutboundSession) -> None:
        session.myevents()
        session.hangup("USER_BUSY")
        gevent.wait([gevent.spawn(lambda: session.events.get(timeout=10))])

    server = OutboundServer("127.0.0.1", 0, handle)
    server.start()
    try:
        host, port = server.address
        switch.dialplan["12345"] = [("socket", f"{host}:{port} async full")]
        call = switch.place_call(caller_id_number="13800138000", destination_number="12345")
        switch.wait(lambda: call.uuid not in switch.channels, timeout=10)
        assert call.hangup_cause == "USER_BUSY"
    finally:
        server.stop()
