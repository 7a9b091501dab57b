"""Call records (and audit entries, tickets.audit) reach the ticket store through a durable on-disk spool, in order,
exactly once.

``push`` appends the record as one JSON line to the spool, kept open for appending, and returns: the line is in
the kernel's page cache, so an engine killed a moment later leaves it to the next one, and call handling never
waits for the database. One greenlet delivers the spool in order: woken by a record, it lets ``GATHER_S`` pass,
then in one trip to the threadpool fsyncs the spool and delivers what has gathered (up to ``BATCH``) in one
transaction, so a busy centre pays for a batch, not for each record (a flush for shutdown or a test does not
wait). A power cut can lose only the records of the last ``GATHER_S``, as with SQLite's ``synchronous=NORMAL``; an
fsync and a trip to the threadpool per record cost a tenth of the engine's CPU per call. The byte offset of what is
delivered is checkpointed after each batch. If the database is down the
records wait in the spool and the writer retries with back-off; after a crash the spool is replayed from the
checkpoint. A crash between a commit and its checkpoint replays that batch, which ``TicketStore.save_all``
ignores because it is idempotent on the call id: exactly once.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import BinaryIO, Callable

import gevent
import orjson
import structlog
from gevent.event import Event as Flag
from prometheus_client import Counter, Gauge
from sqlalchemy.exc import SQLAlchemyError

from calls.record import CallTimeline
from tickets.agent_states import StateChange
from tickets.audit import AuditEntry
from tickets.region import caller_region
from tickets.store import TicketStore

log = structlog.get_logger(__name__)

PENDING = Gauge("hotline_records_pending", "Call records in the spool, not yet in the ticket store")
DELIVERED = Counter("hotline_records_delivered_total", "Call records delivered to the ticket store")
BATCH = 500
"""Most records delivered in one transaction."""
GATHER_S = 1.0
"""How long a delivery waits for more records to share its transaction. A delivery costs the engine a few ms of
CPU whatever its size (on a machine whose memory goes cold in between), so at 10 calls/s a second's batch costs
a call less than half a second's did; the records of the last second are what a power cut can lose."""
COMPACT_AT = 1 << 20
"""Spool bytes, all delivered, worth starting afresh (not after every record: that is a trip to the threadpool)."""


class RecordWriter:
    def __init__(self, store: TicketStore, spool_dir: Path, region: Callable[[str], str | None] = caller_region,
                 retry_s: float = 1.0) -> None:
        spool_dir.mkdir(parents=True, exist_ok=True)
        self.store = store
        self.spool = spool_dir / "records.jsonl"
        self.checkpoint = spool_dir / "delivered.offset"
        self.spool.touch()
        self.region = region
        self.retry_s = retry_s
        self.compact_at = COMPACT_AT
        self.gather_s = GATHER_S
        self._hurry = Flag()
        """Set by ``flush``: deliver without gathering."""
        self._offset = int(self.checkpoint.read_text() or 0) if self.checkpoint.exists() else 0
        self._wake = Flag()
        self._drained = Flag()
        self._pool = gevent.get_hub().threadpool
        self._file_lock = threading.Lock()
        """Appends run on the hub, compaction on a threadpool thread: never at the same time."""
        self._appending = open(self.spool, "ab", buffering=0)
        PENDING.set(self.pending())
        self._greenlet = gevent.spawn(self._deliver_forever)

    def push(self, timeline: CallTimeline) -> None:
        """Append the record to the spool (an engine killed after this still has it) and return; the delivery makes
        it durable on disk, then stores it."""
        self._drained.clear()
        self._append(timeline.to_json().encode() + b"\n")
        PENDING.inc()
        self._wake.set()

    def entry(self, entry: AuditEntry | StateChange) -> None:
        """Append an audit entry, or an agent's state change, to the spool, delivered in order with the records."""
        self._drained.clear()
        self._append(entry.to_line())
        PENDING.inc()
        self._wake.set()

    def pending(self) -> int:
        """Records spooled but not yet delivered."""
        with self.spool.open("rb") as spool:
            spool.seek(self._offset)
            return spool.read().count(b"\n")

    def flush(self, timeout: float) -> bool:
        """Wait until the spool is delivered (tests, shutdown)."""
        self._hurry.set()
        self._wake.set()
        return self._drained.wait(timeout)

    def close(self) -> None:
        """Stop delivering and sync the spool; again is nothing (an engine that stopped itself is stopped again)."""
        self._greenlet.kill()
        if not self._appending.closed:
            os.fsync(self._appending.fileno())
            self._appending.close()

    def _append(self, line: bytes) -> None:
        with self._file_lock:
            written = 0
            while written < len(line):  # a regular file takes it whole unless the disk fails, which raises
                written += self._appending.write(line[written:]) or 0

    def _deliver_forever(self) -> None:
        while True:
            self._hurry.wait(self.gather_s)
            delivered = self._pool.apply(self._deliver_available)
            if delivered is None:  # the store is down: keep the spool, try again later
                gevent.sleep(self.retry_s)
                continue
            if self.pending() == 0:
                if self._offset >= self.compact_at:
                    self._pool.apply(self._compact)  # yields: a record may be pushed meanwhile
                if self.pending() == 0:  # nothing yields from here to the wait
                    self._drained.set()
                    self._hurry.clear()
                    self._wake.clear()
                    self._wake.wait()

    def _deliver_available(self) -> int | None:
        """Deliver the complete lines after the checkpoint, a batch at a time; None if the store failed (nothing
        is lost)."""
        os.fsync(self._appending.fileno())
        count = 0
        with self.spool.open("rb") as spool:
            spool.seek(self._offset)
            while batch := self._batch(spool):
                items = [orjson.loads(line) for line in batch]
                timelines = [CallTimeline.from_dict(item) for item in items if "audit" not in item
                             and "agent_state" not in item]
                audit = [AuditEntry.from_dict(item["audit"]) for item in items if "audit" in item]
                states = [StateChange(**item["agent_state"]) for item in items if "agent_state" in item]
                try:
                    self.store.save_all([(timeline, self.region(timeline.caller_number)) for timeline in timelines],
                                        audit, states)
                except SQLAlchemyError as exc:
                    log.warning("tickets.store_unavailable", error=str(exc).splitlines()[0], pending=self.pending())
                    return None
                self._offset += sum(map(len, batch))
                self._write_checkpoint()
                DELIVERED.inc(len(batch))
                PENDING.dec(len(batch))
                count += len(batch)
                if len(batch) < BATCH:
                    break  # the spool's end, or a line still being appended
        return count

    @staticmethod
    def _batch(spool: BinaryIO) -> list[bytes]:
        """The next complete lines, up to BATCH; a line without its end is still being appended."""
        batch = []
        for line in spool:
            if not line.endswith(b"\n"):
                break
            batch.append(line)
            if len(batch) == BATCH:
                break
        return batch

    def _compact(self) -> None:
        """Everything delivered: start the spool afresh so it does not grow for ever."""
        with self._file_lock:
            if self.spool.stat().st_size == self._offset:
                self.spool.write_bytes(b"")
                self._offset = 0
                self._write_checkpoint()

    def _write_checkpoint(self) -> None:
        """The offset rewritten in place at a fixed width: one small write, whole or not at all, with no file
        created and renamed per batch."""
        fd = os.open(self.checkpoint, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, b"%020d\n" % self._offset, 0)
        finally:
            os.close(fd)

