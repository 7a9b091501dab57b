"""Calls inside the double: a channel's states, its application queue and the applications themselves.

Each channel runs on its own greenlet, like a FreeSWITCH session thread: first its dialplan, then (when
parked, or inside ``socket``) whatever ``sendmsg`` queued for it, until it hangs up.
"""

from __future__ import annotations

import array
import re
import time
import uuid as uuidlib
import wave
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import gevent
from gevent.event import Event as Flag
from gevent.queue import Queue

if TYPE_CHECKING:
    from fakeswitch.server import FakeSwitch

Application = tuple[str, str]


@dataclass
class Endpoint:
    """How an originate or bridge target behaves: answer after some seconds, ring until cancelled, or fail."""

    answer_after: float | None = 0.0
    cause: str | None = None
    hangup_after: float | None = None
    """The phone hangs up this long after answering (0: at once, before the originate's result is out)."""
    says: str | None = None
    """A mono WAV of what the phone says once answered, which recordings of its calls hold (else silence)."""


class Hangup(Exception):
    """Raised inside an application when its channel hangs up."""


INLINE = "\ninline"
"""A queue item that is no application: the ``inline`` dialplan ``uuid_transfer`` sends the channel to."""


@dataclass
class Queued:
    app: str
    arg: str
    event_uuid: str
    loops: int = 1
    event_uuid_name: str | None = None
    """``event-uuid-name`` of the sendmsg: FreeSWITCH stamps it on the execution's events (Application-UUID-Name)."""


