"""The audit log (审计): every supervisor action and every state forced on an agent: who, what, on which call or
agent, when, and what came of it. Entries travel the record spool, so nothing a supervisor does is lost while the
ticket store is down, and are kept in the store's ``audit_log`` table, which ``hotline audit`` lists."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

import orjson


_MADE = itertools.count()
WIDTHS = {"actor": 64, "action": 16, "agent": 64, "call_id": 64, "result": 256, "detail": 256}
"""The ``audit_log`` columns' widths (migration 0008)."""


def ordered_id(at_ms: int) -> str:
    """A new row's id that sorts as the rows were made, within one millisecond too (the rows keep that order,
    whenever they are stored), and is unique across processes."""
    return f"{at_ms:013d}-{next(_MADE):06d}-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at_ms: int
    actor: str
    """``supervisor:<id>``, ``supervisor`` (a centre-wide token), ``engineer``, or ``phone:<SIP user>``."""
    action: str
    """listen, whisper, barge, takeover, hangup (强拆), stop; ready, not_ready, logout, login (forced states)."""
    agent: str | None
    call_id: str | None
    result: str
    """done, or why it was refused (as the supervisor was told)."""
    detail: str = ""
    """The reason a forced not-ready gave."""
    id: str = ""
    """Unique, and in the order the entries were made: their time, this process's count, a random part (what
    makes a replayed entry known, and keeps two in one millisecond in order)."""

    def __post_init__(self) -> None:
        """Each value cut to its column's width: the action and the error come from what was asked (a path, a
        body), and a value PostgreSQL refuses would stop the spool's delivery, records and all."""
        for name, width in WIDTHS.items():
            value = getattr(self, name)
            if value is not None and len(value) > width:
                object.__setattr__(self, name, value[:width])
        if not self.id:
            object.__setattr__(self, "id", ordered_id(self.at_ms))

    def to_line(self) -> bytes:
        """The spool's line for it: an object of its own kind beside the call records."""
        return orjson.dumps({"audit": self}) + b"\n"

    @classmethod
    def from_dict(cls, data: dict) -> "AuditEntry":
        return cls(**data)
