"""A call's record: one millisecond timeline from switch entry to hang-up (answer-time tracking).

Every KPI the tenders pay by (20秒接通率, 30秒接通率, 接通率, 呼损率, 漏接回拨) is computed from these raw
timestamps and the exit reason, never stored pre-digested, so a city's own formula can be applied later.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson


@dataclass
class OfferTrace:
    agent: str
    ring_start_ms: int
    ring_end_ms: int | None = None
    result: str = ""
    """answered, no_answer, busy, rejected, not_registered, failed, cancelled, lost (its leg vanished while the
    engine could not see the switch) or unseen (being put through as the engine lost sight of the call)."""


@dataclass
class TransferTrace:
    """The agent ``by`` sent the caller to ``target`` (``queue:general``, ``agent:1002``, a directory key such as
    ``110``, or ``number:<digits>``); ``kind`` blind: the agent left at once."""

    by: str
    target: str
    kind: str
    at_ms: int
    result: str = ""
    """Empty while under way; done (the target has the caller), or failed (it could not be reached: the caller
    went back to a queue, keeping their place)."""
    queue: str | None = None
    """The queue the caller waited in again (a transfer to a queue or an agent)."""
    leg: str | None = None
    """The unit's leg, by its UUID: how the unit's own record of the call is found."""
    recording: str | None = None
    """A consultation's own recording: the agent and the unit, while the caller, aside, did not hear them."""


@dataclass
class PartyTrace:
    """Someone who was on the call besides the caller: an agent who answered, or a unit brought in."""

    role: str
    """agent or unit."""
    who: str
    """The agent's id, or the unit's directory key or number."""
    leg: str
    joined_ms: int | None
    answered_ms: int | None
    left_ms: int | None
    """By the switch's clock; a party still on when the caller's leg went is taken to leave with it."""
    ended_by: str
    """self (their phone hung up), engine (taken off by the engine: the agent leaving a one-key transfer, an
    offer cancelled), or switch (the conference ended, the caller left)."""


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
    held_ms: int = 0
    """Time the caller spent on hold during the conversation, by the switch's clock (reported apart from talk)."""
    consult_ms: int = 0
    """Time the caller spent aside while their agent consulted someone, by the switch's clock (from the caller's
    park to their next bridge; to the engine's command when the consultation became a three-way call)."""
    transfers: list[TransferTrace] = field(default_factory=list)
    parties: list[PartyTrace] = field(default_factory=list)
    hangup_ms: int | None = None
    """None when the call ended while the engine could not see it (link down, engine restarting)."""
    hangup_side: str | None = None
    """caller, agent, unit (the unit a transfer handed the caller to), supervisor (who took the call over, or
    force-ended it: ``forced_by``) or system (the engine or the switch)."""
    hangup_cause: str | None = None
    exit_reason: str | None = None
    """answered, abandoned, timeout, overflow, exit_key, queue_full, no_agents, callback, system_failure; or,
    for calls that never reached a queue: ivr_abandoned (the caller hung up in the menus), blocked, after_hours,
    voicemail, transferred, ivr_hangup, safety_net (the switch's own fallback took it while no engine did); or
    unseen: it ended while the engine could not see the switch, as it was being put through to an agent."""
    tenant: str | None = None
    recording: str | None = None
    """The call's recording, or the caller's message (voicemail)."""
    survey: dict[str, str] | None = None
    """Satisfaction by dimension (attitude, efficiency, result): a 好差评 level, or "not_rated"."""
    origin: str | None = None
    """110: transferred in by 110 on its own route (联动), not dialled by the citizen."""
    forced_by: str | None = None
    """The supervisor who force-ended the call (强拆); ``hangup_side`` is then supervisor."""

    def to_json(self) -> str:
        """One line of JSON (the spool's and the live journal's format), written at every change of a live call:
        orjson serialises the dataclasses itself, a tenth of the CPU of ``json.dumps(asdict(...))``."""
        return orjson.dumps(self).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> "CallTimeline":
        return cls.from_dict(orjson.loads(text))

    @classmethod
    def from_dict(cls, data: dict) -> "CallTimeline":
        offers = [OfferTrace(**offer) for offer in data["offers"]]
        transfers = [TransferTrace(**transfer) for transfer in data.get("transfers", ())]
        parties = [PartyTrace(**party) for party in data.get("parties", ())]
        return cls(**{**data, "offers": offers, "transfers": transfers, "parties": parties})

    @property
    def wait_ms(self) -> int | None:
        """Queue entry to answer; ring time counts as waiting."""
        if self.answered_ms is None or self.queue_entry_ms is None:
            return None
        return self.answered_ms - self.queue_entry_ms
