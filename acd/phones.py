"""Agents' softphones as FreeSWITCH's registrar sees them: an agent whose phone is not registered is not offered.

An agent reached as ``user/1001`` has a phone only while the switch holds a registration for SIP user 1001; a
phone may register from several devices, each a registration of its own (its SIP Call-ID, the ``token``), so the
phone is gone only when the last one is. The switch says so with ``sofia::register``, ``sofia::unregister`` and
``sofia::expire`` events, and ``show registrations`` lists them all at reconciliation. Agents reached through a
gateway or a fixed address (``sofia/...``) have no registration to follow: they are always reachable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from esl import Event

EVENTS = ("sofia::register", "sofia::unregister", "sofia::expire")
SUBSCRIPTION = tuple(f"CUSTOM {name}" for name in EVENTS)


@dataclass(frozen=True, slots=True)
class Registration:
    """The switch took (``up``) or dropped one registration ``token`` of SIP user ``user``."""

    user: str
    token: str
    up: bool


def sip_user(contact: str) -> str | None:
    """``user/1001`` or ``user/1001@domain`` -> ``1001``; other dial strings name no SIP user."""
    if not contact.startswith("user/"):
        return None
    return contact[5:].split("@", 1)[0]


def registration_of(event: Event) -> Registration | None:
    """The registration a ``sofia::*`` event reports (``from-user`` on register and unregister, ``user`` on
    expire, as mod_sofia 1.10.12 names them), or None if it names no user."""
    user = event.get("from-user") or event.get("user") or ""
    token = event.get("call-id") or ""
    if not user or not token:
        return None
    return Registration(user, token, event.name == "sofia::register")


class Phones:
    """Which agent each SIP user is, and which of them the registrar holds."""

    def __init__(self, contacts: Mapping[str, str]) -> None:
        """``contacts``: every agent's dial string, by agent id."""
        self.agents = {user: agent for agent, contact in contacts.items() if (user := sip_user(contact))}
        """Agents by the SIP user of their ``user/...`` contact: their own calls and feature codes are theirs."""
        self._tokens: dict[str, set[str]] = {user: set() for user in self.agents}

    def apply(self, registration: Registration) -> tuple[str, bool] | None:
        """Take one registration event; returns (agent, registered) when that agent's phone came or went."""
        tokens = self._tokens.get(registration.user)
        if tokens is None:
            return None
        before = bool(tokens)
        (tokens.add if registration.up else tokens.discard)(registration.token)
        return (self.agents[registration.user], bool(tokens)) if bool(tokens) != before else None

    def reset(self, listed: Iterable[tuple[str, str]]) -> list[tuple[str, bool]]:
        """The registrar's whole list (user, token), as ``show registrations`` gives it after a (re)connect: the
        events missed meanwhile are replaced by it. Returns the agents whose phone came or went."""
        before = {user: bool(tokens) for user, tokens in self._tokens.items()}
        for tokens in self._tokens.values():
            tokens.clear()
        for user, token in listed:
            if user in self._tokens:
                self._tokens[user].add(token)
        return [(self.agents[user], bool(tokens)) for user, tokens in self._tokens.items()
                if bool(tokens) != before[user]]
