"""The call model's commands carried out over ESL, and what the switch says reported back as facts: its channel
events, and what came of each command.

A command that cannot be sent because the link is down (or whose reply never came) reports nothing: the leg's
fate is then the switch's to tell, and reconciliation asks it once the link is back. A command the switch
refuses is a fact like any other (a refused bridge, a failed originate).
"""

from __future__ import annotations

import structlog
from gevent.event import AsyncResult

from calls.commands import (CALL_KEY_EVENT, BindKeys, Bridge, Connect, Eavesdrop, Hold, Intercept, Kill, Mute,
                            Originate, Park, SetVars, ToConference)
from calls.facts import EVENTS, BridgeResult, Fact, OriginateResult, from_event, originate_result
from engine.capability import Hub
from esl import CommandFailed, EslError, Event, UnsafeValue, tokens, workers
from switch_conf.render import CONFERENCE

log = structlog.get_logger(__name__)
EAVESDROP_KEYS = {"listen": "0", "whisper": "2", "barge": "3"}
"""eavesdrop's keys (switch_ivr_async.c): 0 listen only, 2 mix into what the agent hears, 3 into both sides."""


class SwitchCommands:
    def attach(self, hub: Hub) -> None:
        self.hub = hub
        hub.on(Originate, self.originate)
        hub.on(Bridge, self.bridge)
        hub.on(Kill, self.kill)
        hub.on(Hold, self.hold)
        hub.on(SetVars, self.set_vars)
        hub.on(ToConference, self.to_conference)
        hub.on(Park, self.park)
        hub.on(Connect, self.connect)
        hub.on(Mute, self.mute)
        hub.on(BindKeys, self.bind_keys)
        hub.on(Eavesdrop, self.eavesdrop)
        hub.on(Intercept, self.intercept)
        for name in EVENTS:
            hub.on(name, self.fact)

    def fact(self, event: Event) -> list[Fact]:
        fact = from_event(event)
        return [fact] if fact is not None else []

    def originate(self, command: Originate) -> list[object]:
        """A background originate into ``park``; its result arrives later as an OriginateResult."""
        variables = {"origination_uuid": command.uuid, "originate_timeout": str(max(1, int(command.ring_timeout_s))),
                     **command.variables}
        try:
            result = self.hub.link.originate(command.contact, variables)
        except (CommandFailed, UnsafeValue) as exc:
            log.warning("switch.originate_refused", uuid=command.uuid, contact=command.contact, error=str(exc))
            return [OriginateResult(command.uuid, "FAILED")]
        except EslError as exc:
            log.info("switch.originate_not_sent", uuid=command.uuid, error=str(exc))
            return []
        result.rawlink(lambda done: workers.spawn(self._originated, command.uuid, done))
        return []

    def _originated(self, uuid: str, done: AsyncResult) -> None:
        if done.successful():
            self.hub.run([originate_result(uuid, str(done.value))])

    def bridge(self, command: Bridge) -> list[object]:
        try:
            self.hub.link.api(f"uuid_bridge {tokens.uuid(command.call_id)} {tokens.uuid(command.uuid)}")
        except CommandFailed as exc:
            log.warning("switch.bridge_refused", call=command.call_id, leg=command.uuid, error=str(exc))
            return [BridgeResult(command.call_id, command.uuid, str(exc))]
        except EslError as exc:
            log.info("switch.bridge_unconfirmed", call=command.call_id, leg=command.uuid, error=str(exc))
            return []
        return [BridgeResult(command.call_id, command.uuid)]

    def kill(self, command: Kill) -> list[object]:
        try:
            self.hub.link.hangup(command.uuid, command.cause)
        except CommandFailed:
            pass  # already gone: its hang-up is, or was, a fact of its own
        except EslError as exc:
            log.info("switch.kill_not_sent", uuid=command.uuid, error=str(exc))
        return []

    def hold(self, command: Hold) -> list[object]:
        """CHANNEL_HOLD or CHANNEL_UNHOLD tells what came of it."""
        return self._send(f"uuid_hold {'' if command.on else 'off '}{tokens.uuid(command.uuid)}", command)

    def set_vars(self, command: SetVars) -> list[object]:
        marks = ";".join(f"{tokens.name(name)}={tokens.variable_value(value)}" for name, value in command.variables.items())
        return self._send(f"uuid_setvar_multi {tokens.uuid(command.uuid)} {marks}", command)

    def to_conference(self, command: ToConference) -> list[object]:
        """The leg leaves what it runs (a bridge, park) for the conference."""
        flags = f"+flags{{{'|'.join(tokens.name(flag) for flag in command.flags)}}}" if command.flags else ""
        target = f"conference:{tokens.word(command.room)}@{CONFERENCE}{flags}"
        return self._send(f"uuid_transfer {tokens.uuid(command.uuid)} {target} inline", command)

    def park(self, command: Park) -> list[object]:
        return self._send(f"uuid_park {tokens.uuid(command.uuid)}", command)

    def connect(self, command: Connect) -> list[object]:
        return self._send(f"uuid_bridge {tokens.uuid(command.uuid)} {tokens.uuid(command.peer)}", command)

    def mute(self, command: Mute) -> list[object]:
        return self._send(f"uuid_audio {tokens.uuid(command.uuid)} {'start read mute 1' if command.on else 'stop'}",
                          command)

    def bind_keys(self, command: BindKeys) -> list[object]:
        """Each key bound before the bridge is asked for (the binding runs in the leg's park)."""
        try:
            for digit in command.digits:
                self.hub.link.execute(command.uuid, "bind_meta_app", f"{tokens.dtmf(digit)} a s event::Event-Name=CUSTOM,"
                                      f"Event-Subclass={CALL_KEY_EVENT},hotline_key={digit}", wait_complete=True)
        except EslError as exc:
            log.warning("switch.call_keys_not_bound", uuid=command.uuid, error=str(exc))
        return []

    def eavesdrop(self, command: Eavesdrop) -> list[object]:
        """Whisper and barge are eavesdrop's own mixes (``eavesdrop_whisper_bleg``: into what the agent hears;
        ``_aleg``: into what the caller hears); its keys switch between them while it runs."""
        uuid = tokens.uuid(command.uuid)
        mode = f"hotline_supervise={tokens.word(command.mode)}"  # for an engine taking the call back after a restart
        if not command.agent:
            self._send(f"uuid_setvar {uuid} {mode.replace('=', ' ')}", command)
            return self._send(f"uuid_recv_dtmf {uuid} {EAVESDROP_KEYS[command.mode]}", command)
        whisper_agent, whisper_caller = command.mode in ("whisper", "barge"), command.mode == "barge"
        marks = (f"{mode};eavesdrop_whisper_bleg={str(whisper_agent).lower()};"
                 f"eavesdrop_whisper_aleg={str(whisper_caller).lower()};eavesdrop_enable_dtmf=true")
        self._send(f"uuid_setvar_multi {uuid} {marks}", command)  # answered: a phone's own call may still ring
        return self._send(f"uuid_transfer {uuid} answer,eavesdrop:{tokens.uuid(command.agent)} inline", command)

    def intercept(self, command: Intercept) -> list[object]:
        return self._send(f"uuid_transfer {tokens.uuid(command.uuid)} intercept:{tokens.uuid(command.call_id)} inline",
                          command)

    def _send(self, line: str, command: object) -> list[object]:
        """A command whose outcome the legs' own events tell: a refusal (the leg has gone, or is not in the state
        asked for) or a link down is logged, and reconciliation finds the truth."""
        try:
            self.hub.link.api(line)
        except EslError as exc:
            log.warning("switch.command_refused", command=command, error=str(exc))
        return []
