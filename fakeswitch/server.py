"""The double itself: a real TCP ESL server on gevent that behaves as mod_event_socket does.

Reproduced from mod_event_socket.c and checked against the captures: the auth greeting and its paths, strict
reply FIFO, events written only between replies and held back while a slow ``api`` runs, ``bgapi`` results as
BACKGROUND_JOB bodies, plain/json serialization, filters, ``sendmsg``, ``myevents``, outbound ``connect`` and
``linger``, disconnect notices, abrupt drops, and the listener kill after 500 consecutive lost events.
"""

from __future__ import annotations

import itertools
import json
import re
import xml.etree.ElementTree as ET
import time
import uuid as uuidlib
from email.utils import formatdate
from typing import Callable

import gevent
import structlog
from gevent import socket
from gevent.event import Event as Flag
from gevent.lock import Semaphore
from gevent.queue import Full, Queue
from gevent.server import StreamServer

from fakeswitch import serialize, templates
from fakeswitch.channels import INLINE, Application, Channel, Endpoint, Queued, Room, now_us, write_recording
from fakeswitch.packets import Drop, Packet, PacketReader

log = structlog.get_logger(__name__)

LOST_EVENTS_LIMIT = 500
RELOAD_DOWN_S = 0.05
"""How long the port refuses after ``reload mod_event_socket`` (about 50 ms measured on 1.10.12)."""
STATE_NUMBERS = {"CS_NONE": "1", "CS_NEW": "0", "CS_INIT": "1", "CS_ROUTING": "2", "CS_SOFT_EXECUTE": "3",
                 "CS_EXECUTE": "4", "CS_EXCHANGE_MEDIA": "5", "CS_PARK": "6", "CS_CONSUME_MEDIA": "7",
                 "CS_HIBERNATE": "8", "CS_RESET": "9", "CS_HANGUP": "10", "CS_REPORTING": "11", "CS_DESTROY": "12"}
"""Channel-State-Number by state; CHANNEL_OUTGOING shows CS_NONE with number 1, as captured on 1.10.12."""
SOFIA_REG = {"calling": ["sofia_reg.c", "sofia_reg_handle_register_token", "2059"], "channel": False, "custom": True,
             "headers": [], "body": ""}
"""sofia::register and sofia::unregister, as captured on 1.10.12 (their headers come from FakeSwitch._registration)."""
GENERIC = {"calling": ["switch_event.c", "switch_event_fire_detailed", "0"], "channel": True, "custom": False,
           "headers": [], "body": ""}
"""For events no capture holds (RECORD_START/STOP): core and channel block only."""


