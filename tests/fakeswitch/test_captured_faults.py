"""The double against the fault captures of a real FreeSWITCH 1.10.12 (tests/captures, INDEX.md there).

The client's own packets of each capture are replayed on the double over a real ESL connection, with what the
outside world did in the capture (sipp's calls coming in, a person hanging up) done to the double at the same
point. Each reply must be the captured one, and the order of events must hold on both with the same predicate.
"""

from __future__ import annotations

import json
import re
import uuid as uuidlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from gevent import socket

from esl.connection import Connection
from esl.errors import ConnectionLost
from esl.protocol import EVENT_TYPES, REPLY_TYPES, Event, Frame, iter_frames, packet, parse_event
from fakeswitch import FakeSwitch
from fakeswitch.packets import Packet, PacketReader

CAPTURES = Path(__file__).resolve().parents[1] / "captures"
DIALPLAN = CAPTURES / "capture_dialplan.xml"
AGENT = "sofia/external/agent@127.0.0.1:5090"
"""The agent's phone the captures originated to (sipp's UAS)."""
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SYNC = frozenset({"CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_ANSWER", "CHANNEL_PARK", "CHANNEL_UNPARK",
                  "PLAYBACK_START", "PLAYBACK_STOP", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP",
                  "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY", "BACKGROUND_JOB"})
"""Events both switches fire: the double must have fired as many as the real one had before the next packet goes."""
ENGINE_DUMP_KEYS = ("Unique-ID", "Call-Direction", "Caller-Destination-Number", "Channel-Call-State",
                    "Caller-Channel-Created-Time", "Caller-Caller-ID-Number", "variable_current_application",
                    "variable_bridge_to", "variable_last_bridge_to", "variable_hotline_agent", "variable_hotline_call",
                    "variable_hotline_queue", "variable_hotline_entered")
"""What the engine reads from ``uuid_dump <uuid> json`` (calls.facts.Channel.from_dump and its callers)."""
SAME_DUMP_VALUES = ("Unique-ID", "Call-Direction", "Caller-Destination-Number", "Channel-Call-State",
                    "variable_current_application", "variable_bridge_to", "variable_last_bridge_to",
                    "variable_hotline_agent", "variable_hotline_call", "variable_hotline_queue",
                    "variable_hotline_entered")
ROW_VALUES_NOT_COMPARED = ("uuid", "created", "created_epoch", "name")
"""Row values that differ between any two calls (the uuid is compared mapped; sipp's port is in the name)."""


# --- the captures ------------------------------------------------------------------------------------------

def received(capture: str) -> list[Frame]:
    return list(iter_frames((CAPTURES / f"{capture}_rx.txt").read_bytes()))


class _Bytes:
    """What PacketReader reads from: the bytes a capture's client sent, then EOF."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def recv(self, size: int) -> bytes:
        data, self._data = self._data, b""
        return data


def sent(capture: str) -> list[Packet]:
    """The client's packets, parsed as the switch parses them."""
    reader, packets = PacketReader(_Bytes((CAPTURES / f"{capture}_tx.txt").read_bytes())), []
    try:
        while True:
            packets.append(reader.read())
    except EOFError:
        return packets


def events_of(frames: list[Frame]) -> list[Event]:
    return [parse_event(f) for f in frames if f.content_type in EVENT_TYPES]


def disposition(events: list[Event], uuid: str) -> str:
    return next((e["variable_sip_hangup_disposition"] for e in events
                 if e.name == "CHANNEL_HANGUP_COMPLETE" and e.uuid == uuid), "")


def skeleton(body: bytes) -> bytes:
    """A ``show channels as json`` body with every value emptied: its form, keys and their order, row count."""
    return re.sub(rb'":"(?:[^"\\]|\\.)*"', b'":""', body)


# --- the replay ----------------------------------------------------------------------------------------------

@dataclass
class Exchange:
    """One packet the capture's client sent, the real switch's reply and the double's."""

    packet: Packet
    real: Frame
    ours: Frame
    real_events: list[Event]
    """The real switch's events up to the real reply (what it knew when it answered)."""

    @property
    def command(self) -> str:
        return self.packet.command


@dataclass
class Replay:
    """A capture replayed on the double; ``to_ours`` maps the capture's UUIDs to the double's."""

    capture: str
    real_events: list[Event]
    ours_events: list[Event]
    to_ours: dict[str, str]
    exchanges: list[Exchange] = field(default_factory=list)
    real_notice: Frame | None = None
    ours_notice: Frame | None = None

    def back(self, text: str) -> str:
        """The double's UUIDs in ``text`` put back to the capture's."""
        to_real = {ours: real for real, ours in self.to_ours.items()}
        return UUID.sub(lambda m: to_real.get(m[0], m[0]), text)

    def replies(self, command: str) -> Iterator[Exchange]:
        return (x for x in self.exchanges if x.command.startswith(command))

    def uuid(self, direction: str) -> str:
        """The capture's first channel of that direction."""
        return next(e.uuid for e in self.real_events if e.name == "CHANNEL_CREATE" and e["Call-Direction"] == direction)


def _counts(events: list[Event], mapping: dict[str, str]) -> Counter[tuple[str, str]]:
    return Counter((e.name, mapping.get(e.uuid, e.uuid)) for e in events if e.name in SYNC)


