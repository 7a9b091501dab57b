"""The ACD's decision core: events and the current time in, actions out. No sockets, no clock.

Every entry point (a caller enqueued, an agent ready, an offer answered or failed, a caller gone, a timer
due) runs the matching at once, so nothing waits for a poll: mod_callcenter passes over every waiting caller
ten times a second, Asterisk re-checks each second. Timers (widening, maximum wait, wrap-up end, no-answer
delay, sticky hold, announcements) sit in one heap; the runtime sleeps until ``next_due()`` and calls
``advance(now)``, a virtual clock calls it in simulation. The same core runs under gevent, in ``hotline
simulate`` and in unit tests with exact timestamps.

While the engine cannot reach the switch the core is paused: nobody is offered a call (it could not ring), and
the callers' own timers (maximum wait, announcements, widening) wait until it resumes, since nothing could be
done for the caller meanwhile; agents' timers (wrap-up, no-answer delays) run on.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import random
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Iterable

import orjson

from acd.agents import Agent, AgentState, AgentStateError, Transition
from acd.queues import Caller, ExitReason, Overflow, QueueSpec, Strategy
from acd.service_level import ServiceLevel, counted
from acd.strategies import CHOOSERS, Cursor
from calls.journal import Journal, NoJournal


@dataclass(frozen=True, slots=True)
class Offer:
    """Ring ``agent`` at ``contact`` for the waiting call; report back with ``answered`` or ``offer_failed``."""

    call_id: str
    agent: str
    contact: str
    ring_timeout_s: float


@dataclass(frozen=True, slots=True)
class CancelOffer:
    """Stop ringing ``agent`` for this call (the caller left, or another agent answered first)."""

    call_id: str
    agent: str


@dataclass(frozen=True, slots=True)
class Leave:
    """The caller leaves the queue unanswered: send them to ``overflow`` (or hang up) and record ``reason``."""

    call_id: str
    reason: ExitReason
    overflow: Overflow | None = None


@dataclass(frozen=True, slots=True)
class Announce:
    """Tell the caller their position and estimated wait."""

    call_id: str
    position: int
    estimated_wait_s: int


Action = Offer | CancelOffer | Leave | Announce


@dataclass(frozen=True, slots=True)
class CausePolicy:
    """After an offer fails with this cause: keep the agent unoffered ``delay_s``; after ``limit`` in a row
    (0 = never) set them not ready with ``reason``."""

    delay_s: float
    limit: int = 0
    reason: str = "no_answer"


AGENTS, CALLERS = "agents", "callers"
"""Journal sections: every agent's state, and the callers waiting (for other processes to read; a restarted
engine takes callers back from the switch, which still holds them)."""
AGENT_FIELDS = ("state", "reason", "since_ms", "idle_since_ms", "calls_answered", "talk_ms", "wrap_up_until_ms",
                "registered")
CALLER_FIELDS = ("call_id", "queue", "number", "priority", "entered_ms", "seq", "original_position", "transferred")

LOST = "lost"
"""An offer whose leg vanished while the engine could not see the switch: no fault of the agent's, not counted."""
CAUSES = {
    "USER_BUSY": "busy", "NO_ANSWER": "no_answer", "NO_USER_RESPONSE": "no_answer", "ALLOTTED_TIMEOUT": "no_answer",
    "CALL_REJECTED": "rejected", "USER_NOT_REGISTERED": "not_registered", "SUBSCRIBER_ABSENT": "not_registered",
}
"""FreeSWITCH hang-up causes of a failed agent leg, as the no-answer policy names them (else ``failed``)."""

CALLER_TIMERS = frozenset({"widen", "max_wait", "announce", "sticky_end"})

DEFAULT_POLICY = {
    "no_answer": CausePolicy(delay_s=10, limit=3, reason="no_answer"),
    "busy": CausePolicy(delay_s=30, limit=5, reason="busy"),
    "rejected": CausePolicy(delay_s=30, limit=3, reason="rejected"),
    "not_registered": CausePolicy(delay_s=60, limit=1, reason="not_registered"),
    "failed": CausePolicy(delay_s=5, limit=3, reason="offer_failed"),
}


@dataclass(order=True)
class _Timer:
    due_ms: int
    seq: int
    kind: str = field(compare=False)
    key: str = field(compare=False)
    stamp: int = field(compare=False)


