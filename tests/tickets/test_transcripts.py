"""The ASR backlog in the ticket store: recordings join it with their rows, durable across processes, taken oldest
first and by one worker only; a failure is tried again later, then marked failed with the reason; a worker that
died loses its row after the lease. Transcripts are searched with spaces ignored."""

from __future__ import annotations

from pathlib import Path

from recorder.archive import Archived
from tickets.store import TicketStore
from tickets.transcripts import LEASE_MS, RETRY_MS, Transcripts, said


def kept(n: int, problem: str | None = None) -> Archived:
    return Archived(f"/rec/call-{n}.opus", f"call-{n}", "call", "default", "opus", 100, 1000, "ab" * 32, 1000 + n,
                    problem)


def store_at(tmp_path: Path) -> TicketStore:
    store = TicketStore(f"sqlite:///{tmp_path}/tickets.db")
    store.migrate()
    return store


def test_recordings_join_the_backlog_once_and_it_survives_a_new_process(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    store.save_recordings([kept(1), kept(2), kept(3, problem="missing: the switch wrote no file")], transcribe=True)
    store.save_recordings([kept(1)], transcribe=True)  # archived again after a restart: keeps its place
    store.save_recordings([kept(4)])  # ASR off: not queued
    backlog = Transcripts(store_at(tmp_path))  # another process, the same database
    assert backlog.backlog() == {"pending": 2, "working": 0, "done": 0, "failed": 0, "oldest_queued_ms": 1001}
    first, second = backlog.claim(5000), backlog.claim(5000)
    assert (first.call_id, second.call_id, backlog.claim(5000)) == ("call-1", "call-2", None)  # in order, each once


def test_two_workers_never_take_the_same_row(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    store.save_recordings([kept(n) for n in range(6)], transcribe=True)
    one, other = Transcripts(store), Transcripts(store_at(tmp_path))
    taken = [worker.claim(5000) for _ in range(3) for worker in (one, other)]
    assert sorted(job.call_id for job in taken) == [f"call-{n}" for n in range(6)]


def test_a_failure_is_tried_again_later_then_failed_for_good_with_the_reason(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    store.save_recordings([kept(1), kept(2)], transcribe=True)
    backlog = Transcripts(store)
    job = backlog.claim(5000)
    assert not backlog.failed(job, "ffmpeg could not read it", attempts=2, now_ms=5000)
    assert backlog.claim(5000).call_id == "call-2"  # the next in line goes on meanwhile
    assert backlog.claim(5000 + RETRY_MS - 1) is None  # not due yet
    again = backlog.claim(5000 + RETRY_MS)
    assert (again.call_id, again.attempts) == ("call-1", 2)
    assert backlog.failed(again, "ffmpeg could not read it", attempts=2, now_ms=5000 + RETRY_MS)
    [failed] = backlog.of("call-1")
    assert (failed.state, failed.attempts, failed.error) == ("failed", 2, "ffmpeg could not read it")
    assert backlog.claim(10 ** 12) is not None and backlog.claim(10 ** 12) is None  # call-2's lease ran out, then none


def test_a_worker_that_died_loses_its_row_after_the_lease(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    store.save_recordings([kept(1)], transcribe=True)
    backlog = Transcripts(store)
    dead = backlog.claim(5000)
    assert backlog.claim(5000 + LEASE_MS) is None
    taken = backlog.claim(5000 + LEASE_MS + 1)
    assert (taken.call_id, taken.attempts) == ("call-1", 2)
    backlog.done(dead, [], "", [], 6000)  # the dead worker's late answer changes nothing
    assert backlog.of("call-1")[0].state == "working"


def test_search_ignores_spaces_escapes_wildcards_and_can_keep_to_flagged_calls(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    store.save_recordings([kept(1), kept(2)], transcribe=True)
    backlog = Transcripts(store)
    said_1 = [{"speaker": "citizen", "start_ms": 0, "end_ms": 900, "text": "我 要 投诉 物业", "words": []},
              {"speaker": "agent", "start_ms": 1000, "end_ms": 1900, "text": "好 的 请 讲", "words": []}]
    said_2 = [{"speaker": "citizen", "start_ms": 0, "end_ms": 900, "text": "水费 100% 太 贵", "words": []}]
    backlog.done(backlog.claim(5000), said_1, "我 要 投诉 物业\n好 的 请 讲", [{"category": "escalation", "word": "投诉",
                                                                         "speaker": "citizen", "at_ms": 0}], 6000)
    backlog.done(backlog.claim(5000), said_2, "水费 100% 太 贵", [], 7000)
    assert [t.call_id for t in backlog.search("投诉物业")] == ["call-1"]
    assert [(t.call_id, u["speaker"]) for t, u in said(backlog.search("投诉"), "投诉")] == [("call-1", "citizen")]
    assert [t.call_id for t in backlog.search("0%")] == ["call-2"] and backlog.search("_") == []
    assert [t.call_id for t in backlog.search("太贵")] == ["call-2"] and backlog.search("太贵", flagged=True) == []
    assert backlog.backlog()["done"] == 2
