"""Agents' SIP users as the switch's directory has them, asked of the switch itself.

FreeSWITCH takes the first definition of a user id in a domain: where the stock example users (1000-1019 in
``directory/default/``) share an agent's number, the stock user wins, with the stock password and without
``hotline_agent_id``, and nothing warns. So ``hotline switch-conf render`` and the engine's start ask the switch
(``user_data``) what each agent's SIP user really is, and refuse to go on when it is someone else's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from acd.phones import sip_user
from config import Settings
from esl import CommandFailed, tokens


@dataclass(frozen=True, slots=True)
class Finding:
    agent: str
    user: str
    collides: bool
    """Another definition of the user wins (True), or the user is not in the directory yet (False)."""

    def __str__(self) -> str:
        if self.collides:
            return (f"agent {self.agent}: SIP user {self.user} is defined elsewhere in the switch's directory, and "
                    "that definition wins (its password, not the agent's); FreeSWITCH's example users 1000-1019 are "
                    "in conf/directory/default/10NN.xml: remove that file (then reloadxml) or give the agent "
                    "another number")
        return (f"agent {self.agent}: SIP user {self.user} is not in the switch's directory (install the rendered "
                "directory/default/hotline_agents.xml, then reloadxml): the agent's phone cannot register")


def unrendered(settings: Settings) -> list[str]:
    """Agents reached as ``user/...`` without a ``sip_password``: no SIP user is rendered for them, so their
    phones register only if the directory has them from elsewhere."""
    return [agent_id for agent_id, agent in settings.acd.agents.items()
            if sip_user(agent.contact) is not None and agent.sip_password is None]


def check(settings: Settings, api: Callable[[str], str]) -> list[Finding]:
    """Ask the switch (``api``: its API over ESL) about every agent rendered as a SIP user."""
    domain = _value(api, "global_getvar domain")
    findings = []
    for agent_id, agent in settings.acd.agents.items():
        user = sip_user(agent.contact)
        if user is None or agent.sip_password is None:
            continue
        address = tokens.word(f"{user}@{agent.contact.partition('@')[2] or domain}")
        if _value(api, f"user_data {address} var hotline_agent_id") == agent_id:
            continue
        findings.append(Finding(agent_id, user, collides=bool(_value(api, f"user_data {address} param password"))))
    return findings


def _value(api: Callable[[str], str], command: str) -> str:
    """A ``user_data`` answer; FreeSWITCH answers "nothing" (no such user or entry) with ``-ERR no reply``."""
    try:
        value = api(command).strip()
    except CommandFailed:
        return ""
    return "" if value.startswith("-ERR") else value
