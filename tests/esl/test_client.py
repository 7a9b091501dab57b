"""The supervised link against the FreeSWITCH double: FIFO, bgapi, execute, drops, reconnects, ordering."""

from __future__ import annotations

from typing import Iterator

import gevent
import gevent.socket
import pytest
from gevent.event import Event as Flag
from prometheus_client import REGISTRY

from esl import Backoff, CommandFailed, CommandTimeout, ConnectionLost, SwitchLink, UnsafeValue
from esl.connection import Connection
from esl.errors import AuthFailed
from esl.protocol import Event, packet

FAST_RETRY = Backoff(initial=0.01, maximum=0.05, jitter=0.1)


@pytest.fixture
def link(switch) -> Iterator[SwitchLink]:
    host, port = switch.address
    sl = SwitchLink(host, port, switch.password, events=["CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP",
                    "CHANNEL_HANGUP_COMPLETE", "CHANNEL_PARK", "DTMF"], backoff=FAST_RETRY)
    sl.start()
    sl.wait_connected(5)
    yield sl
    sl.stop()



def test_api_returns_the_body(link: SwitchLink) -> None:
    assert "is ready" in link.api("status")


def test_wrong_password_is_refused(switch) -> None:
    conn = Connection.open(*switch.address, timeout=5, on_event=lambda e: None)
    with pytest.raises(AuthFailed):
        conn.login("not-the-password", timeout=5)
    assert conn.closed.is_set()


def test_refused_newline_leaves_the_fifo_aligned(link: SwitchLink, switch) -> None:
    with pytest.raises(UnsafeValue):
        link.api("status\n\napi system id")
    assert not any("system" in line for _, line in switch.received)
    assert "is ready" in link.api("status")
    with pytest.raises(CommandFailed, match="No such channel"):  # -ERR in the body is a failure, not a result
        link.api("uuid_getvar 00000000-0000-4000-8000-000000000000 x")


def test_an_unacknowledged_execution_keeps_later_replies_in_place(link: SwitchLink, switch) -> None:
    """Its refusal (the channel is gone) is not waited for and is no one else's: the next command gets its own reply."""
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345")
    link.execute("00000000-0000-4000-8000-000000000000", "set", "x=1", acknowledged=False)
    link.execute(call.uuid, "set", "y=1")  # would raise with the gone channel's -ERR if replies had shifted
    with pytest.raises(CommandFailed, match="invalid session id"):
        link.execute("00000000-0000-4000-8000-000000000000", "set", "x=1")
    with pytest.raises(ValueError):
        link.execute(call.uuid, "playback", "silence_stream://10", wait_complete=True, acknowledged=False)


def test_timed_out_command_does_not_shift_later_replies(link: SwitchLink, switch) -> None:
    gate = switch.gate_api("show")
    with pytest.raises(CommandTimeout):
        link.api("show calls", timeout=0.05)
    gate.set()
    assert "is ready" in link.api("status")


def test_drop_fails_waiting_commands_at_once(link: SwitchLink, switch) -> None:
    gate = switch.gate_api("show")
    waiting = gevent.spawn(link.api, "show channels", 3600)
    switch.wait(lambda: any(line == "api show channels" for _, line in switch.received), timeout=5)
    switch.drop_connections()
    waiting.join(timeout=10)
    assert isinstance(waiting.exception, ConnectionLost)
    gate.set()


def test_reconnect_resubscribes(link: SwitchLink, switch, collect) -> None:
    reconnected = Flag()
    link.on_connected(reconnected.set)
    creates = collect(link, "CHANNEL_CREATE")
    switch.drop_connections()
    assert reconnected.wait(10)
    assert link.connections_made == 2
    subscriptions = [line for _, line in switch.received if line.startswith("event json")]
    assert len(subscriptions) == 2 and subscriptions[0] == subscriptions[1]
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345")
    assert creates.get(timeout=5).uuid == call.uuid


def test_slow_api_does_not_delay_events(link: SwitchLink, switch, collect) -> None:
    gate = switch.gate_api("show")
    creates = collect(link, "CHANNEL_CREATE")
    slow = gevent.spawn(link.api, "show calls", 3600)
    switch.wait(lambda: any(line == "api show calls" for _, line in switch.received), timeout=5)
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345")
    assert creates.get(timeout=5).uuid == call.uuid
    assert not slow.ready()
    gate.set()
    assert slow.get(timeout=5) is not None


