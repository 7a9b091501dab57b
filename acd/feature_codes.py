"""Feature codes dialled from an agent's softphone: *20 log in, *21 ready, *22[n] not ready, *23 log out.

The agent is recognised by the SIP user FreeSWITCH authenticated the call as (``variable_user_name``), never by
the caller ID, which any caller can set; the dialled digits are matched against the configured codes, never
interpreted further. A feature code's own call is a request to the ACD, not a conversation: it never puts the
agent on a call (acd.connector), so the change takes effect at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.acd import Acd


@dataclass(frozen=True, slots=True)
class AgentCommand:
    agent: str
    action: str
    """login, ready, not_ready or logout."""
    reason: str = ""


def numbers(acd: Acd) -> frozenset[str]:
    """Every string that dials a feature code: the rendered dialplan parks exactly these for the engine."""
    codes = acd.feature_codes
    not_ready = [f"{codes.not_ready}{n}" for n in range(1, len(acd.reasons) + 1)]
    return frozenset([codes.login, codes.ready, codes.not_ready, *not_ready, codes.logout])


def parse(acd: Acd, agent: str, dialled: str) -> AgentCommand | None:
    """The command a dialled feature code asks for, or None if it is not one (or not from an agent)."""
    if agent not in acd.agents:
        return None
    codes = acd.feature_codes
    for action in ("login", "ready", "logout"):
        if dialled == getattr(codes, action):
            return AgentCommand(agent, action)
    if dialled.startswith(codes.not_ready):
        suffix = dialled[len(codes.not_ready):]
        if not suffix:
            return AgentCommand(agent, "not_ready", acd.reasons[0])
        if suffix.isdigit() and 1 <= int(suffix) <= len(acd.reasons):
            return AgentCommand(agent, "not_ready", acd.reasons[int(suffix) - 1])
    return None