def replay(switch: FakeSwitch, capture: str, skip: tuple[int, ...] = (),
           before: dict[int, Callable[[FakeSwitch], None]] | None = None) -> Replay:
    """Replay a capture's packets after ``auth`` on the double; ``skip`` leaves packets out (by index in the
    _tx file), ``before`` acts on the double before a packet (the world doing what no packet did).

    sipp's calls are placed when the capture's CHANNEL_CREATE comes, a party hangs up when the capture's
    CHANNEL_HANGUP of a leg that received the BYE or CANCEL comes; before each of these and each packet, the
    double must have fired at least the SYNC events the real switch had fired by then."""
    frames, packets = received(capture), sent(capture)
    parsed = [parse_event(f) if f.content_type in EVENT_TYPES else None for f in frames]
    real_events = [e for e in parsed if e is not None]
    inbound = {e.uuid for e in real_events if e.name == "CHANNEL_CREATE" and e["Call-Direction"] == "inbound"}
    to_ours = {u: str(uuidlib.uuid4()) for p in packets
               for u in UUID.findall(p.command + "".join(p.headers.values())) if u not in inbound}
    ours_events: list[Event] = []
    run = Replay(capture, real_events, ours_events, to_ours)
    conn = Connection.open(*switch.address, timeout=5, on_event=ours_events.append, name="replay")
    conn.login(switch.password, timeout=5)

    def before_frame(index: int) -> list[Event]:
        return [e for e in parsed[:index] if e is not None]

    def caught_up(upto: int) -> None:
        wanted = _counts(before_frame(upto), to_ours)
        assert switch.wait(lambda: not wanted - _counts(ours_events, {}), timeout=10), \
            (capture, "the double never fired", wanted - _counts(ours_events, {}))

    replies = [i for i, f in enumerate(frames) if f.content_type in REPLY_TYPES]
    answered = dict(zip(replies, range(len(packets))))  # frame index of a reply -> index of its packet
    for index, (frame, event) in enumerate(zip(frames, parsed)):
        if event is not None:
            if event.name == "CHANNEL_CREATE" and event.uuid in inbound:
                caught_up(index)
                call = switch.place_call(caller_id_number=event["Caller-Caller-ID-Number"],
                                         caller_id_name=event["Caller-Caller-ID-Name"],
                                         destination_number=event["Caller-Destination-Number"])
                to_ours[event.uuid] = call.uuid
            elif event.name == "CHANNEL_HANGUP" and disposition(real_events, event.uuid).startswith("recv_"):
                caught_up(index)
                switch.channels[to_ours[event.uuid]].hangup(event["Hangup-Cause"])
        elif frame.content_type == "text/disconnect-notice":
            run.real_notice = frame
        number = answered.get(index, 0)
        if number == 0 or number in skip:
            continue
        if before and number in before:
            before[number](switch)
        caught_up(index)
        given = packets[number]
        mapped = lambda text: UUID.sub(lambda m: to_ours.get(m[0], m[0]), text)  # noqa: E731
        headers = [(name, mapped(value)) for name, value in given.headers.items() if name != "content-length"]
        body = given.body if "content-length" in given.headers else None
        ours = conn.request(packet(mapped(given.command), headers, body), timeout=10)
        run.exchanges.append(Exchange(given, frame, ours, before_frame(index)))
    assert conn.closed.wait(5)
    run.ours_notice = conn.disconnect_notice
    return run


LAB_PHONES = tuple(f"sofia/external/{who}@127.0.0.1:{port}" for who, port in (("citizen", 5091), ("agent", 5092),
                                                                               ("dept", 5093)))
"""The sipp UASes this project's own captures originated to (tests/captures/INDEX.md)."""


def _loaded(switch: FakeSwitch, agent_answers: bool = True, time_scale: float = 1.0,
            phones: tuple[str, ...] = (AGENT,)) -> FakeSwitch:
    """The double running the captures' dialplan, its moh endless (until something stops it, as local_stream);
    ``phones``: the sipp UASes the capture originated to."""
    switch.load_dialplan(str(DIALPLAN))
    for phone in phones:
        switch.set_endpoint(phone, answer_after=0.0 if agent_answers else None)
    switch.time_scale, switch.playback_seconds = time_scale, 3600.0
    return switch


def _tone_ends(switch: FakeSwitch) -> None:
    """The safety net's 30 s tone runs out (its playback ends as a uuid_break would end it)."""
    for channel in switch.channels.values():
        channel.interrupted.set()


SCENARIOS: dict[str, dict[str, object]] = {
    "esl_plain_commands_on_gone_channels": {},
    "esl_plain_sched_del_and_take_7771": {},
    "esl_plain_safety_net_7771": {"time_scale": 0.001, "skip": (2, 3, 4), "before": {7: _tone_ends}},
    "esl_plain_bridge_caller_hangs_up_first": {},
    "esl_plain_bridge_agent_hangs_up_first": {},
    "esl_plain_cancel_ringing_agent": {"agent_answers": False},
    "esl_plain_three_way": {"skip": (10, 12), "phones": LAB_PHONES},
    "esl_plain_conference_park": {"phones": LAB_PHONES},
    "esl_plain_consult_complete": {"phones": LAB_PHONES},
    "esl_plain_supervise": {"phones": (*LAB_PHONES, "sofia/external/sup@127.0.0.1:5093")},
}
"""Each capture the double can replay: its switch settings, the packets it leaves out (the safety net's first
``show channels`` and ``uuid_dump`` came before the net fired, which the double does in 5 ms here)."""


def _replayed(switch: FakeSwitch, capture: str) -> Replay:
    settings = dict(SCENARIOS[capture])
    skip, before = settings.pop("skip", ()), settings.pop("before", None)
    return replay(_loaded(switch, **settings), capture, skip=skip, before=before)  # type: ignore[arg-type]