def test_bgapi_originate_result_is_the_job_body(link: SwitchLink, switch) -> None:
    switch.set_endpoint("user/1001", answer_after=0.0)
    result = link.originate("user/1001", {"origination_caller_id_number": "12345"}).get(timeout=5)
    assert result.startswith("+OK ")
    assert result.split()[1].strip() in switch.channels


def test_failed_originate_reports_the_cause(link: SwitchLink, switch) -> None:
    switch.set_endpoint("user/1002", cause="USER_BUSY")
    assert link.originate("user/1002", {}).get(timeout=5).startswith("-ERR USER_BUSY")


def test_execute_waits_for_its_own_completion(link: SwitchLink, switch, collect) -> None:
    switch.dialplan["12345"] = [("answer", ""), ("park", "")]
    parks = collect(link, "CHANNEL_PARK")
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345")
    assert parks.get(timeout=5).uuid == call.uuid
    done = link.execute(call.uuid, "playback", "ivr/welcome.wav", wait_complete=True, timeout=10)
    assert done is not None and done["Application"] == "playback" and done.uuid == call.uuid


def test_play_and_get_digits_collects_scripted_dtmf(link: SwitchLink, switch, collect) -> None:
    switch.dialplan["12345"] = [("answer", ""), ("park", "")]
    parks = collect(link, "CHANNEL_PARK")
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="2#")
    parks.get(timeout=5)
    done = link.execute(call.uuid, "play_and_get_digits", "1 1 3 5000 # ivr/menu.wav ivr/invalid.wav choice \\d",
                        wait_complete=True, timeout=10)
    assert done is not None and done.get("variable_choice") == "2"


def test_hangup_ends_the_call_with_the_cause(link: SwitchLink, switch, collect) -> None:
    completes = collect(link, "CHANNEL_HANGUP_COMPLETE")
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345")
    link.hangup(call.uuid, "CALL_REJECTED")
    event = completes.get(timeout=5)
    assert event.uuid == call.uuid and event["Hangup-Cause"] == "CALL_REJECTED"


def test_execute_on_a_dead_link_fails_at_once(link: SwitchLink) -> None:
    link.stop()
    with pytest.raises(ConnectionLost):
        link.execute("6f1b2c3d-1111-4222-8333-944455556666", "answer")


def test_one_slow_call_does_not_block_another(link: SwitchLink, switch) -> None:
    release = Flag()
    seen: gevent.queue.Queue = gevent.queue.Queue()
    slow_call = switch.place_call(caller_id_number="13800000001", destination_number="12345")

    def handler(event: Event) -> None:
        if event.uuid == slow_call.uuid:
            release.wait()
        seen.put(event.uuid)

    link.on("CHANNEL_HANGUP", handler)
    slow_call.hangup()
    fast_call = switch.place_call(caller_id_number="13800000002", destination_number="12345")
    fast_call.hangup()
    assert seen.get(timeout=5) == fast_call.uuid
    release.set()
    assert seen.get(timeout=5) == slow_call.uuid


def test_events_of_one_call_stay_in_order(link: SwitchLink, switch) -> None:
    names: gevent.queue.Queue = gevent.queue.Queue()
    link.on("*", lambda e: names.put(e.name) if e.uuid else None)
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345")
    call.hangup()
    got = []
    while "CHANNEL_HANGUP_COMPLETE" not in got:
        got.append(names.get(timeout=5))
    assert got.index("CHANNEL_CREATE") < got.index("CHANNEL_HANGUP") < got.index("CHANNEL_HANGUP_COMPLETE")


def test_plain_hostile_caller_name_forges_no_header(switch) -> None:
    """The issue's case end to end: the double serializes as FreeSWITCH does, our parser reads plain."""
    events: gevent.queue.Queue = gevent.queue.Queue()
    conn = Connection.open(*switch.address, timeout=5, on_event=events.put)
    conn.login(switch.password, timeout=5)
    conn.command(packet("event plain CHANNEL_CREATE"), timeout=5)
    hostile = "%0A%0Aapi system id%0AUnique-ID: 0badc0de-0000-4000-8000-000000000000"
    call = switch.place_call(caller_id_number="13800138000", caller_id_name=hostile, destination_number="12345")
    event = events.get(timeout=5)
    conn.close()
    assert event.uuid == call.uuid
    assert event["Caller-Caller-ID-Name"] == hostile.replace("%0A", "\n")
    assert "api system id" not in event.headers


