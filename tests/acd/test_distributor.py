"""The ACD decision core with exact millisecond timestamps: no switch, no clock, no sleeps."""

from __future__ import annotations

import random

import pytest

from acd.agents import Agent, AgentState, AgentStateError, time_in_states
from acd.distributor import Announce, CancelOffer, CausePolicy, Distributor, Leave, Offer
from acd.queues import ExitReason, Overflow, QueueSpec, Strategy, Widening


def centre(*agents: tuple[str, int], ready: bool = True, **queue) -> Distributor:
    d = Distributor([QueueSpec("general", "general", **queue)], rng=random.Random(7))
    for n, (agent_id, level) in enumerate(agents):
        d.add_agent(Agent(agent_id, f"user/{agent_id}", {"general": level}))
        d.login(agent_id, now_ms=n, ready=ready)
    return d


def offers(actions) -> list[tuple[str, str]]:
    return [(a.call_id, a.agent) for a in actions if isinstance(a, Offer)]


def test_caller_meets_a_ready_agent_at_once() -> None:
    d = centre(("1001", 5))
    assert offers(d.enqueue("c1", "general", "13800000001", 1000)) == [("c1", "1001")]
    assert d.agents["1001"].state is AgentState.OFFERED
    assert offers(d.enqueue("c2", "general", "13800000002", 1001)) == []


def test_agent_ready_takes_the_highest_priority_then_the_earliest() -> None:
    d = centre(("1001", 5), ready=False)
    d.enqueue("early", "general", "1", 1000)
    d.enqueue("later", "general", "2", 2000)
    d.enqueue("emergency", "general", "3", 3000, priority=9)
    assert offers(d.ready("1001", 4000)) == [("emergency", "1001")]
    d.offer_failed("emergency", "1001", "no_answer", 5000)
    assert d.position("early") == 2 and d.position("later") == 3


def test_an_agent_is_offered_one_call_at_a_time_even_with_ring_all() -> None:
    d = centre(("1001", 5), ("1002", 5), strategy=Strategy.RING_ALL)
    first = d.enqueue("c1", "general", "1", 1000)
    assert sorted(offers(first)) == [("c1", "1001"), ("c1", "1002")]
    assert offers(d.enqueue("c2", "general", "2", 1001)) == []
    after = d.answered("c1", "1002", 3000)
    assert CancelOffer("c1", "1001") in after
    assert offers(after) == [("c2", "1001")]
    with pytest.raises(AgentStateError):
        d.agents["1001"].reserve("c3", 3001)  # reservation is exclusive: no double offer


def test_caller_hang_up_cancels_every_ringing_offer() -> None:
    d = centre(("1001", 5), ("1002", 5), strategy=Strategy.RING_ALL)
    d.enqueue("c1", "general", "1", 1000)
    actions = d.caller_left("c1", 4000)
    assert sorted(a.agent for a in actions if isinstance(a, CancelOffer)) == ["1001", "1002"]
    assert all(d.agents[a].state is AgentState.READY for a in ("1001", "1002"))
    assert d.service_level.total("general").abandoned == 1


def test_no_answer_delays_the_agent_then_limits_set_not_ready() -> None:
    d = Distributor([QueueSpec("general", "general")], policy={"no_answer": CausePolicy(delay_s=10, limit=2)})
    for agent_id in ("1001", "1002"):
        d.add_agent(Agent(agent_id, f"user/{agent_id}", {"general": 5}))
    d.login("1001", 0, ready=True)
    assert offers(d.enqueue("c1", "general", "1", 1000)) == [("c1", "1001")]
    assert offers(d.offer_failed("c1", "1001", "no_answer", 21_000)) == []  # delayed: not re-offered at once
    assert d.next_due() == 31_000
    assert offers(d.advance(31_000)) == [("c1", "1001")]
    d.offer_failed("c1", "1001", "no_answer", 51_000)
    assert d.agents["1001"].state is AgentState.NOT_READY and d.agents["1001"].reason == "no_answer"
    assert offers(d.login("1002", 52_000, ready=True)) == [("c1", "1002")]


