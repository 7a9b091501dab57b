"""Reconciliation: after every (re)connect and at start, the engine asks the switch what is really there.

The switch is the source of truth. While the link is down the engine is paused (nothing offered, nothing
counted against anyone); once it is back, the channels are listed (``show channels as json``) and each one the
book does not know is read whole (``uuid_dump <uuid> json``), since the variables the engine set on its calls tell
what it was doing with them. Capabilities then settle what they own from that view (``Reconciling``): legs that
vanished are gone, answered offers are bridged, callers the engine never saw are taken, callers whose IVR was cut
off go to a human, orphan agent legs are hung up. Finally the ACD resumes (``Reconciled``) and one log line says
what was fixed.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace

import structlog

from calls.book import CallBook
from calls.facts import HungUp
from calls.record import CallTimeline
from engine.capability import Hub
from esl import CommandFailed, EslError, SwitchLink, tokens

log = structlog.get_logger(__name__)

TALKING_STATES = ("ACTIVE", "HELD", "UNHELD")
"""Channel call states of an answered channel (``callstate`` in ``show channels``)."""


@dataclass(frozen=True, slots=True)
class Channel:
    """One channel as ``show channels as json`` lists it, with its variables when the book does not know it."""

    uuid: str
    direction: str
    destination: str
    callstate: str
    application: str
    application_data: str
    created_ms: int
    caller_number: str
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        return self.callstate in TALKING_STATES

    def var(self, name: str) -> str | None:
        return self.variables.get(f"variable_{name}") or None

    def ms_var(self, name: str) -> int | None:
        """A time the engine wrote on the channel (digits only, else None)."""
        value = self.var(name) or ""
        return int(value) if value.isdigit() else None


@dataclass
class SwitchView:
    """The switch's channels at reconciliation; ``details`` reads a channel's variables on first use."""

    channels: dict[str, Channel]
    first: bool
    """The engine's first reconciliation since it started (journalled agents and records are taken back)."""
    link: SwitchLink
    records: dict[str, CallTimeline] = field(default_factory=dict)
    """Live calls' records from the journal (first reconciliation with Redis only)."""
    fixed: Counter[str] = field(default_factory=Counter)
    vanished: set[str] = field(default_factory=set)
    """Channels that hung up while reconciliation ran: not to be taken."""

    def details(self, uuid: str) -> Channel | None:
        """The channel with its variables (``uuid_dump``); None if it is not there (or no longer)."""
        channel = self.channels.get(uuid)
        if channel is None or uuid in self.vanished:
            return None
        if channel.variables:
            return channel
        try:
            variables = json.loads(self.link.api(f"uuid_dump {tokens.uuid(uuid)} json"))
        except CommandFailed:  # gone since the list
            self.vanished.add(uuid)
            return None
        created_us = str(variables.get("Caller-Channel-Created-Time", ""))
        channel = self.channels[uuid] = replace(
            channel, variables={k: str(v) for k, v in variables.items()},
            created_ms=int(created_us) // 1000 if created_us.isdigit() else channel.created_ms)
        return channel

    def unknown(self, book: CallBook) -> list[Channel]:
        """Channels the book does not hold, with their variables, in the order their callers came to a queue or
        to the switch (so callers taken back keep their order)."""
        found = [self.details(uuid) for uuid in list(self.channels) if book.find(uuid) is None]
        return sorted((ch for ch in found if ch is not None and book.find(ch.uuid) is None),
                      key=lambda ch: (ch.ms_var("hotline_entered") or ch.created_ms, ch.created_ms))


@dataclass(frozen=True, slots=True)
class LinkLost:
    """The link to the switch is down: pause."""


@dataclass(frozen=True, slots=True)
class Reconciling:
    view: SwitchView


@dataclass(frozen=True, slots=True)
class Reconciled:
    view: SwitchView


class Reconciler:
    def __init__(self, records: dict[str, CallTimeline]) -> None:
        self._records = records
        self._first = True
        self._view: SwitchView | None = None

    def attach(self, hub: Hub) -> None:
        self.hub = hub
        hub.link.on_connected(self.reconcile)
        hub.link.on_lost(lambda: hub.run([LinkLost()]))
        hub.on(HungUp, self._seen_gone)

    def reconcile(self) -> None:
        """Runs on its own greenlet after each connect; a link lost halfway leaves it to the next connect."""
        try:
            self._view = view = SwitchView(self._list(), self._first, self.hub.link,
                                           self._records if self._first else {})
            self.hub.run([Reconciling(view)])
        except EslError as exc:
            self._view = None
            log.warning("engine.reconcile_interrupted", error=str(exc))
            return
        if not self.hub.link.connected.is_set():  # lost again halfway: what was settled stays, the next connect ends it
            self._view = None
            log.warning("engine.reconcile_interrupted", error="the link dropped during reconciliation")
            return
        self.hub.run([Reconciled(view)])
        self._first, self._view, self._records = False, None, {}
        log.info("engine.reconciled", first=view.first, channels=len(view.channels), **dict(view.fixed))

    def _seen_gone(self, fact: HungUp) -> None:
        if self._view is not None and self.hub.book.find(fact.uuid) is None:
            self._view.vanished.add(fact.uuid)

    def _list(self) -> dict[str, Channel]:
        rows = json.loads(self.hub.link.api("show channels as json")).get("rows", [])
        return {row["uuid"]: Channel(row["uuid"], row.get("direction", ""), row.get("dest", ""),
                                     row.get("callstate", ""), row.get("application", ""),
                                     row.get("application_data", ""), int(row.get("created_epoch") or 0) * 1000,
                                     row.get("cid_num", ""))
                for row in rows if row.get("callstate") != "HANGUP"}
