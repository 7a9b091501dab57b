"""Event header sets taken from the real FreeSWITCH captures, so the double's events have the real shapes.

``captured_events.json`` is generated from ``../shared/fs-captures`` by ``python -m fakeswitch.templates DIR`` and
committed; a test checks it is still what the captures give. It holds, in wire order: the core headers every
event starts with, the channel block channel events carry (from an inbound sofia call), and per event name the
headers specific to it with a captured sample value.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

from esl.protocol import EVENT_TYPES, iter_frames, parse_event

DATA = Path(__file__).with_name("captured_events.json")
CORE_END = "Event-Sequence"
"""The last of the headers FreeSWITCH puts on every event (switch_event_prep_for_delivery)."""

CALLING = ("Event-Calling-File", "Event-Calling-Function", "Event-Calling-Line-Number")

PREFERRED = ("esl_plain_sipp_uac_dtmf_7002", "esl_plain_sipp_uac_auth_9196", "esl_plain_callcenter_queue",
             "esl_plain_originate_sofia_to_sipp_uas", "esl_plain_loopback_9196")
"""Captures in order of preference: inbound sofia calls first, as citizens' calls are."""
OWN_CAPTURES = Path(__file__).parents[1] / "tests" / "captures"
SUPPLEMENTS = ("esl_plain_hold_resume", "esl_plain_three_way")
"""This project's own captures (tests/captures/INDEX.md), for events the shared ones never show (hold, conference)."""


def _is_channel_header(name: str) -> bool:
    return name.startswith(("Channel-", "Caller-", "variable_")) or name in (
        "Unique-ID", "Call-Direction", "Presence-Call-Direction", "Answer-State", "Hangup-Cause")


def extract(captures: Path) -> dict[str, Any]:
    """Build the template document from the capture files."""
    core: list[list[str]] = []
    channel: list[list[str]] = []
    events: dict[str, dict[str, Any]] = {}
    sources = [captures / f"{stem}_rx.txt" for stem in PREFERRED] + [OWN_CAPTURES / f"{s}_rx.txt" for s in SUPPLEMENTS]
    for source in sources:
        stream = source.read_bytes()
        for frame in iter_frames(stream):
            if frame.content_type not in EVENT_TYPES:
                continue
            event = parse_event(frame)
            items = list(event.headers.items())
            split = [name for name, _ in items].index(CORE_END) + 1
            if not core:
                core = [[name, value] for name, value in items[:split]]
            is_channel = event.get("Channel-State") is not None and bool(event.uuid)
            if is_channel and not channel and event.name == "CHANNEL_CREATE":
                channel = [[n, v] for n, v in items[split:] if _is_channel_header(n) and not n.startswith("variable_")]
            if event.name in events and (events[event.name]["channel"] or not is_channel):
                continue  # the first of each, or a channel's (a member's conference::maintenance, not the room's)
            specific = [[n, v] for n, v in items[split:] if not (is_channel and _is_channel_header(n))]
            events[event.name] = {
                "calling": [event.get(h, "") for h in CALLING],
                "channel": is_channel,
                "custom": event.get("Event-Name") == "CUSTOM",
                "headers": specific,
                "body": event.body if event.name != "BACKGROUND_JOB" else "",
            }
    return {"core": core, "channel": channel, "events": dict(sorted(events.items()))}


@cache
def load() -> dict[str, Any]:
    return json.loads(DATA.read_text(encoding="utf-8"))


def render(captures: Path) -> str:
    return json.dumps(extract(captures), ensure_ascii=False, indent=1) + "\n"


if __name__ == "__main__":
    DATA.write_text(render(Path(sys.argv[1])), encoding="utf-8")
    print(f"wrote {DATA}")