def test_silent_switch_is_declared_dead_and_relinked() -> None:
    """No HEARTBEAT within heartbeat_timeout: the link is rebuilt even though the socket looks open."""
    from fakeswitch import FakeSwitch

    quiet = FakeSwitch(password="a-strong-password", heartbeat_interval=None)
    quiet.start()
    link = SwitchLink(*quiet.address, "a-strong-password", heartbeat_timeout=0.2, backoff=FAST_RETRY)
    relinked = Flag()
    link.on_connected(lambda: relinked.set() if link.connections_made >= 2 else None)
    link.start()
    try:
        assert relinked.wait(10)
        assert sum(line.startswith("event json") for _, line in quiet.received) >= 2
    finally:
        link.stop()
        quiet.stop()


def test_heartbeats_keep_the_link() -> None:
    from fakeswitch import FakeSwitch

    lively = FakeSwitch(password="a-strong-password", heartbeat_interval=0.02)
    lively.start()
    link = SwitchLink(*lively.address, "a-strong-password", events=["CHANNEL_CREATE"], heartbeat_timeout=1.0)
    beats: gevent.queue.Queue = gevent.queue.Queue()
    link.on("HEARTBEAT", beats.put)
    link.start()
    try:
        for _ in range(5):
            beats.get(timeout=10)
        assert link.connections_made == 1 and link.last_heartbeat > 0
    finally:
        link.stop()
        lively.stop()


def test_backoff_grows_to_its_cap_with_bounded_jitter() -> None:
    backoff = Backoff(initial=0.5, maximum=30.0, jitter=0.2)
    assert [backoff.delay(n, rng=lambda: 0.5) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay(3, rng=lambda: 0.0) == pytest.approx(4 * 0.8)
    assert backoff.delay(3, rng=lambda: 1.0) == pytest.approx(4 * 1.2)


def test_a_connection_closed_by_a_failed_send_is_down_before_the_supervisor_notices(link: SwitchLink,
                                                                                     switch) -> None:
    """``up`` answers for the connections themselves; ``connected`` follows when the supervisor runs."""
    assert link.up
    made = link.connections_made
    link._commands.close(ConnectionLost("send failed: [Errno 104] Connection reset by peer"))
    assert link.connected.is_set() and not link.up  # no yield since: the supervisor has not run
    assert switch.wait(lambda: link.connections_made > made and link.up, timeout=5)  # relinked


def test_a_command_larger_than_the_socket_buffer_arrives_whole_and_in_order() -> None:
    """The first ``send`` takes what the kernel's buffer holds; the rest follows before the next command."""
    ours, theirs = gevent.socket.socketpair()
    conn = Connection(ours, on_event=lambda event: None)
    big = packet("api echo", body=b"x" * (8 << 20))
    expected = len(big) + len(packet("api status"))

    def read_all() -> bytes:
        chunks, size = [], 0
        while size < expected:
            chunk = theirs.recv(1 << 16)
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)

    reader = gevent.spawn(read_all)
    conn.send(big)
    conn.send(packet("api status"))
    assert reader.get(timeout=30) == big + packet("api status")
    conn.close()


def test_events_are_counted_once_per_read_and_replies_are_not() -> None:
    """``hotline_esl_events_total`` counts the events of a read, added once per read, and no reply."""
    ours, theirs = gevent.socket.socketpair()
    seen: list[Event] = []
    conn = Connection(ours, on_event=seen.append, name="counted")
    def counted() -> float:
        return REGISTRY.get_sample_value("hotline_esl_events_total", {"connection": "counted"}) or 0.0

    before = counted()
    reply = conn.send(packet("api status"))
    event = b"Event-Name: HEARTBEAT\n\n"
    frame = b"Content-Type: text/event-plain\nContent-Length: %d\n\n%s" % (len(event), event)
    theirs.sendall(b"Content-Type: api/response\nContent-Length: 3\n\n+OK" + frame * 2)  # one read, all written
    assert reply.get(timeout=5).body == b"+OK"
    assert [event.name for event in seen] == ["HEARTBEAT", "HEARTBEAT"]
    assert counted() - before == 2
    conn.close()