def test_busy_and_no_answer_are_counted_apart() -> None:
    d = Distributor([QueueSpec("general", "general")], policy={
        "no_answer": CausePolicy(delay_s=0, limit=2), "busy": CausePolicy(delay_s=0, limit=2)})
    d.add_agent(Agent("1001", "user/1001", {"general": 5}))
    d.login("1001", 0, ready=True)
    d.enqueue("c1", "general", "1", 1)
    d.offer_failed("c1", "1001", "busy", 2)
    d.advance(2)
    d.offer_failed("c1", "1001", "no_answer", 3)
    assert d.agents["1001"].state is AgentState.OFFERED  # one of each: neither limit reached, offered again


def test_wrap_up_then_ready_at_its_deadline_or_early() -> None:
    d = centre(("1001", 5), wrap_up_s=15)
    d.enqueue("c1", "general", "1", 1000)
    d.answered("c1", "1001", 2000)
    d.enqueue("c2", "general", "2", 3000)
    assert d.call_ended("1001", 62_000) == []
    assert d.agents["1001"].state is AgentState.WRAP_UP
    assert offers(d.advance(76_999)) == []
    assert offers(d.advance(77_000)) == [("c2", "1001")]
    d.answered("c2", "1001", 78_000)
    d.call_ended("1001", 90_000)
    d.enqueue("c3", "general", "3", 91_000)
    assert offers(d.ready("1001", 92_000)) == [("c3", "1001")]  # ended early by the agent
    assert d.advance(105_000) == []  # the old wrap-up timer is stale


def test_widening_lets_a_lower_level_answer_after_the_wait() -> None:
    d = centre(("junior", 2), min_level=5, widening=(Widening(after_s=30, min_level=2),))
    assert offers(d.enqueue("c1", "general", "1", 1000)) == []
    assert offers(d.advance(30_999)) == []
    assert offers(d.advance(31_000)) == [("c1", "junior")]


def test_queue_full_and_maximum_wait_overflow() -> None:
    full = Overflow("queue", "overflow-centre")
    d = centre(ready=False, max_waiting=1, max_wait_s=60, on_full=full, on_timeout=Overflow("voicemail"))
    d.enqueue("c1", "general", "1", 0)
    assert d.enqueue("c2", "general", "2", 1) == [Leave("c2", ExitReason.QUEUE_FULL, full)]
    assert d.advance(60_000) == [Leave("c1", ExitReason.TIMEOUT, Overflow("voicemail"))]
    assert "c1" not in d.callers and d.service_level.total("general").timed_out == 1


def test_no_agents_logged_in_overflows_when_configured() -> None:
    d = Distributor([QueueSpec("night", "general", on_no_agents=Overflow("voicemail"))])
    assert d.enqueue("c1", "night", "1", 0) == [Leave("c1", ExitReason.NO_AGENTS, Overflow("voicemail"))]


def test_sticky_routing_holds_a_repeat_caller_for_their_last_agent() -> None:
    d = centre(("1001", 5), ("1002", 5), sticky_window_s=3600, sticky_wait_s=20, wrap_up_s=0)
    d.enqueue("first", "general", "13800138000", 1000)
    served_by = next(iter(d.callers["first"].offers))
    d.answered("first", served_by, 2000)
    other = "1002" if served_by == "1001" else "1001"
    assert offers(d.enqueue("again", "general", "13800138000", 600_000)) == []  # held for the last agent
    d.call_ended(served_by, 601_000)
    # the agent's call ends (no wrap-up here): they are ready and take the repeat caller first
    assert d.agents[served_by].state is AgentState.OFFERED and d.callers["again"].offers == {served_by: 601_000}
    assert d.agents[other].state is AgentState.READY


def test_sticky_hold_ends_after_its_wait() -> None:
    d = centre(("1001", 5), ("1002", 5), sticky_window_s=3600, sticky_wait_s=20, wrap_up_s=0)
    d.enqueue("first", "general", "13800138000", 1000)
    served_by = next(iter(d.callers["first"].offers))
    d.answered("first", served_by, 2000)
    assert offers(d.enqueue("again", "general", "13800138000", 10_000)) == []
    assert [a for _, a in offers(d.advance(30_000))] == ["1002" if served_by == "1001" else "1001"]


