"""Waiting callers put through to agents: the distributor's decisions become legs, the legs' facts its inputs.

Pure, like the distributor: facts from the switch and the engine's intentions go in, effects come out (switch
commands from calls.commands, and the notices below for other capabilities). Every call into it runs to the end
without blocking, so between gevent switches it is atomic, and the same object is driven by the engine, by the
property tests with shuffled, repeated and missing facts, and by the chaos benchmark.

An offer is an agent leg: originated into ``park``, bridged to the caller once it is answered and parked, and
settled with the distributor exactly once (``Leg.outcome``): answered, a failure cause, cancelled, or lost (it
vanished while the engine was cut off: no fault of the agent's). The switch decides: an answer that comes too
late (the caller left, someone else answered) is hung up; a refused bridge hangs up the agent's leg and offers
the caller again; a caller who leaves takes their offers with them. What agents do to their calls once connected
(hold, transfers, consultations, three-way calls) is acd.call_control's half of the class.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Callable, Iterable

from acd.call_control import CallControl
from acd.supervision import Supervision
from acd.distributor import CAUSES, LOST, Action, Announce, CancelOffer, Distributor, Leave, Offer
from acd.phones import Phones, Registration
from calls.book import Call, CallBook, Stage
from calls.commands import BindKeys, Bridge, Command, Kill, Originate, Park
from calls.facts import (Answered, BridgeResult, Bridged, Channel, Created, Fact, Held, HungUp, OriginateResult, Parked,
                         Unbridged)
from calls.legs import Leg, LegState, Role
from calls.notices import (AgentLeft, Announcement, Connecting, Consulting, Handover, HoldMusic, LeftQueue,
                           ToQueue, UnitUnreached)
from calls.targets import Target

Effect = (Command | Connecting | Consulting | AgentLeft | Handover | HoldMusic | LeftQueue | Announcement
          | UnitUnreached)


class Connector(CallControl, Supervision):
    def __init__(self, core: Distributor, book: CallBook, clock: Callable[[], int],
                 feature_codes: frozenset[str] = frozenset(),
                 new_uuid: Callable[[], str] = lambda: str(uuidlib.uuid4()), unit_ring_s: float = 30,
                 survey: bool = True, resolve: Callable[[str], Target] = lambda text: Target("number", text),
                 call_keys: tuple[str, ...] = ()) -> None:
        self.core = core
        self.feature_codes = feature_codes
        """What agents dial to ask the ACD for something (acd.feature_codes): such a call is no conversation."""
        self.book = book
        self.clock = clock
        self.new_uuid = new_uuid
        self.unit_ring_s = unit_ring_s
        """How long a unit rings for a three-way call or a consultation (``linkage.answer_timeout``)."""
        self.survey = survey
        self.resolve = resolve
        self.call_keys = call_keys
        """The digits of the agents' in-call keys (``acd.call_keys``), bound on each agent's leg before its bridge."""
        """What a number a softphone transferred to stands for (calls.targets.resolve with the settings)."""
        """Whether callers outlive their agent's leg for the survey (``park_after_bridge``, ivr.front_door)."""
        self.phones = Phones({agent.id: agent.contact for agent in core.agents.values()})
        self.private: dict[str, str] = {}
        """Channels of agents' own calls (not from the ACD): UUID -> agent."""

    # --- what other capabilities and agents ask for ------------------------------------------------------

    def enqueue(self, ask: ToQueue) -> list[Effect]:
        """A caller of the book asks for a human (see calls.notices.ToQueue)."""
        call = self.book.get(ask.call_id)
        if call is None or not call.caller.up or ask.call_id in self.core.callers:
            return []
        call_id = ask.call_id
        if ask.transferred:  # the record keeps the first queue and entry: the request was answered there
            call.stage, call.handover = Stage.QUEUED, None
            self.book.transferred(call_id, "done", queue=ask.queue)
        else:
            self.book.queued(call_id, ask.queue, ask.entered_ms)
        actions = self.core.enqueue(call_id, ask.queue, ask.number, self.clock(), ask.priority, ask.entered_ms,
                                    ask.returning, ask.transferred, ask.agent, ask.agent_wait_ms, call.record.tenant)
        if call_id in self.core.callers:
            self.book.position(call_id, self.core.callers[call_id].original_position)
        return self._carry(actions)

    def command(self, agent_id: str, action: str, reason: str = "") -> list[Effect]:
        """An agent's own request (feature code, toolbar, CLI); AgentStateError if the state forbids it."""
        now = self.clock()
        if action == "login":
            actions = self.core.login(agent_id, now, ready=True)
        elif action == "ready":
            actions = self.core.ready(agent_id, now)
        elif action == "not_ready":
            actions = self.core.not_ready(agent_id, reason, now)
        elif action == "logout":
            actions = self.core.logout(agent_id, now)
        else:
            raise ValueError(f"unknown agent action {action!r}")
        return self._carry(actions)

    def registration(self, registration: Registration) -> list[Effect]:
        """An agent's phone registered or unregistered (``sofia::*`` events)."""
        changed = self.phones.apply(registration)
        return self._registered([changed] if changed else [])

    def registrations(self, listed: Iterable[tuple[str, str]]) -> list[Effect]:
        """The registrar's whole list (user, token), after a (re)connect."""
        return self._registered(self.phones.reset(listed))

    def _registered(self, changes: list[tuple[str, bool]]) -> list[Effect]:
        effects: list[Effect] = []
        for agent_id, registered in changes:
            effects += self._carry(self.core.registration(agent_id, registered, self.clock()))
        return effects

    def key_pressed(self, call_id: str, digit: str) -> list[Effect]:
        """A key from a caller (only a waiting caller's exit key means anything here)."""
        if call_id not in self.core.callers or len(digit) != 1:
            return []
        return self._carry(self.core.key_pressed(call_id, digit, self.clock()))

    def tick(self) -> list[Effect]:
        """The distributor's timers due by now."""
        return self._carry(self.core.advance(self.clock()))

    def pause(self) -> None:
        """The link is down: nothing is offered, nothing counts against anyone."""
        self.core.pause()

    def resume(self) -> list[Effect]:
        """The link is back and reconciled."""
        return self._carry(self.core.resume(self.clock()))

    def reconcile(self, channel: Callable[[str], Channel | None]) -> list[Effect]:
        """Settle every leg of ours with the switch (``channel``: a channel as the switch shows it, None if it is
        gone): a leg it no longer has is gone (its end unseen); an offer it shows bridged to its caller is
        connected, one answered and parked is bridged (again, if the bridge asked for before never reached the
        switch); a leg that came to nothing (cancelled, failed, its caller gone) and is still up is hung up
        (again: the first try may have died with the link); agents' own calls that ended end."""
        effects: list[Effect] = []
        legs = self.book.legs()
        for call, leg in legs:  # first the ends the engine asked for before: once more
            if leg.up and leg.role is Role.AGENT and (leg.outcome not in (None, "answered") or not call.caller.up) \
                    and channel(leg.uuid) is not None:
                leg.ending()
                effects.append(Kill(leg.uuid, "ORIGINATOR_CANCEL"))
        for call, leg in legs:
            if not leg.up:
                if leg.role is Role.CALLER and not call.finished:  # its end never settled: the link dropped
                    effects += self.apply(HungUp(leg.uuid))
                continue
            found = channel(leg.uuid)
            if found is None:
                effects += self.apply(HungUp(leg.uuid))
            elif leg.role is Role.AGENT and leg.outcome is None:
                if found.var("bridge_to") == call.id:
                    effects += self.apply(Bridged(call.id, leg.uuid))
                elif found.answered and found.application == "park":  # answered, waiting: (again) to its caller
                    if call.agent_leg == leg.uuid:
                        call.agent_leg = None  # the bridge asked for never happened (the link was down)
                    leg.in_park()
                    effects += self._agent_in_park(call, leg)
            elif leg.role is Role.UNIT and leg.outcome is None and found.answered and found.application == "park":
                effects += self.apply(Parked(leg.uuid))  # a unit that answered while the link was down
        for uuid in [uuid for uuid in self.private if channel(uuid) is None]:
            effects += self.apply(HungUp(uuid))
        return effects

    # --- facts ---------------------------------------------------------------------------------------------

    def apply(self, fact: Fact) -> list[Effect]:
        """Take one fact; repeated, late and reordered facts change nothing they should not."""
        if isinstance(fact, Created):
            return self._created(fact)
        if isinstance(fact, BridgeResult):
            return self._bridge_result(fact)
        if isinstance(fact, (Bridged, Unbridged)):
            effects = []
            for uuid, peer in ((fact.uuid, fact.peer), (fact.peer, fact.uuid)):
                if (found := self.book.find(uuid)) is not None:
                    effects += self._toggled(*found, fact, peer)
            return effects
        if isinstance(fact, HungUp) and fact.uuid in self.private:
            return self._private_ended(fact.uuid)
        found = self.book.find(fact.uuid)
        if found is None:
            return []
        call, leg = found
        if isinstance(fact, Answered):
            leg.answered(fact.at_ms)
            return []
        if isinstance(fact, Held):
            changed = leg.held(fact.seq) if fact.on else leg.resumed(fact.seq)
            if changed and leg.uuid == call.agent_leg:
                self.book.hold(call.id, fact.on, fact.at_ms, fact.since_ms)
            return []
        if isinstance(fact, (Parked, OriginateResult)) and (not isinstance(fact, OriginateResult) or fact.cause is None):
            seq = fact.seq if isinstance(fact, Parked) else 0
            if leg.role is Role.CALLER:
                if isinstance(fact, Parked) and fact.referred_to:
                    return self._referred(call, fact.referred_to)
                if isinstance(fact, Parked) and call.consult is not None:
                    self.book.aside(call.id, True, fact.at_ms or self.clock())
                return []
            if not leg.in_park(seq):
                return []
            if leg.role is Role.SUPERVISOR:
                return self._supervisor_answered(call, leg)
            return self._agent_in_park(call, leg) if leg.role is Role.AGENT else self._unit_answered(call, leg)
        if isinstance(fact, (HungUp, OriginateResult)):  # a failed originate: the leg is gone
            effects = self._hung_up(call, leg, fact) if isinstance(fact, HungUp) else (
                self._leg_gone(call, leg) if leg.gone(fact.cause) else [])
            self.book.settle(call)
            return effects
        return []

    def _hung_up(self, call: Call, leg: Leg, fact: HungUp) -> list[Effect]:
        """A leg's CHANNEL_HANGUP_COMPLETE, or its end found by reconciliation. FreeSWITCH may announce the agent
        leg's hang-up before the caller's whose BYE caused it, so only the dispositions say who ended the call."""
        went = leg.gone(fact.cause, fact.disposition, fact.at_ms)
        if leg.role is Role.CALLER:
            effects = self._caller_gone(call) if went else []
            self.book.finish(call, call.gone_ms)
            return effects
        if leg.role is Role.AGENT and leg.outcome == "answered" and fact.referred and leg.uuid == call.agent_leg:
            if not call.handed_over:  # else the caller's bridge to the transfer's target came first
                call.referred_by = leg.party  # the phone transferred the caller (REFER) before its BYE
        elif leg.role is Role.AGENT and leg.outcome == "answered" and leg.hung_up_by_party:  # the agent's BYE
            self.book.ending(call.id, "agent")
        return self._leg_gone(call, leg) if went else []

    def _leg_gone(self, call: Call, leg: Leg) -> list[Effect]:
        if leg.role is Role.AGENT:
            return self._agent_leg_gone(call, leg)
        if leg.role is Role.SUPERVISOR:
            return self._supervisor_gone(call, leg)
        colleague = leg.party.removeprefix("agent:")
        freed = self._carry(self.core.call_ended(colleague, self.clock())) if colleague in self.core.agents \
            and leg.party.startswith("agent:") else []
        return freed + self._unit_gone(call, leg)

    # --- agents' own calls -----------------------------------------------------------------------------------

    def _created(self, fact: Created) -> list[Effect]:
        """A leg the engine originated rings; or a channel from or to an agent's phone that the ACD did not
        originate: a call of the agent's own, so that agent is not offered meanwhile; unless the phone dialled a
        feature code, which asks the ACD for a state and leaves the agent where they are until it is granted."""
        if (found := self.book.find(fact.uuid)) is not None:
            found[1].created(fact.at_ms)
            return []
        agent_id = self.phones.agents.get(fact.user or "")
        if fact.agent is not None or agent_id is None or fact.uuid in self.private or fact.dialled in self.feature_codes:
            return []
        actions = self.core.non_queue_call(agent_id, self.clock())
        if self.core.agents[agent_id].resume is not None:
            self.private[fact.uuid] = agent_id
        return self._carry(actions)

    def _private_ended(self, uuid: str) -> list[Effect]:
        agent_id = self.private.pop(uuid)
        if agent_id in self.private.values():  # not the agent's last own channel
            return []
        return self._carry(self.core.call_ended(agent_id, self.clock()))

    # --- offers ----------------------------------------------------------------------------------------------

    def _offer(self, offer: Offer) -> list[Effect]:
        call = self.book.get(offer.call_id)
        if call is None:  # cannot happen: only the book's callers are queued
            raise LookupError(f"offer for {offer.call_id}, which the book does not hold")
        leg = self.book.add(call, Leg(self.new_uuid(), Role.AGENT, offer.agent))
        self.book.offered(call.id, offer.agent, self.clock())
        return [Originate(leg.uuid, offer.contact, offer.ring_timeout_s,
                          {"hotline_call": call.id, "hotline_agent": offer.agent})]

    def _offer_leg(self, call_id: str, agent: str) -> Leg | None:
        call = self.book.get(call_id)
        if call is None:
            return None
        return next((leg for leg in call.legs.values()
                     if leg.role is Role.AGENT and leg.party == agent and leg.outcome is None), None)

    def _agent_in_park(self, call: Call, leg: Leg) -> list[Effect]:
        """The agent answered: bridge them to the caller, unless it is too late for this offer."""
        if leg.outcome == "answered" and not call.caller.up and not leg.ended_by_engine:
            leg.ending()  # parked again (park_after_bridge, set for a consultation) with no caller to go back to
            return [Kill(leg.uuid)]
        if leg.outcome is not None or leg.ended_by_engine:
            return []
        caller = self.core.callers.get(call.id)
        if caller is None or leg.party not in caller.offers or call.agent_leg is not None or not call.caller.up:
            return self._settle(call, leg, "cancelled", kill=True)
        leg.require("bridge it to its caller", LegState.ANSWERED)
        call.agent_leg = leg.uuid
        self.book.connecting(call.id, leg.party)
        keys: list[Effect] = [BindKeys(leg.uuid, self.call_keys)] if self.call_keys else []
        return [Connecting(call.id, leg.party), *keys, Bridge(call.id, leg.uuid)]

    def _bridge_result(self, fact: BridgeResult) -> list[Effect]:
        found = self.book.find(fact.uuid)
        if found is None:
            return []
        call, leg = found
        if fact.error is None:
            return self._connected(call, leg)
        if leg.outcome is not None:
            return []
        if call.agent_leg == leg.uuid:
            call.agent_leg = None
        return self._settle(call, leg, "failed", kill=True)

    def _toggled(self, call: Call, leg: Leg, fact: Bridged | Unbridged, peer: str) -> list[Effect]:
        if isinstance(fact, Unbridged):
            leg.unbridged(fact.seq)
            return []
        leg.bridged(peer, fact.seq)
        if leg.role is Role.CALLER:
            self.book.aside(call.id, False, fact.at_ms or self.clock())
        if leg.role is Role.AGENT and call.agent_leg == leg.uuid and peer == call.id:
            return self._connected(call, leg)
        if leg.role is Role.CALLER and peer not in call.legs and call.handover is None and call.three_way is None \
                and (call.referred_by is not None or call.agent_leg is not None):
            return self._replaced(call, fact)  # the agent's softphone transferred them, attended
        if leg.role is Role.CALLER and call.handover is not None and call.handover.target.outside \
                and peer not in call.legs:
            call.stage, call.handed_over = Stage.CONNECTED, True  # the unit answered: the call is theirs now
            self.book.transferred(call.id, "done", peer)
        return []

    def _connected(self, call: Call, leg: Leg) -> list[Effect]:
        """The bridge holds: the agent answered the call (said once, whichever of the bridge's reply and
        CHANNEL_BRIDGE comes first)."""
        if leg.outcome is not None or not leg.up:
            return []
        if call.id not in self.core.callers or not call.caller.up:
            return self._settle(call, leg, "cancelled", kill=True)
        leg.outcome, call.stage = "answered", Stage.CONNECTED
        now = self.clock()
        self.book.offer_ended(call.id, leg.party, "answered", now)
        return self._carry(self.core.answered(call.id, leg.party, now))

    def _settle(self, call: Call, leg: Leg, result: str, kill: bool = False) -> list[Effect]:
        """The offer on ``leg`` came to ``result`` (not answered): the record and, unless the distributor
        already released it (cancelled), the agent hear of it; the leg is hung up if still there."""
        effects: list[Effect] = []
        if kill and leg.up and not leg.ended_by_engine:
            leg.ending()
            effects.append(Kill(leg.uuid, "ORIGINATOR_CANCEL"))
        if leg.outcome is not None:
            return effects
        leg.outcome = result
        now = self.clock()
        self.book.offer_ended(call.id, leg.party, result, now)
        # a cancelled offer the distributor still holds (a ring-all race lost) is released uncounted
        cause = LOST if result == "cancelled" else result
        return effects + self._carry(self.core.offer_failed(call.id, leg.party, cause, now))

    def _agent_leg_gone(self, call: Call, leg: Leg) -> list[Effect]:
        if call.agent_leg == leg.uuid and leg.outcome != "answered":
            call.agent_leg = None
        if leg.outcome is None:  # the offer failed: no answer, busy, rejected, not registered ...
            result = LOST if leg.cause is None else CAUSES.get(leg.cause, "failed")
            return self._settle(call, leg, result)
        if leg.outcome != "answered" or call.agent_leg != leg.uuid:
            return []
        call.agent_leg = None
        moved_on = call.handover is not None or call.three_way is not None or call.handed_over or call.consult \
            or call.taken_over_by
        if call.caller.up and leg.ended_by_engine and not moved_on:  # taken off by the engine for no party
            self.book.ending(call.id, "system")
        effects = self._carry(self.core.call_ended(leg.party, self.clock()))
        if call.consult is not None:  # the agent hung up mid-consultation: the unit off, the caller to the queue
            unit = call.legs[call.consult]
            call.consult = None
            self.book.transferred(call.id, "agent_left")
            effects += self._end(unit)
            if call.caller.up:
                queue = call.record.queue or next(iter(self.core.queues))
                call.stage = Stage.IVR
                effects.append(Handover(call.id, Target("queue", queue), queue))
            return effects
        if call.handed_over or call.taken_over_by:  # the caller talks to a unit, or to the supervisor, now
            return effects
        if call.referred_by is not None and call.handover is None:  # the caller's park will say where to
            call.stage = Stage.IVR
            return effects
        if call.three_way is not None:  # the caller stays in the room with the unit, or waits there for it
            unit = call.legs.get(call.three_way.unit)  # None: a room taken back after a restart, its unit unknown
            if call.caller.up and unit is not None and not unit.up:  # nobody left to talk to: out of the room, to the survey
                call.stage = Stage.AFTER
                effects += [Park(call.id), AgentLeft(call.id)]
            return effects
        if call.caller.up and call.stage is Stage.CONNECTED and call.handover is not None:
            call.stage, call.referred_by = Stage.IVR, None
            effects.append(call.handover)
        elif call.caller.up and call.stage is Stage.CONNECTED:
            call.stage = Stage.AFTER
            effects.append(AgentLeft(call.id))
        return effects

    def _caller_gone(self, call: Call) -> list[Effect]:
        """The caller hung up: their offers are cancelled at once (their legs hung up, the one being bridged
        too), and a unit still ringing for a three-way call; the agent talking with them, and a three-way
        call's room, are ended by the switch itself (endconf)."""
        now = self.clock()
        call.gone_ms = now if call.caller.cause is not None else None
        effects: list[Effect] = []
        for leg in call.legs.values():  # a unit or a supervisor's phone still ringing; a party parked, or
            if leg.role in (Role.UNIT, Role.SUPERVISOR) and leg.outcome is None or \
                    leg.outcome == "answered" and (leg.parked or call.consult is not None):  # mid-consultation,
                # with no one to go back to
                effects += self._end(leg)
        return effects + (self._carry(self.core.caller_left(call.id, now)) if call.id in self.core.callers else [])

    # --- the distributor's decisions ---------------------------------------------------------------------------

    def _carry(self, actions: Iterable[Action]) -> list[Effect]:
        effects: list[Effect] = []
        for action in actions:
            if isinstance(action, Offer):
                effects += self._offer(action)
            elif isinstance(action, CancelOffer):
                leg = self._offer_leg(action.call_id, action.agent)
                call = self.book.get(action.call_id)
                if leg is not None and call is not None:
                    effects += self._settle(call, leg, "cancelled", kill=True)
            elif isinstance(action, Leave):
                overflow = action.overflow
                if overflow is None or overflow.action != "queue":  # another queue is another chance
                    self.book.exited(action.call_id, action.reason.value)
                effects.append(LeftQueue(action.call_id, action.reason.value, overflow.action if overflow else
                                         "announce-hangup", overflow.target if overflow else ""))
            elif isinstance(action, Announce):
                effects.append(Announcement(action.call_id, action.position, action.estimated_wait_s))
        return effects
