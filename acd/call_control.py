"""What agents do to their own calls (坐席工具条): hold, mute, blind transfer, consultation, three-way calls and
one-key linkage, and following the softphone's own transfers (SIP REFER: blind, and attended with Replaces).

A part of acd.connector.Connector, kept in its own room: it shares the connector's book, distributor and clock,
and is just as pure (intentions and facts in, effects out). Every action checks the agent's conversation and its
target first and raises (TargetError, LegStateError, AgentStateError) before anything reaches the switch; what
the switch then does comes back as facts the connector hands to the ``_unit_*``, ``_referred`` and ``_replaced``
methods here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from acd.agents import AgentState, AgentStateError
from calls.book import Call, CallBook, Stage, ThreeWay
from calls.commands import Connect, Hold, Kill, Mute, Originate, Park, SetVars, ToConference
from calls.facts import Bridged
from calls.legs import Leg, LegState, LegStateError, Role
from calls.notices import Consulting, Handover, HoldMusic, UnitUnreached
from calls.record import TransferTrace
from calls.targets import Target, TargetError

from acd.distributor import CAUSES, LOST

if TYPE_CHECKING:
    from acd.connector import Effect
    from acd.distributor import Distributor
    from acd.phones import Phones


class CallControl:
    """The call-control half of the connector (see the module's docstring)."""

    book: CallBook
    core: "Distributor"
    clock: Callable[[], int]
    new_uuid: Callable[[], str]
    phones: "Phones"
    unit_ring_s: float
    survey: bool
    resolve: Callable[[str], Target]
    private: dict[str, str]
    _carry: Callable[..., list["Effect"]]

    def call_control(self, agent_id: str, action: str) -> list[Effect]:
        """An agent acting on their own conversation: ``hold`` (the caller hears the hold music) or ``resume``,
        ``mute`` or ``unmute`` (the caller, or the room, no longer hears the agent); LegStateError if they have no
        conversation in a state that allows it."""
        leg = self._conversation(agent_id)
        if action in ("mute", "unmute"):
            if leg.muted == (action == "mute"):
                raise LegStateError(f"agent {agent_id} is {'already' if leg.muted else 'not'} muted")
            leg.muted = action == "mute"
            return [Mute(leg.uuid, leg.muted)]
        if action == "hold":
            if self.book.find(leg.uuid)[0].consult is not None:  # type: ignore[index]
                raise LegStateError("the caller is aside for the consultation already (complete, cancel or join)")
            leg.require("hold the caller", LegState.BRIDGED)
            return [Hold(leg.uuid, True)]
        if action == "resume":
            leg.require("resume the caller", LegState.HELD)
            return [Hold(leg.uuid, False)]
        raise ValueError(f"unknown call action {action!r}")

    def transfer(self, agent_id: str, target: Target) -> list[Effect]:
        """Blind transfer (盲转): the agent's leg is hung up now and the caller, kept on the line, goes to
        ``target`` once it is gone (a Handover: the IVR side takes them there). TargetError for an agent who
        cannot take the call, LegStateError without a conversation, both before anything is sent."""
        leg = self._conversation(agent_id)
        leg.require("transfer the caller", LegState.BRIDGED, LegState.HELD)
        call = self.book.find(leg.uuid)[0]  # type: ignore[index]
        queue = self._transfer_queue(call, agent_id, target)
        self.book.transferring(call.id, TransferTrace(agent_id, target.label, "blind", self.clock()),
                               Handover(call.id, target, queue))
        leg.ending()
        keep = {"park_after_bridge": "true", "hotline_transfer": target.label, "hotline_transferred": "false"}
        return [SetVars(call.id, keep), Kill(leg.uuid)]

    def _transfer_queue(self, call: Call, agent_id: str, target: Target) -> str:
        """Where the caller waits: the queue named, the target agent's (the caller's own queue if they serve it),
        or, for an outside target, the caller's own queue should it not answer."""
        own = call.record.queue or next(iter(self.core.queues))
        if target.kind == "queue":
            return target.name
        if target.kind != "agent":
            return own
        agent = self.core.agents[target.name]
        if target.name == agent_id:
            raise TargetError("an agent cannot transfer a call to themselves")
        if agent.state is AgentState.LOGGED_OUT:
            raise AgentStateError(f"agent {target.name} is logged out")
        served = [name for name, queue in self.core.queues.items() if agent.skills.get(queue.skill)]
        if not served:
            raise TargetError(f"agent {target.name} serves no queue")
        return own if own in served else served[0]

    def three_way(self, agent_id: str, target: Target, agent_leaves: bool = False) -> list[Effect]:
        """Caller, agent and a unit outside in one conference (三方通话): caller and agent move into the call's
        room at once, the unit is rung for ``unit_ring_s`` and joins when it answers. ``agent_leaves``: the agent
        is taken off once the unit is in (one-key transfer, 一键转接: the caller is never alone while it rings).
        If the unit does not answer, the caller is still with the agent, and both are told (UnitUnreached)."""
        leg = self._conversation(agent_id)
        call = self.book.find(leg.uuid)[0]  # type: ignore[index]
        room = f"hotline-{call.id}"
        moves: list[Effect] = []
        if call.three_way is None:
            leg.require("start a three-way call", LegState.BRIDGED)
            moves = [SetVars(leg.uuid, {"park_after_bridge": "true"}),  # kept, not hung up, as the caller moves
                     ToConference(call.id, room, ("endconf",)), ToConference(leg.uuid, room)]
        elif call.legs[call.three_way.unit].up:
            raise LegStateError(f"{call.legs[call.three_way.unit].party} is already on this three-way call")
        unit, ring = self._ring(call, agent_id, target, {})
        call.three_way = ThreeWay(room, unit.uuid, agent_leaves)
        self.book.transferring(call.id, TransferTrace(agent_id, target.label, "one_key" if agent_leaves
                                                      else "three_way", self.clock()))
        return [*moves, *ring]

    def consult(self, agent_id: str, target: Target) -> list[Effect]:
        """Consultation (咨询): the caller is taken aside with music while the unit is rung; once it answers the
        agent talks to it, then ``finish_consult`` completes (the caller to the unit, the agent off), cancels
        (back to the caller) or joins all three. A unit that does not answer brings the agent back to the caller."""
        leg = self._conversation(agent_id)
        leg.require("consult while talking to the caller", LegState.BRIDGED)
        call = self.book.find(leg.uuid)[0]  # type: ignore[index]
        if call.three_way is not None:
            raise LegStateError("a three-way call is under way: leave it or drop its unit first")
        unit, ring = self._ring(call, agent_id, target, {"park_after_bridge": "true"})
        call.consult = unit.uuid
        self.book.transferring(call.id, TransferTrace(agent_id, target.label, "consult", self.clock()))
        keep = {"park_after_bridge": "true"}  # every leg outlives the bridges the consultation moves it between
        aside = {**keep, "hotline_consult": target.label}  # for an engine taking the call back after a restart
        return [SetVars(call.id, aside), SetVars(leg.uuid, keep), Park(call.id), HoldMusic(call.id), *ring]

    def _ring(self, call: Call, agent_id: str, target: Target, variables: dict[str, str]) -> tuple[Leg, list[Effect]]:
        """The third party of a consultation or three-way call, rung for ``unit_ring_s``: a unit outside through
        its trunk with its caller ID, or a colleague (``agent:<id>``, a team leader) on their own contact, kept
        from queue calls meanwhile. Refused before anything is sent: a queue, oneself, a busy or absent colleague."""
        variables = {"hotline_call": call.id, "hotline_unit": target.label, **variables}
        effects: list[Effect] = []
        if target.kind == "queue":
            raise TargetError("a consultation or three-way call is with a colleague (agent:<id>), a linkage "
                              "directory entry or a number")
        if target.kind == "agent":
            colleague = self.core.agents[target.name]
            if target.name == agent_id:
                raise TargetError("an agent cannot call themselves into their own call")
            if colleague.state not in (AgentState.READY, AgentState.NOT_READY, AgentState.WRAP_UP):
                raise AgentStateError(f"agent {target.name} is {colleague.state.value}")
            contact = colleague.contact
            effects = self._carry(self.core.non_queue_call(target.name, self.clock()))
        else:
            contact = target.dial
            variables["origination_caller_id_number"] = target.caller_id
        leg = self.book.add(call, Leg(self.new_uuid(), Role.UNIT, target.label))
        return leg, [*effects, Originate(leg.uuid, contact, self.unit_ring_s, variables)]

    def finish_consult(self, agent_id: str, how: str) -> list[Effect]:
        """``complete`` (the caller to the unit, the agent off), ``cancel`` (the unit off, the agent back with the
        caller) or ``join`` (all three in the call's room)."""
        leg = self._conversation(agent_id)
        call = self.book.find(leg.uuid)[0]  # type: ignore[index]
        unit = call.legs.get(call.consult or "")
        if unit is None:
            raise LegStateError(f"agent {agent_id} is consulting no one")
        if how == "cancel":
            return self._back_to_caller(call, leg, unit)
        if unit.outcome != "answered" or not unit.up:
            raise LegStateError(f"{unit.party} has not answered: cancel, or wait")
        call.consult = None
        self.book.transferred(call.id, "done" if how == "complete" else "joined", unit.uuid)
        over = Consulting(call.id, unit.uuid, False)  # the caller's recording takes it from here
        if how == "complete":  # the caller's end is the unit's now: nothing to stay up for after it
            call.handed_over = True
            leg.ending()
            return [over, SetVars(call.id, {"park_after_bridge": "false", "hotline_consult": "over"}),
                    Connect(call.id, unit.uuid), Kill(leg.uuid)]
        room = f"hotline-{call.id}"
        call.three_way = ThreeWay(room, unit.uuid, agent_leaves=False)
        self.book.aside(call.id, False, self.clock())  # into the room: no event the engine reads says when
        return [over, SetVars(call.id, {"hotline_consult": "over"}), ToConference(call.id, room, ("endconf",)),
                ToConference(leg.uuid, room), ToConference(unit.uuid, room, ("mintwo",))]

    def _back_to_caller(self, call: Call, agent: Leg, unit: Leg) -> list[Effect]:
        """End the consultation: the unit off (if still there), the agent bridged to the caller again."""
        call.consult = None
        self.book.transferred(call.id, "cancelled")
        return self._rejoin(call, agent) + self._end(unit)

    @staticmethod
    def _end(leg: Leg) -> list[Effect]:
        """Hang up a leg the engine added: cancelled while it rings, cleared once answered; nothing if it is gone
        or already being ended."""
        if not leg.up or leg.ended_by_engine:
            return []
        leg.ending()
        return [Kill(leg.uuid, "NORMAL_CLEARING" if leg.outcome == "answered" else "ORIGINATOR_CANCEL")]

    def _rejoin(self, call: Call, agent: Leg) -> list[Effect]:
        """The agent back with the caller, who again outlives the agent only for the survey, and the agent, as
        before the consultation, does not outlive the caller."""
        return [SetVars(call.id, {"park_after_bridge": str(self.survey).lower(), "hotline_consult": "over"}),
                SetVars(agent.uuid, {"park_after_bridge": "false"}), Connect(call.id, agent.uuid)]

    def _referred(self, call: Call, number: str) -> list[Effect]:
        """The agent's softphone transferred the caller (blind SIP REFER) and the switch parked them on the number
        it named: carried out as the agent's blind transfer would be (to an agent by their SIP user, a directory
        entry or a number); a number that is none of these sends the caller back to the queue, place kept."""
        if call.handover is not None or (call.agent_leg is None and call.referred_by is None):
            return []  # a park repeated, the transfer already under way, or no agent's call
        agent = call.legs.get(call.agent_leg or "")
        by = self._referrer(call)
        queue = call.record.queue or next(iter(self.core.queues))
        target = self._named(number)
        try:
            queue = self._transfer_queue(call, by, target) if target is not None else queue
        except (TargetError, AgentStateError):
            target = None
        self.book.transferring(call.id, TransferTrace(by, target.label if target else f"number:{number}", "refer",
                                                      self.clock()))
        if target is None:
            self.book.transferred(call.id, "failed")
            target = Target("queue", queue)
        call.handover, call.referred_by = Handover(call.id, target, queue), None
        if agent is not None and agent.up:
            return []  # the agent's hang-up, next, carries it out
        call.stage = Stage.IVR
        return [call.handover]

    def _replaced(self, call: Call, bridged: Bridged) -> list[Effect]:
        """The agent's softphone completed an attended transfer (SIP REFER with Replaces, after its own call to the
        unit): the switch bridged the caller to the far end of that call. That leg joins the call as its unit (a
        party of the record, whose hang-up ends the call) and the transfer is done; the caller now ends with the
        unit, with no survey of a conversation the centre handed on. The agent's leg, which the switch hangs up,
        frees the agent."""
        target = self._named(bridged.peer_number)
        label = target.label if target is not None else f"number:{bridged.peer_number}"
        by = self._referrer(call)
        self.private.pop(bridged.peer, None)  # a colleague's own call is now this call's leg, and frees them so
        self.book.add(call, Leg(bridged.peer, Role.UNIT, label, LegState.BRIDGED, peer=call.id, outcome="answered",
                                created_ms=bridged.peer_created_ms or None, answered_ms=bridged.peer_answered_ms or None))
        self.book.transferring(call.id, TransferTrace(by, label, "refer_attended", bridged.at_ms or self.clock()))
        self.book.transferred(call.id, "done", bridged.peer)
        call.referred_by, call.handed_over, call.stage = None, True, Stage.CONNECTED
        return [SetVars(call.id, {"park_after_bridge": "false"})]

    def _referrer(self, call: Call) -> str:
        """The agent whose softphone transferred the caller: the one it said, or the one talking with them."""
        agent = call.legs.get(call.agent_leg or "")
        return call.referred_by or (agent.party if agent is not None else "")

    def _named(self, number: str) -> Target | None:
        """What a number a softphone transferred to stands for: a colleague by their SIP user, a directory entry
        or a plain number; None for anything else."""
        if (colleague := self.phones.agents.get(number)) is not None:
            return Target("agent", colleague)
        try:
            return self.resolve(number)
        except TargetError:
            return None

    def leave(self, agent_id: str) -> list[Effect]:
        """The agent leaves a three-way call; the caller and the unit talk on."""
        leg = self._conversation(agent_id)
        call = self.book.find(leg.uuid)[0]  # type: ignore[index]
        if call.three_way is None:
            raise LegStateError(f"agent {agent_id} is in no three-way call (hang up instead)")
        leg.ending()
        return [Kill(leg.uuid)]

    def drop(self, agent_id: str) -> list[Effect]:
        """Hang up the unit of the agent's three-way call (ringing or in the room); caller and agent stay."""
        leg = self._conversation(agent_id)
        call = self.book.find(leg.uuid)[0]  # type: ignore[index]
        unit = call.legs.get(call.three_way.unit) if call.three_way is not None else None
        if unit is None or not unit.up:
            raise LegStateError(f"agent {agent_id} has no unit on the line to hang up")
        return self._end(unit)

    def hang_up(self, agent_id: str) -> list[Effect]:
        """挂机 from the toolbar: the agent's leg ends as when their phone hangs up (the caller goes on to the
        survey; in a three-way call, the room goes on without the agent). Refused during a consultation, where a
        hang-up would send the caller aside back in line: the toolbar completes, cancels or joins it instead."""
        leg = self._conversation(agent_id)
        call = self.book.find(leg.uuid)[0]  # type: ignore[index]
        if call.consult is not None:
            raise LegStateError("the caller is aside for a consultation: complete, cancel or join it first")
        if call.three_way is not None:
            return self.leave(agent_id)
        self.book.ending(call.id, "agent")
        return [Kill(leg.uuid)]

    def conversations(self) -> dict[str, dict[str, object]]:
        """Each agent's call as their toolbar shows it, in one pass over the book: the caller, whether held or
        muted, and the third party of a consultation or three-way call under way."""
        views: dict[str, dict[str, object]] = {}
        for call, leg in self.book.legs():
            if leg.role is not Role.AGENT or leg.outcome != "answered" or not leg.up:
                continue
            third = call.legs.get(call.consult or (call.three_way.unit if call.three_way else ""))
            views[leg.party] = {"call": call.id, "caller": call.record.caller_number, "held": leg.state is LegState.HELD,
                                "muted": leg.muted, "consulting": call.consult is not None,
                                "three_way": call.three_way is not None,
                                "third_party": third.party if third is not None and third.up else None}
        return views

    def _conversation(self, agent_id: str) -> Leg:
        """The agent's leg in their queue call."""
        for call, leg in self.book.legs():
            if leg.role is Role.AGENT and leg.party == agent_id and leg.outcome == "answered" and leg.up:
                return leg
        raise LegStateError(f"agent {agent_id} is in no conversation")

    def _unit_answered(self, call: Call, leg: Leg) -> list[Effect]:
        """The unit answered: to the consulting agent, or into the room (mintwo: once it is in, the room ends when
        fewer than two remain), and for a one-key transfer the agent is taken off. A unit parked again (displaced
        from a bridge) or that no one waits for any more is hung up."""
        agent = call.legs.get(call.agent_leg or "")
        if call.consult == leg.uuid and leg.outcome is None and call.caller.up and agent is not None and agent.up:
            leg.outcome = "answered"
            return [Consulting(call.id, leg.uuid, True), Connect(agent.uuid, leg.uuid)]  # recorded from the start
        three_way = call.three_way
        if leg.outcome is not None or three_way is None or three_way.unit != leg.uuid or not call.caller.up:
            moving = leg.outcome == "answered" and call.caller.up and (three_way is not None or call.consult == leg.uuid)
            if not moving and leg.up and not leg.ended_by_engine:  # parked on its way into the room, or left over
                leg.ending()
                return [Kill(leg.uuid)]
            return []
        leg.outcome = "answered"
        self.book.transferred(call.id, "done", leg.uuid)
        effects: list[Effect] = [ToConference(leg.uuid, three_way.room, ("mintwo",))]
        if three_way.agent_leaves and agent is not None and agent.up:
            agent.ending()
            effects.append(Kill(agent.uuid))
        return effects

    def _unit_gone(self, call: Call, leg: Leg) -> list[Effect]:
        """The unit left the room (the switch's mintwo ends it if only one remains), or never answered: then the
        caller is told so with the agent, or, with the agent gone meanwhile, goes back to the queue."""
        if call.consult == leg.uuid:  # the consulted unit hung up, or never answered: back to the caller
            call.consult = None
            result = "unit_left" if leg.outcome == "answered" else LOST if leg.cause is None else \
                CAUSES.get(leg.cause, "failed")
            leg.outcome = leg.outcome or result
            self.book.transferred(call.id, result)
            agent = call.legs.get(call.agent_leg or "")
            return self._rejoin(call, agent) if call.caller.up and agent is not None and agent.up else []
        if leg.outcome is not None or call.three_way is None:
            return []
        leg.outcome = LOST if leg.cause is None else CAUSES.get(leg.cause, "failed")
        self.book.transferred(call.id, leg.outcome)
        if not call.caller.up:
            return []
        if call.agent_leg is not None:
            return [UnitUnreached(call.id, call.three_way.room)]
        queue = call.record.queue or next(iter(self.core.queues))
        call.stage, call.three_way = Stage.IVR, None
        return [Park(call.id), Handover(call.id, Target("queue", queue), queue)]

