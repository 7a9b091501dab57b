"""The floor at a glance (班长看板), drawn from the live decision core: agents by state and not-ready reason,
callers waiting per queue (and per operation centre) with the longest wait, and today's answer rates in the 12345
form over the calls decided (today: the centre's day, in its time zone)."""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from acd.agents import AgentState
from acd.distributor import Distributor
from acd.service_level import TENANT

STATES = (AgentState.READY, AgentState.OFFERED, AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.NOT_READY,
          AgentState.LOGGED_OUT)


def wallboard(core: Distributor, now_ms: int, thresholds_s: tuple[int, ...] = (20, 30),
              tenants: Sequence[str] = ()) -> list[str]:
    """One line for the agents (and one for not-ready reasons, one for phones not registered), one per queue, and
    one per operation centre (分中心) when there are several."""
    states = Counter(agent.state for agent in core.agents.values())
    reasons = Counter(agent.reason for agent in core.agents.values() if agent.state is AgentState.NOT_READY)
    lines = ["agents  " + "  ".join(f"{state.value} {states[state]}" for state in STATES)]
    if reasons:
        lines.append("        not ready: " + "  ".join(f"{reason} {n}" for reason, n in sorted(reasons.items())))
    unregistered = sorted(agent.id for agent in core.agents.values()
                          if not agent.registered and agent.state is not AgentState.LOGGED_OUT)
    if unregistered:
        lines.append("        phone not registered (not offered): " + " ".join(unregistered))
    shown = [(f"queue {name}", name) for name in core.queues]
    shown += [(f"tenant {name}", TENANT + name) for name in tenants] if len(tenants) > 1 else []
    for label, key in shown:
        waiting = core.waiting_under(key)
        longest = (now_ms - min(waiting, default=now_ms)) / 1000
        totals = core.service_level.today(key, now_ms)
        rates = "  ".join(f"{t} s {rate:.0%}" if (rate := core.answered_within_today(key, t, now_ms)) is not None
                          else f"{t} s -" for t in thresholds_s)
        lines.append(f"{label:<16} waiting {len(waiting):>3}  longest {longest:5.1f} s  answered "
                     f"{totals.answered:>4}/{totals.requests:<4} abandoned {totals.abandoned:>3}  {rates}")
    return lines
