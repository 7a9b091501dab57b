"""Answer-time tracking: one millisecond timeline per call, from switch entry to hang-up.

Every KPI the tenders pay by (20秒接通率, 30秒接通率, 接通率, 呼损率, 漏接回拨) is computed from these raw
timestamps and the exit reason, never stored pre-digested, so a city's own formula can be applied later.
A finished timeline goes to the sink (the ticket store's writer), which must not block.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Callable, Protocol


@dataclass
class OfferTrace:
    agent: str
    ring_start_ms: int
    ring_end_ms: int | None = None
    result: str = ""
    """answered, no_answer, busy, rejected, not_registered, failed or cancelled."""


@dataclass
class CallTimeline:
    call_id: str
    caller_number: str
    called_number: str
    switch_entry_ms: int
    ivr_entry_ms: int | None = None
    ivr_path: list[str] = field(default_factory=list)
    queue_entry_ms: int | None = None
    """The human request (人工请求): what the N-second answer rates count from."""
    queue: str | None = None
    original_position: int | None = None
    offers: list[OfferTrace] = field(default_factory=list)
    answered_ms: int | None = None
    agent: str | None = None
    hangup_ms: int | None = None
    hangup_side: str | None = None
    """caller, agent or system (the engine or the switch ended it)."""
    hangup_cause: str | None = None
    exit_reason: str | None = None
    """answered, abandoned, timeout, overflow, exit_key, queue_full, no_agents, system_failure; or, for calls
    the IVR ended: blocked, after_hours, voicemail, transferred, self_service, ivr_hangup."""
    tenant: str | None = None
    recording: str | None = None
    """The call's recording, or the caller's message (voicemail)."""
    survey: dict[str, str] | None = None
    """Satisfaction by dimension (attitude, efficiency, result): a 好差评 level, or "not_rated"."""

    def to_json(self) -> str:
        """One line of JSON (the spool's and the live journal's format)."""
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> "CallTimeline":
        data = json.loads(text)
        offers = [OfferTrace(**offer) for offer in data.pop("offers")]
        return cls(**data, offers=offers)

    @property
    def wait_ms(self) -> int | None:
        """Queue entry to answer; ring time counts as waiting."""
        if self.answered_ms is None or self.queue_entry_ms is None:
            return None
        return self.answered_ms - self.queue_entry_ms


Sink = Callable[[CallTimeline], None]


class TimelineJournal(Protocol):
    """Where live timelines are kept outside the process, so a restarted engine can finish their records."""

    def call_changed(self, timeline: CallTimeline) -> None: ...
    def call_gone(self, call_id: str) -> None: ...


class NoTimelineJournal:
    def call_changed(self, timeline: CallTimeline) -> None:
        pass

    def call_gone(self, call_id: str) -> None:
        pass


class CallTracker:
    """Keeps the live timelines; each event method is a no-op for a call it does not know."""

    def __init__(self, sink: Sink, journal: TimelineJournal = NoTimelineJournal()) -> None:
        self.sink = sink
        self.journal = journal
        self.calls: dict[str, CallTimeline] = {}
        self._ending_side: dict[str, str] = {}

    def entered(self, call_id: str, caller: str, called: str, at_ms: int) -> None:
        if call_id not in self.calls:
            self.calls[call_id] = call = CallTimeline(call_id, caller, called, at_ms)
            self.journal.call_changed(call)

    def restore(self, timeline: CallTimeline) -> None:
        """Take back a live call's timeline journalled by a previous process."""
        self.calls[timeline.call_id] = timeline

    def ivr(self, call_id: str, step: str, at_ms: int) -> None:
        if (call := self.calls.get(call_id)) is not None:
            if call.ivr_entry_ms is None:
                call.ivr_entry_ms = at_ms
            call.ivr_path.append(step)
            self.journal.call_changed(call)

    def queued(self, call_id: str, queue: str, at_ms: int) -> None:
        if (call := self.calls.get(call_id)) is not None:
            call.queue, call.queue_entry_ms = queue, at_ms
            self.journal.call_changed(call)

    def position(self, call_id: str, position: int) -> None:
        if (call := self.calls.get(call_id)) is not None and call.original_position is None:
            call.original_position = position
            self.journal.call_changed(call)

    def offered(self, call_id: str, agent: str, at_ms: int) -> None:
        if (call := self.calls.get(call_id)) is not None:
            call.offers.append(OfferTrace(agent, at_ms))
            self.journal.call_changed(call)

    def offer_ended(self, call_id: str, agent: str, result: str, at_ms: int) -> None:
        if (call := self.calls.get(call_id)) is None:
            return
        for offer in reversed(call.offers):
            if offer.agent == agent and offer.ring_end_ms is None:
                offer.ring_end_ms, offer.result = at_ms, result
                break
        if result == "answered":
            call.answered_ms, call.agent, call.exit_reason = at_ms, agent, "answered"
        self.journal.call_changed(call)

    def note(self, call_id: str, **fields: object) -> None:
        """Set record fields the IVR learns (tenant, recording, survey)."""
        if (call := self.calls.get(call_id)) is not None:
            for name, value in fields.items():
                setattr(call, name, value)
            self.journal.call_changed(call)

    def exited(self, call_id: str, reason: str) -> None:
        """The caller left the queue, or the IVR, without a human (timeout, overflow, exit key, queue full, no
        agents; blocked, after hours, voicemail, transferred, self-service, hung up by the IVR)."""
        if (call := self.calls.get(call_id)) is not None and call.exit_reason is None:
            call.exit_reason = reason
            self.journal.call_changed(call)

    def ending(self, call_id: str, side: str) -> None:
        """Who is ending the call, when it is known before the caller's hang-up: the agent or the system."""
        if call_id in self.calls:
            self._ending_side.setdefault(call_id, side)

    def hung_up(self, call_id: str, cause: str | None, at_ms: int | None) -> None:
        """The caller's leg is gone: close every open offer, settle the exit reason, hand the timeline on.

        ``at_ms`` and ``cause`` are None for a call that ended while no engine was running: the record says
        the hang-up time is unknown rather than invent one."""
        call = self.calls.pop(call_id, None)
        if call is None:
            return
        self.journal.call_gone(call_id)
        call.hangup_ms, call.hangup_cause = at_ms, cause
        call.hangup_side = self._ending_side.pop(call_id, "caller")
        for offer in call.offers:
            if offer.ring_end_ms is None:
                offer.ring_end_ms, offer.result = at_ms, "cancelled"
        if call.exit_reason is None:
            if call.queue_entry_ms is not None:
                call.exit_reason = "abandoned" if call.hangup_side == "caller" else "system_failure"
            elif call.hangup_side != "caller":
                call.exit_reason = "system_failure"
        self.sink(call)
