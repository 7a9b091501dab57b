"""The call model's commands carried out over ESL, and what the switch says reported back as facts: its channel
events, and what came of each command.

A command that cannot be sent because the link is down (or whose reply never came) reports nothing: the leg's
fate is then the switch's to tell, and reconciliation asks it once the link is back. A command the switch
refuses is a fact like any other (a refused bridge, a failed originate).
"""

from __future__ import annotations

import structlog
from gevent.event import AsyncResult

from calls.commands import Bridge, Hold, KeepCaller, Kill, Originate
from calls.facts import EVENTS, BridgeResult, Fact, OriginateResult, from_event, originate_result
from engine.capability import Hub
from esl import CommandFailed, EslError, Event, UnsafeValue, tokens, workers

log = structlog.get_logger(__name__)


class SwitchCommands:
    def attach(self, hub: Hub) -> None:
        self.hub = hub
        hub.on(Originate, self.originate)
        hub.on(Bridge, self.bridge)
        hub.on(Kill, self.kill)
        hub.on(Hold, self.hold)
        hub.on(KeepCaller, self.keep_caller)
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
        """CHANNEL_HOLD or CHANNEL_UNHOLD tells what came of it; a refusal (the leg gone, already so) is logged."""
        try:
            self.hub.link.api(f"uuid_hold {'' if command.on else 'off '}{tokens.uuid(command.uuid)}")
        except EslError as exc:
            log.warning("switch.hold_refused", uuid=command.uuid, on=command.on, error=str(exc))
        return []

    def keep_caller(self, command: KeepCaller) -> list[object]:
        """Before its agent's leg is hung up; refused only if the caller has gone, whose hang-up then says so."""
        target = tokens.variable_value(command.transfer)
        marks = f"park_after_bridge=true;hotline_transfer={target};hotline_transferred=false"
        try:
            self.hub.link.api(f"uuid_setvar_multi {tokens.uuid(command.uuid)} {marks}")
        except EslError as exc:
            log.warning("switch.keep_caller_refused", uuid=command.uuid, error=str(exc))
        return []
