"""Feature codes dialled from an agent's softphone: *20 log in, *21 ready, *22[n] not ready, *23 log out; and from a
supervisor's: *31, *32, *33 and an agent's number to listen to, whisper into or barge into that agent's call.

The agent is recognised by the SIP user FreeSWITCH authenticated the call as (``variable_user_name``), never by
the caller ID, which any caller can set; the dialled digits are matched against the configured codes, never
interpreted further. A feature code's own call is a request to the ACD, not a conversation: it never puts the
agent on a call (acd.connector), so the change takes effect at once.
"""

from __future__ import annotations

import re
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


SUPERVISOR_MODES = ("listen", "whisper", "barge")


def supervisor_pattern(acd: Acd) -> str:
    """What the rendered dialplan parks for the engine from supervisors' phones: a code, then an agent's number."""
    codes = "|".join(re.escape(getattr(acd.feature_codes, mode)) for mode in SUPERVISOR_MODES)
    return f"^({codes})([0-9]{{1,32}})$"


def parse_supervisor(acd: Acd, dialled: str) -> tuple[str, str] | None:
    """(mode, agent) a supervisor's dialled code asks for, or None."""
    for mode in SUPERVISOR_MODES:
        code = getattr(acd.feature_codes, mode)
        if dialled.startswith(code) and dialled[len(code):].isdigit():
            return mode, dialled[len(code):]
    return None


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
