"""Records reach the store in order, exactly once, even when the store is down or the engine restarts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import pytest
from sqlalchemy.exc import OperationalError

from calls.record import CallTimeline
from tickets.agent_states import StateChange
from tickets.audit import AuditEntry
from tickets.region import caller_region
from tickets.store import TicketStore
from tickets.writer import RecordWriter


class FlakyStore(TicketStore):
    """A real SQLite store whose database 'goes down' while ``down`` is set."""

    down = False
    saves: list[str] = []

    def save_all(self, records: Sequence[tuple[CallTimeline, str | None]], audit: Sequence[AuditEntry] = (),
                 states: Sequence[StateChange] = ()) -> int:
        if self.down:
            raise OperationalError("INSERT", {}, ConnectionRefusedError("database is down"))
        self.saves.extend(record.call_id for record, _ in records)
        return super().save_all(records, audit, states)


@pytest.fixture
def store(tmp_path: Path) -> FlakyStore:
    s = FlakyStore(f"sqlite:///{tmp_path}/tickets.db")
    s.migrate()
    s.saves = []
    return s


def test_records_arrive_in_order_with_region(store: FlakyStore, tmp_path: Path, timeline) -> None:
    writer = RecordWriter(store, tmp_path / "spool")
    writer.compact_at = 1  # start the spool afresh once it is all delivered
    for n in range(20):
        writer.push(timeline(n))
    assert writer.flush(10)
    assert store.call_ids() == [f"call-{n:04d}" for n in range(20)]
    assert store.get("call-0003") == timeline(3)
    assert writer.pending() == 0 and (tmp_path / "spool" / "records.jsonl").stat().st_size == 0  # compacted
    writer.close()


def test_a_pushed_record_is_in_the_spool_at_once_and_synced_before_it_is_stored(store: FlakyStore, tmp_path: Path,
                                                                                 timeline, monkeypatch) -> None:
    """An engine killed right after a call ends leaves its record to the next one; a power cut can only take what
    has not been delivered yet, since the delivery syncs the spool before storing."""
    import os

    synced_with_stored: list[list[str]] = []
    sync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced_with_stored.append(store.call_ids()), sync(fd))[1])
    writer = RecordWriter(store, tmp_path / "spool")
    writer.push(timeline(0))  # no yield from here to the read
    assert (tmp_path / "spool" / "records.jsonl").read_bytes() == timeline(0).to_json().encode() + b"\n"
    assert writer.flush(10)
    assert synced_with_stored[0] == [] and store.call_ids() == ["call-0000"]
    writer.close()


def test_store_down_keeps_records_on_disk_then_delivers_exactly_once(store: FlakyStore, tmp_path: Path, timeline) -> None:
    store.down = True
    writer = RecordWriter(store, tmp_path / "spool", retry_s=0.01)
    for n in range(5):
        writer.push(timeline(n))
    assert not writer.flush(0.2)
    assert writer.pending() == 5 and store.call_ids() == []
    store.down = False
    assert writer.flush(10)
    assert store.call_ids() == [f"call-{n:04d}" for n in range(5)] and store.saves == store.call_ids()
    writer.close()


def test_a_restarted_engine_replays_the_spool(store: FlakyStore, tmp_path: Path, timeline) -> None:
    store.down = True
    first = RecordWriter(store, tmp_path / "spool", retry_s=0.01)
    for n in range(3):
        first.push(timeline(n))
    first.close()  # the engine stops with three records undelivered
    first.close()  # and is stopped again: nothing more happens
    store.down = False
    second = RecordWriter(store, tmp_path / "spool")
    assert second.pending() == 3
    assert second.flush(10)
    assert store.call_ids() == ["call-0000", "call-0001", "call-0002"]
    second.close()


def test_replay_after_a_crash_between_commit_and_checkpoint_stores_once(store: FlakyStore, tmp_path: Path, timeline) -> None:
    store.save(timeline(0))  # committed, but the checkpoint never moved
    writer = RecordWriter(store, tmp_path / "spool")
    writer.push(timeline(0))
    writer.push(timeline(1))
    assert writer.flush(10)
    assert store.call_ids() == ["call-0000", "call-0001"]
    writer.close()


def test_a_record_spooled_during_compaction_is_still_delivered(store: FlakyStore, tmp_path: Path, timeline) -> None:
    """Compaction runs in the threadpool, so a push can land while it runs; the writer must see it."""
    writer = RecordWriter(store, tmp_path / "spool")
    writer.compact_at = 1
    compact, late = writer._compact, timeline(1)

    def compact_while_a_push_lands() -> None:
        compact()
        if store.call_ids() == ["call-0000"]:  # the first compaction: a record arrives in the middle of it
            writer._append(late.to_json().encode() + b"\n")

    writer._compact = compact_while_a_push_lands  # type: ignore[method-assign]
    writer.push(timeline(0))
    assert writer.flush(10)
    assert store.call_ids() == ["call-0000", "call-0001"] and writer.pending() == 0
    writer.close()


def test_caller_region_in_chinese() -> None:
    assert caller_region("13800138000") == "北京市"
    assert caller_region("+8607715551234") == "广西壮族自治区南宁市、崇左市"
    assert caller_region("19912345678") == "中国"
    assert caller_region("not a number") is None


def test_callback_list_holds_real_abandons_only(store: FlakyStore, tmp_path: Path, timeline) -> None:
    from dataclasses import replace

    from click.testing import CliRunner

    from cli import main

    now_ms = int(time.time() * 1000)
    base = timeline(0)
    gave_up = replace(base, call_id="gave-up", switch_entry_ms=now_ms - 60_000, queue_entry_ms=now_ms - 50_000,
                      hangup_ms=now_ms - 20_000, answered_ms=None, agent=None, exit_reason="abandoned", offers=[])
    quick = replace(gave_up, call_id="quick", hangup_ms=now_ms - 48_000)  # 2 s: inside the quick-abandon threshold
    answered = replace(base, call_id="answered", caller_number="13900139000", switch_entry_ms=now_ms - 30_000)
    for record in (gave_up, quick, answered):
        store.save(record)
    assert [c.call_id for c in store.missed(now_ms - 3_600_000, 5_000)] == ["gave-up"]
    config_file = tmp_path / "hotline.yaml"
    config_file.write_text(f"centre: {{name: t}}\nswitch: {{password: a-strong-password-1}}\ntickets: {{url: '{store.url}'}}\n")
    result = CliRunner().invoke(main, ["--config", str(config_file), "callbacks"])
    assert result.exit_code == 0, result.output
    assert "13800138000" in result.output and "abandoned after 30 s" in result.output and "1 caller(s)" in result.output
    done = CliRunner().invoke(main, ["--config", str(config_file), "callbacks", "done", "gave-up", "--by", "1001",
                                     "--note", "reached; ticket 2026112200017"])
    assert done.exit_code == 0 and "called back" in done.output, done.output
    assert store.missed(now_ms - 3_600_000, 5_000) == []
    again = CliRunner().invoke(main, ["--config", str(config_file), "callbacks", "done", "gave-up", "--by", "1001"])
    assert "already called back" in again.output
    unknown = CliRunner().invoke(main, ["--config", str(config_file), "callbacks", "done", "nope", "--by", "1001"])
    assert unknown.exit_code == 1 and "no call record 'nope'" in unknown.output


def test_callback_list_shows_a_number_once_and_not_after_a_later_answered_call(store: FlakyStore, timeline) -> None:
    from dataclasses import replace

    now_ms = int(time.time() * 1000)
    abandon = replace(timeline(0), call_id="a1", switch_entry_ms=now_ms - 90_000, queue_entry_ms=now_ms - 89_000,
                      hangup_ms=now_ms - 60_000, answered_ms=None, agent=None, exit_reason="abandoned", offers=[])
    again = replace(abandon, call_id="a2", switch_entry_ms=now_ms - 50_000, queue_entry_ms=now_ms - 49_000,
                    hangup_ms=now_ms - 20_000)
    other = replace(abandon, call_id="b1", caller_number="13900139000")
    for record in (abandon, again, other):
        store.save(record)
    assert [c.call_id for c in store.missed(now_ms - 3_600_000, 5_000)] == ["a2", "b1"]
    store.save(replace(timeline(0), call_id="b2", caller_number="13900139000", switch_entry_ms=now_ms - 10_000))
    assert [c.call_id for c in store.missed(now_ms - 3_600_000, 5_000)] == ["a2"]


def test_audit_entries_wait_with_the_records_while_the_store_is_down_and_arrive_once(store: FlakyStore, tmp_path: Path,
                                                                                  timeline) -> None:
    """A supervisor's action while the database is down is not lost: it waits in the spool beside the call records
    and is stored once the database is back, once even if the spool is replayed."""
    writer = RecordWriter(store, tmp_path / "spool", retry_s=0.05)
    store.down = True
    entry = AuditEntry(1000, "supervisor:1901", "hangup", "1001", "call-1", "done")
    writer.entry(entry)
    writer.push(timeline(1))
    assert writer.pending() == 2 and store.audit() == []
    store.down = False
    assert writer.flush(10)
    writer.close()
    again = RecordWriter(store, tmp_path / "spool2", retry_s=0.05)  # the same entry replayed: stored once
    again.entry(entry)
    assert again.flush(10)
    again.close()
    assert store.audit() == [entry] and store.audit(actor="supervisor:1901", action="hangup") == [entry]
    assert store.audit(agent="1002") == [] and store.audit(since_ms=1001) == []