@pytest.fixture(params=list(SCENARIOS))
def replayed(request: pytest.FixtureRequest, switch: FakeSwitch) -> Replay:
    """Each capture the double can replay, replayed on a fresh double."""
    return _replayed(switch, request.param)


# --- 1, 2: replies ---------------------------------------------------------------------------------------

def test_every_reply_is_the_captured_one(replayed: Replay) -> None:
    """Content type, Reply-Text (and Job-UUID) or body of each reply, UUIDs mapped back; ``show channels`` and
    ``uuid_dump`` bodies are checked for form by the tests below, the notice closing ``exit`` byte for byte."""
    for x in replayed.exchanges:
        where = (replayed.capture, x.command)
        assert x.ours.content_type == x.real.content_type, where
        if x.real.content_type == "command/reply":
            assert replayed.back(x.ours.reply_text) == x.real.reply_text, where
            assert replayed.back(x.ours.headers.get("Job-UUID", "")) == x.real.headers.get("Job-UUID", ""), where
        elif not x.real.body.startswith(b"{"):
            assert replayed.back(x.ours.body.decode()) == x.real.body.decode(), where
    assert replayed.ours_notice is not None and replayed.real_notice is not None
    assert (replayed.ours_notice.headers, replayed.ours_notice.body) == \
        (replayed.real_notice.headers, replayed.real_notice.body)


def test_gone_and_never_existing_channels_get_the_captured_errors(switch: FakeSwitch) -> None:
    """The replay sent every command of the capture's table to G (hung up a second before) and N (never
    existed); a live parked caller L survives a uuid_bridge to G untouched: no event for it until it is killed."""
    run = _replayed(switch, "esl_plain_commands_on_gone_channels")
    errors = Counter(run.back((x.ours.body or x.ours.reply_text.encode()).decode()) for x in run.exchanges)
    gone, never = next(run.replies("api uuid_bridge")).command.split()[2:4]  # the capture's "uuid_bridge G N"
    assert (errors["-ERR No such channel!\n"], errors["-ERR Invalid uuid\n"], errors["false"]) == (8, 2, 2)
    assert errors[f"-ERR invalid session id [{gone}]"] == 2 and errors[f"-ERR invalid session id [{never}]"] == 1
    live = next(e.uuid for e in reversed(run.real_events) if e.name == "CHANNEL_CREATE")
    for events, g, l in ((run.real_events, gone, live), (run.ours_events, run.to_ours[gone], run.to_ours[live])):
        names = [e.name for e in events if e.uuid == l]
        assert names[names.index("CHANNEL_PARK") + 1] == "CHANNEL_HANGUP", names  # nothing happened to L between
        assert disposition(events, g) == "send_refuse"  # killed unanswered: SIP 480


def test_sched_del_before_the_net_fires_keeps_the_caller(switch: FakeSwitch) -> None:
    """``sched_del`` deletes the one task (``+OK Deleted: 1``): the call is never transferred; ``uuid_break all``
    ends the moh with FILE PLAYED and the call stays parked (no second CHANNEL_PARK) until killed."""
    run = _replayed(switch, "esl_plain_sched_del_and_take_7771")
    assert next(run.replies("api sched_del")).ours.body == b"+OK Deleted: 1\n"
    assert not switch.scheduled.get(run.to_ours[run.uuid("inbound")])
    for events in (run.real_events, run.ours_events):
        names = [e.name for e in events if e.name.startswith(("CHANNEL_", "PLAYBACK_"))]
        assert names.count("CHANNEL_PARK") == 1 and names.index("CHANNEL_UNPARK") > names.index("CHANNEL_HANGUP")
        assert {e.get("Caller-Destination-Number") for e in events if "Caller-Destination-Number" in e} == {"7771"}
        stopped = next(e for e in events if e.name == "CHANNEL_EXECUTE_COMPLETE" and e["Application"] == "playback")
        assert stopped["Application-Response"] == "FILE PLAYED"


def test_the_net_fires_transfers_the_same_call_and_can_no_longer_be_deleted(switch: FakeSwitch) -> None:
    """At +5 s the scheduled transfer runs capture_safety_net on the same uuid: CHANNEL_UNPARK already with the
    new destination, then set/answer/playback; after it ``sched_del`` finds nothing (``+OK Deleted: 0``) and
    ``hotline_net`` reads ``fired``; the switch ends the call (send_bye)."""
    run = _replayed(switch, "esl_plain_safety_net_7771")
    assert [x.ours.body for x in run.exchanges[1:3]] == [b"+OK Deleted: 0\n", b"fired"]
    for events, caller in ((run.real_events, run.uuid("inbound")), (run.ours_events, run.to_ours[run.uuid("inbound")])):
        mine = [e for e in events if e.uuid == caller]
        names = [e.name for e in mine]
        assert names.count("CHANNEL_CREATE") == 1
        unpark = names.index("CHANNEL_UNPARK")
        assert names.index("CHANNEL_PARK") < unpark < names.index("CHANNEL_ANSWER") < names.index("PLAYBACK_START")
        assert {e["Caller-Destination-Number"] for e in mine[unpark:]} == {"capture_safety_net"}
        assert [e["Application"] for e in mine[unpark:] if e.name == "CHANNEL_EXECUTE"][-4:] == \
            ["set", "answer", "playback", "hangup"]
        assert disposition(events, caller) == "send_bye"


# --- 3: show channels as json -------------------------------------------------------------------------------

