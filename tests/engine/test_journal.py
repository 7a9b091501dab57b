"""The embedded journal: one appended log that a killed engine leaves readable and a long-running one keeps small."""

from __future__ import annotations

from pathlib import Path

from engine.journal import FolderJournal


def test_the_last_change_of_a_key_wins_and_a_dropped_key_is_gone(tmp_path: Path) -> None:
    journal = FolderJournal(tmp_path)
    journal.put("agents", "1001", '{"state": "ready"}')
    journal.put("agents", "1001", '{"state": "on_call"}')
    journal.put("calls", "a/b c", '{"call_id": "a/b c"}')
    journal.drop("calls", "a/b c")
    assert FolderJournal(tmp_path).load("agents") == {"1001": {"state": "on_call"}}
    assert FolderJournal(tmp_path).load("calls") == {}


def test_a_line_cut_short_by_a_kill_is_ignored_and_the_next_engine_appends_after_it(tmp_path: Path) -> None:
    journal = FolderJournal(tmp_path)
    journal.put("agents", "1001", '{"state": "ready"}')
    with open(tmp_path / FolderJournal.LOG, "ab") as log:
        log.write(b'["agents","1002","{\\"state\\": \\"rea')  # killed in the middle of an append
    after = FolderJournal(tmp_path)
    assert after.load("agents") == {"1001": {"state": "ready"}}
    after.put("agents", "1003", '{"state": "not_ready"}')
    assert FolderJournal(tmp_path).load("agents") == {"1001": {"state": "ready"}, "1003": {"state": "not_ready"}}


def test_the_log_is_compacted_to_what_is_live(tmp_path: Path) -> None:
    journal = FolderJournal(tmp_path)
    journal.COMPACT_AT = 4096
    journal.put("agents", "1001", '{"state": "ready"}')
    for n in range(2000):  # a day of calls, each written several times and dropped at its end
        journal.put("calls", f"call-{n}", '{"call_id": "%d", "ivr_path": ["main"]}' % n)
        journal.drop("calls", f"call-{n}")
    journal.put("calls", "live", '{"call_id": "live"}')
    size = (tmp_path / FolderJournal.LOG).stat().st_size
    assert size < 4 * 4096
    again = FolderJournal(tmp_path)
    assert again.load("agents") == {"1001": {"state": "ready"}} and again.load("calls") == {"live": {"call_id": "live"}}
    assert again.engine_seen() is None
