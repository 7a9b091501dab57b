"""The double's wire format is FreeSWITCH's: checked value by value against the real captures."""

from __future__ import annotations

import json
import re
from pathlib import Path

from esl.protocol import EVENT_TYPES, iter_frames, parse_event
from fakeswitch import serialize, templates


def test_committed_templates_are_what_the_captures_give(captures_dir: Path) -> None:
    assert json.loads(templates.render(captures_dir)) == templates.load()


def test_url_encoding_reproduces_every_captured_plain_value(captures_dir: Path) -> None:
    """Decode each real plain value, encode it again the double's way: the bytes must be the switch's."""
    checked = 0
    for path in captures_dir.glob("esl_plain_*_rx.txt"):
        for frame in iter_frames(path.read_bytes()):
            if frame.content_type != "text/event-plain":
                continue
            head = frame.body.split(b"\n\n", 1)[0].decode()
            event = parse_event(frame)
            for line in head.split("\n"):
                name, _, wire = line.partition(": ")
                if name in event.headers and not re.search(r"%(?![0-9A-F]{2})", wire):
                    assert serialize.url_encode(event.headers[name]) == wire, (path.name, name)
                    checked += 1
    assert checked > 10_000


def test_literal_percent_escapes_are_not_double_encoded() -> None:
    assert serialize.url_encode("%0A%0Aapi system id") == "%0A%0Aapi%20system%20id"
    assert serialize.url_encode("%0a") == "%250a"  # FreeSWITCH only recognises upper-case hex
    assert serialize.url_encode("张") == "%E5%BC%A0"


def test_double_events_carry_the_captured_header_names(switch) -> None:
    """A CHANNEL_CREATE from the double has every non-variable header of a real sofia CHANNEL_CREATE, in order."""
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345")
    data = templates.load()
    names = [n for n, _ in data["core"]] + [n for n, _ in data["channel"]]
    block = [n for n, _ in switch._channel_block(call)]
    assert block == [n for n, _ in data["channel"]]
    assert names[0] == "Event-Name" and "Event-Sequence" in names and "Caller-Caller-ID-Number" in block


def test_json_events_match_the_real_json_shape(captures_dir: Path) -> None:
    real = next(parse_event(f) for f in iter_frames((captures_dir / "esl_json_loopback_9196_rx.txt").read_bytes())
                if f.content_type in EVENT_TYPES and parse_event(f).name == "BACKGROUND_JOB")
    ours = json.loads(serialize.as_json([("Event-Name", "BACKGROUND_JOB"), ("Job-UUID", "x")], real.body))
    assert ours["_body"] == real.body and ours["Content-Length"] == str(len(real.body.encode()))
    assert list(ours)[-2:] == ["Content-Length", "_body"]



def test_registrations_have_the_captured_shape(switch, collect) -> None:
    """sofia::register and sofia::unregister from the double carry a real one's headers in its order, and
    ``show registrations as json`` lists what a real one lists (tests/captures/esl_plain_register_unregister_rx.txt:
    baresip registering with FreeSWITCH 1.10.12, then unregistering)."""
    from esl import SwitchLink

    captured = Path(__file__).resolve().parents[1] / "captures" / "esl_plain_register_unregister_rx.txt"
    frames = list(iter_frames(captured.read_bytes()))
    real = {event.name: event for event in (parse_event(f) for f in frames if f.content_type in EVENT_TYPES)}
    real_rows = json.loads(next(f.body for f in frames if f.body.startswith(b'{"row_count":1')))["rows"]
    link = SwitchLink(*switch.address, switch.password, events=["CUSTOM sofia::register sofia::unregister"])
    link.start()
    link.wait_connected(5)
    try:
        queues = {name: collect(link, name) for name in ("sofia::register", "sofia::unregister")}
        switch.register("1001")
        rows = json.loads(link.api("show registrations as json"))["rows"]
        switch.unregister("1001")
        empty = link.api("show registrations as json")
        double = {name: queue.get(timeout=5) for name, queue in queues.items()}
    finally:
        link.stop()
    for name, event in double.items():
        names = list(event.headers)
        real_names = list(real[name].headers)
        specific = names[names.index("Event-Sequence") + 1:]
        assert specific == [h for h in real_names[real_names.index("Event-Sequence") + 1:] if h in specific]
        assert {"from-user", "call-id", "expires"} <= set(specific)
        assert event.get("call-id") == rows[0]["token"] and event.get("from-user") == rows[0]["reg_user"] == "1001"
    assert list(rows[0]) == list(real_rows[0])
    assert json.loads(empty) == {"row_count": 0}


def test_only_awaited_completions_pass_the_links_filters(switch, collect) -> None:
    """Given the link's two filters, a real FreeSWITCH sends CHANNEL_EXECUTE_COMPLETE only for executions named
    ``hotline-awaited`` (tests/captures/esl_plain_filter_awaited_executions_rx.txt: the completions of the dialplan's
    applications and of an unnamed ``set`` are absent, the named ones carry Application-UUID-Name); so does the
    double, and the link still waits for its own executions."""
    from esl import SwitchLink
    from esl.client import AWAITED

    captured = Path(__file__).resolve().parents[1] / "captures" / "esl_plain_filter_awaited_executions_rx.txt"
    frames = iter_frames(captured.read_bytes())
    events = [parse_event(frame) for frame in frames if frame.content_type in EVENT_TYPES]
    completed = [(e.get("Application"), e.get("Application-Data"), e.get("Application-UUID-Name"))
                 for e in events if e.name == "CHANNEL_EXECUTE_COMPLETE"]
    assert completed == [("answer", None, AWAITED), ("set", "capture_named=1", AWAITED)]
    assert ("set", "capture_unnamed=1") in [(e.get("Application"), e.get("Application-Data")) for e in events]

    link = SwitchLink(*switch.address, switch.password, events=["CHANNEL_PARK"])
    link.start()
    link.wait_connected(5)
    try:
        completions = collect(link, "CHANNEL_EXECUTE_COMPLETE")
        call = switch.place_call(caller_id_number="13800138000", destination_number="12345")
        link.execute(call.uuid, "set", "capture_unnamed=1")
        assert link.execute(call.uuid, "answer", wait_complete=True, timeout=5) is not None
        link.execute(call.uuid, "set", "capture_named=1", wait_complete=True, timeout=5)
        seen = [completions.get(timeout=5) for _ in range(2)]
    finally:
        link.stop()
    assert [(e.get("Application"), e.get("Application-Data"), e.get("Application-UUID-Name")) for e in seen] == \
        [("answer", "", AWAITED), ("set", "capture_named=1", AWAITED)]
    assert completions.empty()
