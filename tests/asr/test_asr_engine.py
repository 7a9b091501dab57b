"""Transcription in the engine, on the double and the real recogniser: a recorded call's archived recording is
transcribed by a worker process, stored with the record, its keyword raised to the supervisors who may see the
call; a backlog left by an earlier engine is drained by the next, in order, a recording that cannot be read
marked failed with why; a worker that dies is replaced; the CLI searches and shows the transcripts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from cli import main
from config.acd import Token
from korean_speech import AGENT, CITIZEN, VOCABULARY, two_channel
from recorder.archive import archive
from tests.acd.test_api import call as api
from tickets.store import TicketStore
from tickets.transcripts import Transcripts


def now_ms() -> int:
    return int(time.time() * 1000)

TEAM_A = "supervisor-1901-token-abcdefghij"
TEAM_B = "supervisor-1902-token-abcdefghij"


@pytest.fixture
def asr(ko_model: str) -> dict[str, object]:
    return {"enabled": True, "model": ko_model, "vocabulary": VOCABULARY, "keywords": {"complaint": ["신고"]},
            "attempts": 1}


def transcribed(switch, engine, call_id: str, count: int = 1):
    """The call's transcripts once ``count`` are finished (done or failed)."""
    backlog = Transcripts(engine.tickets)
    assert switch.wait(lambda: sum(t.state in ("done", "failed") for t in backlog.of(call_id)) == count, timeout=120)
    return backlog.of(call_id)


def test_a_call_is_transcribed_by_a_worker_and_its_keyword_reaches_its_supervisors(switch, make_engine, speech,
                                                                                    asr) -> None:
    switch.set_endpoint("user/1001", answer_after=0.0, says=str(speech(AGENT)))
    engine = make_engine(teams={"1001": "a", "1002": "b"}, asr=asr,
                         supervisors={"1901": {"contact": "user/1901", "teams": ["a"]},
                                      "1902": {"contact": "user/1902", "teams": ["b"]}},
                         tokens=[Token(token=SecretStr(TEAM_A), role="supervisor", supervisor="1901"),
                                 Token(token=SecretStr(TEAM_B), role="supervisor", supervisor="1902")])
    engine.queueing.command("1001", "login")
    caller = switch.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="1",
                               says=str(speech(CITIZEN)))
    assert switch.wait(lambda: caller.bridged_to is not None, timeout=10)
    caller.hangup()
    [transcript] = transcribed(switch, engine, caller.uuid)
    assert (transcript.kind, transcript.state, transcript.attempts) == ("call", "done", 1)
    speakers = {u["speaker"]: u for u in transcript.dialogue}
    assert set(speakers) == {"citizen", "agent"} and "신고" in speakers["citizen"]["text"].split()
    assert all(w[1] <= w[2] for u in transcript.dialogue for w in u["words"])  # each word with its start and end
    assert [(f["category"], f["word"], f["speaker"]) for f in transcript.flags] == [("complaint", "신고", "citizen")]
    assert engine.writer.flush(10) and engine.tickets.get(caller.uuid).agent == "1001"

    def alerts(token: str) -> list[dict]:
        status, floor = api(engine, "GET", "/floor", token)
        assert status == 200
        return floor["alerts"]

    assert switch.wait(lambda: alerts(TEAM_A), timeout=10)
    [alert] = alerts(TEAM_A)
    assert (alert["call"], alert["agent"], alert["words"], alert["categories"], alert["caller"]) == (
        caller.uuid, "1001", ["신고"], ["complaint"], "13800138000")
    assert alerts(TEAM_B) == []  # another team's supervisor is not told of this call