class Channel:
    """One call leg with the state FreeSWITCH reports in its channel headers."""

    def __init__(self, switch: "FakeSwitch", *, direction: str, name: str, caller_id_number: str,
                 caller_id_name: str, destination: str, context: str = "public", uuid: str | None = None,
                 variables: dict[str, str] | None = None) -> None:
        self.switch = switch
        self.uuid = uuid or str(uuidlib.uuid4())
        self.direction = direction
        self.name = name
        self.caller_id_number = caller_id_number
        self.caller_id_name = caller_id_name
        self.destination = destination
        self.initial_destination = destination
        self.context = context
        self.variables: dict[str, str] = dict(variables or {})
        self.state = "CS_NEW"
        self.call_state = "DOWN"
        self.answer_state = "ringing"
        self.answered = False
        self.created_us = now_us()
        self.answered_us = 0
        self.last_hold_us = 0
        self.hold_accum_us = 0
        self.hangup_cause: str | None = None
        self.gone = Flag()
        self.completed = Flag()
        """Set once CHANNEL_HANGUP_COMPLETE is out."""
        self.released = Flag()
        self.released.set()
        """Cleared while a failed originate still holds the leg: its CHANNEL_DESTROY waits for it."""
        self.interrupted = Flag()
        """Set by ``uuid_break``: the running playback stops early."""
        self.bridged_to: Channel | None = None
        self.last_peer: Channel | None = None
        self.says: str | None = None
        """A mono WAV of what this leg's phone says: a recording of the leg holds it (a partner's, the other side)."""
        """The leg it was bridged to last (``show channels`` keeps showing it after the bridge)."""
        self.originated_bridge = False
        self.digits: deque[str] = deque()
        self._digit_arrived = Flag()
        self.queue: Queue[Queued] = Queue()
        self.parked = False
        self.running = ""
        """The application running now ("" between applications)."""
        self.meta_apps: dict[str, str] = {}
        """``bind_meta_app``: digit after ``*`` -> the application (``app::args``) it runs."""
        self.recordings: dict[str, Callable[[object], None]] = {}
        """``uuid_record`` files being written: path -> what stops it."""
        self.listening: tuple[str, bool, bool] | None = None
        """While it runs ``eavesdrop``: (the leg listened to, heard by that leg's phone, heard by its partner)."""
        self.muted = False
        """``uuid_audio ... start read mute``: what its phone sends is dropped."""
        self.park_next = False
        """``uuid_park`` came while an application ran: once it ends, the leg parks instead of going on."""
        self.application = ("", "")
        """The application running, or the last one run (``show channels``'s application columns)."""
        self.on_gone: list[Callable[[], None]] = []
        self.block_key: tuple[object, ...] = ()
        self.block: list[tuple[str, str]] = []

    # --- what tests and simulated people do -----------------------------------------------------------

    def press(self, digits: str) -> None:
        """The caller presses keys (RFC 2833): one DTMF event each, buffered for digit collection; ``*`` and a
        digit bound with bind_meta_app run the bound application instead, the keys swallowed."""
        if len(digits) == 2 and digits[0] == "*" and digits[1] in self.meta_apps:
            _run_bound(self, self.meta_apps[digits[1]])
            return
        for digit in digits:
            self.switch.fire("DTMF", self, [("DTMF-Digit", digit), ("DTMF-Duration", "2000"), ("DTMF-Source", "RTP")])
            self.digits.append(digit)
        self._digit_arrived.set()

    def hangup(self, cause: str = "NORMAL_CLEARING", by_party: bool = True) -> None:
        """Hang up this leg: CHANNEL_HANGUP, ..._COMPLETE, CHANNEL_DESTROY. ``by_party``: its phone hung up
        (``sip_hangup_disposition`` recv_bye, or recv_cancel before answer), else the switch did (send_*).

        Like FreeSWITCH, a bridged partner is hung up in turn (its CHANNEL_HANGUP before the CHANNEL_UNBRIDGE,
        as captured; before this leg's with ``switch.partner_hangs_up_first``), unless it has ``park_after_bridge``: then it is unbridged and parked again. As captured on
        1.10.12: CHANNEL_HANGUP still shows the state and call state the leg was in (they change after it) and no
        ``sip_hangup_disposition`` yet (what follows has it); a parked leg gets CHANNEL_UNPARK right after it;
        ``bridge_to`` is on the CHANNEL_HANGUP of the leg that hung up first, gone from everything after it, and
        never on its partner's CHANNEL_HANGUP."""
        if self.hangup_cause is not None:
            return
        self.hangup_cause = cause
        partner, self.bridged_to = self.bridged_to, None
        kept = partner is not None and partner.variables.get("park_after_bridge") == "true"
        if partner is not None and by_party and not kept and self.switch.partner_hangs_up_first:
            partner.bridged_to = None  # its hang-up does not come back to this leg
            partner.hangup(cause, by_party=False)
        self.answer_state = "hangup"
        self.switch.fire("CHANNEL_HANGUP", self, [("Hangup-Cause", cause)])
        if not self.name.startswith("loopback/"):  # a SIP leg: who sent the BYE, CANCEL or refusal
            unanswered = ("cancel", "refuse") if self.direction == "inbound" else ("refuse", "cancel")
            kind = "bye" if self.answered else unanswered[0 if by_party else 1]
            self.variables["sip_hangup_disposition"] = f"{'recv' if by_party else 'send'}_{kind}"
        self.variables.pop("bridge_to", None)
        if self.parked:
            self.parked = False
            self.switch.fire("CHANNEL_UNPARK", self, [])
        self._digit_arrived.set()
        self.queue.put(Queued("", "", ""))  # wake a parked loop
        self.gone.set()
        gevent.spawn(self._finish)
        if partner is None:
            return
        partner.bridged_to = None
        partner.variables.pop("bridge_to", None)
        originator, legs = self._bridge_ends(partner)
        if kept:
            self.switch.fire("CHANNEL_UNBRIDGE", originator, legs)
            partner.park_again()  # kept for what comes after the bridge (a survey)
        else:
            partner.hangup(cause, by_party=False)
            self.switch.fire("CHANNEL_UNBRIDGE", originator, legs)

    def _bridge_ends(self, partner: "Channel") -> tuple["Channel", list[tuple[str, str | None]]]:
        """The leg CHANNEL_UNBRIDGE is fired on (the bridge's first leg) and its bridge headers."""
        originator, other = (self, partner) if self.originated_bridge else (partner, self)
        return originator, [("Bridge-A-Unique-ID", originator.uuid), ("Bridge-B-Unique-ID", other.uuid),
                            ("Other-Leg-Unique-ID", other.uuid)]

    def leave_bridge(self) -> None:
        """``uuid_transfer`` of a bridged leg, as captured on 1.10.12 (tests/captures/esl_plain_three_way): the
        partner is displaced first (parked again with park_after_bridge, else hung up), then CHANNEL_UNBRIDGE."""
        partner = self.bridged_to
        if partner is None:
            return
        self.bridged_to = partner.bridged_to = None
        for leg in (self, partner):
            leg.variables.pop("bridge_to", None)
        originator, legs = self._bridge_ends(partner)
        if partner.variables.get("park_after_bridge") == "true":
            partner.park_again()
        else:
            partner.hangup("NORMAL_CLEARING", by_party=False)
        self.switch.fire("CHANNEL_UNBRIDGE", originator, legs)

    def run_inline(self, applications: str) -> None:
        """An ``inline`` dialplan (``app:arg,app:arg``) that ``uuid_transfer`` queued: whatever it was doing is
        left (a park with CHANNEL_UNPARK), the applications run, and when they end so does the call, as FreeSWITCH
        hangs up a channel whose extension has nothing more to run (send_bye, as captured)."""
        if self.parked:
            self.parked = False
            self.switch.fire("CHANNEL_UNPARK", self, [])
        self.state = "CS_EXECUTE"
        for step in applications.split(","):
            app, _, arg = step.partition(":")
            self.execute(app, arg, str(uuidlib.uuid4()))
            if self.park_next:
                self.park_next = False
                self.park_again()
                return
            if any(item.app == INLINE for item in list(self.queue.queue)):
                return  # transferred elsewhere meanwhile (uuid_transfer ... inline): that runs next, in its turn
        self.hangup("NORMAL_CLEARING", by_party=False)

    def park_now(self) -> None:
        """``uuid_park``, as captured (tests/captures/esl_plain_conference_park): a bridged leg leaves the bridge
        and parks; one running an application (a conference: del-member) leaves it, then parks in CS_PARK with
        CHANNEL_PARK and no CHANNEL_EXECUTE park."""
        if self.bridged_to is not None:
            self.leave_bridge()
            self.park_again()
        elif self.running:
            self.park_next = True
            self.interrupted.set()

    def bridge(self, other: "Channel", by_api: bool = False) -> None:
        """Bridge two legs (the caller first): CHANNEL_UNPARK for a parked one, then CHANNEL_BRIDGE; both
        CHANNEL_BRIDGE and, at the end, CHANNEL_UNBRIDGE are fired on the first leg only, as captured.

        ``by_api`` (uuid_bridge), as captured on 1.10.12: both legs leave what they ran for CS_SOFT_EXECUTE and a
        CHANNEL_EXECUTE ``uuid_bridge`` (no Application-UUID, ``current_application`` unchanged, but ``show channels``
        shows it); the first leg stays in CS_SOFT_EXECUTE, the other goes to CS_EXCHANGE_MEDIA."""
        self.originated_bridge, other.originated_bridge = True, False
        pairs = ((self, other), (other, self))
        for leg, peer in pairs:
            leg.bridged_to = leg.last_peer = peer
            leg.variables["bridge_to"] = leg.variables["last_bridge_to"] = peer.uuid
            if leg.parked:
                leg.parked = False
                leg.switch.fire("CHANNEL_UNPARK", leg, [])
            leg.interrupted.set()  # whatever it was playing stops
        if by_api:
            for leg, peer in pairs:
                leg.state, leg.application = "CS_SOFT_EXECUTE", ("uuid_bridge", peer.uuid)
            for leg, peer in pairs:
                self.switch.fire("CHANNEL_EXECUTE", leg, [("Application", "uuid_bridge"),
                                                          ("Application-Data", peer.uuid), ("Application-UUID", None)])
        self.switch.fire("CHANNEL_BRIDGE", self, [("Bridge-A-Unique-ID", self.uuid), ("Bridge-B-Unique-ID", other.uuid),
                                                  ("Other-Leg-Unique-ID", other.uuid),
                                                  ("Other-Leg-Destination-Number", other.destination),
                                                  ("Other-Leg-Channel-Created-Time", str(other.created_us)),
                                                  ("Other-Leg-Channel-Answered-Time", str(other.answered_us))])
        other.state = "CS_EXCHANGE_MEDIA"

    def transfer_to(self, extension: str) -> None:
        """Leave whatever it does (park, an application) for another extension's dialplan, as uuid_transfer and
        sched_transfer do."""
        self.interrupted.set()
        self.queue.put(Queued("transfer", extension, str(uuidlib.uuid4())))

    def park_again(self) -> None:
        """park_after_bridge, as captured on 1.10.12: CS_PARK and CHANNEL_PARK with no CHANNEL_EXECUTE park, so
        ``current_application`` (uuid_dump) and the application columns (show channels) keep what they were."""
        self.parked, self.state = True, "CS_PARK"
        self.switch.fire("CHANNEL_PARK", self, [])

    def _finish(self) -> None:
        self.state, self.call_state = "CS_HANGUP", "HANGUP"
        self.switch.fire("CHANNEL_CALLSTATE", self, [("Original-Channel-Call-State", "ACTIVE" if self.answered else "RINGING")])
        self.state = "CS_REPORTING"
        self.switch.fire("CHANNEL_HANGUP_COMPLETE", self, [("Hangup-Cause", self.hangup_cause or "")])
        self.completed.set()
        self.released.wait()
        self.state = "CS_DESTROY"
        self.switch.fire("CHANNEL_DESTROY", self, [])
        self.switch.channels.pop(self.uuid, None)
        for callback in self.on_gone:
            callback()

    def answer(self) -> None:
        if self.answered or self.hangup_cause:
            return
        self.answered, self.answered_us = True, now_us()
        self.state, self.call_state, self.answer_state = "CS_EXECUTE", "ACTIVE", "answered"
        self.switch.fire("CHANNEL_ANSWER", self, [])
        self.switch.fire("CHANNEL_CALLSTATE", self, [("Original-Channel-Call-State", "RINGING")])

    # --- the session thread ---------------------------------------------------------------------------

    def run(self, dialplan: list[Application]) -> None:
        """Route (CHANNEL_CREATE was fired by the caller), then run the dialplan applications in order. An
        inbound call is RINGING from routing on, as captured on 1.10.12."""
        if self.direction == "inbound" and self.call_state == "DOWN":
            self.call_state = "RINGING"
        self.state = "CS_ROUTING"
        self.switch.fire("CHANNEL_STATE", self, [])
        self.state = "CS_EXECUTE"
        try:
            for app, arg in dialplan:
                self.execute(app, arg, str(uuidlib.uuid4()))
            self.execute("hangup", "NORMAL_CLEARING", str(uuidlib.uuid4()))
        except Hangup:
            pass

    def serve_queue(self) -> None:
        """Park: run what sendmsg queued until the call hangs up (or, inside ``socket``, until released)."""
        while self.hangup_cause is None:
            item = self.queue.get()
            if self.hangup_cause is not None or not item.app:
                if item.app == "" and item.event_uuid == "resume":
                    return
                continue
            if item.app == INLINE:
                self.run_inline(item.arg)
                continue
            for _ in range(max(1, item.loops)):
                self.execute(item.app, item.arg, item.event_uuid, item.event_uuid_name)

    def execute(self, app: str, arg: str, event_uuid: str, event_uuid_name: str | None = None) -> None:
        if self.hangup_cause is not None:
            raise Hangup
        base = [("Application", app), ("Application-Data", arg), ("Application-UUID", event_uuid)]
        if event_uuid_name:  # FreeSWITCH adds the header only when the sendmsg named the execution
            base.append(("Application-UUID-Name", event_uuid_name))
        self.application = (app, arg)
        self.variables["current_application"] = app
        if arg:
            self.variables["current_application_data"] = arg
        else:  # an empty value unsets a channel variable: uuid_dump then has no current_application_data
            self.variables.pop("current_application_data", None)
        self.switch.fire("CHANNEL_EXECUTE", self, base)
        runner = APPLICATIONS.get(app, _unknown)
        response = "_none_"
        self.running = app
        try:
            response = runner(self, arg) or "_none_"
        finally:
            self.running = ""
            self.switch.fire("CHANNEL_EXECUTE_COMPLETE", self, [*base, ("Application-Response", response)])
        if self.hangup_cause is not None:
            raise Hangup

    def wait(self, seconds: float) -> None:
        """Media time passes; a hang-up interrupts it."""
        if self.gone.wait(seconds * self.switch.time_scale):
            raise Hangup

    def collect(self, count: int, terminators: str, timeout_ms: int) -> tuple[str, str]:
        """Digits as play_and_get_digits reads them: up to ``count``, a terminator, or the timeout."""
        got = ""
        deadline = time.monotonic() + timeout_ms / 1000 * self.switch.time_scale
        while len(got) < count:
            if self.digits:
                digit = self.digits.popleft()
                if digit in terminators:
                    return got, digit
                got += digit
                continue
            self._digit_arrived.clear()
            if self.hangup_cause is not None:
                raise Hangup
            if not self._digit_arrived.wait(max(0.0, deadline - time.monotonic())):
                return got, "timeout"
        return got, ""


