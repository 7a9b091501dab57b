"""Per-call ordered event queues: one slow call never blocks the socket reader or any other call.

FreeSWITCH kills a listener after 500 consecutive events it could not queue, so the reader must never
wait on a handler. Each call gets a FIFO and, while it has events, one greenlet draining it; events of one call
are handled in arrival order, different calls run concurrently. A call is a channel (its Unique-ID) unless the
owner says which channels make one call (``call_of``): then the legs of a call keep the switch's order too.
"""

from __future__ import annotations

from collections import deque
from typing import Callable

import structlog

from esl import workers
from esl.protocol import Event

log = structlog.get_logger(__name__)

Handler = Callable[[Event], None]


def by_channel(event: Event) -> str:
    """Each channel is a call of its own."""
    return event.uuid


class CallDispatcher:
    """Routes each event to the handlers registered for its name (or ``*``), ordered per call."""

    def __init__(self, call_of: Callable[[Event], str] = by_channel) -> None:
        self._call_of = call_of
        self._handlers: dict[str, list[Handler]] = {}
        self._queues: dict[str, deque[Event]] = {}

    def on(self, name: str, handler: Handler) -> None:
        """Call ``handler(event)`` for events named ``name`` (a CUSTOM subclass for CUSTOM events; ``*`` for all)."""
        self._handlers.setdefault(name, []).append(handler)

    def put(self, event: Event) -> None:
        """Enqueue without blocking; called on the reader greenlet."""
        key = self._call_of(event)
        queue = self._queues.get(key)
        if queue is None:
            self._queues[key] = queue = deque()
            workers.spawn(self._drain, key, queue)
        queue.append(event)

    @property
    def backlog(self) -> int:
        """Events received but not yet handled, across all calls."""
        return sum(len(queue) for queue in self._queues.values())

    def _drain(self, key: str, queue: deque[Event]) -> None:
        try:
            while queue:
                event = queue.popleft()
                for handler in (*self._handlers.get(event.name, ()), *self._handlers.get("*", ())):
                    try:
                        handler(event)
                    except Exception:
                        log.exception("esl.handler_failed", handler=getattr(handler, "__qualname__", handler), event=event.name, uuid=key)
        finally:
            del self._queues[key]