class FakeSwitch:
    """A FreeSWITCH stand-in: ESL listener, dialplan, channels and simulated SIP endpoints."""

    def __init__(self, password: str, host: str = "127.0.0.1", port: int = 0, *, heartbeat_interval: float | None = 20.0,
                 playback_seconds: float = 0.01, time_scale: float = 1.0, event_queue_limit: int = 100_000,
                 first_packet_timeout: float = 25.0) -> None:
        self.password = password
        self.core_uuid = str(uuidlib.uuid4())
        self.heartbeat_interval = heartbeat_interval
        self.playback_seconds = playback_seconds
        self.time_scale = time_scale
        self.schedule_scale: float | None = None
        """How fast ``sched_transfer`` tasks come due (None: as ``time_scale`` says). A test that speeds the
        callers' time up, but is not about the safety net, keeps the net's deadline real: a hundredfold, its
        20 s were 200 ms, less than a loaded machine can take to reach the call."""
        self.event_queue_limit = event_queue_limit
        self.first_packet_timeout = first_packet_timeout
        self.dialplan: dict[str, list[Application]] = {}
        """Extensions by exact number (tests script them); ``load_dialplan`` adds rendered XML extensions."""
        self.routes: list[tuple[re.Pattern[str], list[Application]]] = []
        self.scheduled: dict[str, list[gevent.Greenlet]] = {}
        """sched_transfer tasks by group (the channel's UUID)."""
        self.failing_bridges = 0
        """The next so many ``uuid_bridge`` commands fail as if a leg were unusable."""
        self.partner_hangs_up_first = False
        """A party hanging up a bridged call: its partner's CHANNEL_HANGUP comes first (seen on 1.10.12, about one
        time in three after an engine restart: the caller's BYE, the agent leg's CHANNEL_HANGUP first)."""
        self.endpoints: dict[str, Endpoint] = {}
        self.directory: dict[str, dict[str, str]] = {}
        """SIP users of the domain 127.0.0.1, first definition first: ``param NAME`` and ``var NAME`` -> value."""
        self.registrations: dict[str, str] = {}
        """SIP users whose phone is registered, with the registration's Call-ID: ``user/...`` reaches only these."""
        self.default_endpoint = Endpoint()
        self.channels: dict[str, Channel] = {}
        self.received: list[tuple[int, str]] = []
        self.listeners: list[Listener] = []
        self._gates: dict[str, Flag] = {}
        self._cuts: dict[str, int] = {}
        """API command -> how many more of it pass before the one that is cut."""
        self._holding: dict[gevent.Greenlet, list[Channel]] = {}
        """Per greenlet running an API command: failed legs whose CHANNEL_DESTROY waits for its result."""
        self._restart: gevent.Greenlet | None = None
        self._sequence = itertools.count(1)
        self._members = itertools.count(1)
        self.rooms: dict[str, Room] = {}
        self._connection_ids = itertools.count(1)
        self._changed = Flag()
        self._server = StreamServer((host, port), self._accept)
        self._heartbeat: gevent.Greenlet | None = None
        self.started = time.monotonic()

    # --- lifecycle ------------------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        return self._server.address[:2]

    def start(self) -> None:
        self._server.start()
        if self.heartbeat_interval:
            self._heartbeat = gevent.spawn(self._beat)

    def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.kill()
        if self._restart is not None:
            self._restart.kill()
        self._server.stop(timeout=0)
        self.drop_connections()
        for channel in list(self.channels.values()):
            channel.hangup("SYSTEM_SHUTDOWN", by_party=False)

    # --- the scripted world ---------------------------------------------------------------------------

    def set_endpoint(self, endpoint: str, answer_after: float | None = 0.0, cause: str | None = None,
                     hangup_after: float | None = None, says: str | None = None) -> None:
        """How ``originate``/``bridge`` to ``endpoint`` goes: answered after N s, ringing forever (None), or ``cause``;
        once answered, the phone hangs up after ``hangup_after`` s (None: never by itself); ``says``: a mono WAV
        of what the phone says (recordings hold it)."""
        self.endpoints[endpoint] = Endpoint(answer_after, cause, hangup_after, says)
        if endpoint.startswith("user/"):
            self.register(endpoint[5:].split("@")[0])

    def refer(self, leg: Channel, number: str) -> None:
        """The phone on ``leg`` transfers its partner with a blind SIP REFER to ``number``, as captured on 1.10.12
        (tests/captures/esl_plain_refer_blind): the leg is marked BLIND_TRANSFER and hung up by its phone's BYE,
        then the partner, ``sip_refer_to`` set, runs ``number`` in its own dialplan (where the rendered
        hotline_referred extension parks it)."""
        partner = leg.bridged_to
        if partner is None:
            raise ValueError("a blind transfer needs a bridged leg (FreeSWITCH: Cannot Blind Transfer 1 Legged calls)")
        leg.variables.update(endpoint_disposition="BLIND_TRANSFER", transfer_to=f"blind:{partner.uuid}")
        partner.variables["sip_refer_to"] = f"sip:{number}@127.0.0.1"
        leg.bridged_to = partner.bridged_to = None
        leg.hangup()
        partner.transfer_to(number)

    def refer_replacing(self, leg: Channel, replaced: Channel) -> None:
        """The phone on ``leg`` completes an attended transfer (SIP REFER with Replaces naming its own other call,
        ``replaced``), as captured on 1.10.12 (tests/captures/esl_plain_refer_attended): the replaced leg leaves its
        bridge (ATTENDED_TRANSFER) and parks; ``leg`` is marked with the partner's new peer (``transfer_to``
        att:<uuid>) and hung up by the switch, with no CHANNEL_UNBRIDGE of its own; its old partner is unbridged
        and bridged to the replaced leg's partner (uuid_bridge); the replaced leg is hung up after its
        ``park_timeout`` (ATTENDED_TRANSFER)."""
        partner, far = leg.bridged_to, replaced.bridged_to
        if partner is None or far is None:
            raise ValueError("an attended transfer needs both calls bridged (else FreeSWITCH answers 403 Forbidden)")
        replaced.variables.update(endpoint_disposition="ATTENDED_TRANSFER", transfer_disposition="replaced")
        replaced.bridged_to = far.bridged_to = None
        originator, legs = replaced._bridge_ends(far)
        self.fire("CHANNEL_UNBRIDGE", originator, legs)
        replaced.park_again()
        leg.variables.update(transfer_disposition="recv_replace", refer_uuid=replaced.uuid, transfer_to=f"att:{far.uuid}")
        leg.bridged_to = partner.bridged_to = None
        leg.hangup(by_party=False)
        self.fire("CHANNEL_UNBRIDGE", partner, [("Bridge-A-Unique-ID", partner.uuid), ("Bridge-B-Unique-ID", leg.uuid),
                                                ("Other-Leg-Unique-ID", far.uuid)])  # its peer already the new one
        partner.bridge(far, by_api=True)
        self.schedule(replaced.uuid, 2, lambda: replaced.hangup("ATTENDED_TRANSFER", by_party=False))

    def register(self, user: str) -> None:
        """SIP user ``user``'s phone registers (a configured ``user/`` endpoint is one that has)."""
        if user not in self.registrations:
            self.registrations[user] = uuidlib.uuid4().hex[:16]
            self._registration("sofia::register", user)

    def unregister(self, user: str) -> None:
        """The phone sends REGISTER with Expires: 0: ``user/`` calls to it fail as USER_NOT_REGISTERED."""
        if user in self.registrations:
            self._registration("sofia::unregister", user)
            del self.registrations[user]

    def _registration(self, name: str, user: str) -> None:
        """The event mod_sofia 1.10.12 fires, its headers in the captured order
        (tests/captures/esl_plain_register_unregister_rx.txt)."""
        contact, token = f'"" <sip:{user}@127.0.0.1:5090>', self.registrations[user]
        agent = "baresip v1.0.0 (x86_64/linux)"
        if name == "sofia::register":
            headers = [("profile-name", "internal"), ("from-user", user), ("from-host", "127.0.0.1"),
                       ("presence-hosts", "127.0.0.1,127.0.0.1"), ("contact", contact), ("call-id", token),
                       ("rpid", "unknown"), ("status", "Registered(UDP)"), ("expires", "300"), ("to-user", user),
                       ("to-host", "127.0.0.1"), ("network-ip", "127.0.0.1"), ("network-port", "5090"),
                       ("username", user), ("realm", "127.0.0.1"), ("user-agent", agent)]
        else:
            headers = [("profile-name", "internal"), ("username", user), ("from-user", user), ("from-host", "127.0.0.1"),
                       ("contact", contact), ("call-id", token), ("rpid", "unknown"), ("realm", "127.0.0.1"),
                       ("network-ip", "127.0.0.1"), ("network-port", "5090"), ("user-agent", agent), ("expires", "0")]
        self.fire(name, None, [*headers, ("user_name", user), ("domain_name", "127.0.0.1"), ("user_context", "default")])

    def place_call(self, caller_id_number: str, destination_number: str, caller_id_name: str = "",
                   sip_headers: dict[str, str] | None = None, dtmf: str = "", user: str = "",
                   says: str | None = None) -> Channel:
        """A citizen's call arrives on the external SIP profile and runs the dialplan for its number; or, with
        ``user``, a softphone's call on the internal profile that FreeSWITCH authenticated as that SIP user.
        ``says``: a mono WAV of what the caller says (recordings hold it)."""
        variables = {"sip_from_user": caller_id_number, "sip_to_user": destination_number,
                     "sip_req_user": destination_number}
        if user:
            variables.update(user_name=user, domain_name="127.0.0.1")
        variables.update({f"sip_h_{name}": value for name, value in (sip_headers or {}).items()})
        profile = "internal" if user else "external"
        channel = Channel(self, direction="inbound", name=f"sofia/{profile}/{caller_id_number}@127.0.0.1",
                          caller_id_number=caller_id_number, caller_id_name=caller_id_name or caller_id_number,
                          destination=destination_number, context="default" if user else "public",
                          variables=variables)
        channel.digits.extend(dtmf)
        channel.says = says
        self.channels[channel.uuid] = channel
        channel.state = "CS_INIT"
        self.fire("CHANNEL_CREATE", channel, [])
        gevent.spawn(channel.run, self.route(destination_number))
        return channel

    def route(self, destination: str) -> list[Application]:
        """The applications an extension runs: a scripted number, else the first loaded extension whose
        destination_number expression matches, else park."""
        if destination in self.dialplan:
            return self.dialplan[destination]
        for pattern, actions in self.routes:
            if pattern.search(destination):
                return actions
        return [("park", "")]

    def load_dialplan(self, path: str) -> None:
        """Take the extensions of a FreeSWITCH dialplan XML file with a destination_number condition (what
        switch_conf renders; its hotline_referred extension, on channel variables, is the double's fallback: park)."""
        for extension in ET.parse(path).getroot().iter("extension"):
            condition = extension.find("condition")
            if condition is None or condition.get("field") != "destination_number":
                continue
            actions = [(action.get("application", ""), action.get("data", "")) for action in condition.iter("action")]
            self.routes.append((re.compile(condition.get("expression", "")), actions))

    def load_directory(self, path: str) -> None:
        """Take the users of a directory XML file; like FreeSWITCH, a user id already defined keeps its first
        definition."""
        for user in ET.parse(path).getroot().iter("user"):
            entries = {f"{kind} {item.get('name')}": item.get("value", "")
                       for kind in ("param", "variable") for item in user.iter(kind)}
            self.directory.setdefault(user.get("id", ""), {k.replace("variable ", "var "): v for k, v in entries.items()})

    def schedule(self, group: str, seconds: float, task: Callable[[], None]) -> None:
        def run() -> None:
            gevent.sleep(seconds * (self.time_scale if self.schedule_scale is None else self.schedule_scale))
            self.scheduled.get(group, []).remove(gevent.getcurrent())
            task()
        self.scheduled.setdefault(group, []).append(gevent.spawn(run))

    def gate_api(self, command: str) -> Flag:
        """Hold every ``api <command> ...`` (and its connection's events) until the returned flag is set."""
        gate = self._gates[command] = Flag()
        return gate

    def cut_before(self, command: str, passing: int = 0) -> None:
        """The next ``api <command>`` (after ``passing`` of them) never arrives: the connection that sends it
        drops instead (the cable cut as the command was on its way), and the switch carries nothing out."""
        self._cuts[command] = passing

    def drop_connections(self) -> None:
        """Close every ESL connection abruptly, with no disconnect notice (a crash or a cut cable)."""
        for listener in list(self.listeners):
            listener.close()

    def reload_event_socket(self, down_s: float) -> None:
        """``reload mod_event_socket``, as captured on 1.10.12: every connection gets the disconnect notice
        "The system is being shut down." and is closed; new connections are refused for ``down_s`` (about 50 ms
        measured), while the calls go on."""
        for listener in list(self.listeners):
            try:
                listener._send(serialize.disconnect_notice(text=serialize.SHUTDOWN))
            except OSError:
                pass
            listener.close()
        address = self.address
        if self._restart is not None and not self._restart.dead:  # reloaded again while still down
            self._restart.kill()
        elif self._server.started:
            self._server.stop(timeout=0)
        self._server = StreamServer(address, self._accept)
        self._restart = gevent.spawn_later(down_s, self._server.start)

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` holds, re-checking whenever the switch's state changes."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            self._changed.wait(min(remaining, 0.05))
        return True

    # --- events ---------------------------------------------------------------------------------------

    def core_headers(self, event_name: str, calling: list[str]) -> list[tuple[str, str]]:
        """The headers every event starts with (switch_event_prep_for_delivery), numbered in sequence."""
        now = time.time()
        dynamic = {
            "Event-Name": event_name, "Core-UUID": self.core_uuid,
            "Event-Date-Local": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)),
            "Event-Date-GMT": formatdate(now, usegmt=True), "Event-Date-Timestamp": str(int(now * 1_000_000)),
            "Event-Calling-File": calling[0], "Event-Calling-Function": calling[1],
            "Event-Calling-Line-Number": calling[2], "Event-Sequence": str(next(self._sequence)),
        }
        return [(h, dynamic.get(h, sample)) for h, sample in templates.load()["core"]]

    def fire(self, name: str, channel: Channel | None, extra: list[tuple[str, str | None]], body: str = "") -> None:
        """Build an event with the captured header set for ``name`` and deliver it to every listener; an
        ``extra`` value of None leaves that header out."""
        spec = templates.load()["events"].get(name) or (SOFIA_REG if name.startswith("sofia::") else GENERIC)
        custom = "::" in name
        headers = [("Event-Subclass", name)] if custom else []
        headers += self.core_headers("CUSTOM" if custom else name, spec["calling"])
        if channel is not None and spec["channel"]:
            headers += self._channel_block(channel)
        given = dict(extra)
        headers += [(h, value) for h, sample in spec["headers"] if (value := given.pop(h, sample)) is not None]
        headers += [(h, value) for h, value in given.items() if value is not None]
        if channel is not None and spec["channel"]:
            headers += [(f"variable_{k}", v) for k, v in channel.variables.items()]
        for listener in list(self.listeners):
            listener.offer(name, headers, body, channel)
        self._changed.set()

    def _channel_block(self, ch: Channel) -> list[tuple[str, str]]:
        """The channel's headers, rebuilt only when something they show has changed (most events repeat them)."""
        key = (ch.state, ch.call_state, ch.answer_state, ch.hangup_cause, ch.answered_us, ch.destination, ch.hold_accum_us,
               ch.last_hold_us)
        if ch.block_key != key:
            ch.block_key, ch.block = key, self._build_channel_block(ch)
        return ch.block

    def _build_channel_block(self, ch: Channel) -> list[tuple[str, str]]:
        values = {
            "Channel-State": ch.state, "Channel-Call-State": ch.call_state,
            "Channel-State-Number": STATE_NUMBERS.get(ch.state, "0"), "Channel-Name": ch.name, "Unique-ID": ch.uuid,
            "Call-Direction": ch.direction, "Presence-Call-Direction": ch.direction,
            "Channel-HIT-Dialplan": "true" if ch.direction == "inbound" else "false", "Channel-Call-UUID": ch.uuid,
            "Answer-State": ch.answer_state, "Caller-Direction": ch.direction, "Caller-Logical-Direction": ch.direction,
            "Caller-Username": ch.caller_id_number, "Caller-Caller-ID-Name": ch.caller_id_name,
            "Caller-Caller-ID-Number": ch.caller_id_number, "Caller-Orig-Caller-ID-Name": ch.caller_id_name,
            "Caller-Orig-Caller-ID-Number": ch.caller_id_number, "Caller-ANI": ch.caller_id_number,
            "Caller-Destination-Number": ch.destination, "Caller-Unique-ID": ch.uuid, "Caller-Context": ch.context,
            "Caller-Channel-Name": ch.name, "Caller-Profile-Created-Time": str(ch.created_us),
            "Caller-Channel-Created-Time": str(ch.created_us), "Caller-Channel-Answered-Time": str(ch.answered_us),
            "Caller-Channel-Last-Hold": str(ch.last_hold_us), "Caller-Channel-Hold-Accum": str(ch.hold_accum_us),
        }
        block = []
        for name, sample in templates.load()["channel"]:
            block.append((name, values.get(name, sample)))
            if name == "Answer-State" and ch.hangup_cause:
                block.append(("Hangup-Cause", ch.hangup_cause))
        return block

    def _beat(self) -> None:
        assert self.heartbeat_interval
        while True:
            gevent.sleep(self.heartbeat_interval)
            uptime = int((time.monotonic() - self.started) * 1000)
            self.fire("HEARTBEAT", None, [("Up-Time", f"{uptime // 1000} seconds"), ("Uptime-msec", str(uptime)),
                                          ("Session-Count", str(len(self.channels)))])

    # --- calls the switch makes -------------------------------------------------------------------------

    @staticmethod
    def split_variables(dial: str) -> tuple[dict[str, str], str]:
        """``{a=b,c=d}endpoint`` into its variables and endpoint."""
        variables: dict[str, str] = {}
        if dial.startswith("{") and "}" in dial:
            block, dial = dial[1:].split("}", 1)
            for item in filter(None, block.split(",")):
                key, _, value = item.partition("=")
                variables[key] = value.strip("'")
        return variables, dial

    def dial(self, endpoint: str, variables: dict[str, str], caller: Channel | None = None) -> Channel | str:
        """Originate one leg; returns the answered channel or the failure cause."""
        behaviour = self.endpoints.get(endpoint, self.default_endpoint)
        if endpoint.startswith("user/"):  # the user endpoint names the directory user it dialled
            if endpoint[5:].split("@")[0] not in self.registrations:  # error/user_not_registered: no channel
                return "USER_NOT_REGISTERED"
            variables = {**variables, "dialed_user": endpoint[5:].split("@")[0], "dialed_domain": "127.0.0.1"}
        leg = Channel(self, direction="outbound", name=endpoint, uuid=variables.get("origination_uuid"),
                      caller_id_number=variables.get("origination_caller_id_number", "0000000000"),
                      caller_id_name=variables.get("origination_caller_id_name", "Outbound Call"),
                      destination=endpoint.rsplit("/", 1)[-1].split("@")[0], context="default", variables=variables)
        leg.says = behaviour.says
        leg.released.clear()
        self.channels[leg.uuid] = leg
        leg.state = "CS_NONE"  # as captured on 1.10.12: CHANNEL_OUTGOING, CHANNEL_CREATE, CHANNEL_ORIGINATE
        self.fire("CHANNEL_OUTGOING", leg, [])
        leg.state = "CS_INIT"
        self.fire("CHANNEL_CREATE", leg, [])
        self.fire("CHANNEL_ORIGINATE", leg, [])
        if behaviour.cause:
            leg.hangup(behaviour.cause, by_party=True)
            return self._failed(leg)
        leg.state, leg.call_state = "CS_CONSUME_MEDIA", "RINGING"
        self.fire("CHANNEL_PROGRESS", leg, [])
        timeout = float(variables.get("originate_timeout", 60))
        wait_for = timeout if behaviour.answer_after is None else min(timeout, behaviour.answer_after)
        abandoned = [leg.gone] + ([caller.gone] if caller is not None else [])
        if gevent.wait(abandoned, timeout=wait_for * self.time_scale, count=1):
            leg.hangup(leg.hangup_cause or "ORIGINATOR_CANCEL", by_party=False)
            return self._failed(leg)
        if behaviour.answer_after is None or behaviour.answer_after > timeout:
            leg.hangup("NO_ANSWER", by_party=False)
            return self._failed(leg)
        leg.released.set()
        leg.answer()
        if behaviour.hangup_after == 0:
            leg.hangup()
        elif behaviour.hangup_after is not None:
            gevent.spawn_later(behaviour.hangup_after * self.time_scale, leg.hangup)
        return leg

    def _failed(self, leg: Channel) -> str:
        """A leg that failed while originated, as captured on 1.10.12 (``uuid_kill B ORIGINATOR_CANCEL``): its
        CHANNEL_HANGUP_COMPLETE comes before the originate's result (the BACKGROUND_JOB), its CHANNEL_DESTROY only
        after it, since the originating thread still holds the session until then."""
        leg.completed.wait()
        holding = self._holding.get(gevent.getcurrent())
        if holding is None:
            leg.released.set()
        else:
            holding.append(leg)
        return leg.hangup_cause or "ORIGINATOR_CANCEL"

    def originate(self, arg: str) -> str:
        """The ``originate`` API: ``{vars}endpoint &app(arg)`` or ``{vars}endpoint extension``."""
        dial, _, target = arg.partition(" ")
        variables, endpoint = self.split_variables(dial)
        result = self.dial(endpoint, variables)
        if isinstance(result, str):
            return f"-ERR {result}\n"
        match = re.fullmatch(r"&(\w+)\((.*)\)", target.strip())
        plan = [(match[1], match[2])] if match else self.route(target.split()[0] if target else "")
        gevent.spawn(result.run, plan)
        return f"+OK {result.uuid}\n"

    def connect_outbound(self, channel: Channel, arg: str) -> None:
        """The ``socket`` application: connect to the engine and let it drive the call."""
        address = arg.split()[0]
        host, _, port = address.rpartition(":")
        try:
            sock = socket.create_connection((host, int(port)), timeout=5)
        except OSError:
            channel.hangup("DESTINATION_OUT_OF_ORDER", by_party=False)
            return
        listener = Listener(self, sock, next(self._connection_ids), session=channel)
        self.listeners.append(listener)
        gevent.spawn(listener.serve)
        channel.parked = True
        channel.serve_queue()

    def next_member(self) -> int:
        return next(self._members)

    # --- ESL connections --------------------------------------------------------------------------------

    def _accept(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        listener = Listener(self, sock, next(self._connection_ids))
        self.listeners.append(listener)
        listener.serve()

    def api(self, line: str, publish: Callable[[str], None] | None = None) -> str:
        """Run one API command line; returns its output as FreeSWITCH would. ``publish`` delivers the output (the
        api/response, the BACKGROUND_JOB) before the legs the command still holds are let go."""
        command, _, arg = line.partition(" ")
        gate = self._gates.get(command)
        if gate is not None:
            gate.wait()
        handler = API.get(command)
        current = gevent.getcurrent()
        mine = current not in self._holding
        if mine:
            self._holding[current] = []
        try:
            output = f"-ERR {command} Command not found!\n" if handler is None else handler(self, arg.strip())
            if publish is not None:
                publish(output)
        finally:
            if mine:
                for leg in self._holding.pop(current):
                    leg.released.set()
        return output


class Listener:
    """One ESL connection, inbound (authenticated) or outbound (bound to ``session``)."""

    def __init__(self, switch: FakeSwitch, sock: socket.socket, number: int, session: Channel | None = None) -> None:
        self.switch = switch
        self.sock = sock
        self.number = number
        self.session = session
        self.authed = session is not None
        self.format = "plain"
        self.events: set[str] = set()
        self.all_events = False
        self.custom: set[str] = set()
        self.filters: list[tuple[str, str]] = []
        self.bound_uuid: str | None = session.uuid if session else None
        self.linger = False
        self.write_lock = Semaphore()
        self.queue: Queue[bytes] = Queue(maxsize=switch.event_queue_limit)
        self.lost = 0
        self.closed = False
        self._writer: gevent.Greenlet | None = None

    def serve(self) -> None:
        reader = PacketReader(self.sock)
        try:
            if self.session is None:
                self._send(serialize.AUTH_REQUEST)
                with gevent.Timeout(self.switch.first_packet_timeout, EOFError):
                    first = reader.read()
                self._handle(first)
            else:
                first = reader.read()
                if first.command.strip() != "connect":
                    return  # FreeSWITCH never answers a first command other than connect
                self._connect_reply()
                self.session.on_gone.append(self._session_gone)
            self._writer = gevent.spawn(self._write_events)
            while not self.closed:
                self._handle(reader.read())
        except (EOFError, OSError, Drop):
            pass
        finally:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self in self.switch.listeners:
            self.switch.listeners.remove(self)
        if self._writer is not None and self._writer is not gevent.getcurrent():
            self._writer.kill(block=False)
        try:
            self.sock.close()
        except OSError:
            pass
        if self.session is not None and self.session.hangup_cause is None:
            self.session.queue.put(Queued("", "", "resume"))

    def _send(self, data: bytes) -> None:
        with self.write_lock:
            self.sock.sendall(data)

    def _write_events(self) -> None:
        try:
            while not self.closed:
                data = self.queue.get()
                self._send(data)
        except OSError:
            self.close()

    # --- event delivery ---------------------------------------------------------------------------------

    def offer(self, name: str, headers: list[tuple[str, str]], body: str, channel: Channel | None) -> None:
        if self.closed or not self._wants(name, headers):
            return
        if self.bound_uuid is not None and dict(headers).get("Unique-ID") != self.bound_uuid:
            if name not in ("BACKGROUND_JOB", "HEARTBEAT") or self.session is not None:
                return
        try:
            self.queue.put_nowait(serialize.event_frame(self.format, headers, body))
            self.lost = 0
        except Full:
            self.lost += 1
            if self.lost > LOST_EVENTS_LIMIT:
                log.warning("fakeswitch.killed_listener", reason="killed listener because of lost events")
                self.close()

    def _wants(self, name: str, headers: list[tuple[str, str]]) -> bool:
        if "::" in name:
            subscribed = self.all_events or ("CUSTOM" in self.events and (name in self.custom or not self.custom))
        else:
            subscribed = self.all_events or name in self.events
        if not subscribed:
            return False
        if not self.filters:
            return True
        values = dict(headers)
        send = False
        for header, wanted in self.filters:
            value = values.get(header)
            if value is None:
                continue
            positive = not wanted.startswith("-")
            target = wanted.lstrip("+-")
            if send and positive:
                continue
            matched = re.search(target[1:-1], value) if target.startswith("/") and target.endswith("/") \
                else value.lower() == target.lower()
            if matched:
                if not positive:
                    return False
                send = True
        return send

    # --- commands -----------------------------------------------------------------------------------------

    def _reply(self, text: str, extra: list[tuple[str, str]] = ()) -> None:
        self._send(serialize.reply(text, extra))

    def _handle(self, packet: Packet) -> None:
        line = packet.command.strip()
        self.switch.received.append((self.number, line))
        self.switch._changed.set()
        word = line.split(" ", 1)[0].lower()
        if not self.authed:
            if word == "auth":
                if line[5:] == self.switch.password:
                    self.authed = True
                    self._reply("+OK accepted")
                else:
                    self._reply("-ERR invalid")
                    self._send(serialize.disconnect_notice())
                    self.close()
            elif word == "exit":
                self._reply("+OK bye")
                self.close()
            else:
                self._reply("-ERR command not found")
            return
        if "reload" in line.lower() and "mod_event_socket" in line.lower():
            self._reload_cheat()
            return
        handler = COMMANDS.get(word)
        if handler is None:
            self._reply("-ERR command not found")
        else:
            handler(self, line, packet)

    def _reload_cheat(self) -> None:
        """mod_event_socket runs any command naming both ``reload`` and ``mod_event_socket`` as ``api bgapi reload
        mod_event_socket`` (parse_command's reload_cheat): an api/response with the job, then, as captured on
        1.10.12, the module goes down with every connection."""
        self._send(serialize.api_response(f"+OK Job-UUID: {uuidlib.uuid4()}\n"))
        gevent.spawn(self.switch.reload_event_socket, RELOAD_DOWN_S)

    def _connect_reply(self) -> None:
        ch = self.session
        assert ch is not None
        headers = [("Event-Name", "CHANNEL_DATA")] + self.switch._channel_block(ch)
        headers += [(f"variable_{k}", v) for k, v in ch.variables.items()]
        headers += [("Content-Type", "command/reply"), ("Reply-Text", "+OK\n"), ("Socket-Mode", "async"),
                    ("Control", "full")]
        self._send(serialize.plain(headers))

    def _session_gone(self) -> None:
        if self.closed:
            return
        if self.linger:
            gevent.spawn(self._send_quietly, serialize.disconnect_notice("linger", self.bound_uuid))
        else:
            gevent.spawn(self._notice_and_close)

    def _send_quietly(self, data: bytes) -> None:
        try:
            self._send(data)
        except OSError:
            self.close()

    def _notice_and_close(self) -> None:
        while not self.queue.empty() and not self.closed:
            gevent.sleep(0)
        self._send_quietly(serialize.disconnect_notice("disconnect", self.bound_uuid))
        self.close()


def _cmd_api(listener: Listener, line: str, packet: Packet) -> None:
    cuts = listener.switch._cuts
    if (command := line[4:].partition(" ")[0]) in cuts:
        if cuts[command] == 0:
            del cuts[command]
            raise Drop(f"cut before api {command}")
        cuts[command] -= 1
    with listener.write_lock:  # events wait while the api runs, as on the real switch
        listener.switch.api(line[4:], publish=lambda output: listener.sock.sendall(serialize.api_response(output)))


def _cmd_bgapi(listener: Listener, line: str, packet: Packet) -> None:
    job = packet.header("job-uuid") or str(uuidlib.uuid4())
    command, _, arg = line[6:].partition(" ")
    listener._reply(f"+OK Job-UUID: {job}", [("Job-UUID", job)])

    def run() -> None:
        listener.switch.api(line[6:], publish=lambda output: listener.switch.fire(
            "BACKGROUND_JOB", None, [("Job-UUID", job), ("Job-Command", command), ("Job-Command-Arg", arg)], output))

    gevent.spawn(run)


def _cmd_event(listener: Listener, line: str, packet: Packet) -> None:
    words = line.split()[1:]
    if words and words[0].lower() in ("plain", "json", "xml"):
        listener.format = words.pop(0).lower()
    names, custom = [], False
    for word in words:
        if custom:
            listener.custom.add(word)
        elif word == "ALL":
            listener.all_events = True
            names.append(word)
        elif re.fullmatch(r"[A-Z_]+", word):
            names.append(word)
            custom = custom or word == "CUSTOM"
    if not names:
        listener._reply("-ERR no keywords supplied")
        return
    listener.events.update(names)
    listener._reply(f"+OK event listener enabled {listener.format}")


def _cmd_nixevent(listener: Listener, line: str, packet: Packet) -> None:
    words = line.split()[1:]
    if not words:
        listener._reply("-ERR no keywords supplied")
        return
    for word in words:
        if word == "ALL":
            listener.all_events = False
            listener.events.clear()
        listener.events.discard(word)
        listener.custom.discard(word)
    listener._reply("+OK events nixed")


def _cmd_noevents(listener: Listener, line: str, packet: Packet) -> None:
    if not (listener.events or listener.all_events):
        listener._reply("-ERR not listening for events")
        return
    listener.events.clear()
    listener.custom.clear()
    listener.all_events = False
    listener._reply("+OK no longer listening for events")


def _cmd_filter(listener: Listener, line: str, packet: Packet) -> None:
    words = line.split(" ", 2)
    if len(words) >= 2 and words[1] == "delete":
        target = words[2] if len(words) > 2 else ""
        listener.filters = [] if target in ("", "all") else [f for f in listener.filters if f[0] != target.split()[0]]
        listener._reply(f"+OK filter deleted. [{target}]")
        return
    if len(words) < 3:
        listener._reply("-ERR invalid syntax")
        return
    listener.filters.append((words[1], words[2]))
    listener._reply(f"+OK filter added. [{words[1]}]=[{words[2]}]")


def _cmd_sendmsg(listener: Listener, line: str, packet: Packet) -> None:
    uuid = line[7:].strip() or packet.header("session-id") or (listener.session.uuid if listener.session else "")
    channel = listener.switch.channels.get(uuid)
    if channel is None or channel.hangup_cause is not None:
        listener._reply(f"-ERR invalid session id [{uuid}]")
        return
    command = (packet.header("call-command") or "").lower()
    if command == "execute":
        arg = packet.header("execute-app-arg")
        if arg is None and (packet.header("content-type") or "").lower() == "text/plain":
            arg = packet.body.decode("utf-8", "surrogateescape")
        channel.queue.put(Queued(packet.header("execute-app-name") or "", arg or "",
                                 packet.header("event-uuid") or str(uuidlib.uuid4()), int(packet.header("loops") or 1),
                                 packet.header("event-uuid-name")))
    elif command == "hangup":
        channel.hangup(packet.header("hangup-cause") or "NORMAL_CLEARING", by_party=False)
    listener._reply("+OK")


def _cmd_myevents(listener: Listener, line: str, packet: Packet) -> None:
    words = line.split()[1:]
    if listener.session is None:
        if not words or words[0] not in listener.switch.channels:
            listener._reply("-ERR invalid uuid")
            return
        listener.bound_uuid = words.pop(0)
        listener.switch.channels[listener.bound_uuid].on_gone.append(listener._session_gone)
    if words and words[0] in ("plain", "json", "xml"):
        listener.format = words[0]
    listener.all_events = True
    listener._reply("+OK Events Enabled")


def _cmd_linger(listener: Listener, line: str, packet: Packet) -> None:
    if listener.bound_uuid is None:
        listener._reply("-ERR not controlling a session")
        return
    listener.linger = True
    words = line.split()
    listener._reply(f"+OK will linger {words[1]} seconds" if len(words) > 1 else "+OK will linger")


def _cmd_nolinger(listener: Listener, line: str, packet: Packet) -> None:
    listener.linger = False
    listener._reply("+OK will not linger")


def _cmd_getvar(listener: Listener, line: str, packet: Packet) -> None:
    name = line[7:].strip()
    listener._reply(listener.session.variables.get(name, "") if listener.session else "")


def _cmd_resume(listener: Listener, line: str, packet: Packet) -> None:
    listener._reply("+OK")


def _cmd_log(listener: Listener, line: str, packet: Packet) -> None:
    listener._reply("+OK log level  [7]" if line.lower().startswith("log") else "+OK no longer logging")


def _cmd_exit(listener: Listener, line: str, packet: Packet) -> None:
    listener._reply("+OK bye")
    listener._send(serialize.disconnect_notice())
    listener.close()


COMMANDS: dict[str, Callable[[Listener, str, Packet], None]] = {
    "api": _cmd_api, "bgapi": _cmd_bgapi, "event": _cmd_event, "nixevent": _cmd_nixevent, "noevents": _cmd_noevents,
    "filter": _cmd_filter, "sendmsg": _cmd_sendmsg, "myevents": _cmd_myevents, "linger": _cmd_linger,
    "nolinger": _cmd_nolinger, "getvar": _cmd_getvar, "resume": _cmd_resume, "log": _cmd_log, "nolog": _cmd_log,
    "exit": _cmd_exit, "divert_events": _cmd_resume,
}


# --- API commands -------------------------------------------------------------------------------------------

def _user_data(sw: FakeSwitch, arg: str) -> str:
    """``user_data <user>@<domain> param|var <name>``: the value; an empty answer (no such user, or no such entry)
    reaches an ESL client as ``-ERR no reply``, as on 1.10.12."""
    address, _, entry = arg.partition(" ")
    user, _, domain = address.partition("@")
    value = sw.directory.get(user, {}).get(entry.strip(), "") if domain == "127.0.0.1" else ""
    return value or "-ERR no reply\n"


def _global_getvar(sw: FakeSwitch, arg: str) -> str:
    return {"domain": "127.0.0.1"}.get(arg.strip(), "") + "\n"


def _status(sw: FakeSwitch, arg: str) -> str:
    return (f"UP 0 years, 0 days, 0 hours, 0 minutes, {int(time.monotonic() - sw.started)} seconds\n"
            f"FreeSWITCH (Version 1.11.3-dev fakeswitch 64bit) is ready\n"
            f"{len(sw.channels)} session(s) - peak {len(sw.channels)}\n")


def _channel_api(action: Callable[[Channel, list[str]], str]) -> Callable[[FakeSwitch, str], str]:
    def run(sw: FakeSwitch, arg: str) -> str:
        words = arg.split()
        channel = sw.channels.get(words[0]) if words else None
        if channel is None or channel.hangup_cause is not None:
            return "-ERR No such channel!\n"
        return action(channel, words[1:])
    return run


def _kill(ch: Channel, words: list[str]) -> str:
    ch.hangup(words[0] if words else "NORMAL_CLEARING", by_party=False)
    return "+OK\n"


def _answer(ch: Channel, words: list[str]) -> str:
    ch.answer()
    return "+OK\n"


def _uuid_record(ch: Channel, words: list[str]) -> str:
    """``uuid_record <uuid> start|stop <path>`` (stop: ``all`` too): like FreeSWITCH, the file is written when the
    recording stops or the call ends (here as silence of its length, two channels when RECORD_STEREO is true)."""
    if len(words) < 2 or words[0] not in ("start", "stop"):
        return "-ERR Usage: uuid_record <uuid> start <path>\n"
    if words[0] == "stop":
        stopping = [path for path in ch.recordings if words[1] in ("all", path)]
        for path in stopping:
            ch.recordings.pop(path)(None)
        return "+OK Success\n" if stopping else "-ERR Cannot stop record session!\n"
    path, started = words[1], time.monotonic()
    channels = 2 if ch.variables.get("RECORD_STEREO") == "true" else 1
    ch.switch.fire("RECORD_START", ch, [("Record-File-Path", path)])

    def stop(_: object) -> None:
        ch.gone.unlink(stop)
        ch.recordings.pop(path, None)
        peer = ch.last_peer
        write_recording(path, (time.monotonic() - started) / ch.switch.time_scale, channels,
                        (ch.says, peer.says if peer is not None else None))
        ch.switch.fire("RECORD_STOP", ch, [("Record-File-Path", path)])

    ch.recordings[path] = stop
    ch.gone.rawlink(stop)
    return "+OK Success\n"


def _break(ch: Channel, words: list[str]) -> str:
    """Stop the running application; with ``all``, what sendmsg queued behind it too."""
    if words and words[0] == "all":
        while not ch.queue.empty():
            ch.queue.get_nowait()
    ch.interrupted.set()
    return "+OK\n"


def _hold(sw: FakeSwitch, arg: str) -> str:
    """``uuid_hold [off] <uuid>`` as captured on 1.10.12 (tests/captures/esl_plain_hold_resume): the held leg goes
    HELD (CHANNEL_CALLSTATE, then CHANNEL_HOLD); ``off``: UNHELD, ACTIVE (the hold's time added to Hold-Accum),
    CHANNEL_UNHOLD. A leg already so refuses. (The hold music its peer hears is media: not modelled.)"""
    words = arg.split()
    off = bool(words) and words[0] == "off"
    channel = sw.channels.get(words[1 if off else 0]) if len(words) > off else None
    if channel is None or channel.hangup_cause is not None:
        return "-ERR No such channel!\n"
    if (channel.call_state == "HELD") != off:
        return "-ERR Operation failed\n"
    peer = [("Other-Leg-Unique-ID", channel.bridged_to.uuid)] if channel.bridged_to is not None else []
    if off:
        channel.hold_accum_us += now_us() - channel.last_hold_us
        for state in ("UNHELD", "ACTIVE"):
            channel.call_state = state
            sw.fire("CHANNEL_CALLSTATE", channel, [("Original-Channel-Call-State", "HELD" if state == "UNHELD" else state)])
        sw.fire("CHANNEL_UNHOLD", channel, peer)
    else:
        channel.last_hold_us, channel.call_state = now_us(), "HELD"
        sw.fire("CHANNEL_CALLSTATE", channel, [("Original-Channel-Call-State", "ACTIVE")])
        sw.fire("CHANNEL_HOLD", channel, peer)
    return "+OK Success\n"


def _getvar(ch: Channel, words: list[str]) -> str:
    return ch.variables.get(words[0], "_undef_") if words else "-ERR Usage\n"


def _setvar(ch: Channel, words: list[str]) -> str:
    if not words:
        return "-ERR Usage\n"
    ch.variables[words[0]] = " ".join(words[1:])
    return "+OK\n"


def _setvar_multi(ch: Channel, words: list[str]) -> str:
    """``uuid_setvar_multi <uuid> a=1;b=2``, as mod_commands 1.10.12 splits it (on ';', then the first '=')."""
    pairs = [pair.partition("=") for pair in " ".join(words).split(";") if pair]
    if not pairs or any(not name for name, _, _ in pairs):
        return "-ERR No variable specified\n"
    for name, _, value in pairs:
        ch.variables[name] = value
    return "+OK\n"


def _broadcast(ch: Channel, words: list[str]) -> str:
    """``uuid_broadcast <uuid> <file> [aleg]``: played on the leg itself, after what it runs now (as captured:
    a parked leg plays it at once)."""
    if not words:
        return "-ERR Usage\n"
    ch.queue.put(Queued("playback", words[0], str(uuidlib.uuid4())))
    return "+OK Message sent\n"


def _audio(ch: Channel, words: list[str]) -> str:
    """``uuid_audio <uuid> start read mute 1`` or ``... stop``: what the leg's phone sends is dropped, or restored
    (mod_commands.c, session_audio_function); no event."""
    if words[:1] == ["stop"]:
        ch.muted = False
    elif words[:4] == ["start", "read", "mute", "1"]:
        ch.muted = True
    else:
        return "-USAGE: <uuid> [start [read|write] [mute|level <level>]|stop]\n"
    return "+OK\n"


def _park(ch: Channel, words: list[str]) -> str:
    ch.park_now()
    return "+OK\n"


def _recv_dtmf(ch: Channel, words: list[str]) -> str:
    """``uuid_recv_dtmf <uuid> <digits>``: the digits as if the phone sent them; the reply as captured
    (tests/captures/esl_plain_supervise)."""
    ch.press(words[0] if words else "")
    return f"+OK {ch.uuid} received DTMF {words[0] if words else ''}.\n"


def _transfer(ch: Channel, words: list[str]) -> str:
    """``uuid_transfer <uuid> <destination> [XML|inline]``: a bridged leg leaves its bridge first (as captured:
    tests/captures/esl_plain_three_way); an ``inline`` destination is its applications themselves."""
    if not words:
        return "-ERR Usage\n"
    ch.leave_bridge()
    if words[1:2] == ["inline"]:
        ch.interrupted.set()  # whatever it plays or joins stops
        ch.queue.put(Queued(INLINE, words[0], str(uuidlib.uuid4())))
        return "+OK\n"
    ch.destination = words[0]
    ch.queue.put(Queued("transfer", words[0], str(uuidlib.uuid4())))
    return "+OK\n"


DUMP_CALLING = ["mod_commands.c", "uuid_dump_function", "6468"]


def _dump(ch: Channel, words: list[str]) -> str:
    """``uuid_dump <uuid> [json]``: a CHANNEL_DATA event (core headers, channel block, variables); json is a
    compact object, as captured on 1.10.12."""
    headers = ch.switch.core_headers("CHANNEL_DATA", DUMP_CALLING) + ch.switch._channel_block(ch)
    headers += [(f"variable_{k}", v) for k, v in ch.variables.items()]
    if words and words[0] == "json":
        return json.dumps(dict(headers), ensure_ascii=False, separators=(",", ":"))
    return serialize.plain(headers).decode("utf-8", "surrogateescape")


def _bridge(sw: FakeSwitch, arg: str) -> str:
    words = arg.split()
    a, b = (sw.channels.get(w) for w in words[:2]) if len(words) >= 2 else (None, None)
    if a is None or b is None or a.hangup_cause is not None or b.hangup_cause is not None or sw.failing_bridges:
        sw.failing_bridges = max(0, sw.failing_bridges - 1)
        return "-ERR Invalid uuid\n"
    for leg in (a, b):  # a leg bridged elsewhere leaves that bridge first, its old partner displaced (as captured:
        if leg.bridged_to is not None and leg.bridged_to not in (a, b):  # tests/captures/esl_plain_consult_complete)
            leg.leave_bridge()
        if leg.running == "playback":  # what it plays stops before the bridge, as captured there
            leg.interrupted.set()
            sw.wait(lambda: leg.running != "playback", timeout=2)  # noqa: B023 (leg is used at once)
    a.bridge(b, by_api=True)
    return f"+OK {b.uuid}\n"


SHOW_COLUMNS = ("uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num", "ip_addr",
                "dest", "application", "application_data", "dialplan", "context", "read_codec", "read_rate",
                "read_bit_rate", "write_codec", "write_rate", "write_bit_rate", "secure", "hostname", "presence_id",
                "presence_data", "accountcode", "callstate", "callee_name", "callee_num", "callee_direction",
                "call_uuid", "sent_callee_name", "sent_callee_num", "initial_cid_name", "initial_cid_num",
                "initial_ip_addr", "initial_dest", "initial_dialplan", "initial_context")
"""The columns of FreeSWITCH's channels table, in order, as captured on 1.10.12."""
SHOW_EMPTY = '{"row_count": 0}\n'
"""``show channels as json`` with no channel, as captured on 1.10.12 (a space and a newline, unlike the rows form)."""


REGISTRATION_COLUMNS = ("reg_user", "realm", "token", "url", "expires", "network_ip", "network_port", "network_proto",
                        "hostname", "metadata")
"""The columns of FreeSWITCH's registrations table (``show registrations``), as 1.10.12 lists them."""


def _show_row(c: Channel) -> dict[str, str]:
    """One channel's row, filled as 1.10.12 filled it for such a call (tests/captures/INDEX.md): an inbound SIP
    call from the external profile, or an originated leg that shows the callee while it rings, itself once
    answered, and the caller once uuid_bridge'd (the callee columns keep the last bridge)."""
    inbound, peer = c.direction == "inbound", c.last_peer
    media = ("PCMU", "8000", "64000") if c.answered or c.call_state == "EARLY" else ("", "", "")
    if inbound:
        cid = (c.caller_id_name, c.caller_id_number)
    elif peer is not None:
        cid = (peer.caller_id_name, peer.caller_id_number)
    else:
        cid = (c.caller_id_name, c.destination) if c.answered else ("", c.caller_id_number)
    if peer is not None:
        first, other = (c, peer) if c.originated_bridge else (peer, c)
        callee = ("", other.caller_id_number, "SEND", first.uuid)
        sent = (other.caller_id_number,) * 2 if c is first else (first.caller_id_name, first.caller_id_number)
    elif inbound:
        callee, sent = ("", "", "", ""), ("", "")
    elif c.answered:
        callee, sent = ("", c.caller_id_number, "RECV", c.uuid), ("", "")
    else:
        callee, sent = (c.caller_id_name, c.destination, "", c.uuid), ("", "")
    address, dialplan = ("127.0.0.1", "XML") if inbound else ("", "")
    hostname = dict(templates.load()["core"]).get("FreeSWITCH-Hostname", "")
    return dict(zip(SHOW_COLUMNS, (
        c.uuid, c.direction, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(c.created_us / 1e6)),
        str(c.created_us // 1_000_000), c.name, c.state, *cid, address, c.destination, *c.application, dialplan,
        c.context, *media, *media, "", hostname, "", "", "", c.call_state, *callee, *sent,
        c.caller_id_name if inbound else "", c.caller_id_number, address, c.initial_destination, dialplan, c.context)))


def _registration_row(sw: FakeSwitch, user: str) -> dict[str, str]:
    return {"reg_user": user, "realm": "127.0.0.1", "token": sw.registrations[user],
            "url": f"sofia/internal/sip:{user}@127.0.0.1:5090", "expires": str(int(time.time()) + 3600),
            "network_ip": "127.0.0.1", "network_port": "5090", "network_proto": "udp",
            "hostname": dict(templates.load()["core"]).get("FreeSWITCH-Hostname", ""), "metadata": ""}


def _show(sw: FakeSwitch, arg: str) -> str:
    """``show channels|registrations [as json]``: rows as FreeSWITCH's core database tables have them. Unlike
    the real core database (written about a second behind the events), the rows are current."""
    if arg.startswith("registrations"):
        rows = [_registration_row(sw, user) for user in sw.registrations]
        if arg.endswith("as json"):
            return json.dumps({"row_count": len(rows), "rows": rows}, separators=(",", ":")) if rows else SHOW_EMPTY
        lines = [",".join(REGISTRATION_COLUMNS), *(",".join(row.values()) for row in rows)]
        return "\n".join(lines) + f"\n\n{len(rows)} total.\n"
    rows = [_show_row(c) for c in sw.channels.values() if c.hangup_cause is None]
    if arg.endswith("as json"):
        if not rows:
            return SHOW_EMPTY
        return json.dumps({"row_count": len(rows), "rows": rows}, ensure_ascii=False, separators=(",", ":"))
    lines = [",".join(SHOW_COLUMNS), *(",".join(row.values()) for row in rows)]
    return "\n".join(lines) + f"\n\n{len(rows)} total.\n"


def _sched_del(sw: FakeSwitch, arg: str) -> str:
    tasks = sw.scheduled.pop(arg.strip(), [])
    for task in tasks:
        task.kill()
    return f"+OK Deleted: {len(tasks)}\n"


def _msleep(sw: FakeSwitch, arg: str) -> str:
    gevent.sleep(int(arg or 0) / 1000)
    return "+OK\n"


def _hupall(sw: FakeSwitch, arg: str) -> str:
    for channel in list(sw.channels.values()):
        channel.hangup(arg.split()[0] if arg else "MANAGER_REQUEST", by_party=False)
    return "+OK hangup all channels\n"


def _conference_api(sw: FakeSwitch, arg: str) -> str:
    """``conference <room> play <file>`` and ``conference <room> list count`` as mod_conference 1.10.12 answers
    them (conference_api.c: the count bare, with no newline)."""
    words = arg.split()
    if words[1:3] != ["list", "count"] and (len(words) < 3 or words[1] != "play"):
        return "-ERR Usage\n"
    if words[0] not in sw.rooms:
        return f"-ERR Conference {words[0]} not found\n"
    if words[1] == "list":
        return str(len(sw.rooms[words[0]].members))
    return f"+OK (play) Playing file {words[2]}\n"


def _exists(sw: FakeSwitch, arg: str) -> str:
    channel = sw.channels.get(arg)
    return "true" if channel is not None and channel.hangup_cause is None else "false"


API: dict[str, Callable[[FakeSwitch, str], str]] = {
    "status": _status, "originate": FakeSwitch.originate, "uuid_kill": _channel_api(_kill),
    "uuid_answer": _channel_api(_answer), "uuid_break": _channel_api(_break),
    "uuid_record": _channel_api(_uuid_record), "uuid_getvar": _channel_api(_getvar), "uuid_setvar": _channel_api(_setvar),
    "uuid_setvar_multi": _channel_api(_setvar_multi), "uuid_park": _channel_api(_park), "uuid_audio": _channel_api(_audio),
    "uuid_broadcast": _channel_api(_broadcast),
    "uuid_recv_dtmf": _channel_api(_recv_dtmf),
    "uuid_transfer": _channel_api(_transfer), "uuid_dump": _channel_api(_dump), "uuid_bridge": _bridge,
    "show": _show, "msleep": _msleep, "user_data": _user_data, "global_getvar": _global_getvar, "hupall": _hupall,
    "uuid_exists": _exists, "conference": _conference_api, "sched_del": _sched_del, "uuid_hold": _hold,
}