def _fresh(x: Exchange, body: dict[str, Any]) -> bool:
    """Whether the real rows were what the events before them said (the core database trails the events by
    about a second): the channels alive and each in its last Channel-State."""
    alive: dict[str, str] = {}
    destroyed: set[str] = set()
    for e in x.real_events:
        if e.name == "CHANNEL_DESTROY":
            destroyed.add(e.uuid)
        if e.uuid and "Channel-State" in e and e.uuid not in destroyed:
            alive[e.uuid] = e["Channel-State"]
    alive = {uuid: state for uuid, state in alive.items() if uuid not in destroyed}
    return {row["uuid"]: row["state"] for row in body.get("rows", [])} == alive


FRESH_LISTINGS = {"esl_plain_commands_on_gone_channels": 1, "esl_plain_sched_del_and_take_7771": 1,
                  "esl_plain_safety_net_7771": 0, "esl_plain_bridge_caller_hangs_up_first": 4,
                  "esl_plain_bridge_agent_hangs_up_first": 2, "esl_plain_cancel_ringing_agent": 1, "esl_plain_three_way": 0,
                  "esl_plain_conference_park": 0, "esl_plain_consult_complete": 0, "esl_plain_supervise": 0}
"""How many of each replay's ``show channels`` were current on the real switch (INDEX.md: the rows trail the
events; the two right after uuid_bridge and the one right after both legs were destroyed were not)."""


def test_show_channels_has_the_captured_form_keys_and_values(replayed: Replay) -> None:
    """Form (compact with rows, ``{"row_count": 0}\\n`` when empty), the 38 field names in order, and, where the
    real rows were current, every value but the ones that differ between any two calls."""
    columns = list(json.loads(_any_rows())["rows"][0])
    checked = 0
    for x in replayed.replies("api show channels as json"):
        real, ours = json.loads(x.real.body), json.loads(x.ours.body)
        assert all(list(row) == columns for row in ours.get("rows", []))
        if not _fresh(x, real):  # the real rows were stale: only the double's form is checked
            continue
        assert skeleton(x.ours.body) == skeleton(x.real.body), (replayed.capture, x.ours.body)
        theirs = {r["uuid"]: r for r in real.get("rows", [])}
        for row in ours.get("rows", []):
            row = {k: replayed.back(v) for k, v in row.items()}
            expected = theirs[row["uuid"]]
            assert {k: v for k, v in row.items() if k not in ROW_VALUES_NOT_COMPARED} == \
                {k: v for k, v in expected.items() if k not in ROW_VALUES_NOT_COMPARED}, (replayed.capture, row["uuid"])
        checked += 1
    assert checked == FRESH_LISTINGS[replayed.capture]


def _any_rows() -> bytes:
    """A real ``show channels as json`` with two rows."""
    frames = received("esl_plain_bridge_caller_hangs_up_first")
    return next(f.body for f in frames if f.body.startswith(b'{"row_count":2'))


def test_show_channels_empty_and_full_forms_are_byte_for_byte_the_real_ones(switch: FakeSwitch) -> None:
    """An empty table is ``{"row_count": 0}\\n`` exactly; a full one ``{"row_count":N,"rows":[…]}`` with no
    space and no newline, every value a string, the real columns in the real order."""
    empty = next(f.body for f in received("esl_plain_safety_net_7771") if f.body.startswith(b'{"row_count"'))
    assert switch.api("show channels as json").encode() == empty == b'{"row_count": 0}\n'
    switch.place_call(caller_id_number="5551234", caller_id_name="citizen", destination_number="7772")
    switch.place_call(caller_id_number="5551235", caller_id_name="citizen", destination_number="7772")
    ours = switch.api("show channels as json").encode()
    assert skeleton(ours) == skeleton(_any_rows())
    assert all(isinstance(v, str) for row in json.loads(ours)["rows"] for v in row.values())


# --- 4: event orders -------------------------------------------------------------------------------------

def _index(events: list[Event], name: str, uuid: str) -> int:
    return next(i for i, e in enumerate(events) if e.name == name and e.uuid == uuid)


def caller_hangs_up_first(events: list[Event], a: str, b: str) -> None:
    """A's CHANNEL_HANGUP, then B's, then A's CHANNEL_UNBRIDGE (only A carries BRIDGE/UNBRIDGE); A's own order
    HANGUP, UNBRIDGE, HANGUP_COMPLETE, DESTROY; bridge_to only on A's CHANNEL_HANGUP; recv_bye / send_bye."""
    assert _index(events, "CHANNEL_HANGUP", a) < _index(events, "CHANNEL_HANGUP", b) \
        < _index(events, "CHANNEL_UNBRIDGE", a) < _index(events, "CHANNEL_HANGUP_COMPLETE", a) \
        < _index(events, "CHANNEL_DESTROY", a)
    assert not [e for e in events if e.uuid == b and e.name in ("CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE")]
    assert events[_index(events, "CHANNEL_HANGUP", a)]["variable_bridge_to"] == b
    assert "variable_bridge_to" not in events[_index(events, "CHANNEL_HANGUP", b)]
    assert "variable_bridge_to" not in events[_index(events, "CHANNEL_UNBRIDGE", a)]
    assert events[_index(events, "CHANNEL_HANGUP", b)]["variable_last_bridge_to"] == a
    assert (disposition(events, a), disposition(events, b)) == ("recv_bye", "send_bye")
    assert {events[_index(events, "CHANNEL_HANGUP", leg)]["Hangup-Cause"] for leg in (a, b)} == {"NORMAL_CLEARING"}


