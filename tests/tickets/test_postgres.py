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
    writer.audit(AuditEntry(1000, "supervisor:1901", "x" * 40, "1001", None, "e" * 400, "\x1b[2J" + "d" * 400))
    writer.push(timeline(1))
    assert writer.flush(20)
    writer.close()
    [entry] = store.audit()
    assert (len(entry.action), len(entry.result), len(entry.detail)) == (16, 256, 256)
    assert store.get("call-0001") == timeline(1)
