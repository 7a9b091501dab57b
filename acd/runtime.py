"""The decision core at work under gevent: its actions carried out over ESL, switch events fed back.

The core never blocks, so every call into it is atomic between greenlet switches: no lock, no stuck
"Reserved" agents. An offer is an agent leg originated in the background (``bgapi originate ... &park()``) and
bridged to the caller when it answers; the originate's failure cause becomes the no-answer policy's cause.
One greenlet sleeps until the core's next timer and is woken early when an earlier one appears.
"""

from __future__ import annotations

import time
import uuid as uuidlib
from dataclasses import dataclass
from typing import Callable

import gevent
import structlog
from gevent.event import AsyncResult, Event as Flag

from acd.distributor import Action, Announce, CancelOffer, Distributor, Leave, Offer
from acd.tracking import CallTracker
from esl import EslError, Event, SwitchLink, tokens

log = structlog.get_logger(__name__)

CAUSES = {
    "USER_BUSY": "busy", "NO_ANSWER": "no_answer", "NO_USER_RESPONSE": "no_answer", "ALLOTTED_TIMEOUT": "no_answer",
    "CALL_REJECTED": "rejected", "USER_NOT_REGISTERED": "not_registered", "SUBSCRIBER_ABSENT": "not_registered",
}
"""FreeSWITCH hang-up causes of a failed agent leg, as the no-answer policy names them (else ``failed``)."""


def sip_user(contact: str) -> str | None:
    """``user/1001`` or ``user/1001@domain`` -> ``1001``; other dial strings name no SIP user."""
    if not contact.startswith("user/"):
        return None
    return contact[5:].split("@", 1)[0]


def wall_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class AgentLeg:
    call_id: str
    agent: str
    uuid: str
    answered: bool = False
    cancelled: bool = False