def test_agents_on_non_queue_calls_are_not_offered_and_get_the_waiting_caller_after() -> None:
    d = centre(("1001", 5))
    d.non_queue_call("1001", 10)
    assert offers(d.enqueue("c1", "general", "1", 20)) == []
    assert offers(d.call_ended("1001", 90_000)) == [("c1", "1001")]
    assert d.agents["1001"].calls_answered == 0 and d.agents["1001"].talk_ms == 0


def test_a_non_queue_call_returns_a_not_ready_agent_to_not_ready_with_their_reason() -> None:
    d = centre(("1001", 5))
    d.not_ready("1001", "training", 10)
    d.non_queue_call("1001", 20)
    assert d.agents["1001"].state is AgentState.ON_CALL
    d.enqueue("c1", "general", "1", 30)
    assert offers(d.call_ended("1001", 40)) == []
    assert (d.agents["1001"].state, d.agents["1001"].reason) == (AgentState.NOT_READY, "training")


def test_a_non_queue_call_during_wrap_up_keeps_the_wrap_up_deadline() -> None:
    d = centre(("1001", 5), wrap_up_s=30)
    d.enqueue("c1", "general", "1", 0)
    d.answered("c1", "1001", 1_000)
    d.call_ended("1001", 10_000)  # wrap-up until 40 s; the agent phones the department a ticket goes to
    d.non_queue_call("1001", 12_000)
    d.enqueue("c2", "general", "2", 13_000)
    assert offers(d.advance(40_000)) == []  # still on the phone when wrap-up would have ended
    assert offers(d.call_ended("1001", 50_000)) == [("c2", "1001")]
    d2 = centre(("1001", 5), wrap_up_s=30)
    d2.enqueue("c1", "general", "1", 0)
    d2.answered("c1", "1001", 1_000)
    d2.call_ended("1001", 10_000)
    d2.non_queue_call("1001", 12_000)
    d2.call_ended("1001", 15_000)
    assert d2.agents["1001"].state is AgentState.WRAP_UP
    d2.enqueue("c2", "general", "2", 16_000)
    assert offers(d2.advance(40_000)) == [("c2", "1001")]


def test_non_queue_calls_of_busy_or_logged_out_agents_change_nothing() -> None:
    d = centre(("1001", 5), ("1002", 5))
    d.logout("1002", 5)
    d.enqueue("c1", "general", "1", 10)
    d.non_queue_call("1001", 20)  # offered: the phone is ringing with our call
    d.non_queue_call("1002", 20)
    assert d.agents["1001"].state is AgentState.OFFERED and d.agents["1002"].state is AgentState.LOGGED_OUT


def test_not_ready_needs_a_reason_and_is_logged() -> None:
    d = centre(("1001", 5))
    with pytest.raises(ValueError, match="reason"):
        d.not_ready("1001", "", 10)
    d.not_ready("1001", "meal", 1_000)
    d.ready("1001", 31 * 60_000)
    totals = time_in_states(d.agents["1001"].log, 32 * 60_000)
    assert totals[(AgentState.NOT_READY, "meal")] == 31 * 60_000 - 1_000
    assert all(t.at_ms >= 0 for t in d.agents["1001"].log)


@pytest.mark.parametrize("strategy, expected", [
    (Strategy.LONGEST_IDLE, "a"), (Strategy.FEWEST_CALLS, "b"), (Strategy.LEAST_TALK_TIME, "c"),
    (Strategy.TOP_DOWN, "a"), (Strategy.HIGHEST_SKILL_FIRST, "c"),
])
def test_strategies_pick_by_their_rule(strategy: Strategy, expected: str) -> None:
    d = Distributor([QueueSpec("general", "general", strategy=strategy)])
    for agent_id, level, idle, calls, talk in (("a", 3, 100, 5, 900), ("b", 4, 200, 1, 800), ("c", 9, 300, 3, 100)):
        d.add_agent(Agent(agent_id, f"user/{agent_id}", {"general": level}))
        d.login(agent_id, idle, ready=True)
        d.agents[agent_id].calls_answered, d.agents[agent_id].talk_ms = calls, talk
    assert offers(d.enqueue("c1", "general", "1", 1000)) == [("c1", expected)]