def agent_hangs_up_first(events: list[Event], a: str, b: str) -> None:
    """With park_after_bridge on A: B's CHANNEL_HANGUP, A's CHANNEL_UNBRIDGE, A's CHANNEL_PARK in CS_PARK and no
    CHANNEL_HANGUP for A until it is killed; the UNBRIDGE shows last_bridge_to B and no bridge_to."""
    unbridge = _index(events, "CHANNEL_UNBRIDGE", a)
    park = next(i for i, e in enumerate(events) if i > unbridge and e.name == "CHANNEL_PARK" and e.uuid == a)
    assert _index(events, "CHANNEL_HANGUP", b) < unbridge < park < _index(events, "CHANNEL_HANGUP", a)
    assert events[park]["Channel-State"] == "CS_PARK" and events[unbridge]["Answer-State"] == "answered"
    assert "variable_bridge_to" not in events[unbridge] and events[unbridge]["variable_last_bridge_to"] == b
    assert disposition(events, b) == "recv_bye" and disposition(events, a) == "send_bye"


def cancelled_while_ringing(events: list[Event], a: str, b: str) -> None:
    """``uuid_kill B ORIGINATOR_CANCEL`` on a ringing leg: its CHANNEL_HANGUP (ORIGINATOR_CANCEL, RINGING), its
    HANGUP_COMPLETE (send_cancel), then the originate's BACKGROUND_JOB ``-ERR ORIGINATOR_CANCEL``, then its
    CHANNEL_DESTROY; the caller A gets nothing until it is killed."""
    hangup, complete = _index(events, "CHANNEL_HANGUP", b), _index(events, "CHANNEL_HANGUP_COMPLETE", b)
    job = next(i for i, e in enumerate(events) if e.name == "BACKGROUND_JOB")
    assert hangup < complete < job < _index(events, "CHANNEL_DESTROY", b)
    assert (events[hangup]["Hangup-Cause"], events[hangup]["Channel-Call-State"]) == ("ORIGINATOR_CANCEL", "RINGING")
    assert disposition(events, b) == "send_cancel" and events[job].body == "-ERR ORIGINATOR_CANCEL\n"
    assert not [e for e in events[hangup:_index(events, "CHANNEL_HANGUP", a)] if e.uuid == a]


def originated(events: list[Event], a: str, b: str) -> None:
    """On the originated leg B: CHANNEL_OUTGOING, CHANNEL_CREATE, CHANNEL_ORIGINATE, in that order, once."""
    assert [e.name for e in events if e.uuid == b and e.name in ("CHANNEL_OUTGOING", "CHANNEL_CREATE",
                                                                 "CHANNEL_ORIGINATE")] == \
        ["CHANNEL_OUTGOING", "CHANNEL_CREATE", "CHANNEL_ORIGINATE"]


def uuid_bridged(events: list[Event], a: str, b: str) -> None:
    """``uuid_bridge A B`` of two parked legs: CHANNEL_UNPARK on both, then ONE CHANNEL_BRIDGE, on A, naming B."""
    bridges = [e for e in events if e.name == "CHANNEL_BRIDGE"]
    assert len(bridges) == 1
    bridge = events.index(bridges[0])
    assert (bridges[0].uuid, bridges[0]["Other-Leg-Unique-ID"]) == (a, b)
    assert (bridges[0]["Bridge-A-Unique-ID"], bridges[0]["Bridge-B-Unique-ID"]) == (a, b)
    for leg in (a, b):
        unparks = [i for i, e in enumerate(events) if e.name == "CHANNEL_UNPARK" and e.uuid == leg]
        assert unparks and unparks[0] < bridge


ORDERS: dict[str, tuple[Callable[[list[Event], str, str], None], ...]] = {
    "esl_plain_bridge_caller_hangs_up_first": (caller_hangs_up_first, originated, uuid_bridged),
    "esl_plain_bridge_agent_hangs_up_first": (agent_hangs_up_first, originated, uuid_bridged),
    "esl_plain_cancel_ringing_agent": (cancelled_while_ringing, originated),
}


def _members(events: list[Event]) -> list[tuple[str, str, str]]:
    """The conference's maintenance events: (action, leg, Conference-Size); floor changes and the room's file
    plays left out (the double keeps no floor and plays no sounds)."""
    return [(e["Action"], e.uuid, e["Conference-Size"]) for e in events if e.name == "conference::maintenance"
            and e["Action"] not in ("floor-change", "play-file-done")]


def test_a_three_way_conference_runs_as_captured(switch: FakeSwitch) -> None:
    """uuid_transfer of the bridged caller C (endconf) and the agent A into the room, the unit B (mintwo) after
    it; A leaves, then B: under mintwo's minimum the switch hangs C up (send_bye) before its del-member."""
    run = _replayed(switch, "esl_plain_three_way")
    c, a, b = (x.command.split("origination_uuid=")[1][:36] for x in run.replies("api originate"))
    for events, (cc, aa, bb) in ((run.real_events, (c, a, b)), (run.ours_events, (run.to_ours[c], run.to_ours[a],
                                                                                  run.to_ours[b]))):
        assert _members(events) == [("conference-create", "", "0"), ("add-member", cc, "1"), ("add-member", aa, "2"),
                                    ("add-member", bb, "3"), ("del-member", aa, "2"), ("del-member", bb, "1"),
                                    ("del-member", cc, "0"), ("conference-destroy", "", "0")]
        parks = [i for i, e in enumerate(events) if e.name == "CHANNEL_PARK" and e.uuid == aa]
        assert len(parks) == 2 and parks[1] < _index(events, "CHANNEL_UNBRIDGE", cc)  # A parked by the move
        c_left = next(i for i, e in enumerate(events) if e.name == "conference::maintenance"
                      and e["Action"] == "del-member" and e.uuid == cc)
        assert _index(events, "CHANNEL_HANGUP", cc) < c_left and disposition(events, cc) == "send_bye"
        assert all(any(e.name == "CHANNEL_EXECUTE" and e.uuid == leg and e["Application"] == "conference"
                       for e in events) for leg in (cc, aa, bb))


