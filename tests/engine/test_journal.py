"""The embedded journal: one appended log that a killed engine leaves readable and a long-running one keeps small;
the changes of one turn of the engine written in one append, a value given as a function serialised then."""

from __future__ import annotations

from pathlib import Path

import orjson

from engine.journal import FolderJournal


def test_the_last_change_of_a_key_wins_and_a_dropped_key_is_gone(tmp_path: Path) -> None:
    journal = FolderJournal(tmp_path)
    journal.put("agents", "1001", '{"state": "ready"}')
    journal.put("agents", "1001", '{"state": "on_call"}')
    journal.put("calls", "a/b c", '{"call_id": "a/b c"}')
    journal.drop("calls", "a/b c")
    assert journal.flush(5)
    assert FolderJournal(tmp_path).load("agents") == {"1001": {"state": "on_call"}}
    assert FolderJournal(tmp_path).load("calls") == {}


def test_a_line_cut_short_by_a_kill_is_ignored_and_the_next_engine_appends_after_it(tmp_path: Path) -> None:
    journal = FolderJournal(tmp_path)
    journal.put("agents", "1001", '{"state": "ready"}')
    assert journal.flush(5)
    with open(tmp_path / FolderJournal.LOG, "ab") as log:
        log.write(b'["agents","1002","{\\"state\\": \\"rea')  # killed in the middle of an append
    after = FolderJournal(tmp_path)
    assert after.load("agents") == {"1001": {"state": "ready"}}
    after.put("agents", "1003", '{"state": "not_ready"}')
    assert after.flush(5)
    assert FolderJournal(tmp_path).load("agents") == {"1001": {"state": "ready"}, "1003": {"state": "not_ready"}}


def test_the_log_is_compacted_to_what_is_live(tmp_path: Path) -> None:
    journal = FolderJournal(tmp_path)
    journal.COMPACT_AT = 4096
    journal.put("agents", "1001", '{"state": "ready"}')
    for n in range(2000):  # a day of calls, each written several times and dropped at its end
        journal.put("calls", f"call-{n}", '{"call_id": "%d", "ivr_path": ["main"]}' % n)
        assert journal.flush(5)
        journal.drop("calls", f"call-{n}")
        assert journal.flush(5)
    journal.put("calls", "live", '{"call_id": "live"}')
    assert journal.flush(5)
    size = (tmp_path / FolderJournal.LOG).stat().st_size
    assert size < 4 * 4096
    again = FolderJournal(tmp_path)
    assert again.load("agents") == {"1001": {"state": "ready"}} and again.load("calls") == {"live": {"call_id": "live"}}
    assert again.engine_seen() is None


def test_the_changes_of_one_turn_are_one_append_and_a_function_is_called_once_when_written(tmp_path: Path) -> None:
    journal, record, calls = FolderJournal(tmp_path), {"ivr_path": []}, []

    def to_json() -> str:
        calls.append(list(record["ivr_path"]))
        return orjson.dumps(record).decode()

    for step in ("main", "1", "queue"):  # three changes of one call before the engine yields
        record["ivr_path"].append(step)
        journal.put("calls", "c1", to_json)
    journal.put("agents", "1001", '{"state": "ready"}')
    assert journal.flush(5)
    assert calls == [["main", "1", "queue"]]
    lines = (tmp_path / FolderJournal.LOG).read_bytes().splitlines()
    assert len(lines) == 2
    assert FolderJournal(tmp_path).load("calls") == {"c1": {"ivr_path": ["main", "1", "queue"]}}
