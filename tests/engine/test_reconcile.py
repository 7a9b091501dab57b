"""The reconciler on its own, over a scripted link: a reconciliation the link cut off is never declared done,
even when the link is already back by the time the reconciler looks (the next connect redoes it whole)."""

from __future__ import annotations

import json
from typing import Callable

import gevent.event

from calls.book import CallBook
from engine.capability import Hub
from engine.reconcile import Reconciled, Reconciler, Reconciling
from esl import ConnectionLost

CHANNEL = "0f0e0d0c-0000-4000-8000-000000000001"


class ScriptedLink:
    """Answers ``show channels`` with one channel; ``uuid_dump`` runs ``dump`` (which may drop the link)."""

    def __init__(self, dump: Callable[[], str]) -> None:
        self.connected = gevent.event.Event()
        self.connected.set()
        self.connections_made = 1
        self.dump = dump
        self.dead = False
        """The connection died (a send failed) and the supervisor has not noticed yet."""

    @property
    def up(self) -> bool:
        return self.connected.is_set() and not self.dead

    def api(self, command: str) -> str:
        if command.startswith("show channels"):
            return json.dumps({"row_count": 1, "rows": [{"uuid": CHANNEL}]})
        return self.dump()

    def on_connected(self, callback: Callable[[], None]) -> None: ...
    def on_lost(self, callback: Callable[[], None]) -> None: ...


def reconcile_once(link: ScriptedLink) -> tuple[list[object], Reconciler]:
    hub = Hub(None, link, CallBook(sink=lambda record: None), clock=None, journal=None)  # type: ignore[arg-type]
    seen: list[object] = []
    hub.on(Reconciling, lambda message: message.view.details(CHANNEL) and None)
    hub.on(Reconciled, seen.append)
    reconciler = Reconciler(records={})
    reconciler.attach(hub)
    reconciler._reconcile()
    return seen, reconciler


def test_a_reconciliation_cut_off_and_relinked_underneath_is_not_declared_done() -> None:
    def dump_then_relink() -> str:
        link.connections_made += 1  # dropped and already back when the reconciler looks again
        raise ConnectionLost("the link dropped")

    link = ScriptedLink(dump_then_relink)
    seen, reconciler = reconcile_once(link)
    assert seen == []  # the ACD stays paused until a whole reconciliation
    assert reconciler._first  # journalled agents and records are still to be taken back by the next one


def test_a_reconciliation_cut_off_before_the_link_notices_is_not_declared_done() -> None:
    """A send that failed closes the connection at once; ``connected`` is cleared a moment later (found by the
    chaos benchmark: the records of calls journalled by a killed engine were never taken back)."""
    def dump_on_a_dead_connection() -> str:
        link.dead = True
        raise ConnectionLost("send failed: [Errno 104] Connection reset by peer")

    link = ScriptedLink(dump_on_a_dead_connection)
    seen, reconciler = reconcile_once(link)
    assert seen == [] and reconciler._first


def test_a_whole_reconciliation_resumes_the_engine() -> None:
    link = ScriptedLink(lambda: json.dumps({"Unique-ID": CHANNEL, "Channel-State": "CS_EXECUTE"}))
    seen, reconciler = reconcile_once(link)
    assert [type(message) for message in seen] == [Reconciled] and not reconciler._first