def test_a_consultation_moves_the_legs_between_bridges_as_captured(switch: FakeSwitch) -> None:
    """uuid_bridge A B with A bridged to C: C is displaced (parked by park_after_bridge) before the new bridge's
    event; C hears a broadcast in park until uuid_bridge C B, which displaces A the same way; each bridge is one
    CHANNEL_BRIDGE on its first leg naming the second."""
    run = _replayed(switch, "esl_plain_consult_complete")
    c, a, b = (x.command.split("origination_uuid=")[1][:36] for x in run.replies("api originate"))
    for events, (cc, aa, bb) in ((run.real_events, (c, a, b)), (run.ours_events, (run.to_ours[c], run.to_ours[a],
                                                                                  run.to_ours[b]))):
        bridges = [(e.uuid, e["Other-Leg-Unique-ID"]) for e in events if e.name == "CHANNEL_BRIDGE"]
        assert bridges == [(cc, aa), (aa, bb), (cc, bb)]
        first, second, third = (i for i, e in enumerate(events) if e.name == "CHANNEL_BRIDGE")
        c_parked = next(i for i, e in enumerate(events) if i > first and e.name == "CHANNEL_PARK" and e.uuid == cc)
        a_parked = next(i for i, e in enumerate(events) if i > second and e.name == "CHANNEL_PARK" and e.uuid == aa)
        assert c_parked < second and c_parked < _index(events, "PLAYBACK_START", cc)
        assert _index(events, "PLAYBACK_STOP", cc) < third and a_parked < third < _index(events, "CHANNEL_HANGUP", aa)


def test_uuid_park_takes_a_member_out_of_its_conference_into_park(switch: FakeSwitch) -> None:
    """The caller C left alone in the room: uuid_park ends its conference (del-member, the execution's end), then
    CHANNEL_PARK in CS_PARK with no park execution, and a broadcast plays to it there."""
    run = _replayed(switch, "esl_plain_conference_park")
    c = next(run.replies("api originate")).command.split("origination_uuid=")[1][:36]
    for events, cc in ((run.real_events, c), (run.ours_events, run.to_ours[c])):
        left = next(i for i, e in enumerate(events) if e.name == "conference::maintenance"
                    and e["Action"] == "del-member" and e.uuid == cc)
        done = next(i for i, e in enumerate(events) if e.name == "CHANNEL_EXECUTE_COMPLETE" and e.uuid == cc
                    and e["Application"] == "conference")
        park = next(i for i, e in enumerate(events) if i > done and e.name == "CHANNEL_PARK" and e.uuid == cc)
        assert left < done < park < _index(events, "PLAYBACK_START", cc) and events[park]["Channel-State"] == "CS_PARK"
        assert not [e for e in events[done:park] if e.name == "CHANNEL_EXECUTE" and e.uuid == cc]


def refer_attended(events: list[Event], c: str, a1: str, a2: str, u: str) -> None:
    """The agent's phone on A1 (bridged to the caller C) sends REFER with Replaces naming its own call A2 (bridged
    to the unit U): A2 leaves its bridge (ATTENDED_TRANSFER) and parks; A1 is hung up by the switch, marked
    ``transfer_to`` att:U, with no CHANNEL_UNBRIDGE of its own; C is unbridged, its peer already U, then bridged
    to U, whose number and answer time the bridge shows; A2 is hung up later (ATTENDED_TRANSFER)."""
    a2_out = next(i for i, e in enumerate(events) if e.name == "CHANNEL_UNBRIDGE" and e.uuid == a2)
    assert events[a2_out]["Other-Leg-Unique-ID"] == u
    assert events[a2_out]["variable_endpoint_disposition"] == "ATTENDED_TRANSFER"
    a2_park = next(i for i, e in enumerate(events) if i > a2_out and e.name == "CHANNEL_PARK" and e.uuid == a2)
    c_out = next(i for i, e in enumerate(events) if e.name == "CHANNEL_UNBRIDGE" and e.uuid == c)
    c_in = next(i for i, e in enumerate(events) if e.name == "CHANNEL_BRIDGE" and e.uuid == c
                and e["Other-Leg-Unique-ID"] == u)
    a1_gone = _index(events, "CHANNEL_HANGUP", a1)
    assert a2_park < a1_gone < c_out < c_in < _index(events, "CHANNEL_HANGUP", a2)
    assert events[c_out]["Other-Leg-Unique-ID"] == u
    assert not [e for e in events if e.name == "CHANNEL_UNBRIDGE" and e.uuid == a1]
    complete = events[_index(events, "CHANNEL_HANGUP_COMPLETE", a1)]
    assert complete["variable_transfer_to"] == f"att:{u}" and complete["variable_refer_uuid"] == a2
    assert complete.get("variable_endpoint_disposition") not in ("BLIND_TRANSFER", "ATTENDED_TRANSFER")  # as answered
    assert disposition(events, a1) == "send_bye"
    assert events[c_in]["Other-Leg-Destination-Number"] == "110"
    assert int(events[c_in]["Other-Leg-Channel-Answered-Time"]) > 0
    assert events[_index(events, "CHANNEL_HANGUP_COMPLETE", a2)]["Hangup-Cause"] == "ATTENDED_TRANSFER"


