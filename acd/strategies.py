"""Which ready agent gets the call: one function per strategy, all given the same candidates.

Candidates arrive in no particular order, already filtered to agents who are ready, past any no-answer
delay, and skilled enough for the caller's current (possibly widened) level.
"""

from __future__ import annotations

import random
from typing import Callable, Sequence

from acd.agents import Agent
from acd.queues import QueueSpec, Strategy

Chooser = Callable[[Sequence[Agent], QueueSpec, "Cursor", random.Random], list[Agent]]


class Cursor:
    """Round-robin memory per queue: the agent offered last, so offers from other queues do not move it."""

    def __init__(self) -> None:
        self.last: dict[str, str] = {}

    def after(self, queue: str, agents: Sequence[Agent]) -> Agent:
        """The first agent (by id) after the one offered last, wrapping round."""
        last = self.last.get(queue)
        ordered = sorted(agents, key=lambda agent: agent.id)
        chosen = next((agent for agent in ordered if last is None or agent.id > last), ordered[0])
        self.last[queue] = chosen.id
        return chosen


def _one(key: Callable[[Agent], object]) -> Chooser:
    return lambda agents, queue, cursor, rng: [min(agents, key=key)]


CHOOSERS: dict[Strategy, Chooser] = {
    Strategy.LONGEST_IDLE: _one(lambda a: a.idle_since_ms),
    Strategy.FEWEST_CALLS: _one(lambda a: (a.calls_answered, a.idle_since_ms)),
    Strategy.LEAST_TALK_TIME: _one(lambda a: (a.talk_ms, a.idle_since_ms)),
    Strategy.TOP_DOWN: _one(lambda a: a.order),
    Strategy.RANDOM: lambda agents, queue, cursor, rng: [rng.choice(list(agents))],
    Strategy.RING_ALL: lambda agents, queue, cursor, rng: list(agents),
    Strategy.HIGHEST_SKILL_FIRST: lambda agents, queue, cursor, rng: [
        min(agents, key=lambda a: (-a.level(queue.skill), a.idle_since_ms))],
    Strategy.ROUND_ROBIN: lambda agents, queue, cursor, rng: [cursor.after(queue.name, agents)],
}
