"""Skill queues (技能组) and the callers waiting in them.

A queue is defined by the skill it needs and the minimum level, widened over a caller's wait (accept a lower
level after N seconds); callers are served by priority (emergency and VIP first), then by time of entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Strategy(str, Enum):
    LONGEST_IDLE = "longest-idle"
    ROUND_ROBIN = "round-robin"
    FEWEST_CALLS = "fewest-calls"
    LEAST_TALK_TIME = "least-talk-time"
    TOP_DOWN = "top-down"
    RANDOM = "random"
    RING_ALL = "ring-all"
    HIGHEST_SKILL_FIRST = "highest-skill-first"


class ExitReason(str, Enum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    TIMEOUT = "timeout"
    OVERFLOW = "overflow"
    EXIT_KEY = "exit_key"
    QUEUE_FULL = "queue_full"
    NO_AGENTS = "no_agents"
    SYSTEM_FAILURE = "system_failure"


@dataclass(frozen=True, slots=True)
class Widening:
    """After ``after_s`` seconds of waiting, accept agents from ``min_level`` up."""

    after_s: float
    min_level: int


@dataclass(frozen=True, slots=True)
class Overflow:
    """Where a caller goes when the queue cannot keep them: another queue, voicemail, callback or a message."""

    action: str = "announce-hangup"
    target: str = ""


@dataclass(frozen=True)
class QueueSpec:
    name: str
    skill: str
    min_level: int = 1
    strategy: Strategy = Strategy.LONGEST_IDLE
    widening: tuple[Widening, ...] = ()
    max_waiting: int = 0
    """0 means no limit; a caller arriving at a full queue overflows at once (queue_full)."""
    max_wait_s: float = 0.0
    """0 means no limit; a caller waiting longer overflows (timeout)."""
    on_full: Overflow = Overflow()
    on_timeout: Overflow = Overflow()
    on_no_agents: Overflow | None = None
    """If set, a caller arriving when nobody is logged in to the queue overflows at once."""
    wrap_up_s: float = 15.0
    ring_timeout_s: float = 20.0
    sticky_window_s: float = 0.0
    """A repeat caller within this window is held for the agent who served them last (首问负责)..."""
    sticky_wait_s: float = 0.0
    """...for at most this many seconds, if that agent is logged in."""
    announce_every_s: float = 0.0
    exit_key: str = ""
    """A DTMF key that takes a waiting caller out of the queue to ``on_exit`` ('' = none)."""
    on_exit: Overflow = Overflow("voicemail")


@dataclass
class Caller:
    """A call waiting for an agent; ``position`` ordering is (priority desc, entered asc, seq asc)."""

    call_id: str
    queue: str
    number: str
    priority: int
    entered_ms: int
    seq: int
    min_level: int
    widen_step: int = 0
    sticky_agent: str | None = None
    sticky_until_ms: int = 0
    offers: dict[str, int] = field(default_factory=dict)
    """agent -> ring start (ms) of the offers ringing now."""
    original_position: int = 0
    transferred: bool = False
    """An agent sent them here: their request was answered once already, so the service level counts a
    transfer in, not a new request, an answer or an abandon."""
    tenant: str | None = None
    """The operation centre (分中心) the IVR chose for the call: its figures count the caller too."""

    @property
    def rank(self) -> tuple[int, int, int]:
        return (-self.priority, self.entered_ms, self.seq)
