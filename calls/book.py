"""Every live call the engine took and every leg it owns, by UUID; each call's record kept as it happens.

A call is named by its caller's leg and owns the legs the engine adds to it (offers to agents; later consult,
third party, supervisor). Its record is finished once the caller's leg is gone for good (its end settled, or
found missing) and handed to the sink (the ticket store's writer); the call stays in the book until its last leg is gone too, so an agent's leg that
outlives the caller still ends that agent's call. Nothing here does I/O: the journal (Redis) queues its writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Callable

from calls.journal import Journal, NoJournal
from calls.legs import Leg, LegState, Role
from calls.notices import Handover
from calls.record import CallTimeline, OfferTrace, PartyTrace, TransferTrace

Sink = Callable[[CallTimeline], None]
CALLS = "calls"
"""The journal section of live calls' records."""


class Stage(str, Enum):
    IVR = "ivr"
    """Taken by the engine: greeting, menus, lookups, messages."""
    QUEUED = "queued"
    """Waiting for an agent, with music on hold."""
    CONNECTED = "connected"
    """Talking to an agent (or being bridged to one)."""
    AFTER = "after"
    """The agent left first and the caller stayed (the survey)."""


@dataclass
class ThreeWay:
    """A three-way call in progress: the call's conference ``room`` and the ``unit``'s leg rung into it."""

    room: str
    unit: str
    agent_leaves: bool
    """One-key transfer (一键转接): the agent is taken off once the unit is in."""


@dataclass
class Call:
    caller: Leg
    record: CallTimeline
    stage: Stage = Stage.IVR
    legs: dict[str, Leg] = field(default_factory=dict)
    """The legs the engine added, by UUID (the caller's is ``caller``)."""
    agent_leg: str | None = None
    """The agent leg bridged to the caller, or being bridged."""
    ending_side: str | None = None
    """Who ended the conversation, when known before the caller's leg goes: agent or system."""
    gone_ms: int | None = None
    """When the caller's leg went (None: unseen); the record is finished a moment later, when the switch says
    who hung up."""
    held_since_ms: int | None = None
    """When the caller was put on hold, by the switch's clock; None while not on hold."""
    aside_since_ms: int | None = None
    """When the caller was taken aside for a consultation, by the switch's clock; None while not aside."""
    three_way: ThreeWay | None = None
    consult: str | None = None
    """The unit's leg while the agent consults it, the caller on hold."""
    referred_by: str | None = None
    """The agent whose softphone transferred the caller away (SIP REFER), until the switch says where to."""
    handed_over: bool = False
    """The caller talks to a unit now, without the agent (a transfer to it, or a consultation completed)."""
    handover: Handover | None = None
    """Where the agent's blind transfer sends the caller, from the transfer until a queue has them again, or for
    good once a unit outside has them."""
    supervised: dict[str, str] = field(default_factory=dict)
    """Supervisors' legs on the call -> the mode asked for (listen, whisper, barge)."""
    taken_over_by: str | None = None
    """The supervisor who took the call from its agent (intercept)."""
    interrupted: bool = False
    """What drove the call (the IVR, the survey) stopped because the link failed: reconciliation resumes it."""
    finished: bool = False

    @property
    def id(self) -> str:
        return self.caller.uuid

    def live_legs(self) -> list[Leg]:
        return [leg for leg in self.legs.values() if leg.up]


