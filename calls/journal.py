"""Where live state is copied outside the process (``engine.journal``), so other processes can read the floor
and a restarted engine can take back what the switch cannot tell it: agents' states and calls' records so far.

Writers only ``put`` and ``drop`` JSON text under a section and key (or a function that gives it, called when the
change is written, so a record changed three times in one turn of the engine is serialised once); how and when it
reaches the store is the journal's business, and it never blocks the caller.
"""

from __future__ import annotations

from typing import Callable, Protocol

Value = str | Callable[[], str]
"""JSON text, or a function that gives it when the change is written (the latest state then)."""


class Journal(Protocol):
    def put(self, section: str, key: str, value: Value) -> None: ...
    def drop(self, section: str, key: str) -> None: ...


class NoJournal:
    """The embedded default: live state is only in the engine."""

    def put(self, section: str, key: str, value: Value) -> None:
        pass

    def drop(self, section: str, key: str) -> None:
        pass