def test_round_robin_moves_past_the_last_offered() -> None:
    d = centre(("a", 5), ("b", 5), ("c", 5), strategy=Strategy.ROUND_ROBIN, wrap_up_s=0)
    picked = []
    for n in range(4):
        [(call, agent)] = offers(d.enqueue(f"c{n}", "general", str(n), 1000 + n))
        picked.append(agent)
        d.answered(call, agent, 1100 + n)
        d.call_ended(agent, 1200 + n)
    assert picked == ["a", "b", "c", "a"]


def test_announcements_give_position_and_estimated_wait() -> None:
    d = centre(("1001", 5), ready=False, announce_every_s=30)
    d.agents["1001"].move(AgentState.NOT_READY, 0, "meal")
    d.enqueue("c1", "general", "1", 0)
    d.enqueue("c2", "general", "2", 1)
    announced = [a for a in d.advance(30_001) if isinstance(a, Announce)]
    assert [(a.call_id, a.position) for a in announced] == [("c1", 1), ("c2", 2)]
    assert announced[1].estimated_wait_s == 2 * announced[0].estimated_wait_s > 0


def test_service_level_variants() -> None:
    d = centre(("1001", 5), ready=False, wrap_up_s=0)
    d.enqueue("fast", "general", "1", 0)
    d.enqueue("slow", "general", "2", 1)
    d.enqueue("quick-abandon", "general", "3", 2)
    d.enqueue("late-abandon", "general", "4", 3)
    d.caller_left("quick-abandon", 2 + 3_000)
    d.caller_left("late-abandon", 3 + 25_000)
    d.ready("1001", 10_000)
    d.answered("fast", "1001", 10_000)
    d.call_ended("1001", 40_000)
    d.answered("slow", "1001", 40_000)
    levels = d.service_level.total("general").levels(20)
    assert levels["answered_within"] == 1 / 2
    assert levels["sl2"] == (1 + 1) / (2 + 2)
    assert levels["hotline_12345"] == 1 / (4 - 1)
    assert d.service_level.callback_due(3, 3 + 25_000) and not d.service_level.callback_due(2, 2 + 3_000)


def test_exit_key_leaves_for_on_exit_and_is_not_an_abandon() -> None:
    d = centre(("1001", 5), exit_key="#", strategy=Strategy.RING_ALL)
    d.enqueue("c1", "general", "1", 0)
    assert d.key_pressed("c1", "5", 1000) == []
    actions = d.key_pressed("c1", "#", 2000)
    assert actions[-1] == Leave("c1", ExitReason.EXIT_KEY, Overflow("voicemail"))
    assert CancelOffer("c1", "1001") in actions
    totals = d.service_level.total("general")
    assert (totals.exited, totals.abandoned) == (1, 0)


def test_not_ready_during_a_queue_call_takes_effect_after_the_wrap_up() -> None:
    d = centre(("1001", 5), wrap_up_s=30)
    d.enqueue("c1", "general", "1", 0)
    d.answered("c1", "1001", 1_000)
    d.not_ready("1001", "meal", 60_000)  # 置忙 from the toolbar while still talking
    assert d.agents["1001"].state is AgentState.ON_CALL
    d.call_ended("1001", 120_000)
    assert d.agents["1001"].state is AgentState.WRAP_UP and d.agents["1001"].talk_ms == 119_000
    d.enqueue("c2", "general", "2", 121_000)
    assert offers(d.advance(150_000)) == []
    assert (d.agents["1001"].state, d.agents["1001"].reason) == (AgentState.NOT_READY, "meal")


