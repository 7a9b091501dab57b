"""The ticket store on a real PostgreSQL server, including the server going down mid-stream."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from tickets.store import TicketStore
from tickets.writer import RecordWriter


def fresh_store(postgres) -> TicketStore:
    store = TicketStore(postgres.url)
    with store.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))  # every table, whatever later migrations add
        connection.execute(text("CREATE SCHEMA public"))
    store.migrate()
    return store


def test_migrate_save_and_read_back_on_postgresql(postgres, timeline) -> None:
    store = fresh_store(postgres)
    store.migrate()  # a second start changes nothing
    assert store.save(timeline(1), "北京市") and not store.save(timeline(1))
    assert store.get("call-0001") == timeline(1)


def test_postgresql_down_mid_stream_then_back_exactly_once(postgres, tmp_path: Path, timeline) -> None:
    store = fresh_store(postgres)
    writer = RecordWriter(store, tmp_path / "spool", retry_s=0.05)
    writer.push(timeline(0))
    assert writer.flush(20)
    postgres.stop()
    try:
        for n in range(1, 4):
            writer.push(timeline(n))
        assert writer.pending() == 3
    finally:
        postgres.start()
    assert writer.flush(30)
    assert store.call_ids() == [f"call-{n:04d}" for n in range(4)]
    writer.close()


def test_an_audit_entry_longer_than_its_columns_still_reaches_postgresql(postgres, tmp_path: Path, timeline) -> None:
    """An action from a request's path or a long error is cut to the column, not refused by PostgreSQL (which
    would hold the spool, and the call records behind it)."""
    from tickets.audit import AuditEntry

    store = fresh_store(postgres)
    writer = RecordWriter(store, tmp_path / "spool", retry_s=0.05)
    writer.entry(AuditEntry(1000, "supervisor:1901", "x" * 40, "1001", None, "e" * 400, "\x1b[2J" + "d" * 400))
    writer.push(timeline(1))
    assert writer.flush(20)
    writer.close()
    [entry] = store.audit()
    assert (len(entry.action), len(entry.result), len(entry.detail)) == (16, 256, 256)
    assert store.get("call-0001") == timeline(1)


def test_the_transcription_backlog_and_search_on_postgresql(postgres) -> None:
    """The same SQL as on SQLite: two workers never take one row, a failure waits its turn, the search ignores
    spaces and takes % literally, flagged rows are the ones with flags."""
    from recorder.archive import Archived
    from tickets.transcripts import RETRY_MS, Transcripts

    store = fresh_store(postgres)
    store.save_recordings([Archived(f"/rec/{n}.opus", f"call-{n}", "call", None, "opus", 1, 1, "0" * 64, 1000 + n)
                           for n in range(4)], transcribe=True)
    one, other = Transcripts(store), Transcripts(TicketStore(postgres.url))
    jobs = [one.claim(5000), other.claim(5000), one.claim(5000), other.claim(5000)]
    assert [job.call_id for job in jobs] == ["call-0", "call-1", "call-2", "call-3"] and one.claim(5000) is None
    assert not one.failed(jobs[0], "unreadable", attempts=2, now_ms=5000)
    assert other.claim(5000 + RETRY_MS).call_id == "call-0"
    said = [{"speaker": "citizen", "start_ms": 0, "end_ms": 1, "text": "水费 100% 要 投诉", "words": []}]
    one.done(jobs[1], said, "水费 100% 要 投诉", [{"category": "escalation", "word": "投诉"}], 6000)
    one.done(jobs[2], said, "水费 100% 要 投诉", [], 6000)
    assert [t.call_id for t in one.search("0%要投诉")] == ["call-2", "call-1"] and one.search("_") == []
    assert [t.call_id for t in one.search("投诉", flagged=True)] == ["call-1"]
