"""Agents' state changes kept in the ticket store (``agent_states``), for the report's login time, not-ready time
by reason and occupancy. They travel the record spool like audit entries, so a store that is down loses none."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from tickets.audit import ordered_id


@dataclass(frozen=True, slots=True)
class StateChange:
    at_ms: int
    agent: str
    state: str
    """The state entered: ready, offered, on_call, wrap_up, not_ready or logged_out."""
    reason: str = ""
    """The not-ready reason (or the call offered)."""
    id: str = ""
    """Sorts as the changes were made (several may share a millisecond); stored once: a replayed spool line is not
    a second change."""

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", ordered_id(self.at_ms))

    def to_line(self) -> bytes:
        return orjson.dumps({"agent_state": self}) + b"\n"