class Distributor:
    """Agents, queues and waiting callers; every public method returns the actions to carry out."""

    def __init__(self, queues: Iterable[QueueSpec], policy: dict[str, CausePolicy] | None = None,
                 service_level: ServiceLevel | None = None, rng: random.Random | None = None,
                 journal: Journal | None = None) -> None:
        self.queues = {queue.name: queue for queue in queues}
        self.policy = {**DEFAULT_POLICY, **(policy or {})}
        self.service_level = service_level or ServiceLevel()
        self.journal = journal or NoJournal()
        self.agents: dict[str, Agent] = {}
        self._ready: dict[str, Agent] = {}
        """The READY agents whose phones are registered, kept by each agent's observer: matching scans these, not every agent."""
        self.callers: dict[str, Caller] = {}
        self.waiting: dict[str, list[tuple[tuple[int, int, int], str]]] = {name: [] for name in self.queues}
        self.last_agent: OrderedDict[str, tuple[str, int]] = OrderedDict()
        """caller number -> (agent who served them, when), oldest first: the memory behind sticky routing, kept
        no longer than the longest sticky window."""
        self._sticky_keep_ms = max((int(q.sticky_window_s * 1000) for q in self.queues.values()), default=0)
        self.paused = False
        self._held_timers: list[_Timer] = []
        self._agent_queue: dict[str, str] = {}
        self._timers: list[_Timer] = []
        self._seq = itertools.count()
        self._cursor = Cursor()
        self._rng = rng or random.Random()
        self._handle_ms = {name: 180_000.0 for name in self.queues}
        self.moved: Callable[[Transition], None] = lambda transition: None
        """Told of every agent's state change (the engine keeps them in the ticket store)."""

    # --- agents --------------------------------------------------------------------------------------------

    def add_agent(self, agent: Agent) -> None:
        agent.order = len(self.agents)
        agent.observer = self._moved
        self.agents[agent.id] = agent
        self._index(agent)  # not journalled: a configured agent is not news, and would overwrite a saved state

    def _moved(self, agent: Agent, transition: Transition | None = None) -> None:
        """``agent`` changed: its state (``transition``), or what else the index and journal keep (its phone)."""
        self._index(agent)
        if transition is not None:
            self.moved(transition)
        self.journal.put(AGENTS, agent.id, lambda: orjson.dumps(
            {name: getattr(agent, name) for name in AGENT_FIELDS} | {"state": agent.state.value}).decode())

    def _index(self, agent: Agent) -> None:
        if agent.state is AgentState.READY and agent.registered:
            self._ready[agent.id] = agent
        else:
            self._ready.pop(agent.id, None)

    def login(self, agent_id: str, now_ms: int, ready: bool = False, reason: str = "login") -> list[Action]:
        """The agent starts their shift; refused if they are logged in already (a second login must not take an
        agent off a call they are on)."""
        agent = self.agents[agent_id]
        if agent.state is not AgentState.LOGGED_OUT:
            raise AgentStateError(f"agent {agent_id} is logged in already ({agent.state.value})")
        agent.idle_since_ms = now_ms
        agent.move(AgentState.READY if ready else AgentState.NOT_READY, now_ms, "" if ready else reason)
        return self._match_agent(agent, now_ms) if ready else []

    def ready(self, agent_id: str, now_ms: int) -> list[Action]:
        """The agent (or a supervisor, ending wrap-up early) makes them available."""
        agent = self.agents[agent_id]
        self._not_offered(agent)
        agent.missed_in_a_row.clear()
        agent.available_after_ms = 0
        agent.after_wrap_up = None
        if self._deferred(agent, AgentState.READY, ""):
            return []
        agent.move(AgentState.READY, now_ms)
        return self._match_agent(agent, now_ms)

    def registration(self, agent_id: str, registered: bool, now_ms: int) -> list[Action]:
        """The agent's phone registered with the switch (offered again if ready) or is gone (not offered; their
        state stays theirs, so a phone that restarts does not log the agent out)."""
        agent = self.agents[agent_id]
        agent.registered = registered
        self._moved(agent)  # indexed and journalled (``hotline status`` shows who has no phone)
        return self._match_agent(agent, now_ms) if registered else []

    def not_ready(self, agent_id: str, reason: str, now_ms: int) -> list[Action]:
        if not reason:
            raise ValueError("not ready needs a reason code (rest, meal, training, ...)")
        agent = self.agents[agent_id]
        self._not_offered(agent)
        if not self._deferred(agent, AgentState.NOT_READY, reason):
            agent.move(AgentState.NOT_READY, now_ms, reason)
        return []

    def logout(self, agent_id: str, now_ms: int) -> list[Action]:
        agent = self.agents[agent_id]
        if not self._deferred(agent, AgentState.LOGGED_OUT, ""):
            agent.move(AgentState.LOGGED_OUT, now_ms)
        return []

    @staticmethod
    def _not_offered(agent: Agent) -> None:
        """An agent's own request waits for the call ringing on their phone: answered or failed, it settles them."""
        if agent.state is AgentState.OFFERED:
            raise AgentStateError(f"agent {agent.id} is being offered a call: answer or let it fail first")

    @staticmethod
    def _deferred(agent: Agent, state: AgentState, reason: str) -> bool:
        """A request made during a call waits for it: after a non-queue call (a feature code's own call is one)
        it applies when the call ends; during a queue call, not ready (置忙) or log out apply when the wrap-up
        ends, so the call is counted and wrapped up in full, and ready cancels such a request."""
        if agent.state is not AgentState.ON_CALL:
            return False
        if agent.resume is not None:
            agent.resume = (state, reason)
        else:
            agent.after_wrap_up = None if state is AgentState.READY else (state, reason)
        return True

    def call_ended(self, agent_id: str, now_ms: int) -> list[Action]:
        """The agent's conversation ended: after a queue call wrap-up (话后处理) for the queue's time, then ready;
        after a non-queue call back where they were (not ready keeps its reason, wrap-up its deadline)."""
        agent = self.agents[agent_id]
        if agent.state is not AgentState.ON_CALL:
            return []
        if agent.resume is not None:
            return self._resume(agent, now_ms)
        queue = self.queues.get(self._agent_queue.pop(agent_id, ""))
        agent.talk_ms += now_ms - agent.since_ms
        agent.idle_since_ms = now_ms
        wrap_ms = int(queue.wrap_up_s * 1000) if queue is not None else 0
        if queue is not None:
            self._handle_ms[queue.name] = 0.9 * self._handle_ms[queue.name] + 0.1 * (now_ms - agent.since_ms + wrap_ms)
        if wrap_ms <= 0:
            return self._wrap_up_over(agent, now_ms)
        agent.move(AgentState.WRAP_UP, now_ms)
        agent.wrap_up_until_ms = now_ms + wrap_ms
        self._schedule(agent.wrap_up_until_ms, "wrap_up", agent.id, agent.wrap_up_until_ms)
        return []

    def _wrap_up_over(self, agent: Agent, now_ms: int) -> list[Action]:
        target, agent.after_wrap_up = agent.after_wrap_up, None
        if target is not None:
            agent.move(target[0], now_ms, target[1])
            return []
        agent.move(AgentState.READY, now_ms, "wrap_up_over")
        return self._match_agent(agent, now_ms)

    def non_queue_call(self, agent_id: str, now_ms: int) -> list[Action]:
        """The agent is on a call the ACD did not give them (dialled out, direct call): not offered meanwhile.

        Ignored unless the agent is ready, not ready or in wrap-up: a logged-out agent's calls are their own,
        and an agent already offered or on a queue call is busy anyway (a consultation call is part of it)."""
        agent = self.agents[agent_id]
        if agent.state not in (AgentState.READY, AgentState.NOT_READY, AgentState.WRAP_UP):
            return []
        agent.resume = (agent.state, agent.reason)
        agent.move(AgentState.ON_CALL, now_ms, "non_queue")
        return []

    def _resume(self, agent: Agent, now_ms: int) -> list[Action]:
        (state, reason), agent.resume = agent.resume or (AgentState.READY, ""), None
        if state is AgentState.WRAP_UP and agent.wrap_up_until_ms > now_ms:
            agent.move(AgentState.WRAP_UP, now_ms)  # its timer, stamped with the same deadline, still ends it
            return []
        if state in (AgentState.NOT_READY, AgentState.LOGGED_OUT):
            agent.move(state, now_ms, reason)
            return []
        if state is AgentState.WRAP_UP:  # its deadline passed during the call: end it as its timer would have
            return self._wrap_up_over(agent, now_ms)
        agent.move(AgentState.READY, now_ms)
        return self._match_agent(agent, now_ms)

    # --- the link to the switch ------------------------------------------------------------------------------

    def pause(self) -> None:
        """The switch cannot be reached: offer nothing, hold the callers' timers."""
        self.paused = True

    def resume(self, now_ms: int) -> list[Action]:
        """The switch is back (and reconciled): the held timers and every ready agent are matched again."""
        self.paused = False
        for timer in self._held_timers:
            heapq.heappush(self._timers, timer)
        self._held_timers.clear()
        actions = self.advance(now_ms)
        for agent in list(self._ready.values()):
            actions += self._match_agent(agent, now_ms)
        return actions

    # --- callers -------------------------------------------------------------------------------------------

    def enqueue(self, call_id: str, queue_name: str, number: str, now_ms: int, priority: int = 0,
                entered_ms: int | None = None, returning: bool = False, transferred: bool = False,
                agent: str | None = None, agent_wait_ms: int = 0, tenant: str | None = None) -> list[Action]:
        """A human request: the caller joins ``queue_name`` and is matched at once if an agent is ready.

        ``entered_ms`` (default ``now_ms``) orders the line and starts the service-level clock. A ``returning``
        caller (taken back after a restart or a link cut, or overflowing from another queue) keeps that place,
        and no limit turns them away again. A ``transferred`` one (an agent's blind transfer) keeps it too, is
        counted as a transfer in, and waits from now; sent to ``agent``, only that agent is offered the call
        for ``agent_wait_ms``, then the queue's agents too. ``tenant``: the caller counts in its figures too."""
        queue = self.queues[queue_name]
        line = self.waiting[queue_name]
        entered = now_ms if entered_ms is None else entered_ms
        if transferred:
            self.service_level.transferred_in(queue_name, entered, tenant)
        else:
            self.service_level.request(queue_name, entered, tenant)
        if not returning and queue.max_waiting and len(line) >= queue.max_waiting:
            return [Leave(call_id, ExitReason.QUEUE_FULL, queue.on_full)]
        if not returning and queue.on_no_agents is not None and not self._staffed(queue):
            return [Leave(call_id, ExitReason.NO_AGENTS, queue.on_no_agents)]
        caller = Caller(call_id, queue_name, number, priority, entered, next(self._seq), queue.min_level,
                        transferred=transferred, tenant=tenant)
        self.callers[call_id] = caller
        bisect.insort(line, (caller.rank, call_id))
        caller.original_position = bisect.bisect_left(line, (caller.rank, call_id)) + 1
        self.journal.put(CALLERS, call_id, orjson.dumps({name: getattr(caller, name) for name in CALLER_FIELDS}).decode())
        self._arm_caller_timers(caller, queue, now_ms if transferred else entered)
        if agent is not None:
            caller.sticky_agent, caller.sticky_until_ms = agent, now_ms + agent_wait_ms
            self._schedule(caller.sticky_until_ms, "sticky_end", call_id, 0)
        else:
            self._hold_for_last_agent(caller, queue, now_ms)
        return self._match_caller(caller, now_ms)

    def restore(self, agents: dict[str, dict[str, object]], now_ms: int,
                on_call: dict[str, str] | None = None) -> None:
        """Take back the agents' states a previous process journalled (section ``agents``).

        An offer that was ringing died with the old process: that agent is ready again. An agent in ``on_call``
        (agent -> queue: the switch still bridges them to a caller) stays on the call and wraps up for that queue
        after it; any other agent who was on a call is put in wrap-up from now, its end having been missed. An
        agent the journal does not know but the switch shows on a call is taken to be on it. Nobody is matched
        here: the caller taken back next are, and ``resume`` matches the rest.
        """
        on_call = on_call or {}
        for agent_id in on_call:
            agents.setdefault(agent_id, {"state": AgentState.ON_CALL.value, "reason": "", "since_ms": now_ms,
                                         "idle_since_ms": now_ms, "calls_answered": 0, "talk_ms": 0})
        for agent_id, saved in agents.items():
            agent = self.agents.get(agent_id)
            if agent is None:
                continue
            state = AgentState(str(saved["state"]))
            for name in ("reason", "since_ms", "idle_since_ms", "calls_answered", "talk_ms"):
                setattr(agent, name, saved[name])
            if agent_id in on_call:
                state, self._agent_queue[agent_id] = AgentState.ON_CALL, on_call[agent_id]
            elif state is AgentState.OFFERED:
                state, agent.reason = AgentState.READY, "restored"
            elif state is AgentState.ON_CALL:
                state, agent.wrap_up_until_ms = AgentState.WRAP_UP, now_ms + 30_000
            elif state is AgentState.WRAP_UP:
                agent.wrap_up_until_ms = int(saved["wrap_up_until_ms"])  # type: ignore[arg-type]
            agent.log.append(Transition(now_ms, agent_id, agent.state, state, "restored"))
            agent.state = state
            self._moved(agent)
            if state is AgentState.WRAP_UP:
                self._schedule(agent.wrap_up_until_ms, "wrap_up", agent_id, agent.wrap_up_until_ms)

    def answered(self, call_id: str, agent_id: str, now_ms: int) -> list[Action]:
        """The agent answered the offer: they are on the call, every other ringing offer is cancelled."""
        caller = self.callers.pop(call_id)
        self._remove_waiting(caller)
        agent = self.agents[agent_id]
        caller.offers.pop(agent_id, None)
        agent.move(AgentState.ON_CALL, now_ms)
        agent.calls_answered += 1
        agent.missed_in_a_row.clear()
        self._agent_queue[agent_id] = caller.queue
        self._remember(caller.number, agent_id, now_ms)
        if not caller.transferred:
            self.service_level.answered(caller.queue, caller.entered_ms, now_ms, caller.tenant)
        return self._release_offers(caller, now_ms)

    def undecided(self, keys: Iterable[str], entered: tuple[int, int], now_ms: int, threshold_s: int) -> int:
        """Callers counted under ``keys`` (queues, ``tenant:<name>``) who joined the line in ``entered`` ([from,
        to) ms: the requests of a period) and have waited no more than ``threshold_s``: whether they are answered
        within it is not known yet. (A caller sent back by an agent was decided at their first answer.)"""
        wanted, (since, until) = set(keys), entered
        return sum(1 for caller in self.callers.values() if not wanted.isdisjoint(counted(caller.queue, caller.tenant))
                   and not caller.transferred and since <= caller.entered_ms < until
                   and now_ms - caller.entered_ms <= threshold_s * 1000)

    def waiting_under(self, key: str) -> list[int]:
        """When each caller waiting now who counts under ``key`` (a queue, or ``tenant:<name>``) joined the line."""
        return [caller.entered_ms for caller in self.callers.values() if key in counted(caller.queue, caller.tenant)]

    def answered_within_today(self, key: str, threshold_s: int, now_ms: int) -> float | None:
        """Today's 12345 N秒接通率 under ``key`` (None before any request), callers not yet decided left out."""
        midnight = self.service_level.day_start(now_ms)
        return self.service_level.today(key, now_ms).levels(
            threshold_s, self.undecided([key], (midnight, now_ms + 1), now_ms, threshold_s))["hotline_12345"]

    def offer_failed(self, call_id: str, agent_id: str, cause: str, now_ms: int) -> list[Action]:
        """The agent did not take the call (``cause``: no_answer, busy, rejected, not_registered, failed, or
        lost, which is not counted). A no-op for an offer already released (the caller left, or was answered)."""
        agent = self.agents[agent_id]
        caller = self.callers.get(call_id)
        if caller is None or caller.offers.pop(agent_id, None) is None:
            return []
        actions: list[Action] = []
        if agent.state is AgentState.OFFERED and cause == LOST:
            agent.move(AgentState.READY, now_ms, LOST)
        elif agent.state is AgentState.OFFERED:
            policy = self.policy.get(cause, self.policy["failed"])
            missed = agent.missed_in_a_row[cause] = agent.missed_in_a_row.get(cause, 0) + 1
            if policy.limit and missed >= policy.limit:
                agent.move(AgentState.NOT_READY, now_ms, policy.reason)
            else:
                agent.move(AgentState.READY, now_ms, cause)
                agent.available_after_ms = now_ms + int(policy.delay_s * 1000)
                self._schedule(agent.available_after_ms, "available", agent.id, agent.available_after_ms)
        if not caller.offers:
            actions += self._match_caller(caller, now_ms)
        return actions

    def caller_left(self, call_id: str, now_ms: int) -> list[Action]:
        """The caller hung up while waiting: every ringing offer is cancelled."""
        caller = self.callers.pop(call_id, None)
        if caller is None:
            return []
        self._remove_waiting(caller)
        if not caller.transferred:
            self.service_level.abandoned(caller.queue, caller.entered_ms, now_ms, caller.tenant)
        return self._release_offers(caller, now_ms)

    def key_pressed(self, call_id: str, key: str, now_ms: int) -> list[Action]:
        """A waiting caller pressed ``key``: the queue's exit key sends them to ``on_exit`` (not an abandon)."""
        caller = self.callers.get(call_id)
        if caller is None:
            return []
        queue = self.queues[caller.queue]
        if not queue.exit_key or key != queue.exit_key:
            return []
        del self.callers[call_id]
        self._remove_waiting(caller)
        if not caller.transferred:
            self.service_level.exited(caller.queue, caller.entered_ms, now_ms, caller.tenant)
        return [*self._release_offers(caller, now_ms), Leave(call_id, ExitReason.EXIT_KEY, queue.on_exit)]

    # --- time ----------------------------------------------------------------------------------------------

    def next_due(self) -> int | None:
        return self._timers[0].due_ms if self._timers else None

    def advance(self, now_ms: int) -> list[Action]:
        """Run every timer due by ``now_ms``; stale timers (their subject moved on) do nothing. While paused,
        the callers' timers are held for ``resume``."""
        actions: list[Action] = []
        while self._timers and self._timers[0].due_ms <= now_ms:
            timer = heapq.heappop(self._timers)
            if self.paused and timer.kind in CALLER_TIMERS:
                self._held_timers.append(timer)
                continue
            actions += self._fire(timer, now_ms)
        return actions

    def position(self, call_id: str) -> int:
        caller = self.callers[call_id]
        return bisect.bisect_left(self.waiting[caller.queue], (caller.rank, call_id)) + 1

    def estimated_wait_s(self, call_id: str) -> int:
        """Position x recent handle time / staffed agents: what the caller is told, not a promise."""
        caller = self.callers[call_id]
        staffed = max(1, self._staffed(self.queues[caller.queue]))
        return round(self.position(call_id) * self._handle_ms[caller.queue] / staffed / 1000)

    # --- matching ------------------------------------------------------------------------------------------

    def _match_caller(self, caller: Caller, now_ms: int) -> list[Action]:
        if self.paused:
            return []
        queue = self.queues[caller.queue]
        ring_all = queue.strategy is Strategy.RING_ALL
        if caller.offers and not ring_all:
            return []
        if caller.sticky_agent and now_ms < caller.sticky_until_ms:
            agent = self.agents.get(caller.sticky_agent)
            candidates = [agent] if agent is not None and agent.offerable(now_ms) else []
        else:
            skill, low = queue.skill, caller.min_level
            candidates = [a for a in self._ready.values()
                          if now_ms >= a.available_after_ms and a.skills.get(skill, 0) >= low]
        if not candidates:
            return []
        chosen = CHOOSERS[queue.strategy](candidates, queue, self._cursor, self._rng)
        return [self._offer(caller, agent, queue, now_ms) for agent in chosen]

    def _match_agent(self, agent: Agent, now_ms: int) -> list[Action]:
        """The agent became offerable: the best waiting caller they may serve, across their queues."""
        if self.paused or not agent.offerable(now_ms):
            return []
        best: Caller | None = None
        for name, line in self.waiting.items():
            queue = self.queues[name]
            level = agent.level(queue.skill)
            if not level:
                continue
            ring_all = queue.strategy is Strategy.RING_ALL
            for rank, call_id in line:
                if best is not None and rank >= best.rank:
                    break
                caller = self.callers[call_id]
                if (caller.offers and not ring_all) or level < caller.min_level:
                    continue
                if caller.sticky_agent and now_ms < caller.sticky_until_ms and caller.sticky_agent != agent.id:
                    continue
                best = caller
                break
        if best is None:
            return []
        if self.queues[best.queue].strategy is Strategy.RING_ALL:
            return [self._offer(best, agent, self.queues[best.queue], now_ms)]
        return self._match_caller(best, now_ms)

    def _offer(self, caller: Caller, agent: Agent, queue: QueueSpec, now_ms: int) -> Offer:
        agent.reserve(caller.call_id, now_ms)
        caller.offers[agent.id] = now_ms
        return Offer(caller.call_id, agent.id, agent.contact, queue.ring_timeout_s)

    def _release_offers(self, caller: Caller, now_ms: int) -> list[Action]:
        actions: list[Action] = []
        freed = []
        for agent_id in list(caller.offers):
            agent = self.agents[agent_id]
            actions.append(CancelOffer(caller.call_id, agent_id))
            if agent.state is AgentState.OFFERED:
                agent.move(AgentState.READY, now_ms, "cancelled")
                freed.append(agent)
        caller.offers.clear()
        for agent in freed:
            actions += self._match_agent(agent, now_ms)
        return actions

    def _remove_waiting(self, caller: Caller) -> None:
        self.journal.drop(CALLERS, caller.call_id)
        line = self.waiting[caller.queue]
        index = bisect.bisect_left(line, (caller.rank, caller.call_id))
        if index < len(line) and line[index][1] == caller.call_id:
            del line[index]

    def _staffed(self, queue: QueueSpec) -> int:
        return sum(1 for a in self.agents.values()
                   if a.state is not AgentState.LOGGED_OUT and a.registered and a.level(queue.skill) >= 1)

    # --- timers --------------------------------------------------------------------------------------------

    def _schedule(self, due_ms: int, kind: str, key: str, stamp: int) -> None:
        heapq.heappush(self._timers, _Timer(due_ms, next(self._seq), kind, key, stamp))

    def _arm_caller_timers(self, caller: Caller, queue: QueueSpec, base_ms: int) -> None:
        """Widening, maximum wait and announcements count from ``base_ms`` (the entry time)."""
        if queue.widening:
            self._schedule(base_ms + int(queue.widening[0].after_s * 1000), "widen", caller.call_id, 0)
        if queue.max_wait_s:
            self._schedule(base_ms + int(queue.max_wait_s * 1000), "max_wait", caller.call_id, 0)
        if queue.announce_every_s:
            self._schedule(base_ms + int(queue.announce_every_s * 1000), "announce", caller.call_id, 0)

    def _remember(self, number: str, agent_id: str, now_ms: int) -> None:
        """Who served this number last, forgetting whatever is older than every queue's sticky window."""
        if not self._sticky_keep_ms:
            return
        self.last_agent[number] = (agent_id, now_ms)
        self.last_agent.move_to_end(number)
        while self.last_agent and now_ms - next(iter(self.last_agent.values()))[1] > self._sticky_keep_ms:
            self.last_agent.popitem(last=False)

    def _hold_for_last_agent(self, caller: Caller, queue: QueueSpec, now_ms: int) -> None:
        last = self.last_agent.get(caller.number)
        if queue.sticky_window_s and last and now_ms - last[1] <= queue.sticky_window_s * 1000:
            agent = self.agents.get(last[0])
            if agent is not None and agent.state is not AgentState.LOGGED_OUT:
                caller.sticky_agent = agent.id
                caller.sticky_until_ms = now_ms + int(queue.sticky_wait_s * 1000)
                self._schedule(caller.sticky_until_ms, "sticky_end", caller.call_id, 0)

    def _fire(self, timer: _Timer, now_ms: int) -> list[Action]:
        if timer.kind in ("wrap_up", "available"):
            agent = self.agents[timer.key]
            if timer.kind == "wrap_up":
                if agent.state is not AgentState.WRAP_UP or agent.wrap_up_until_ms != timer.stamp:
                    return []
                return self._wrap_up_over(agent, now_ms)
            if agent.available_after_ms != timer.stamp:
                return []
            return self._match_agent(agent, now_ms)
        caller = self.callers.get(timer.key)
        if caller is None:
            return []
        queue = self.queues[caller.queue]
        if timer.kind == "max_wait":
            self.callers.pop(caller.call_id)
            self._remove_waiting(caller)
            if not caller.transferred:
                self.service_level.timed_out(caller.queue, caller.entered_ms, now_ms, caller.tenant)
            return [*self._release_offers(caller, now_ms), Leave(caller.call_id, ExitReason.TIMEOUT, queue.on_timeout)]
        if timer.kind == "announce":
            self._schedule(now_ms + int(queue.announce_every_s * 1000), "announce", caller.call_id, 0)
            return [Announce(caller.call_id, self.position(caller.call_id), self.estimated_wait_s(caller.call_id))]
        if timer.kind == "widen":
            step = queue.widening[caller.widen_step]
            caller.min_level = min(caller.min_level, step.min_level)
            caller.widen_step += 1
            if caller.widen_step < len(queue.widening):
                self._schedule(caller.entered_ms + int(queue.widening[caller.widen_step].after_s * 1000),
                               "widen", caller.call_id, 0)
        elif timer.kind == "sticky_end":
            caller.sticky_agent = None
        return self._match_caller(caller, now_ms)
