"""The I/O-free ESL core: framing under any fragmentation, hostile values, and the CR/LF refusal."""

from __future__ import annotations

from pathlib import Path

import pytest
import orjson
from hypothesis import given, settings, strategies as st

from esl import protocol
from esl.errors import ProtocolError, UnsafeValue
from esl.protocol import EVENT_TYPES, FrameParser, iter_frames, parse_event

UNSAFE = "\r\n #%&+:;<=>?@[\\]^`{|}\""


def fs_urlencode(value: str) -> str:
    """FreeSWITCH's switch_url_encode with double_encode off: an existing %XX is passed through untouched."""
    out, raw, i = [], value.encode(), 0
    while i < len(raw):
        byte = raw[i]
        passthrough = byte == 0x25 and raw[i + 1 : i + 3].decode("latin-1").upper() in {
            a + b for a in "0123456789ABCDEF" for b in "0123456789ABCDEF"}
        if not passthrough and (byte < 0x20 or byte > 0x7E or chr(byte) in UNSAFE):
            out.append(f"%{byte:02X}")
        else:
            out.append(chr(byte))
        i += 1
    return "".join(out)


def plain_event(headers: list[tuple[str, str]], body: str = "") -> bytes:
    lines = "".join(f"{name}: {fs_urlencode(value)}\n" for name, value in headers)
    if body:
        lines += f"Content-Length: {len(body.encode())}\n\n{body}"
    else:
        lines += "\n"
    payload = lines.encode()
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(payload), payload)


CALL = "6f1b2c3d-1111-4222-8333-944455556666"
OTHER = "0badc0de-0000-4000-8000-000000000000"


@pytest.mark.parametrize("name", [
    "%0A%0Aapi system id",
    f"x%0AUnique-ID%3A {OTHER}",
    f"x%0AUnique-ID: {OTHER}%0A%0Aapi system id",
    "张三%FF%0D%0A",
])
def test_hostile_caller_id_name_arrives_as_text_and_forges_nothing(name: str) -> None:
    wire = plain_event([("Event-Name", "CHANNEL_CREATE"), ("Caller-Caller-ID-Name", name), ("Unique-ID", CALL)])
    [frame] = list(iter_frames(wire))
    event = parse_event(frame)
    assert event.uuid == CALL
    assert set(event.headers) == {"Event-Name", "Caller-Caller-ID-Name", "Unique-ID"}
    assert "\n" in event["Caller-Caller-ID-Name"]
    assert event["Caller-Caller-ID-Name"].startswith(name.split("%")[0])


def test_plain_body_follows_inner_content_length() -> None:
    body = "+OK done\nsecond line\n"
    [frame] = list(iter_frames(plain_event([("Event-Name", "BACKGROUND_JOB"), ("Job-UUID", CALL)], body)))
    event = parse_event(frame)
    assert event.body == body and "Content-Length" not in event


@pytest.mark.parametrize("read", [protocol.parse_json, protocol.Event.json])
def test_json_with_raw_invalid_utf8_is_decoded_not_rejected(read) -> None:
    payload = b'{"Event-Name":"CHANNEL_CREATE","Caller-Caller-ID-Name":"\xff\xfeabc","Unique-ID":"' + CALL.encode() + b'"}'
    event = read(payload)
    assert event.uuid == CALL and event["Caller-Caller-ID-Name"].endswith("abc")


@pytest.mark.parametrize("read", [protocol.parse_json, protocol.Event.json])
def test_json_event_body_comes_from__body(read) -> None:
    event = read(b'{"Event-Name":"BACKGROUND_JOB","Content-Length":"4","_body":"+OK\\n"}')
    assert event.body == "+OK\n" and "_body" not in event


HOSTILE = st.text(st.sampled_from('"\\,:{}[] \n\t\x00\x1fa1-_é张\u2028'), max_size=12) | st.sampled_from([
    f',"Unique-ID":"{OTHER}"', f'\\",\\"Unique-ID\\":\\"{OTHER}', f'{{"Unique-ID":"{OTHER}"}}', '\\', '\\\\"', 'x"Unique-ID'])
PROBES = ["Unique-ID", "Event-Name", "Caller-Caller-ID-Name", "variable_sip_h_X-Evil", 'x"Unique-ID']


