"""The floor at a glance (班长看板), drawn from the live decision core: agents by state and not-ready reason,
callers waiting per queue with the longest wait, and today's answer rates in the 12345 form over the calls
decided (today: the centre's day, in its time zone)."""

from __future__ import annotations

from collections import Counter

from acd.agents import AgentState
from acd.distributor import Distributor

STATES = (AgentState.READY, AgentState.OFFERED, AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.NOT_READY,
          AgentState.LOGGED_OUT)


def wallboard(core: Distributor, now_ms: int, thresholds_s: tuple[int, ...] = (20, 30)) -> list[str]:
    states = Counter(agent.state for agent in core.agents.values())
    reasons = Counter(agent.reason for agent in core.agents.values() if agent.state is AgentState.NOT_READY)
    lines = ["agents  " + "  ".join(f"{state.value} {states[state]}" for state in STATES)]
    if reasons:
        lines.append("        not ready: " + "  ".join(f"{reason} {n}" for reason, n in sorted(reasons.items())))
    unregistered = sorted(agent.id for agent in core.agents.values()
                          if not agent.registered and agent.state is not AgentState.LOGGED_OUT)
    if unregistered:
        lines.append("        phone not registered (not offered): " + " ".join(unregistered))
    for name in core.queues:
        waiting = [core.callers[call] for _, call in core.waiting[name]]
        longest = max((now_ms - caller.entered_ms for caller in waiting), default=0) / 1000
        totals, midnight = core.service_level.today(name, now_ms), core.service_level.day_start(now_ms)
        rates = "  ".join(
            f"{t} s {rate:.0%}" if (rate := totals.levels(t, core.undecided([name], (midnight, now_ms + 1), now_ms, t))[
                "hotline_12345"]) is not None else f"{t} s -" for t in thresholds_s)
        lines.append(f"queue {name:<10} waiting {len(waiting):>3}  longest {longest:5.1f} s  answered "
                     f"{totals.answered:>4}/{totals.requests:<4} abandoned {totals.abandoned:>3}  {rates}")
    return lines
