"""A call leg by the switch's account: a small state machine fed with switch facts in any order and with the
engine's intentions, refusing what cannot happen.

Switch facts only ever add knowledge: a leg seen answered was created, a leg seen bridged was answered, a gone
leg stays gone. So a late, repeated or reordered event changes nothing it should not, and every fact method
says whether it changed the leg, so whoever reacts does so once. Bridged, held and unbridged toggle; among them
the newest by FreeSWITCH's ``Event-Sequence`` wins. The engine's intentions (bridge this leg, hold it) are checked
with ``require`` and refused with LegStateError: acting on a dead leg is a bug to see, not to paper over.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class LegState(str, Enum):
    ORIGINATING = "originating"
    """The engine asked the switch for it; nothing heard yet."""
    RINGING = "ringing"
    ANSWERED = "answered"
    """Answered and not bridged to anyone: in the IVR, queued, parked, or waiting to be bridged."""
    BRIDGED = "bridged"
    HELD = "held"
    GONE = "gone"


_RANK = {LegState.ORIGINATING: 0, LegState.RINGING: 1, LegState.ANSWERED: 2, LegState.BRIDGED: 3,
         LegState.HELD: 3, LegState.GONE: 4}
_TALKING = (LegState.ANSWERED, LegState.BRIDGED, LegState.HELD)


class Role(str, Enum):
    CALLER = "caller"
    """The citizen's leg: the call is named by its UUID."""
    AGENT = "agent"
    """An offer to an agent, and once answered and bridged, the agent's side of the conversation."""
    UNIT = "unit"
    """A third party an agent brought into their call (a consultation, a three-way call): 110, a department, a
    number, or a colleague (``agent:<id>``)."""
    SUPERVISOR = "supervisor"
    """A supervisor's phone listening in on the agent's leg (eavesdrop), or talking with the caller after taking
    the call over (intercept)."""


class LegStateError(RuntimeError):
    """The engine meant to do something the leg's state rules out (the message says what and from where)."""


@dataclass
class Leg:
    uuid: str
    role: Role
    party: str = ""
    """Who is on it: the agent's id, or the number dialled."""
    state: LegState = LegState.ORIGINATING
    parked: bool = False
    """Answered and waiting in ``park`` (an agent leg ready to be bridged)."""
    peer: str | None = None
    """The leg it is bridged to."""
    cause: str | None = None
    """Hangup-Cause, once gone; None while up, or when the end was not seen (the link was down)."""
    disposition: str | None = None
    """``sip_hangup_disposition``: recv_bye, recv_cancel, recv_refuse (the far end ended it) or send_* (the
    switch did)."""
    ended_by_engine: bool = False
    """The engine asked for its end (uuid_kill), so it is no party's hang-up."""
    outcome: str | None = None
    """What the leg came to for the engine, settled once: an offer's answered, cancelled or failure cause."""
    muted: bool = False
    """The engine stopped what its phone sends (the agent's mute); the switch reports no such state."""
    created_ms: int | None = None
    answered_ms: int | None = None
    gone_ms: int | None = None
    """When it was created, answered and hung up, by the switch's clock (None: not seen with a time)."""
    _toggle_seq: int = -1

    # --- facts from the switch ---------------------------------------------------------------------------

    def created(self, at_ms: int = 0) -> bool:
        self.created_ms = self.created_ms or at_ms or None
        return self._rise(LegState.RINGING)

    def answered(self, at_ms: int = 0) -> bool:
        self.answered_ms = self.answered_ms or at_ms or None
        return self._rise(LegState.ANSWERED)

    def in_park(self, seq: int = 0) -> bool:
        """The leg is answered and parked: CHANNEL_PARK with its sequence, or its originate's +OK without one. A
        park older than the newest bridge, hold or unbridge is stale; so is one without a sequence once bridged."""
        if self.state is LegState.GONE or self.parked or (seq and seq < self._toggle_seq) or (
                not seq and self.state in (LegState.BRIDGED, LegState.HELD)):
            return False
        if self.talking:  # back from a bridge (its unbridge maybe unseen)
            self._toggle(LegState.ANSWERED, seq, None)
        else:
            self.answered()
        self.parked = True
        return True

    def bridged(self, peer: str, seq: int = 0) -> bool:
        return self._toggle(LegState.BRIDGED, seq, peer)

    def unbridged(self, seq: int = 0) -> bool:
        return self._toggle(LegState.ANSWERED, seq, None)

    def held(self, seq: int = 0) -> bool:
        return self._toggle(LegState.HELD, seq, self.peer)

    def resumed(self, seq: int = 0) -> bool:
        """Back from hold to its peer (a leg not held stays as it is)."""
        return self.state is LegState.HELD and self._toggle(LegState.BRIDGED, seq, self.peer)

    def gone(self, cause: str | None = None, disposition: str | None = None, at_ms: int = 0) -> bool:
        """The leg hung up; later facts add a cause, disposition or time first seen without one, nothing else."""
        self.cause = self.cause or cause
        self.disposition = self.disposition or disposition
        self.gone_ms = self.gone_ms or at_ms or None
        if self.state is LegState.GONE:
            return False
        self.state, self.parked = LegState.GONE, False
        return True

    # --- what the engine knows and means -------------------------------------------------------------------

    @property
    def up(self) -> bool:
        return self.state is not LegState.GONE

    @property
    def talking(self) -> bool:
        return self.state in _TALKING

    @property
    def hung_up_by_party(self) -> bool:
        """Its own end hung up (a BYE or CANCEL from the phone), as opposed to the switch or the engine."""
        return not self.ended_by_engine and (self.disposition or "").startswith("recv_")

    def require(self, doing: str, *states: LegState) -> None:
        if self.state not in states:
            raise LegStateError(f"{self.role.value} leg {self.uuid}: cannot {doing} while {self.state.value} "
                                f"(needs {' or '.join(s.value for s in states)})")

    def ending(self) -> None:
        """The engine is about to end this leg."""
        self.ended_by_engine = True

    # --- internals -----------------------------------------------------------------------------------------

    def _rise(self, state: LegState) -> bool:
        if _RANK[state] <= _RANK[self.state]:
            return False
        self.state = state
        return True

    def _toggle(self, state: LegState, seq: int, peer: str | None) -> bool:
        if self.state is LegState.GONE or (seq and seq < self._toggle_seq):
            return False
        self._toggle_seq = max(self._toggle_seq, seq)
        changed = self.state is not state or self.peer != peer
        self.state, self.peer, self.parked = state, peer, False
        return changed
