"""The one small interface every capability plugs into (queueing, the front door, recording, the survey ...).

A capability is a class with ``attach(hub)``; there it registers, with ``hub.on``, what it reacts to: a switch
event by name (``"CHANNEL_PARK"``), or a message by type (a fact such as ``HungUp``, a command such as
``Originate``, a notice such as ``AgentLeft`` or ``Reconciling``); with ``hub.route``, its HTTP API routes; and
through ``hub.journal``, the state it keeps in Redis. Handlers return the messages that follow (or None), which
the hub routes in turn, breadth first in one loop: a chain of decisions never grows the stack, however many agents
or callers it touches. A handler that fails is logged and the others go on. As in wazo-calld's plugins, the rooms hold the rules; the hub only wires them.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Iterable, Protocol

import structlog
from prometheus_client import Counter

from calls.book import CallBook
from calls.clock import Clock
from calls.journal import Journal
from config import Settings
from esl import ConnectionLost, SwitchLink

log = structlog.get_logger(__name__)
HANDLER_FAILURES = Counter("hotline_handler_failures_total", "Handlers that raised (each logged as hub.handler_failed)",
                           ["handler"])

Handler = Callable[[Any], Iterable[object] | None]
Route = Callable[["Request"], tuple[int, object]]


class Request(Protocol):
    """An authenticated API request, as a route handler sees it (engine.api.ApiRequest)."""

    role: str
    agent: str
    supervisor: str
    params: dict[str, str]

    def body(self) -> dict[str, object]: ...


class Capability(Protocol):
    def attach(self, hub: "Hub") -> None: ...


class Hub:
    """The engine's switchboard of messages, shared by every capability."""

    def __init__(self, settings: Settings, link: SwitchLink, book: CallBook, clock: Clock, journal: Journal) -> None:
        self.settings = settings
        self.link = link
        self.book = book
        self.clock = clock
        self.journal = journal
        self.routes: list[tuple[str, str, Route, bool]] = []
        self._handlers: dict[type, list[Handler]] = {}

    def on(self, kind: str | type, handler: Handler) -> None:
        """React to a switch event (by name) or to a message (by type)."""
        if isinstance(kind, str):
            self.link.on(kind, lambda event: self.run(handler(event) or ()))
        else:
            self._handlers.setdefault(kind, []).append(handler)

    def route(self, method: str, path: str, handler: Route, public: bool = False) -> None:
        """Serve ``method path`` on the engine's API; ``{name}`` in the path is a parameter. ``public``: served
        without a token (the console's page and assets, which hold no data)."""
        self.routes.append((method, path, handler, public))

    def run(self, messages: Iterable[object]) -> None:
        """Hand each message to its handlers, then the messages they return, until none is left. A handler that
        fails is logged and the rest go on: one broken capability must not strand the other calls."""
        pending = deque(messages)
        while pending:
            message = pending.popleft()
            for handler in self._handlers.get(type(message), ()):
                try:
                    pending.extend(handler(message) or ())
                except ConnectionLost as exc:  # the link dropped under it: reconciliation finishes the work
                    log.info("hub.handler_cut_off", handler=getattr(handler, "__qualname__", repr(handler)),
                             message=type(message).__name__, error=str(exc))
                except Exception:
                    name = getattr(handler, "__qualname__", repr(handler))
                    log.exception("hub.handler_failed", handler=name, message=type(message).__name__)
                    HANDLER_FAILURES.labels(name).inc()