def test_an_attended_refer_runs_as_captured(switch: FakeSwitch) -> None:
    """The softphone's attended transfer (tests/captures/esl_plain_refer_attended) holds the same predicate on
    the real events and on the double's: the caller and the agent bridged over ESL, the phone's own call to 110
    through the dialplan, then ``FakeSwitch.refer_replacing``."""
    real = events_of(received("esl_plain_refer_attended"))
    c, a1 = (p.command.split("origination_uuid=")[1][:36] for p in sent("esl_plain_refer_attended")[2:4])
    created = [e for e in real if e.name == "CHANNEL_CREATE" and e.uuid not in (c, a1)]
    a2 = next(e.uuid for e in created if e["Call-Direction"] == "inbound")
    u = next(e.uuid for e in created if e["Call-Direction"] == "outbound")
    refer_attended(real, c, a1, a2, u)

    ours: list[Event] = []
    conn = Connection.open(*switch.address, timeout=5, on_event=ours.append, name="attended")
    conn.login(switch.password, timeout=5)
    conn.request(packet("event plain ALL"), timeout=5)
    unit = "sofia/gateway/units/110"
    switch.set_endpoint(LAB_PHONES[1], answer_after=0.0)
    switch.set_endpoint(unit, answer_after=0.0)
    switch.dialplan["110"] = [("bridge", unit)]
    switch.time_scale = 0.01  # the replaced leg's park_timeout
    caller = switch.place_call("13800138000", "citizen")
    agent = conn.request(packet(f"api originate {{hotline_agent=1001}}{LAB_PHONES[1]} &park()"), 5).body.split()[1]
    assert conn.request(packet(f"api uuid_bridge {caller.uuid} {agent.decode()}"), 5).body.startswith(b"+OK")
    agent = agent.decode()
    own = switch.place_call("1005", "110", user="1005")
    assert switch.wait(lambda: own.bridged_to is not None, timeout=5)
    far = own.bridged_to
    switch.refer_replacing(switch.channels[agent], own)
    assert switch.wait(lambda: own.hangup_cause is not None and any(
        e.name == "CHANNEL_HANGUP_COMPLETE" and e.uuid == own.uuid for e in ours), timeout=5)
    refer_attended(ours, caller.uuid, agent, own.uuid, far.uuid)


def test_supervising_runs_as_captured(switch: FakeSwitch) -> None:
    """A supervisor's leg B eavesdrops on the agent's leg A (bridged to the caller C), takes eavesdrop's keys, then
    intercepts C: A is hung up PICKED_OFF first, then C's CHANNEL_UNBRIDGE names B already, then B's one
    CHANNEL_BRIDGE names C; nothing in between bridges or parks A (tests/captures/esl_plain_supervise)."""
    run = _replayed(switch, "esl_plain_supervise")
    c, a, b = (x.command.split("origination_uuid=")[1][:36] for x in run.replies("api originate"))
    for events, (cc, aa, bb) in ((run.real_events, (c, a, b)), (run.ours_events, (run.to_ours[c], run.to_ours[a],
                                                                                  run.to_ours[b]))):
        listening = next(i for i, e in enumerate(events) if e.name == "CHANNEL_EXECUTE" and e.uuid == bb
                         and e["Application"] == "eavesdrop")
        assert events[listening]["Application-Data"] == aa
        assert [e["DTMF-Digit"] for e in events if e.name == "DTMF" and e.uuid == bb] == ["2", "3", "0"]
        picked = _index(events, "CHANNEL_HANGUP", aa)
        assert events[picked]["Hangup-Cause"] == "PICKED_OFF" and listening < picked
        unbridged = next(i for i, e in enumerate(events) if i > picked and e.name == "CHANNEL_UNBRIDGE" and e.uuid == cc)
        bridged = next(i for i, e in enumerate(events) if e.name == "CHANNEL_BRIDGE" and e.uuid == bb)
        assert unbridged < bridged and events[unbridged]["Other-Leg-Unique-ID"] == bb
        assert events[bridged]["Other-Leg-Unique-ID"] == cc
        assert not [e for e in events[listening:picked] if e.uuid == aa and e.name in ("CHANNEL_PARK", "CHANNEL_UNBRIDGE")]


@pytest.mark.parametrize("capture", list(ORDERS))
def test_event_orders_hold_on_the_capture_and_on_the_double(switch: FakeSwitch, capture: str) -> None:
    """The same predicates, on the real events and on the double's from the replay of the same packets."""
    run = _replayed(switch, capture)
    a, b = run.uuid("inbound"), run.uuid("outbound")
    for predicate in ORDERS[capture]:
        predicate(run.real_events, a, b)
        predicate(run.ours_events, run.to_ours[a], run.to_ours[b])


def test_channel_hangup_shows_the_leg_as_it_was(replayed: Replay) -> None:
    """CHANNEL_HANGUP carries the state and call state the leg was in and no sip_hangup_disposition yet; the
    double's, for the same leg at the same point, shows the same."""
    shown = ("Channel-State", "Channel-Call-State", "Answer-State", "Hangup-Cause")
    for real in (e for e in replayed.real_events if e.name == "CHANNEL_HANGUP"):
        ours = next(e for e in replayed.ours_events if e.name == "CHANNEL_HANGUP"
                    and e.uuid == replayed.to_ours[real.uuid])
        assert [ours.get(h) for h in shown] == [real.get(h) for h in shown], (replayed.capture, real.uuid)
        assert "variable_sip_hangup_disposition" not in real and "variable_sip_hangup_disposition" not in ours


