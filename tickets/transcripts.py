"""Transcripts in the ticket store, and the ASR backlog they make: a durable queue in the same database as the
records (a row joins it in the transaction that stores its recording, so a restart loses nothing), taken oldest
first by any number of worker processes. A worker that dies holding a row loses it after ``LEASE_MS``; a row that
fails is tried again later, then marked failed with the reason.

Taking a row is one conditional UPDATE (still pending, same attempts): on PostgreSQL and SQLite alike, of two
workers that read the same row only one changes it, and the other looks again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from tickets.store import TicketStore, TranscriptRow

LEASE_MS = 30 * 60_000
"""A row ``working`` this long belongs to a worker that died (the longest call takes minutes to transcribe)."""
RETRY_MS = 60_000
"""The wait before the next try, times the tries so far."""
ROWS = TranscriptRow.__table__.c


@dataclass(frozen=True, slots=True)
class Job:
    seq: int
    path: str
    call_id: str
    kind: str
    attempts: int
    """Tries so far, this one included."""


@dataclass(frozen=True, slots=True)
class Transcript:
    call_id: str
    kind: str
    path: str
    state: str
    attempts: int
    queued_ms: int
    done_ms: int | None
    error: str | None
    dialogue: list[dict[str, Any]]
    flags: list[dict[str, Any]]


class Transcripts:
    def __init__(self, store: TicketStore) -> None:
        self.engine = store.engine

    def claim(self, now_ms: int) -> Job | None:
        """The oldest row due (pending, or held by a worker past its lease), now this worker's; None when the
        backlog has nothing due."""
        while True:
            with self.engine.begin() as connection:
                row = connection.execute(
                    select(ROWS.seq, ROWS.path, ROWS.call_id, ROWS.kind, ROWS.attempts, ROWS.state)
                    .where(or_(and_(ROWS.state == "pending", ROWS.due_ms <= now_ms),
                               and_(ROWS.state == "working", ROWS.claimed_ms < now_ms - LEASE_MS)))
                    .order_by(ROWS.seq).limit(1)).first()
                if row is None:
                    return None
                taken = connection.execute(
                    update(TranscriptRow.__table__)
                    .where(ROWS.seq == row.seq, ROWS.state == row.state, ROWS.attempts == row.attempts)
                    .values(state="working", claimed_ms=now_ms, attempts=row.attempts + 1)).rowcount
            if taken == 1:
                return Job(row.seq, row.path, row.call_id, row.kind, row.attempts + 1)

    def done(self, job: Job, dialogue: list[dict[str, Any]], text: str, flags: list[dict[str, Any]],
             now_ms: int) -> None:
        self._finish(job, state="done", done_ms=now_ms, dialogue=dialogue, text=text, flags=flags or None, error=None)

    def failed(self, job: Job, error: str, attempts: int, now_ms: int) -> bool:
        """The try failed: back in the backlog for later, or, after ``attempts`` tries, failed for good with the
        reason. True if it is failed for good."""
        final = job.attempts >= attempts
        self._finish(job, state="failed" if final else "pending", error=error[:256],
                     due_ms=now_ms + RETRY_MS * job.attempts, done_ms=now_ms if final else None)
        return final

    def _finish(self, job: Job, **values: object) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(TranscriptRow.__table__)
                               .where(ROWS.seq == job.seq, ROWS.state == "working", ROWS.attempts == job.attempts)
                               .values(**values))

    def backlog(self) -> dict[str, int | None]:
        """How many rows wait (pending or being worked on), failed for good, and the oldest waiting's queue time."""
        with self.engine.connect() as connection:
            counts = dict(connection.execute(select(ROWS.state, func.count()).group_by(ROWS.state)).all())
            oldest = connection.scalar(select(func.min(ROWS.queued_ms)).where(ROWS.state.in_(("pending", "working"))))
        return {"pending": counts.get("pending", 0), "working": counts.get("working", 0),
                "done": counts.get("done", 0), "failed": counts.get("failed", 0), "oldest_queued_ms": oldest}

    def of(self, call_id: str) -> list[Transcript]:
        """A call's transcripts (its conversation's, and consultations'), in the order they were queued."""
        return self._read(select(TranscriptRow).where(ROWS.call_id == call_id))

    def search(self, word: str, since_ms: int = 0, flagged: bool = False, limit: int = 100) -> list[Transcript]:
        """Transcripts saying ``word`` (spaces ignored on both sides: a Chinese model spaces its words), newest
        first; ``flagged``: only those with a keyword alert."""
        pattern = "%" + word.replace(" ", "").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = select(TranscriptRow).where(ROWS.state == "done", ROWS.done_ms >= since_ms,
                                            func.replace(ROWS.text, " ", "").like(pattern, escape="\\"))
        if flagged:
            query = query.where(ROWS.flags.isnot(None))  # stored NULL when no keyword was heard
        return self._read(query.order_by(ROWS.seq.desc()).limit(limit))

    def _read(self, query: Any) -> list[Transcript]:
        with Session(self.engine) as session:
            return [Transcript(row.call_id, row.kind, row.path, row.state, row.attempts, row.queued_ms, row.done_ms,
                               row.error, row.dialogue or [], row.flags or []) for row in session.scalars(query)]


def said(transcripts: Sequence[Transcript], word: str) -> list[tuple[Transcript, dict[str, Any]]]:
    """The utterances of ``transcripts`` that say ``word`` (what a search shows of each)."""
    compact = word.replace(" ", "")
    return [(t, u) for t in transcripts for u in t.dialogue if compact in str(u["text"]).replace(" ", "")]
