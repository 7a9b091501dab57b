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
from dataclasses import dataclass, field

import gevent
import structlog

from calls.book import CallBook
from calls.facts import Channel, HungUp
from calls.notices import Finished
from calls.record import CallTimeline
from engine.capability import Hub
from esl import CommandFailed, EslError, SwitchLink, tokens

log = structlog.get_logger(__name__)

LISTING_LAG_S = 2.0
"""``show channels`` lags the events by up to about a second on FreeSWITCH 1.10.12 (its core database is written
behind them): a second pass this long after a connect takes the channels the first listing missed."""

@dataclass
class SwitchView:
    """What the switch holds at reconciliation. ``listed`` comes from ``show channels``, which FreeSWITCH fills
    from its core database behind the events (up to about a second late, measured: a channel may be missing or
    linger after it is gone), so it only names candidates; ``details`` asks the channel itself (``uuid_dump``),
    which is the truth, and is what every decision rests on."""

    listed: list[str]
    first: bool
    """The engine's first reconciliation since it started (journalled agents and records are taken back)."""
    link: SwitchLink
    records: dict[str, CallTimeline] = field(default_factory=dict)
    """Live calls' records from the journal (first reconciliation with Redis only)."""
    fixed: Counter[str] = field(default_factory=Counter)
    vanished: dict[str, HungUp] = field(default_factory=dict)
    """Channels that hung up while reconciliation ran: gone, whatever a dump read before said (a conversation whose
    call the book finished meanwhile must not be taken back from it), and if taken all the same (their dump was
    read before their hang-up came), their hang-up is applied again after."""
    _details: dict[str, Channel | None] = field(default_factory=dict)

    def details(self, uuid: str) -> Channel | None:
        """The channel whole, or None if the switch does not have it (any more)."""
        if uuid in self.vanished or not tokens.is_uuid(uuid):
            return None
        if uuid not in self._details:
            try:
                self._details[uuid] = Channel.from_dump(json.loads(self.link.api(f"uuid_dump {tokens.uuid(uuid)} json")))
            except CommandFailed:
                self._details[uuid] = None
        return self._details[uuid]

    def unknown(self, book: CallBook) -> list[Channel]:
        """Listed channels the book does not hold, in the order their callers came to a queue or to the switch
        (so callers taken back keep their order)."""
        found = [self.details(uuid) for uuid in self.listed if book.find(uuid) is None]
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
        hub.on(Finished, self._forget)

    def reconcile(self) -> None:
        """Runs on its own greenlet after each connect; a link lost halfway leaves it to the next connect. Once
        more ``LISTING_LAG_S`` later, for the channels ``show channels`` did not list yet."""
        connection = self.hub.link.connections_made
        self._reconcile()
        gevent.sleep(LISTING_LAG_S)
        if self.hub.link.connected.is_set() and self.hub.link.connections_made == connection:
            self._reconcile()

    def _reconcile(self) -> None:
        connection = self.hub.link.connections_made
        try:
            self._view = view = SwitchView(self._list(), self._first, self.hub.link,
                                           dict(self._records) if self._first else {})
            self.hub.run([Reconciling(view)])
            self.hub.run([fact for uuid, fact in view.vanished.items() if self.hub.book.find(uuid) is not None])
        except EslError as exc:
            self._view = None
            log.warning("engine.reconcile_interrupted", error=str(exc))
            return
        if not self.hub.link.up or self.hub.link.connections_made != connection:
            self._view = None  # lost (maybe back already) halfway: what was settled stays, the next connect ends it
            log.warning("engine.reconcile_interrupted", error="the link dropped during reconciliation")
            return
        self.hub.run([Reconciled(view)])
        self._first, self._view, self._records = False, None, {}
        log.info("engine.reconciled", first=view.first, channels=len(view.listed), **dict(view.fixed))

    def _forget(self, finished: Finished) -> None:
        """A journalled call is finished once: a first reconciliation cut short and tried again must not finish
        it again."""
        self._records.pop(finished.record.call_id, None)

    def _seen_gone(self, fact: HungUp) -> None:
        if self._view is not None:
            self._view.vanished[fact.uuid] = fact

    def _list(self) -> list[str]:
        rows = json.loads(self.hub.link.api("show channels as json")).get("rows", [])
        return [row["uuid"] for row in rows if tokens.is_uuid(row.get("uuid"))]