def test_ready_during_a_queue_call_cancels_an_earlier_not_ready_request() -> None:
    d = centre(("1001", 5), wrap_up_s=0)
    d.enqueue("c1", "general", "1", 0)
    d.answered("c1", "1001", 1_000)
    d.not_ready("1001", "meal", 2_000)
    d.ready("1001", 3_000)
    d.enqueue("c2", "general", "2", 4_000)
    assert offers(d.call_ended("1001", 5_000)) == [("c2", "1001")]


def test_logging_out_during_a_queue_call_waits_for_its_end() -> None:
    d = centre(("1001", 5), wrap_up_s=0)
    d.enqueue("c1", "general", "1", 0)
    d.answered("c1", "1001", 1_000)
    d.logout("1001", 2_000)
    assert d.agents["1001"].state is AgentState.ON_CALL
    d.call_ended("1001", 5_000)
    assert d.agents["1001"].state is AgentState.LOGGED_OUT


def test_not_ready_asked_during_a_call_survives_a_department_call_made_in_the_wrap_up() -> None:
    d = centre(("1001", 5), wrap_up_s=30)
    d.enqueue("c1", "general", "1", 0)
    d.answered("c1", "1001", 1_000)
    d.not_ready("1001", "meal", 2_000)
    d.call_ended("1001", 10_000)  # wrap-up until 40 s
    d.non_queue_call("1001", 12_000)  # phones the department the ticket goes to
    d.enqueue("c2", "general", "2", 13_000)
    assert offers(d.call_ended("1001", 50_000)) == []  # past the wrap-up: the asked-for not ready applies
    assert (d.agents["1001"].state, d.agents["1001"].reason) == (AgentState.NOT_READY, "meal")


# --- bounded memory, the link down ------------------------------------------------------------------------------

def test_sticky_memory_forgets_what_is_older_than_every_window() -> None:
    d = centre(("1001", 5), wrap_up_s=0, sticky_window_s=60)
    for n, at in enumerate((0, 30_000, 100_000)):
        d.enqueue(f"c{n}", "general", f"1380000000{n}", at)
        d.answered(f"c{n}", "1001", at + 1)
        d.call_ended("1001", at + 2)
    assert list(d.last_agent) == ["13800000001", "13800000002"][1:]  # only the last within 60 s of it
    unsticky = centre(("1001", 5), wrap_up_s=0)
    unsticky.enqueue("c", "general", "13800000009", 0)
    unsticky.answered("c", "1001", 1)
    assert not unsticky.last_agent  # no queue is sticky: nothing kept at all


def test_an_agents_log_is_capped() -> None:
    from acd.agents import LOG_LIMIT

    d = centre(("1001", 5))
    for n in range(LOG_LIMIT + 50):
        d.not_ready("1001", "rest", n) if n % 2 else d.ready("1001", n)
    log = d.agents["1001"].log
    assert len(log) == LOG_LIMIT and log[-1].at_ms == LOG_LIMIT + 49


def test_while_paused_nobody_is_offered_and_the_callers_clocks_wait() -> None:
    d = centre(("1001", 5), ready=False, max_wait_s=10)
    d.enqueue("c1", "general", "13800000001", 0)
    d.pause()
    assert offers(d.ready("1001", 1_000)) == []  # the switch could not ring anyone
    assert d.advance(20_000) == [] and "c1" in d.callers  # its maximum wait is held, not spent
    resumed = d.resume(21_000)
    assert [type(a).__name__ for a in resumed] == ["Leave"]  # the held timer first: c1 waited beyond 10 s
    assert d.agents["1001"].state is AgentState.READY


def test_a_lost_offer_counts_against_nobody() -> None:
    d = centre(("1001", 5))
    d.enqueue("c1", "general", "1", 0)
    d.pause()  # a leg is found lost when the link is back, before the core resumes
    d.offer_failed("c1", "1001", "lost", 10)
    assert d.agents["1001"].state is AgentState.READY and d.agents["1001"].missed_in_a_row == {}
    assert d.agents["1001"].available_after_ms == 0