class CallBook:
    """The calls and their legs; each timeline method is a no-op for a call it does not know."""

    def __init__(self, sink: Sink, journal: Journal = NoJournal()) -> None:
        self.sink = sink
        self.journal = journal
        self.calls: dict[str, Call] = {}
        self._legs: dict[str, tuple[Call, Leg]] = {}

    # --- calls and legs --------------------------------------------------------------------------------

    def open(self, uuid: str, caller_number: str, called_number: str, at_ms: int,
             state: LegState = LegState.RINGING) -> Call | None:
        """The engine takes a call; None if it already has it (a repeated park, or reconciliation meeting an
        event)."""
        if uuid in self._legs:
            return None
        return self.restore(CallTimeline(uuid, caller_number, called_number, at_ms), state)

    def restore(self, record: CallTimeline, state: LegState = LegState.ANSWERED, stage: Stage = Stage.IVR) -> Call:
        """Take back a call from its record (a previous process's journal, or the switch's own variables)."""
        call = Call(Leg(record.call_id, Role.CALLER, record.caller_number, state), record, stage)
        self.calls[call.id] = call
        self._legs[call.id] = (call, call.caller)
        self.journal.put(CALLS, record.call_id, record.to_json)
        return call

    def add(self, call: Call, leg: Leg) -> Leg:
        call.legs[leg.uuid] = leg
        self._legs[leg.uuid] = (call, leg)
        return leg

    def find(self, uuid: str) -> tuple[Call, Leg] | None:
        return self._legs.get(uuid)

    def get(self, call_id: str) -> Call | None:
        return self.calls.get(call_id)

    def legs(self) -> list[tuple[Call, Leg]]:
        """Every leg with its call, as a list (the book may change while it is walked)."""
        return list(self._legs.values())

    def settle(self, call: Call) -> None:
        """Forget the call once its record is finished and none of its legs is up."""
        if call.finished and not call.caller.up and not call.live_legs():
            self.calls.pop(call.id, None)
            for uuid in (call.id, *call.legs):
                self._legs.pop(uuid, None)

    # --- the record --------------------------------------------------------------------------------------

    def _journal(self, call: Call) -> None:
        """The record so far, for an engine that takes over; not once finished (it went to the spool), or the next
        engine would finish it again from the journal: a legs' late fact (a transfer's result, a recording) came
        after the finish and put it back (found by the chaos bench with call control: calls recorded twice)."""
        if not call.finished:
            self.journal.put(CALLS, call.id, call.record.to_json)

    def ivr(self, call_id: str, step: str, at_ms: int) -> None:
        if (call := self.calls.get(call_id)) is not None:
            if call.record.ivr_entry_ms is None:
                call.record.ivr_entry_ms = at_ms
            call.record.ivr_path.append(step)
            self._journal(call)

    def queued(self, call_id: str, queue: str, at_ms: int) -> None:
        if (call := self.calls.get(call_id)) is not None:
            call.stage = Stage.QUEUED
            call.record.queue, call.record.queue_entry_ms = queue, at_ms
            self._journal(call)

    def position(self, call_id: str, position: int) -> None:
        if (call := self.calls.get(call_id)) is not None and call.record.original_position is None:
            call.record.original_position = position
            self._journal(call)

    def offered(self, call_id: str, agent: str, at_ms: int) -> None:
        if (call := self.calls.get(call_id)) is not None:
            call.record.offers.append(OfferTrace(agent, at_ms))
            self._journal(call)

    def offer_ended(self, call_id: str, agent: str, result: str, at_ms: int) -> None:
        if (call := self.calls.get(call_id)) is None:
            return
        for offer in reversed(call.record.offers):
            if offer.agent == agent and offer.ring_end_ms is None:
                offer.ring_end_ms, offer.result = at_ms, result
                break
        if result == "answered":  # once: a caller transferred back to a queue was answered before
            call.record.answered_ms = call.record.answered_ms or at_ms
            call.record.agent, call.record.exit_reason = agent, "answered"
        self._journal(call)

    def connecting(self, call_id: str, agent: str) -> None:
        """The agent answered and the caller is being bridged to them: if the engine loses sight of the call
        now, the record can say so (``unseen``) rather than guess."""
        if (call := self.calls.get(call_id)) is not None:
            for offer in reversed(call.record.offers):
                if offer.agent == agent and offer.ring_end_ms is None:
                    offer.result = "connecting"
                    break
            self._journal(call)

    def hold(self, call_id: str, on: bool, at_ms: int, since_ms: int) -> None:
        """The caller went on hold (at ``since_ms``) or came back (at ``at_ms``): the time adds to ``held_ms``."""
        if (call := self.calls.get(call_id)) is None:
            return
        if on:
            call.held_since_ms = since_ms or at_ms
        elif call.held_since_ms is not None:
            call.record.held_ms += _span(call.held_since_ms, at_ms)
            call.held_since_ms = None
            self._journal(call)

    def aside(self, call_id: str, on: bool, at_ms: int) -> None:
        """The caller was taken aside for a consultation, or is back (bridged, or in the room): adds to
        ``consult_ms``."""
        if (call := self.calls.get(call_id)) is None:
            return
        if on and call.aside_since_ms is None:
            call.aside_since_ms = at_ms
        elif not on and call.aside_since_ms is not None:
            call.record.consult_ms += _span(call.aside_since_ms, at_ms)
            call.aside_since_ms = None
            self._journal(call)

    def transferring(self, call_id: str, transfer: TransferTrace, handover: Handover | None = None) -> None:
        """The agent sends the caller on: a hold still open ends now (the agent's leg goes)."""
        if (call := self.calls.get(call_id)) is None:
            return
        call.record.held_ms += _span(call.held_since_ms, transfer.at_ms)
        call.held_since_ms, call.handover = None, handover
        call.record.transfers.append(transfer)
        self._journal(call)

    def transferred(self, call_id: str, result: str, leg: str | None = None, queue: str | None = None) -> None:
        """The transfer under way came to ``result``: done (the target has the caller) or failed; ``queue``: where
        the caller waits again (a queue or agent target, or a unit that could not be reached)."""
        if (call := self.calls.get(call_id)) is None or not call.record.transfers:
            return
        transfer = call.record.transfers[-1]
        transfer.result, transfer.leg = transfer.result or result, transfer.leg or leg
        transfer.queue = queue or transfer.queue
        self._journal(call)

    def note(self, call_id: str, **fields: object) -> None:
        """Set record fields the IVR and other capabilities learn (tenant, recording, survey)."""
        if (call := self.calls.get(call_id)) is not None:
            for name, value in fields.items():
                setattr(call.record, name, value)
            self._journal(call)

    def consult_recorded(self, call_id: str, path: str) -> None:
        """The consultation under way is recorded in ``path`` (its transfer references it)."""
        if (call := self.calls.get(call_id)) is not None and call.record.transfers:
            call.record.transfers[-1].recording = path
            self._journal(call)

    def exited(self, call_id: str, reason: str) -> None:
        """The caller left the queue, or the IVR, without a human (the first reason given stands)."""
        if (call := self.calls.get(call_id)) is not None and call.record.exit_reason is None:
            call.record.exit_reason = reason
            self._journal(call)

    def ending(self, call_id: str, side: str) -> None:
        """Who is ending the call, when known before the caller's leg goes: the agent or the system."""
        if (call := self.calls.get(call_id)) is not None and call.ending_side is None:
            call.ending_side = side

    def finish(self, call: Call, at_ms: int | None) -> None:
        """The caller's leg is gone: close the open offers, settle side and exit reason, hand the record on.

        ``at_ms`` None is a call that ended while the engine could not see it: the record says the hang-up
        time is unknown rather than invent one."""
        if call.finished:
            return
        call.finished = True
        record, caller = call.record, call.caller
        record.hangup_ms, record.hangup_cause = at_ms, caller.cause
        record.held_ms += _span(call.held_since_ms, at_ms)  # hung up on hold, or aside
        record.consult_ms += _span(call.aside_since_ms, at_ms)
        for transfer in record.transfers:
            transfer.result = transfer.result or "caller_left"
        record.parties = [PartyTrace(leg.role.value, leg.party, leg.uuid, leg.created_ms, leg.answered_ms,
                                     leg.gone_ms or caller.gone_ms or at_ms, _ended_by(leg)) for leg in call.legs.values()
                          if leg.role is Role.UNIT or leg.outcome == "answered"]
        if call.ending_side is not None:
            record.hangup_side = call.ending_side
        elif caller.ended_by_engine:
            record.hangup_side = "system"
        elif caller.hung_up_by_party or caller.disposition is None:
            record.hangup_side = "caller"
        elif call.stage not in (Stage.CONNECTED, Stage.AFTER):  # the switch sent the BYE, not for a party
            record.hangup_side = "system"
        else:  # the switch sent the BYE for the other side: the agent, the unit handed over to, or whoever left a
            # three-way call last
            talked = [leg for leg in call.legs.values()  # a party the engine took off ended nothing
                      if leg.outcome == "answered" and leg.gone_ms and not leg.ended_by_engine]
            last = max(talked, key=lambda leg: leg.gone_ms or 0) \
                if any(leg.role is Role.UNIT for leg in talked) else None
            record.hangup_side = last.role.value if last is not None else "unit" if call.handed_over else "agent"
        for offer in record.offers:  # open when the caller went: cancelled, or unseen if being put through unseen
            if offer.ring_end_ms is None:
                unseen = at_ms is None and offer.result == "connecting"
                offer.ring_end_ms, offer.result = at_ms, "unseen" if unseen else "cancelled"
                record.exit_reason = "unseen" if unseen and record.exit_reason is None else record.exit_reason
        if record.exit_reason is None:
            by_caller = record.hangup_side == "caller"
            if record.queue_entry_ms is not None:
                record.exit_reason = "abandoned" if by_caller else "system_failure"
            else:
                record.exit_reason = "ivr_abandoned" if by_caller else "system_failure"
        self.journal.drop(CALLS, call.id)
        self.sink(record)
        self.settle(call)


def _span(since_ms: int | None, at_ms: int | None) -> int:
    """The length of a span (on hold, aside) open since ``since_ms`` and closing at ``at_ms``; 0 if it is not
    open or its end is unknown."""
    return max(0, at_ms - since_ms) if since_ms is not None and at_ms is not None else 0


def _ended_by(leg: Leg) -> str:
    if leg.ended_by_engine:
        return "engine"
    return "self" if leg.hung_up_by_party else "switch"
