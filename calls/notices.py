"""What one capability tells the others about a call, so that none imports another (the IVR hands a caller to a
queue without knowing the ACD; the ACD says a caller left its queue without knowing who plays the message)."""

from __future__ import annotations

from dataclasses import dataclass

from calls.record import CallTimeline
from calls.targets import Target
from tickets.audit import AuditEntry


@dataclass(frozen=True, slots=True)
class ToQueue:
    """Put the caller through to a human in ``queue``, in line from ``entered_ms``. A ``returning`` caller (taken
    back after a restart or a link cut, or overflowing from another queue) keeps that place, and no limit turns
    them away again."""

    call_id: str
    queue: str
    number: str
    entered_ms: int
    priority: int = 0
    returning: bool = False
    transferred: bool = False
    """An agent's transfer: counted as a transfer in, not a new request (see acd.distributor.enqueue)."""
    agent: str | None = None
    """Offered to this agent alone for ``agent_wait_ms``, then to the queue's agents."""
    agent_wait_ms: int = 0


@dataclass(frozen=True, slots=True)
class LeftQueue:
    """The caller left the queue without an agent (``reason``: timeout, queue_full, no_agents, exit_key) and
    goes where ``action`` says: another queue, voicemail, callback, a number, or a message and goodbye."""

    call_id: str
    reason: str
    action: str
    target: str = ""


@dataclass(frozen=True, slots=True)
class Announcement:
    """Tell the waiting caller their position and estimated wait."""

    call_id: str
    position: int
    estimated_wait_s: int


@dataclass(frozen=True, slots=True)
class Connecting:
    """An agent answered and the caller is about to be bridged to them (recording starts here)."""

    call_id: str
    agent: str


@dataclass(frozen=True, slots=True)
class Consulting:
    """The agent talks with the consulted unit ``unit`` (a leg), which the caller does not hear (``on``), or that
    talk is over and the unit goes on with the caller or into the room (off): it is recorded on its own."""

    call_id: str
    unit: str
    on: bool


@dataclass(frozen=True, slots=True)
class AgentLeft:
    """The agent hung up first and the caller is still on the line (the survey follows)."""

    call_id: str


@dataclass(frozen=True, slots=True)
class Handover:
    """The agent's blind transfer took them off the call: the caller, kept on the line, goes to ``target``; to
    ``queue`` if it is a queue or an agent, and back to ``queue`` if an outside target cannot be reached."""

    call_id: str
    target: Target
    queue: str


@dataclass(frozen=True, slots=True)
class HoldMusic:
    """The caller was taken aside (parked) while their agent consults someone: play them the queue's music."""

    call_id: str


@dataclass(frozen=True, slots=True)
class UnitUnreached:
    """The unit rung for a three-way call did not answer: the caller and the agent, still in ``room``, are told."""

    call_id: str
    room: str


@dataclass(frozen=True, slots=True)
class Audited:
    """A supervisor acted, or a state was forced on an agent: to the audit log (through the record spool)."""

    entry: AuditEntry


@dataclass(frozen=True, slots=True)
class Finished:
    """A call's record is complete (the caller's leg is gone): to the ticket store, and to the live figures."""

    record: CallTimeline


@dataclass(frozen=True, slots=True)
class RecordingsKept:
    """A call's recordings are archived and stored, and joined the transcription backlog: the ASR workers look."""

    call_id: str


@dataclass(frozen=True, slots=True)
class KeywordHeard:
    """A transcript says a word of asr.keywords: supervisors of the call's agent or queue are told (the console)."""

    call_id: str
    agent: str | None
    queue: str | None
    caller: str
    flags: tuple[dict[str, object], ...]
    """category, word, speaker and at_ms (from the start of the recording) of each word heard."""
    at_ms: int


@dataclass(frozen=True, slots=True)
class AgentMoved:
    """An agent's state changed (``state`` entered, with its reason): to the ticket store, for the report."""

    agent: str
    state: str
    reason: str
    at_ms: int
