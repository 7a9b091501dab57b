"""Agents (话务员) and their state machine, with a millisecond log of every transition.

An agent is offered at most one call at a time: ``reserve`` is the only way into OFFERED and it refuses an
agent that is not READY, so ring-all and concurrent queues cannot double-book anyone. Wrap-up (话后处理) is
a real state with a deadline, ended early by the agent or a supervisor; not-ready always carries a reason.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable, Iterable


class AgentState(str, Enum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    NOT_READY = "not_ready"
    OFFERED = "offered"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"


class AgentStateError(ValueError):
    """A transition the state machine does not allow (the message says from where to where)."""


ALLOWED: dict[AgentState, frozenset[AgentState]] = {
    AgentState.LOGGED_OUT: frozenset({AgentState.READY, AgentState.NOT_READY}),
    AgentState.READY: frozenset({AgentState.NOT_READY, AgentState.OFFERED, AgentState.LOGGED_OUT, AgentState.ON_CALL}),
    AgentState.NOT_READY: frozenset({AgentState.READY, AgentState.LOGGED_OUT, AgentState.ON_CALL}),
    AgentState.OFFERED: frozenset({AgentState.ON_CALL, AgentState.READY, AgentState.NOT_READY}),
    AgentState.ON_CALL: frozenset({AgentState.WRAP_UP, AgentState.READY, AgentState.NOT_READY, AgentState.LOGGED_OUT}),
    AgentState.WRAP_UP: frozenset({AgentState.READY, AgentState.NOT_READY, AgentState.LOGGED_OUT, AgentState.ON_CALL}),
}
"""READY/NOT_READY/WRAP_UP -> ON_CALL is a non-queue call (the agent dialled out, say to the department a
ticket goes to, or took a direct call)."""


LOG_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class Transition:
    """One line of the agent state log."""

    at_ms: int
    agent: str
    old: AgentState
    new: AgentState
    reason: str = ""


@dataclass
class Agent:
    """One agent: identity, contact, skills (1-10) and the counters the strategies rank by."""

    id: str
    contact: str
    skills: dict[str, int] = field(default_factory=dict)
    state: AgentState = AgentState.LOGGED_OUT
    reason: str = ""
    since_ms: int = 0
    idle_since_ms: int = 0
    """End of the last answered queue call (or login): longest-idle ranks by it; a missed offer does not reset it."""
    calls_answered: int = 0
    talk_ms: int = 0
    available_after_ms: int = 0
    """A no-answer delay: READY but not offered before this time."""
    missed_in_a_row: dict[str, int] = field(default_factory=dict)
    wrap_up_until_ms: int = 0
    resume: tuple[AgentState, str] | None = None
    """Where a non-queue call took the agent from, and where its end returns them."""
    after_wrap_up: tuple[AgentState, str] | None = None
    """Not ready (with a reason) or logged out, asked for during a queue call: where its wrap-up ends."""
    registered: bool = True
    """The agent's phone is registered with the switch (always, for a contact that is no SIP user): a READY agent
    whose phone is not is not offered."""
    order: int = 0
    """Position in the configuration: top-down offers in this order."""
    log: deque[Transition] = field(default_factory=lambda: deque(maxlen=LOG_LIMIT))
    """The newest transitions, enough for a long shift (time in state and not-ready time by reason read them);
    capped, so an engine that runs for months does not grow."""
    observer: Callable[["Agent", Transition | None], None] | None = field(default=None, repr=False)
    """Told after every transition (and given it); the distributor keeps its index of ready agents with it."""

    def move(self, new: AgentState, now_ms: int, reason: str = "") -> Transition:
        """Change state; staying READY or NOT_READY (a new reason) is allowed, any other repeat is not."""
        repeat_ok = new is self.state and new in (AgentState.READY, AgentState.NOT_READY)
        if new not in ALLOWED[self.state] and not repeat_ok:
            raise AgentStateError(f"agent {self.id}: cannot go from {self.state.value} to {new.value}")
        transition = Transition(now_ms, self.id, self.state, new, reason)
        self.state, self.reason, self.since_ms = new, reason, now_ms
        self.log.append(transition)
        if self.observer is not None:
            self.observer(self, transition)
        return transition

    def reserve(self, call_id: str, now_ms: int) -> None:
        """The only way into OFFERED: refused unless the agent is offerable right now."""
        if not self.offerable(now_ms):
            raise AgentStateError(f"agent {self.id} is {self.state.value}: cannot be offered {call_id}")
        self.move(AgentState.OFFERED, now_ms, call_id)

    def level(self, skill: str) -> int:
        return self.skills.get(skill, 0)

    def offerable(self, now_ms: int) -> bool:
        return self.state is AgentState.READY and self.registered and now_ms >= self.available_after_ms


def time_in_states(log: Iterable[Transition], until_ms: int) -> dict[tuple[AgentState, str], int]:
    """Milliseconds spent per (state, reason) from a state log: login time, not-ready time by reason."""
    totals: dict[tuple[AgentState, str], int] = {}
    entries = list(log)
    for current, following in zip(entries, [*entries[1:], None]):
        end = following.at_ms if following else until_ms
        key = (current.new, current.reason)
        totals[key] = totals.get(key, 0) + max(0, end - current.at_ms)
    return totals
