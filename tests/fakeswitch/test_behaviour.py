"""The double behaves as mod_event_socket does (esl-protocol.md §9), seen from a raw socket or our client."""

from __future__ import annotations

import gevent
import pytest
from gevent import socket
from gevent.queue import Queue

from esl.connection import Connection
from esl.errors import ConnectionLost
from esl.protocol import Event, FrameParser, packet
from fakeswitch import FakeSwitch


class Raw:
    """A bare socket to the double, reading frames with the production framer."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=5)
        self.parser = FrameParser()
        self.frames: list = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def frame(self):
        while not self.frames:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError
            self.frames += self.parser.feed(data)
        return self.frames.pop(0)

    def closed(self) -> bool:
        try:
            while True:
                self.frame()
        except EOFError:
            return True


def connect(switch: FakeSwitch, events: str = "", sink: Queue | None = None) -> Connection:
    conn = Connection.open(*switch.address, timeout=5, on_event=(sink or Queue()).put)
    conn.login(switch.password, timeout=5)
    if events:
        conn.command(packet(f"event {events}"), timeout=5)
    return conn


def test_greeting_and_pre_auth_commands(switch: FakeSwitch) -> None:
    raw = Raw(switch.address)
    assert raw.frame().content_type == "auth/request"
    raw.send(b"api status\n\n")
    assert raw.frame().reply_text == "-ERR command not found"
    raw.send(b"exit\n\n")
    assert raw.frame().reply_text == "+OK bye"
    assert raw.closed()


def test_wrong_password_gets_a_notice_then_close(switch: FakeSwitch) -> None:
    raw = Raw(switch.address)
    raw.frame()
    raw.send(b"auth wrong\n\n")
    assert raw.frame().reply_text == "-ERR invalid"
    assert raw.frame().content_type == "text/disconnect-notice"
    assert raw.closed()


def test_crlf_packets_and_leading_newlines_are_accepted(switch: FakeSwitch) -> None:
    raw = Raw(switch.address)
    raw.frame()
    raw.send(f"\r\n\nauth {switch.password}\r\n\r\n".encode())
    assert raw.frame().reply_text == "+OK accepted"


def test_oversized_content_length_drops_the_connection(switch: FakeSwitch) -> None:
    raw = Raw(switch.address)
    raw.frame()
    raw.send(f"auth {switch.password}\n\n".encode())
    raw.frame()
    raw.send(b"sendmsg\ncontent-length: 99999999\n\n")
    assert raw.closed()


def test_replies_stay_in_order_across_types(switch: FakeSwitch) -> None:
    raw = Raw(switch.address)
    raw.frame()
    raw.send(f"auth {switch.password}\n\napi status\n\nevent json HEARTBEAT\n\napi uuid_exists nope\n\n".encode())
    types = [raw.frame().content_type for _ in range(4)]
    assert types == ["command/reply", "api/response", "command/reply", "api/response"]


def test_bgapi_result_is_the_background_job_body(switch: FakeSwitch) -> None:
    events: Queue = Queue()
    conn = connect(switch, "plain BACKGROUND_JOB", events)
    reply = conn.request(packet("bgapi status", [("Job-UUID", "a1b2")]), timeout=5)
    assert reply.reply_text == "+OK Job-UUID: a1b2" and reply.headers["Job-UUID"] == "a1b2"
    job: Event = events.get(timeout=5)
    assert job["Job-UUID"] == "a1b2" and job["Job-Command"] == "status" and "is ready" in job.body


def test_filters_drop_events_lacking_the_filtered_header(switch: FakeSwitch) -> None:
    events: Queue = Queue()
    conn = connect(switch, "json CHANNEL_CREATE BACKGROUND_JOB", events)
    conn.command(packet("filter Caller-Caller-ID-Number 13800000001"), timeout=5)
    conn.request(packet("bgapi status"), timeout=5)
    switch.place_call(caller_id_number="13800000002", destination_number="12345")
    wanted = switch.place_call(caller_id_number="13800000001", destination_number="12345")
    assert events.get(timeout=5).uuid == wanted.uuid
    conn.command(packet("filter delete Caller-Caller-ID-Number"), timeout=5)
    other = switch.place_call(caller_id_number="13800000003", destination_number="12345")
    assert events.get(timeout=5).uuid == other.uuid
    assert events.empty()


def test_negated_and_regex_filters(switch: FakeSwitch) -> None:
    events: Queue = Queue()
    conn = connect(switch, "json CHANNEL_CREATE", events)
    conn.command(packet("filter Caller-Caller-ID-Number /^138/"), timeout=5)
    conn.command(packet("filter Caller-Destination-Number -110"), timeout=5)
    switch.place_call(caller_id_number="13800000001", destination_number="110")
    switch.place_call(caller_id_number="15900000001", destination_number="12345")
    good = switch.place_call(caller_id_number="13800000002", destination_number="12345")
    assert events.get(timeout=5).uuid == good.uuid


def test_sendmsg_execute_reports_application_uuid_and_response(switch: FakeSwitch) -> None:
    events: Queue = Queue()
    conn = connect(switch, "json CHANNEL_PARK CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE", events)
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345")
    while events.get(timeout=5).name != "CHANNEL_PARK":
        pass
    conn.command(packet(f"sendmsg {call.uuid}", [("call-command", "execute"), ("execute-app-name", "playback"),
                                                  ("event-uuid", "e-42"), ("content-type", "text/plain")], b"a.wav"), 5)
    start, done = events.get(timeout=5), events.get(timeout=5)
    assert (start.name, start["Application-UUID"], start["Application-Data"]) == ("CHANNEL_EXECUTE", "e-42", "a.wav")
    assert (done.name, done["Application-UUID"], done["Application-Response"]) == ("CHANNEL_EXECUTE_COMPLETE", "e-42", "FILE PLAYED")


def test_sendmsg_to_an_unknown_call_is_refused(switch: FakeSwitch) -> None:
    conn = connect(switch)
    assert conn.request(packet("sendmsg 0badc0de-0000-4000-8000-000000000000", [("call-command", "hangup")]), 5).reply_text.startswith("-ERR invalid session id")


def test_hangup_sequence(switch: FakeSwitch) -> None:
    events: Queue = Queue()
    connect(switch, "json CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY", events)
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345")
    call.hangup("NORMAL_CLEARING")
    got = [events.get(timeout=5) for _ in range(3)]
    assert [e.name for e in got] == ["CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"]
    assert all(e["Hangup-Cause"] == "NORMAL_CLEARING" and e["Answer-State"] == "hangup" for e in got)
    assert call.uuid not in switch.channels


def test_bridge_to_an_answering_agent_and_to_a_busy_one(switch: FakeSwitch) -> None:
    events: Queue = Queue()
    conn = connect(switch, "json CHANNEL_PARK CHANNEL_BRIDGE CHANNEL_EXECUTE_COMPLETE", events)
    switch.set_endpoint("user/1001", answer_after=0.0)
    switch.set_endpoint("user/1002", cause="USER_BUSY")
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345")
    assert events.get(timeout=5).name == "CHANNEL_PARK"

    def execute(arg: str) -> None:
        conn.command(packet(f"sendmsg {call.uuid}", [("call-command", "execute"), ("execute-app-name", "bridge"),
                                                      ("execute-app-arg", arg)]), 5)

    execute("user/1002")
    busy = events.get(timeout=5)
    assert busy.name == "CHANNEL_EXECUTE_COMPLETE" and busy["variable_originate_disposition"] == "USER_BUSY"
    execute("user/1001")
    bridged = events.get(timeout=5)
    assert bridged.name == "CHANNEL_BRIDGE" and bridged["Other-Leg-Unique-ID"] in switch.channels


def test_myevents_connection_closes_when_the_call_ends(switch: FakeSwitch) -> None:
    events: Queue = Queue()
    conn = connect(switch, sink=events)
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345")
    conn.command(packet(f"myevents {call.uuid} json"), timeout=5)
    call.hangup()
    assert conn.closed.wait(5)
    assert conn.disconnect_notice is not None


def test_slow_reader_is_killed_after_500_lost_events() -> None:
    sw = FakeSwitch(password="a-strong-password", event_queue_limit=5, heartbeat_interval=None)
    sw.start()
    try:
        raw = Raw(sw.address)
        raw.frame()
        raw.send(b"auth a-strong-password\n\nevent plain HEARTBEAT\n\n")
        raw.frame(), raw.frame()
        body = [("Up-Time", "x" * 60_000)]
        for _ in range(100_000):
            if not sw.listeners:
                break
            sw.fire("HEARTBEAT", None, body)
            gevent.sleep(0)
        assert not sw.listeners
    finally:
        sw.stop()


def test_multi_megabyte_values_round_trip(switch: FakeSwitch) -> None:
    conn = connect(switch)
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345")
    big = "x" * (3 << 20)
    call.variables["big"] = big
    assert conn.request(packet(f"api uuid_getvar {call.uuid} big"), timeout=10).body.decode() == big


def test_abrupt_drop_gives_no_notice(switch: FakeSwitch) -> None:
    conn = connect(switch)
    switch.drop_connections()
    assert conn.closed.wait(5)
    assert conn.disconnect_notice is None and isinstance(conn.close_reason, ConnectionLost)
    with pytest.raises(ConnectionLost):
        conn.request(packet("api status"), timeout=1)