def test_after_park_after_bridge_the_caller_shows_the_bridge_only_as_the_last(switch: FakeSwitch) -> None:
    """Once the agent hung up, A answers ``bridge_to`` → ``_undef_``, ``last_bridge_to`` → B, no disposition."""
    run = _replayed(switch, "esl_plain_bridge_agent_hangs_up_first")
    getvars = [(x.command.rsplit(" ", 1)[1], run.back(x.ours.body.decode())) for x in run.replies("api uuid_getvar")]
    assert getvars == [("bridge_to", "_undef_"), ("last_bridge_to", run.uuid("outbound")),
                       ("sip_hangup_disposition", "_undef_")]


# --- 6: uuid_dump -----------------------------------------------------------------------------------------

def test_every_key_the_engine_reads_is_in_a_real_uuid_dump() -> None:
    """Each key the engine reads was set in at least one real ``uuid_dump <uuid> json`` of the captures."""
    seen: set[str] = set()
    for path in CAPTURES.glob("*_rx.txt"):
        for frame in iter_frames(path.read_bytes()):
            if frame.content_type == "api/response" and frame.body.startswith(b'{"Event-Name":"CHANNEL_DATA"'):
                seen |= set(json.loads(frame.body))
    assert set(ENGINE_DUMP_KEYS) <= seen


def test_uuid_dump_has_what_the_engine_reads_where_the_real_one_had_it(replayed: Replay) -> None:
    """For the same situation, each engine key of the real dump is in the double's, with the same value where the
    double knows it (UUIDs mapped back); both are compact CHANNEL_DATA objects."""
    for x in replayed.replies("api uuid_dump"):
        if not x.real.body.startswith(b"{"):
            continue
        real, ours = json.loads(x.real.body), json.loads(replayed.back(x.ours.body.decode()))
        assert x.ours.body.startswith(b'{"Event-Name":"CHANNEL_DATA","Core-UUID":')
        for key in ENGINE_DUMP_KEYS:
            if key in real:
                assert key in ours, (replayed.capture, x.command, key)
        assert {k: ours.get(k) for k in SAME_DUMP_VALUES if k in real} == \
            {k: real[k] for k in SAME_DUMP_VALUES if k in real}, (replayed.capture, x.command)
        assert ours["Caller-Channel-Created-Time"].isdigit()
        if ours["Call-Direction"] == "inbound":
            assert ours["Caller-Caller-ID-Number"] == real["Caller-Caller-ID-Number"]


# --- 5: reload mod_event_socket -----------------------------------------------------------------------------

def _connect(switch: FakeSwitch, into: list[Connection]) -> bool:
    """Try to connect and authenticate; a connection made is added to ``into``."""
    try:
        conn = Connection.open(*switch.address, timeout=5, on_event=lambda event: None, name="reconnect")
    except ConnectionLost:
        return False
    conn.login(switch.password, timeout=5)
    into.append(conn)
    return True


def test_reload_sends_the_captured_notice_then_refuses_then_accepts(switch: FakeSwitch) -> None:
    """The subscribed connection ends with exactly the captured disconnect notice and EOF; the port refuses until
    ``down_s`` has passed, then accepts; the parked call goes on through it."""
    captured = (CAPTURES / "esl_plain_reload_event_socket_rx.txt").read_bytes()
    notice = captured[captured.rindex(b"Content-Type: text/disconnect-notice"):]
    assert notice == b"Content-Type: text/disconnect-notice\nContent-Length: 31\n\nThe system is being shut down.\n"
    call = switch.place_call(caller_id_number="5551234", caller_id_name="citizen", destination_number="7772")
    assert switch.wait(lambda: call.parked, timeout=5)
    raw = socket.create_connection(switch.address, timeout=5)
    raw.sendall(f"auth {switch.password}\n\nevent plain ALL\n\n".encode())
    stream = b""
    while stream.count(b"Content-Type: command/reply") < 2:
        stream += raw.recv(65536)
    switch.reload_event_socket(down_s=1.0)
    while chunk := raw.recv(65536):
        stream += chunk
    assert stream[stream.rindex(b"Content-Type: text/disconnect-notice"):] == notice
    again: list[Connection] = []
    assert not _connect(switch, again)  # refused at once
    assert switch.wait(lambda: _connect(switch, again), timeout=10)
    assert again[0].request(packet(f"api uuid_exists {call.uuid}"), timeout=5).body == b"true"
    assert call.hangup_cause is None and call.parked


def test_a_reload_while_still_down_leaves_one_listener_that_accepts(switch: FakeSwitch) -> None:
    """Reloaded twice within the down time (the chaos benchmark cuts at random): the port comes back once,
    nothing fails to bind, and connections are accepted."""
    switch.reload_event_socket(down_s=0.5)
    first = switch._restart
    switch.reload_event_socket(down_s=0.5)
    assert first is not None and first.dead and first.exception is None
    again: list[Connection] = []
    assert switch.wait(lambda: _connect(switch, again), timeout=10)
    assert switch._restart is not None and switch._restart.successful()


def test_any_command_naming_reload_and_mod_event_socket_reloads_it(switch: FakeSwitch) -> None:
    """mod_event_socket's reload_cheat: the sender gets an api/response ``+OK Job-UUID: <uuid>\\n`` (51 bytes),
    then the same notice, then EOF."""
    sink = Connection.open(*switch.address, timeout=5, on_event=lambda event: None)
    sink.login(switch.password, timeout=5)
    reply = sink.request(packet("api reload mod_event_socket"), timeout=5)
    assert reply.content_type == "api/response" and len(reply.body) == 51
    assert re.fullmatch(rb"\+OK Job-UUID: [0-9a-f-]{36}\n", reply.body)
    assert sink.closed.wait(5)
    assert sink.disconnect_notice is not None and sink.disconnect_notice.body == b"The system is being shut down.\n"
