"""Every real FreeSWITCH capture parses frame by frame and event by event with the production parser."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from esl.protocol import EVENT_TYPES, REPLY_TYPES, Event, iter_frames, parse_event, parse_json

# Counts stated in fs-captures/INDEX.md, i.e. what FreeSWITCH was seen to send; read independently of our parser.
DOCUMENTED = {
    "esl_plain_loopback_9196": {"CHANNEL_CREATE": 2, "CHANNEL_ANSWER": 2, "CHANNEL_EXECUTE": 8, "DTMF": 5,
                                "CHANNEL_PARK": 1, "CHANNEL_HANGUP": 2, "CHANNEL_HANGUP_COMPLETE": 2,
                                "CHANNEL_DESTROY": 2, "BACKGROUND_JOB": 1, "API": 7},
    "esl_json_loopback_9196": {"CHANNEL_CREATE": 2, "CHANNEL_ANSWER": 2, "DTMF": 5, "CHANNEL_PARK": 1,
                               "CHANNEL_HANGUP": 2, "CHANNEL_HANGUP_COMPLETE": 2, "CHANNEL_DESTROY": 2,
                               "BACKGROUND_JOB": 1, "API": 7},
    "esl_plain_sipp_uac_auth_9196": {"CHANNEL_EXECUTE": 10, "DTMF": 0},
    "esl_plain_sipp_uac_dtmf_7002": {"DTMF": 4, "PLAYBACK_START": 2, "PLAYBACK_STOP": 2},
    "esl_plain_originate_sofia_to_sipp_uas": {"DTMF": 5, "BACKGROUND_JOB": 1, "CHANNEL_OUTGOING": 1},
    "esl_plain_callcenter_queue": {"callcenter::info": 14, "DTMF": 8},
}


def captures(captures_dir: Path) -> list[Path]:
    return sorted(captures_dir.glob("*_rx.txt"))


@pytest.fixture(params=sorted(DOCUMENTED))
def capture(request: pytest.FixtureRequest, captures_dir: Path) -> tuple[str, bytes]:
    path = captures_dir / f"{request.param}_rx.txt"
    return request.param, path.read_bytes()


def test_every_capture_is_covered(captures_dir: Path) -> None:
    assert {p.name.removesuffix("_rx.txt") for p in captures(captures_dir)} == set(DOCUMENTED)


def test_capture_frames_and_events(capture: tuple[str, bytes]) -> None:
    name, stream = capture
    frames = list(iter_frames(stream, chunk=4096))
    assert frames[0].content_type == "auth/request"
    assert frames[-1].content_type == "text/disconnect-notice"
    # Independent count: every outer header block names its Content-Type (bodies never contain that line).
    outer_types = Counter(t.decode() for t in re.findall(rb"Content-Type: ((?:text/event|command|api|auth|text/disconnect)[\w/-]*)\n", stream))
    assert Counter(f.content_type for f in frames) == outer_types
    events = [parse_event(f) for f in frames if f.content_type in EVENT_TYPES]
    counts = Counter(e.name for e in events)
    for event_name, expected in DOCUMENTED[name].items():
        assert counts[event_name] == expected, event_name
    assert all(e.get("Event-Name") and e.get("Core-UUID") for e in events)
    assert all(f.content_type in REPLY_TYPES | EVENT_TYPES | {"auth/request", "text/disconnect-notice"} for f in frames)


def test_background_job_output_is_the_event_body(captures_dir: Path) -> None:
    for fmt in ("plain", "json"):
        stream = (captures_dir / f"esl_{fmt}_loopback_9196_rx.txt").read_bytes()
        jobs = [parse_event(f) for f in iter_frames(stream) if f.content_type in EVENT_TYPES]
        job = next(e for e in jobs if e.name == "BACKGROUND_JOB")
        assert job["Job-Command"] == "originate"
        assert job.body.startswith("+OK ") and job.body.strip().endswith(job.body.split()[1])
        assert "{origination_uuid=" in job["Job-Command-Arg"]


def test_plain_and_json_agree_on_the_same_flow(captures_dir: Path) -> None:
    """The two loopback captures ran the same flow: decoded plain values look exactly like json values."""
    def a_leg_create(fmt: str) -> dict[str, str]:
        stream = (captures_dir / f"esl_{fmt}_loopback_9196_rx.txt").read_bytes()
        events = (parse_event(f) for f in iter_frames(stream) if f.content_type in EVENT_TYPES)
        return next(e for e in events if e.name == "CHANNEL_CREATE" and e["Channel-Name"] == "loopback/9196-a").headers

    plain, as_json = a_leg_create("plain"), a_leg_create("json")
    assert plain.keys() == as_json.keys()
    assert plain["Event-Date-Local"].count(":") == 2 == as_json["Event-Date-Local"].count(":")
    assert plain["FreeSWITCH-IPv6"] == as_json["FreeSWITCH-IPv6"] == "::1"


def test_dtmf_sources_in_captures(captures_dir: Path) -> None:
    stream = (captures_dir / "esl_plain_sipp_uac_dtmf_7002_rx.txt").read_bytes()
    dtmf = [parse_event(f) for f in iter_frames(stream) if f.content_type in EVENT_TYPES]
    digits = [(e["DTMF-Digit"], e["DTMF-Source"]) for e in dtmf if e.name == "DTMF"]
    assert digits == [("1", "RTP"), ("2", "RTP"), ("3", "RTP"), ("4", "RTP")]


def test_custom_events_are_named_by_subclass(captures_dir: Path) -> None:
    stream = (captures_dir / "esl_plain_callcenter_queue_rx.txt").read_bytes()
    events = [parse_event(f) for f in iter_frames(stream) if f.content_type in EVENT_TYPES]
    actions = [e["CC-Action"] for e in events if e.name == "callcenter::info"]
    assert actions[0] == "agent-add" and "agent-offering" in actions and "bridge-agent-start" in actions
    assert "member-queue-end" in actions


def test_a_json_event_read_on_demand_gives_what_the_full_parse_gives(captures_dir: Path) -> None:
    """Every header of every real json event, looked up in the raw text, equals the value ``orjson`` reads; the
    body too; a header the event lacks is None."""
    stream = (captures_dir / "esl_json_loopback_9196_rx.txt").read_bytes()
    frames = [frame for frame in iter_frames(stream) if frame.content_type == "text/event-json"]
    assert len(frames) >= 20
    for frame in frames:
        whole, lazy = parse_json(frame.body), Event.json(frame.body)
        for name, value in whole.headers.items():
            assert lazy.get(name) == value, name
        assert lazy.body == whole.body
        assert lazy.get("No-Such-Header") is None and "No-Such-Header" not in lazy
        assert lazy.headers == whole.headers  # and the whole mapping on demand