class AcdRuntime:
    """Feeds the Distributor from the switch and carries out what it decides."""

    def __init__(self, distributor: Distributor, link: SwitchLink, clock: Callable[[], int] = wall_ms,
                 on_offer_sent: Callable[[Offer], None] | None = None, tracker: CallTracker | None = None,
                 on_agent_left: Callable[[str], None] = lambda call_id: None,
                 announcement: Callable[[Announce], list[str]] = lambda announce: [],
                 before_bridge: Callable[[str], None] = lambda call_id: None) -> None:
        self.core = distributor
        self.link = link
        self.tracker = tracker or CallTracker(lambda timeline: None)
        self.clock = clock
        self.on_offer_sent = on_offer_sent
        self.on_agent_left = on_agent_left
        self.announcement = announcement
        self.before_bridge = before_bridge
        """Told the caller's UUID once an agent answered, just before the bridge (recording starts there)."""
        """The sound files of a position/wait announcement, ending with the queue's music on hold."""
        """Told the caller's UUID when the agent hangs up first (the survey follows)."""
        self.legs: dict[str, AgentLeg] = {}
        """Agent legs by their channel UUID."""
        self._ringing: dict[tuple[str, str], AgentLeg] = {}
        self._wake = Flag()
        self._timer = gevent.spawn(self._run_timers)
        self.phones = {user: agent.id for agent in distributor.agents.values() if (user := sip_user(agent.contact))}
        """Agents by the SIP user of their ``user/...`` contact, to see their non-queue calls."""
        self.private: dict[str, str] = {}
        """Channels of agents' non-queue calls: UUID -> agent."""
        link.on("CHANNEL_CREATE", self._on_create)
        link.on("CHANNEL_HANGUP", self._on_hangup)
        link.on("DTMF", self._on_dtmf)

    def stop(self) -> None:
        self._timer.kill()

    # --- what the engine and agents tell it ---------------------------------------------------------------

    def enqueue(self, call_id: str, queue: str, number: str, priority: int = 0) -> None:
        now = self.clock()
        self.tracker.queued(call_id, queue, now)
        actions = self.core.enqueue(call_id, queue, number, now, priority)
        if call_id in self.core.callers:
            self.tracker.position(call_id, self.core.callers[call_id].original_position)
        self._do(actions)

    def ready(self, agent_id: str) -> None:
        self._do(self.core.ready(agent_id, self.clock()))

    def login(self, agent_id: str, ready: bool = True) -> None:
        self._do(self.core.login(agent_id, self.clock(), ready=ready))

    def not_ready(self, agent_id: str, reason: str) -> None:
        self._do(self.core.not_ready(agent_id, reason, self.clock()))

    def restore(self, agents: dict[str, dict[str, object]], callers: list[dict[str, object]],
                legs: dict[str, dict[str, str]]) -> None:
        """Take back a previous process's state; ``legs`` are the agents' answered legs still up in the switch,
        watched again so their hang-up ends the agent's call as if nothing had happened."""
        for agent, leg in legs.items():
            self.legs[leg["uuid"]] = AgentLeg(leg["call_id"], agent, leg["uuid"], answered=True)
        self._do(self.core.restore(agents, callers, self.clock(), {agent: leg["queue"] for agent, leg in legs.items()}))

    def logout(self, agent_id: str) -> None:
        self._do(self.core.logout(agent_id, self.clock()))

    def command(self, agent_id: str, action: str, reason: str = "") -> None:
        """An agent's own request (feature code, toolbar, CLI); AgentStateError if the state forbids it."""
        if action == "login":
            self.login(agent_id, ready=True)
        elif action == "ready":
            self.ready(agent_id)
        elif action == "not_ready":
            self.not_ready(agent_id, reason)
        elif action == "logout":
            self.logout(agent_id)
        else:
            raise ValueError(f"unknown agent action {action!r}")

    # --- carrying out ----------------------------------------------------------------------------------------

    def _do(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Offer):
                self._offer(action)
            elif isinstance(action, CancelOffer):
                self._cancel(action)
            elif isinstance(action, Leave):
                self._leave(action)
            elif isinstance(action, Announce):
                self._announce(action)
        due = self.core.next_due()
        if due is not None:
            self._wake.set()

    def _offer(self, offer: Offer) -> None:
        leg = AgentLeg(offer.call_id, offer.agent, str(uuidlib.uuid4()))
        self.legs[leg.uuid] = leg
        self._ringing[(offer.call_id, offer.agent)] = leg
        self.tracker.offered(offer.call_id, offer.agent, self.clock())
        variables = {"origination_uuid": leg.uuid, "originate_timeout": str(int(offer.ring_timeout_s)),
                     "hotline_call": tokens.uuid(offer.call_id), "hotline_agent": tokens.word(offer.agent)}
        try:
            result = self.link.originate(offer.contact, variables)
        except EslError as exc:
            log.warning("acd.offer_not_sent", call=offer.call_id, agent=offer.agent, error=str(exc))
            self._settle(leg, f"-ERR {exc}")
            return
        if self.on_offer_sent is not None:
            self.on_offer_sent(offer)
        result.rawlink(lambda outcome: gevent.spawn(self._settle, leg, _text(outcome)))

    def _settle(self, leg: AgentLeg, outcome: str) -> None:
        """The agent leg's originate finished: answered (bridge it) or failed (tell the core why)."""
        self._ringing.pop((leg.call_id, leg.agent), None)
        now = self.clock()
        if outcome.startswith("+OK") and not leg.cancelled and leg.call_id in self.core.callers:
            leg.answered = True
            self.core.journal.leg_answered(leg.agent, leg.uuid, leg.call_id, self.core.callers[leg.call_id].queue)
            self.tracker.offer_ended(leg.call_id, leg.agent, "answered", now)
            self._do(self.core.answered(leg.call_id, leg.agent, now))
            try:
                self.before_bridge(leg.call_id)
                self.link.api(f"uuid_bridge {tokens.uuid(leg.call_id)} {leg.uuid}")
            except EslError as exc:
                log.warning("acd.bridge_failed", call=leg.call_id, agent=leg.agent, error=str(exc))
            return
        if outcome.startswith("+OK"):  # answered too late: the caller left or another agent won
            self._hangup(leg.uuid, "ORIGINATOR_CANCEL")
        self.legs.pop(leg.uuid, None)
        cause = outcome.removeprefix("-ERR").strip().split(" ")[0] if outcome.startswith("-ERR") else ""
        if not leg.cancelled:
            self.tracker.offer_ended(leg.call_id, leg.agent, CAUSES.get(cause, "failed"), now)
            self._do(self.core.offer_failed(leg.call_id, leg.agent, CAUSES.get(cause, "failed"), now))

    def _cancel(self, cancel: CancelOffer) -> None:
        leg = self._ringing.pop((cancel.call_id, cancel.agent), None)
        if leg is not None:
            leg.cancelled = True
            self.tracker.offer_ended(cancel.call_id, cancel.agent, "cancelled", self.clock())
            self._hangup(leg.uuid, "ORIGINATOR_CANCEL")

    def _leave(self, leave: Leave) -> None:
        """Overflow: to another extension (queue, voicemail, callback desk) or a clean hang-up."""
        target = leave.overflow.target if leave.overflow else ""
        self.tracker.exited(leave.call_id, "overflow" if target else leave.reason.value)
        self.tracker.ending(leave.call_id, "system")
        try:
            if target:
                self.link.api(f"uuid_transfer {tokens.uuid(leave.call_id)} {tokens.word(target)}")
            else:
                self.link.hangup(leave.call_id, "NORMAL_CLEARING")
        except EslError as exc:
            log.warning("acd.leave_failed", call=leave.call_id, reason=leave.reason.value, error=str(exc))

    def _announce(self, announce: Announce) -> None:
        """Break the music on hold, say the position and the wait, then the music again (queued in the switch)."""
        files = self.announcement(announce)
        if not files:
            return
        try:
            self.link.api(f"uuid_break {tokens.uuid(announce.call_id)}")
            for file in files:
                self.link.execute(announce.call_id, "playback", file)
        except EslError as exc:
            log.info("acd.announce_failed", call=announce.call_id, error=str(exc))

    def _hangup(self, uuid: str, cause: str) -> None:
        try:
            self.link.hangup(uuid, cause)
        except EslError:
            pass  # already gone

    # --- events from the switch ------------------------------------------------------------------------------

    def _on_create(self, event: Event) -> None:
        """A channel from an agent's phone (FreeSWITCH authenticated it as their SIP user) or to it (the ``user``
        endpoint dialled it) that the ACD did not originate: a non-queue call, so that agent is not offered."""
        if event.get("variable_hotline_agent") is not None:
            return
        agent_id = self.phones.get(event.get("variable_user_name") or event.get("variable_dialed_user") or "")
        if agent_id is None:
            return
        self._do(self.core.non_queue_call(agent_id, self.clock()))
        if self.core.agents[agent_id].resume is not None:
            self.private[event.uuid] = agent_id

    def _on_hangup(self, event: Event) -> None:
        now = self.clock()
        agent_id = self.private.pop(event.uuid, None)
        if agent_id is not None:
            if agent_id not in self.private.values():  # the agent's last non-queue channel
                self._do(self.core.call_ended(agent_id, now))
            return
        leg = self.legs.pop(event.uuid, None)
        if leg is not None:
            if leg.answered:
                self.core.journal.leg_gone(leg.agent)
                self.tracker.ending(leg.call_id, "agent")
                self._do(self.core.call_ended(leg.agent, now))
                if leg.call_id in self.tracker.calls:
                    self.on_agent_left(leg.call_id)
            return
        if event.uuid in self.core.callers:
            self._do(self.core.caller_left(event.uuid, now))
        self.tracker.hung_up(event.uuid, event.get("Hangup-Cause") or "", now)

    def _on_dtmf(self, event: Event) -> None:
        digit = event.get("DTMF-Digit") or ""
        if event.uuid in self.core.callers and len(digit) == 1:
            self._do(self.core.key_pressed(event.uuid, digit, self.clock()))

    def _run_timers(self) -> None:
        while True:
            due = self.core.next_due()
            self._wake.clear()
            delay = None if due is None else max(0.0, (due - self.clock()) / 1000)
            self._wake.wait(delay)
            if due is not None and self.clock() >= due:
                self._do(self.core.advance(self.clock()))


def _text(result: AsyncResult) -> str:
    return str(result.value) if result.successful() else f"-ERR {result.exception}"