@settings(max_examples=300, deadline=None)
@given(values=st.dictionaries(st.sampled_from(PROBES[1:]) | HOSTILE, HOSTILE, max_size=6))
def test_a_json_event_read_on_demand_matches_the_full_parse_and_no_value_forges_a_header(values: dict) -> None:
    """Caller-controlled text in keys and values (quotes, backslashes, a forged ``,"Unique-ID":``) is read back
    exactly, and a header that is not there is not found inside another's value."""
    payload = orjson.dumps({"Event-Name": "CHANNEL_CREATE", **values})
    event = protocol.Event.json(payload)
    whole = protocol.parse_json(payload)
    for name in [*whole.headers, *PROBES]:
        assert event.get(name) == whole.headers.get(name), name
    assert event.uuid == ""
    assert event.headers == whole.headers  # a header looked for and not there is not added as None


@pytest.mark.parametrize("bad", ["status\n", "status\r", "status\0", "originate x\n\napi system id"])
def test_newline_cr_nul_in_a_command_line_is_refused(bad: str) -> None:
    with pytest.raises(UnsafeValue, match="CR, LF or NUL"):
        protocol.api(bad)


def test_newline_in_a_header_value_is_refused() -> None:
    with pytest.raises(UnsafeValue):
        protocol.packet("sendmsg", [("execute-app-name", "playback\ncontent-length: 0")])
    with pytest.raises(UnsafeValue):
        protocol.packet("sendmsg", [("bad name", "x")])


def test_execute_sends_the_argument_as_a_length_delimited_body() -> None:
    arg = "a\nb\n\napi system id"
    data = protocol.execute(CALL, "playback", arg, "e1")
    head, _, body = data.partition(b"\n\n")
    assert body == arg.encode()
    assert f"content-length: {len(arg.encode())}".encode() in head
    assert head.startswith(f"sendmsg {CALL}\n".encode()) and b"event-uuid: e1" in head


def test_subscription_is_explicit_json_never_all() -> None:
    assert protocol.subscribe(["CHANNEL_ANSWER"], ["callcenter::info"]) == b"event json CHANNEL_ANSWER CUSTOM callcenter::info\n\n"
    with pytest.raises(UnsafeValue, match="PRIVATE_COMMAND"):
        protocol.subscribe(["ALL"])


def test_garbage_without_blank_line_is_bounded() -> None:
    parser = FrameParser()
    with pytest.raises(ProtocolError):
        parser.feed(b"X" * (protocol.MAX_HEADER_BLOCK + 10))


def test_bad_content_length_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        FrameParser().feed(b"Content-Length: -5\nContent-Type: api/response\n\n")


def test_truncated_stream_is_reported() -> None:
    with pytest.raises(ProtocolError, match="ends inside a frame"):
        list(iter_frames(b"Content-Length: 10\nContent-Type: api/response\n\n+OK"))


def test_multi_megabyte_body_is_framed_exactly() -> None:
    body = b"x" * (3 << 20)
    stream = b"Content-Type: api/response\nContent-Length: %d\n\n%s" % (len(body), body) + b"Content-Type: auth/request\n\n"
    frames = list(iter_frames(stream, chunk=7919))
    assert [f.content_type for f in frames] == ["api/response", "auth/request"] and frames[0].body == body


@pytest.fixture(scope="module")
def capture_stream(captures_dir: Path) -> bytes:
    return (captures_dir / "esl_plain_callcenter_queue_rx.txt").read_bytes()


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=400_000), max_size=40))
def test_frames_split_at_random_byte_offsets(capture_stream: bytes, cuts: list[int]) -> None:
    whole = list(iter_frames(capture_stream))
    parser, frames, start = FrameParser(), [], 0
    for cut in sorted(c for c in cuts if c < len(capture_stream)) + [len(capture_stream)]:
        frames += parser.feed(capture_stream[start:cut])
        start = cut
    assert frames == whole and parser.buffered == 0


def test_byte_at_a_time_feeding(capture_stream: bytes) -> None:
    head = capture_stream[:20000]
    parser, frames = FrameParser(), []
    for i in range(len(head)):
        frames += parser.feed(head[i : i + 1])
    expected = FrameParser().feed(head)
    assert frames == expected and len(frames) > 5
    assert sum(f.content_type in EVENT_TYPES for f in frames) > 0