def now_us() -> int:
    return int(time.time() * 1_000_000)


# --- applications -----------------------------------------------------------------------------------

def _answer(ch: Channel, arg: str) -> str:
    ch.answer()
    return "_none_"


def _pre_answer(ch: Channel, arg: str) -> str:
    ch.call_state, ch.answer_state = "EARLY", "early"
    ch.switch.fire("CHANNEL_PROGRESS_MEDIA", ch, [])
    return "_none_"


def _ring_ready(ch: Channel, arg: str) -> str:
    ch.call_state = "RINGING"
    ch.switch.fire("CHANNEL_PROGRESS", ch, [])
    return "_none_"


def _play(ch: Channel, path: str) -> None:
    ch.switch.fire("PLAYBACK_START", ch, [("Playback-File-Path", path)])
    ch.interrupted.clear()
    try:
        gevent.wait([ch.gone, ch.interrupted], timeout=ch.switch.playback_seconds * ch.switch.time_scale, count=1)
        if ch.hangup_cause is not None:
            raise Hangup
    finally:
        ch.switch.fire("PLAYBACK_STOP", ch, [("Playback-File-Path", path), ("Playback-Status", "done")])


def _playback(ch: Channel, arg: str) -> str:
    _play(ch, arg)
    return "FILE PLAYED"