def test_a_backlog_an_engine_left_is_drained_by_the_next_in_order_and_a_bad_file_fails_with_why(
        switch, make_engine, speech, asr, tmp_path: Path) -> None:
    store = TicketStore(f"sqlite:///{tmp_path}/tickets-0.db")  # the database the engine below opens
    store.migrate()
    kept = [archive(two_channel(tmp_path / f"{call_id}.wav", speech(CITIZEN), speech(AGENT)), call_id, "call",
                    "default", now_ms()) for call_id in ("call-0", "call-broken", "call-1")]  # now: not due for the purge
    broken = Path(kept[1].path)
    broken.write_bytes(b"OggS" + bytes(100))  # the disk damaged it after it was archived
    store.save_recordings(kept, transcribe=True)
    engine = make_engine(asr=asr)
    first, bad, second = (transcribed(switch, engine, call_id)[0] for call_id in ("call-0", "call-broken", "call-1"))
    assert (first.state, bad.state, second.state) == ("done", "failed", "done")
    assert first.done_ms <= bad.done_ms <= second.done_ms  # in the order they were queued
    assert bad.error.startswith(f"ffmpeg could not read {broken}: ")
    assert Transcripts(engine.tickets).backlog() == {"pending": 0, "working": 0, "done": 2, "failed": 1,
                                                     "oldest_queued_ms": None}


def test_a_worker_that_dies_is_replaced_and_the_cli_finds_what_it_transcribed(switch, make_engine, speech, asr,
                                                                              tmp_path: Path) -> None:
    engine = make_engine(asr=asr)
    assert engine.transcription.ready.wait(60)
    [worker] = engine.transcription.workers
    worker.kill()
    assert switch.wait(lambda: engine.transcription.workers and engine.transcription.workers[0] is not worker,
                       timeout=30)
    kept = archive(two_channel(tmp_path / "call.wav", speech(CITIZEN), speech(AGENT)), "call-7", "call", "default",
                   now_ms())
    engine.tickets.save_recordings([kept], transcribe=True)
    engine.transcription._wake()
    [transcript] = transcribed(switch, engine, "call-7")
    assert transcript.state == "done"
    config = tmp_path / "hotline.yaml"
    config.write_text(f"centre: {{name: t}}\nswitch: {{password: a-strong-password-1}}\n"
                      f"tickets: {{url: '{engine.settings.tickets.url}'}}\n", encoding="utf-8")

    def hotline(*args: str):
        return CliRunner().invoke(main, ["--config", str(config), "transcripts", *args])

    found = hotline("search", "민원신고")  # spaces ignored
    assert found.exit_code == 0 and found.output.splitlines()[-1] == "1 call(s)"
    assert found.output.startswith("call-7  call    [00:0") and " citizen: " in found.output
    shown = hotline("show", "call-7")
    assert shown.exit_code == 0 and "== call: done, tries 1" in shown.output and "ALERT complaint: 신고" in shown.output
    assert hotline("backlog").output.strip() == "pending 0, working 0, done 1, failed 0"
    missing = hotline("show", "call-none")
    assert missing.exit_code == 1 and "no transcript of call call-none" in missing.output
    assert hotline("search", "bad\x1bword").exit_code == 2
    workers = list(engine.transcription.workers)
    engine.stop()
    assert workers and all(worker.poll() is not None for worker in workers)  # none left running after the engine


def test_a_restarted_engine_shows_todays_alerts_again(switch, make_engine, asr, tmp_path: Path) -> None:
    from calls.record import CallTimeline
    from recorder.archive import Archived

    store = TicketStore(f"sqlite:///{tmp_path}/tickets-0.db")  # what an earlier engine left, for the one below
    store.migrate()
    store.save(CallTimeline("call-9", "13900139000", "12345", now_ms(), agent="1001", queue="general"))
    store.save_recordings([Archived("/rec/call-9.opus", "call-9", "call", None, "opus", 1, 1, "0" * 64, now_ms())],
                          transcribe=True)
    backlog = Transcripts(store)
    flag = {"category": "complaint", "word": "신고", "speaker": "citizen", "at_ms": 0}
    backlog.done(backlog.claim(now_ms()), [], "신고", [flag], now_ms())
    engine = make_engine(asr=asr, tokens=[Token(token=SecretStr(TEAM_A), role="supervisor")])

    def alerts() -> list[dict]:
        return api(engine, "GET", "/floor", TEAM_A)[1]["alerts"]

    assert switch.wait(alerts, timeout=10)
    assert [(a["call"], a["agent"], a["queue"], a["words"]) for a in alerts()] == [("call-9", "1001", "general", ["신고"])]