def _play_and_get_digits(ch: Channel, arg: str) -> str:
    """min max tries timeout terminators file invalid_file var_name regexp [digit_timeout]."""
    parts = arg.split()
    if len(parts) < 5:
        return "-ERR bad arguments"
    low, high, tries, timeout = (int(p) for p in parts[:4])
    terminators = parts[4]
    prompt = parts[5] if len(parts) > 5 else ""
    invalid = parts[6] if len(parts) > 6 else ""
    var = parts[7] if len(parts) > 7 else ""
    regexp = parts[8] if len(parts) > 8 else ""
    for _ in range(max(1, tries)):
        if prompt:
            _play(ch, prompt)
        digits, _ = ch.collect(high, terminators, timeout)
        if low <= len(digits) <= high and (not regexp or re.fullmatch(regexp, digits)):
            if var:
                ch.variables[var] = digits
            return "_none_"
        if invalid:
            _play(ch, invalid)
    if var:
        ch.variables.pop(var, None)
    return "_none_"


def write_recording(path: str, seconds: float, channels: int, says: tuple[str | None, ...] = ()) -> None:
    """The file a recording leaves behind: 16-bit, of the recorded length; each channel silence, or what the
    leg's phone said (``says``: the leg's, then its partner's), then silence. At 8 kHz, or at the rate of what was
    said (a wideband call, recorded at 16 kHz)."""
    spoken = [_samples(wav) if wav else (0, b"") for wav in says[:channels]]
    rate = max([found for found, _ in spoken] + [8000])
    tracks = [audio for _, audio in spoken] + [b""] * (channels - len(spoken))
    frames = max([int(seconds * rate)] + [len(track) // 2 for track in tracks])
    mixed = array.array("h", bytes(frames * 2 * channels))
    for n, track in enumerate(tracks):
        mixed[n::channels] = array.array("h", track.ljust(frames * 2, b"\0"))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with wave.open(path, "wb") as audio:
        audio.setnchannels(channels), audio.setsampwidth(2), audio.setframerate(rate)
        audio.writeframes(mixed.tobytes())


def _samples(wav: str) -> tuple[int, bytes]:
    with wave.open(wav) as audio:
        return audio.getframerate(), audio.readframes(audio.getnframes())


def _record(ch: Channel, arg: str) -> str:
    """path [time_limit_secs [silence_thresh [silence_hits]]]: the caller speaks until # (or the limit, or hangs
    up); like FreeSWITCH, the file is written, here as silence of the recorded length."""
    words = arg.split()
    path, limit_s = words[0], float(words[1]) if len(words) > 1 else 3600.0
    ch.switch.fire("RECORD_START", ch, [("Record-File-Path", path)])
    started = time.monotonic()
    try:
        ch.collect(1, "#", int(limit_s * 1000))
    except Hangup:
        pass
    seconds = min(limit_s, (time.monotonic() - started) / ch.switch.time_scale)
    write_recording(path, seconds, channels=1)
    ch.variables["record_seconds"] = str(int(seconds))
    ch.switch.fire("RECORD_STOP", ch, [("Record-File-Path", path)])
    if ch.hangup_cause is not None:
        raise Hangup
    return "_none_"


def _park(ch: Channel, arg: str) -> str:
    """The park application: the channel stays in CS_EXECUTE (as captured on 1.10.12; only park_after_bridge
    shows CS_PARK)."""
    ch.parked = True
    ch.switch.fire("CHANNEL_PARK", ch, [])
    ch.serve_queue()
    return "_none_"


def _multiset(ch: Channel, arg: str) -> str:
    for item in arg.split(" "):
        _set(ch, item)
    return "_none_"


def _sched_transfer(ch: Channel, arg: str) -> str:
    """``+<seconds> <extension> [dialplan context]``: FreeSWITCH's scheduler transfers the call then, unless the
    task (grouped by the channel's UUID) is deleted first (``sched_del``)."""
    when, extension = arg.split()[:2]
    ch.switch.schedule(ch.uuid, float(when.lstrip("+")), lambda: ch.transfer_to(extension))
    return "_none_"


def _hangup(ch: Channel, arg: str) -> str:
    ch.hangup(arg.strip() or "NORMAL_CLEARING", by_party=False)
    return "_none_"


def _set(ch: Channel, arg: str) -> str:
    name, _, value = arg.partition("=")
    if value:
        ch.variables[name] = value
    else:
        ch.variables.pop(name, None)
    return "_none_"


def _sleep(ch: Channel, arg: str) -> str:
    ch.wait(int(arg or 0) / 1000)
    return "_none_"


def _bridge(ch: Channel, arg: str) -> str:
    variables, endpoint = ch.switch.split_variables(arg)
    result = ch.switch.dial(endpoint, variables, caller=ch)
    if isinstance(result, str):
        ch.variables["originate_disposition"] = result
        return result
    ch.variables["originate_disposition"] = "SUCCESS"
    ch.answer()
    ch.bridge(result)
    gevent.wait([ch.gone, result.gone], count=1)
    if ch.parked:  # taken out of the bridge into park (an attended transfer replaced it): there until hung up
        ch.gone.wait()
    if ch.hangup_cause is None and ch.variables.get("hangup_after_bridge") == "true":
        ch.hangup("NORMAL_CLEARING", by_party=False)
    return "_none_"


EAVESDROP_MIXES = {"0": (False, False), "1": (False, True), "2": (True, False), "3": (True, True)}
"""eavesdrop's keys (switch_ivr_async.c) -> (the eavesdropped leg's phone hears the listener, its partner does)."""


def _eavesdrop(ch: Channel, arg: str) -> str:
    """``eavesdrop <uuid>``: the leg listens in on leg ``uuid`` until either goes or ``*`` is pressed; it is heard
    by that leg's phone (``eavesdrop_whisper_bleg``) and its partner (``_aleg``) as set, then as keys 0-3 say
    (``ch.listening``: (uuid, heard by the leg's phone, heard by its partner))."""
    target = ch.switch.channels.get(arg)
    if target is None or target.hangup_cause is not None:
        return "_none_"
    mix = (ch.variables.get("eavesdrop_whisper_bleg") == "true", ch.variables.get("eavesdrop_whisper_aleg") == "true")
    ch.interrupted.clear()  # the transfer that started it
    while ch.hangup_cause is None and target.hangup_cause is None:
        ch._digit_arrived.clear()
        while ch.digits:
            digit = ch.digits.popleft()
            if digit == "*":
                ch.listening = None
                return "_none_"
            mix = EAVESDROP_MIXES.get(digit, mix)
        ch.listening = (target.uuid, *mix)
        ch.switch._changed.set()  # tests waiting on the mix see it
        gevent.wait([ch.gone, target.gone, ch._digit_arrived, ch.interrupted], count=1)
        if ch.interrupted.is_set():  # uuid_transfer (to intercept the call), uuid_break
            ch.interrupted.clear()
            break
    ch.listening = None
    return "_none_"


def _intercept(ch: Channel, arg: str) -> str:
    """``intercept <uuid>`` (switch_ivr_intercept_session), as captured (tests/captures/esl_plain_supervise): the
    leg ``uuid``'s partner is hung up PICKED_OFF, then the leg's CHANNEL_UNBRIDGE (naming this one already), then
    this leg is bridged to it (uuid_bridge, CHANNEL_BRIDGE on this leg)."""
    caller = ch.switch.channels.get(arg)
    if caller is None or caller.hangup_cause is not None:
        return "_none_"
    partner = caller.bridged_to
    if partner is not None:
        caller.bridged_to = partner.bridged_to = None
        partner.hangup("PICKED_OFF", by_party=False)
        ch.switch.fire("CHANNEL_UNBRIDGE", caller, [("Bridge-A-Unique-ID", caller.uuid),
                                                    ("Bridge-B-Unique-ID", partner.uuid), ("Other-Leg-Unique-ID", ch.uuid)])
    ch.bridge(caller, by_api=True)
    ch.state = "CS_EXECUTE"  # bridged from within its own application, as captured
    gevent.wait([ch.gone, caller.gone], count=1)
    return "_none_"


def _record_session(ch: Channel, arg: str) -> str:
    ch.switch.fire("RECORD_START", ch, [("Record-File-Path", arg)])
    ch.gone.rawlink(lambda _: ch.switch.fire("RECORD_STOP", ch, [("Record-File-Path", arg)]))
    return "_none_"


@dataclass
class Room:
    """A conference as mod_conference 1.10.12 keeps it: members by id with their flags, and ``min`` (2 once a
    member with ``mintwo`` joins), enforced once that many were in."""

    name: str
    members: dict[str, tuple[Channel, frozenset[str]]] = field(default_factory=dict)
    min: int = 0
    enforced: bool = False


def _conference(ch: Channel, arg: str) -> str:
    """``conference name@profile[+flags{a|b}]``, as captured (tests/captures/esl_plain_three_way): the room is
    created with the first member; each joins (add-member with the new Conference-Size) and stays until it
    hangs up or is transferred away (del-member). A member with ``endconf`` leaving, or the room falling under
    its ``min``, ends the conference: the switch hangs up everyone left, then conference-destroy."""
    spec, _, flags_part = arg.partition("+flags{")
    name, flags = spec.split("@")[0], frozenset(filter(None, flags_part.rstrip("}").split("|")))
    sw = ch.switch
    room = sw.rooms.get(name)
    if room is None:
        room = sw.rooms[name] = Room(name)
        sw.fire("conference::maintenance", None, [("Conference-Name", name), ("Conference-Size", "0"),
                                                  ("Action", "conference-create")])
    member = str(sw.next_member())
    room.members[member] = (ch, flags)
    room.min = 2 if "mintwo" in flags else room.min
    room.enforced = room.enforced or bool(room.min and len(room.members) >= room.min)
    ch.answer()
    ch.interrupted.clear()
    conf = [("Conference-Name", name), ("Member-ID", member)]
    sw.fire("conference::maintenance", ch, [*conf, ("Conference-Size", str(len(room.members))), ("Action", "add-member")])
    try:
        gevent.wait([ch.gone, ch.interrupted], count=1)
    finally:
        del room.members[member]
        sw.fire("conference::maintenance", ch, [*conf, ("Conference-Size", str(len(room.members))),
                                                ("Action", "del-member")])
        if "endconf" in flags or (room.enforced and len(room.members) < room.min):
            for other, _ in list(room.members.values()):
                other.hangup("NORMAL_CLEARING", by_party=False)
        if not room.members:
            sw.rooms.pop(name, None)
            sw.fire("conference::maintenance", None, [("Conference-Name", name), ("Conference-Size", "0"),
                                                      ("Action", "conference-destroy")])
    return "_none_"


def _transfer(ch: Channel, arg: str) -> str:
    """Run the dialplan of another extension (``uuid_transfer`` and ``sched_transfer`` queue this); the
    CHANNEL_UNPARK already shows the new destination, as captured on 1.10.12."""
    ch.destination = arg.split()[0]
    if ch.parked:
        ch.parked = False
        ch.switch.fire("CHANNEL_UNPARK", ch, [])
    for app, app_arg in ch.switch.route(ch.destination):
        ch.execute(app, app_arg, str(uuidlib.uuid4()))
    return "_none_"


def _socket(ch: Channel, arg: str) -> str:
    ch.switch.connect_outbound(ch, arg)
    return "_none_"


def _unknown(ch: Channel, arg: str) -> str:
    return "-ERR invalid application"


def _bind_meta_app(ch: Channel, arg: str) -> str:
    """``bind_meta_app <digit> <listen> <respond> <app>[::<args>]``: ``*<digit>`` on the leg runs the app."""
    digit, _, _, app = arg.split(" ", 3)
    ch.meta_apps[digit] = app
    return "_none_"


def _run_bound(ch: Channel, app: str) -> None:
    """The application a bound key runs; the double knows ``event`` (a CUSTOM event with the given headers and
    the leg's channel data, as mod_dptools fires it)."""
    name, _, args = app.partition("::")
    if name != "event":
        raise ValueError(f"the double runs only the event application from a bound key, not {name!r}")
    headers = dict(pair.split("=", 1) for pair in args.split(","))
    headers.pop("Event-Name", None)
    ch.switch.fire(headers.pop("Event-Subclass"), ch, list(headers.items()))


APPLICATIONS: dict[str, Callable[[Channel, str], str]] = {
    "answer": _answer, "pre_answer": _pre_answer, "ring_ready": _ring_ready, "playback": _playback,
    "play_and_get_digits": _play_and_get_digits, "park": _park, "hangup": _hangup, "set": _set, "export": _set,
    "sleep": _sleep, "bridge": _bridge, "record_session": _record_session, "conference": _conference,
    "socket": _socket, "transfer": _transfer, "record": _record, "multiset": _multiset,
    "sched_transfer": _sched_transfer, "bind_meta_app": _bind_meta_app, "eavesdrop": _eavesdrop,
    "intercept": _intercept,
}
