"""Every answered call is recorded, both legs in one two-channel WAV in a folder per tenant and day, and the record
points at it; once the call is over the recording is archived: Opus by ffmpeg, its size, duration and SHA-256 in
the ticket store, the WAV removed. A missing or unreadable file is recorded with its problem, never skipped, and
WAVs an engine left behind are archived by the next one."""

from __future__ import annotations

import hashlib
import wave
import json
import subprocess
from pathlib import Path

import gevent

from recorder.archive import archive


def stereo_wav(path: Path, frames: bytes) -> None:
    """A two-channel 8 kHz WAV as FreeSWITCH writes a call's."""
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(2)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(frames)


def probe(path: Path) -> dict:
    shown = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
                           capture_output=True, check=True)
    return json.loads(shown.stdout)["streams"][0]


def test_an_answered_call_is_recorded_in_stereo_then_archived_as_evidence(switch, make_engine) -> None:
    switch.set_endpoint("user/1001", answer_after=0.0)
    engine = make_engine(agents=("1001",))
    engine.queueing.command("1001", "login")
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="1")
    assert switch.wait(lambda: call.bridged_to is not None, timeout=10)
    assert call.variables.get("RECORD_STEREO") == "true"
    assert switch.wait(lambda: Path(engine.book.get(call.uuid).record.recording or "/none").parent.exists(), timeout=5)
    call.hangup()
    assert switch.wait(lambda: any(r.call_id == call.uuid for r in engine.records), timeout=10)
    record = next(r for r in engine.records if r.call_id == call.uuid)
    wav = Path(record.recording)
    assert wav.name == f"{call.uuid}.wav" and wav.parent.parent.name == "default"  # <folder>/<tenant>/<day>/
    gevent.joinall(engine.recording.archiving, timeout=30)
    [kept] = engine.tickets.recordings(call.uuid)
    opus = Path(kept.path)
    assert (kept.kind, kept.codec, kept.problem, opus) == ("call", "opus", None, wav.with_suffix(".opus"))
    assert opus.exists() and not wav.exists()
    assert kept.bytes == opus.stat().st_size and kept.sha256 == hashlib.sha256(opus.read_bytes()).hexdigest()
    stream = probe(opus)
    assert (stream["codec_name"], stream["channels"]) == ("opus", 2)  # caller and agent kept apart
    assert abs(float(stream["duration"]) * 1000 - kept.duration_ms) <= 40  # as long as the WAV was (Opus: 20 ms frames)


def test_with_include_ivr_the_call_is_recorded_from_the_callers_answer_in_one_file(switch, make_engine) -> None:
    switch.set_endpoint("user/1001", answer_after=0.0)
    engine = make_engine(agents=("1001",), recorder={"include_ivr": True})
    engine.queueing.command("1001", "login")
    in_menus = switch.place_call(caller_id_number="13800138001", destination_number="12345")  # no key yet
    def recording() -> str | None:
        call = engine.book.get(in_menus.uuid)
        return call.record.recording if call is not None else None

    assert switch.wait(lambda: recording() and Path(recording()).parent.exists(), timeout=5)  # while in the IVR
    in_menus.hangup()
    answered = switch.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="1")
    assert switch.wait(lambda: answered.bridged_to is not None, timeout=10)
    answered.hangup()
    assert switch.wait(lambda: len(engine.records) == 2, timeout=10)
    by_caller = {r.caller_number: r for r in engine.records}
    assert by_caller["13800138001"].exit_reason == "ivr_abandoned" and by_caller["13800138001"].recording
    gevent.joinall(engine.recording.archiving, timeout=30)
    for record in by_caller.values():  # one file each, from the answer: the agent's bridge started no second one
        [kept] = engine.tickets.recordings(record.call_id)
        assert (kept.kind, kept.problem, Path(kept.path).stem) == ("call", None, record.call_id)
    starts = [line for _, line in switch.received if line.startswith(f"api uuid_record {answered.uuid} start")]
    assert len(starts) == 1


def test_a_missing_or_unreadable_recording_is_reported_not_skipped(tmp_path: Path) -> None:
    missing = archive(tmp_path / "gone.wav", "call-1", "call", "default", 1000)
    assert missing.problem == "missing: the switch wrote no file" and missing.sha256 == ""
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    unreadable = archive(broken, "call-2", "call", "default", 1000)
    assert unreadable.problem.startswith("not compressed: ") and unreadable.codec == "wav"
    assert broken.exists() and not broken.with_suffix(".opus").exists()  # the evidence is kept as it was
    assert unreadable.sha256 == hashlib.sha256(broken.read_bytes()).hexdigest()


def test_recordings_an_engine_left_behind_are_archived_by_the_next(switch, make_engine, tmp_path: Path) -> None:
    """A WAV of a call that is over, found at start (the engine stopped before archiving it)."""


    day = tmp_path / "recordings" / "default" / "2026-11-30"
    day.mkdir(parents=True)
    left = day / "00000000-0000-4000-8000-000000000001.wav"
    stereo_wav(left, b"\x00\x00\x00\x00" * 8000)
    engine = make_engine(agents=("1001",))
    assert engine.reconciled.wait(10)
    assert switch.wait(lambda: bool(engine.recording.archiving), timeout=5)
    gevent.joinall(engine.recording.archiving, timeout=30)
    [kept] = engine.tickets.recordings("00000000-0000-4000-8000-000000000001")
    assert (kept.tenant, kept.duration_ms, kept.codec) == ("default", 1000, "opus") and not left.exists()


def test_an_unanswered_call_has_no_recording(switch, make_engine) -> None:
    engine = make_engine(agents=("1001",))
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="1")
    assert switch.wait(lambda: call.uuid in engine.queueing.core.callers, timeout=10)
    call.hangup()
    assert switch.wait(lambda: any(r.call_id == call.uuid for r in engine.records), timeout=10)
    assert next(r for r in engine.records if r.call_id == call.uuid).recording is None


def test_the_cli_lists_and_verifies_recordings_and_names_a_changed_or_missing_one(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli import main
    from tickets.store import TicketStore

    url = f"sqlite:///{tmp_path}/tickets.db"
    store = TicketStore(url)
    store.migrate()
    files = []
    for n in range(3):
        wav = tmp_path / f"call-{n}.wav"
        stereo_wav(wav, b"\x00\x00\x01\x00" * 4000)
        files.append(archive(wav, f"call-{n}", "call", "default", 1000 + n))
    store.save_recordings(files)
    config = tmp_path / "hotline.yaml"
    config.write_text(f"centre: {{name: t}}\nswitch: {{password: a-strong-password-1}}\ntickets: {{url: '{url}'}}\n",
                      encoding="utf-8")

    def hotline(*args: str):
        return CliRunner().invoke(main, ["--config", str(config), "recordings", *args])

    listed = hotline("list")
    assert listed.exit_code == 0 and [line.split()[0] for line in listed.output.splitlines()] == ["call-0", "call-1", "call-2"]
    assert hotline("verify").output.strip().endswith("3 of 3 recording(s) intact")
    Path(files[1].path).write_bytes(Path(files[1].path).read_bytes()[:-1] + b"x")  # tampered with
    Path(files[2].path).unlink()
    checked = hotline("verify")
    assert checked.exit_code == 1
    assert f"call-1  {files[1].path}: changed" in checked.output and f"call-2  {files[2].path}: missing" in checked.output
    assert checked.output.strip().endswith("1 of 3 recording(s) intact")
    assert hotline("list", "--call", "call-0").output.count("\n") == 1


def test_the_retention_policy_deletes_old_recordings_per_tenant_and_keeps_their_rows(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli import main
    from recorder.archive import DAY_MS
    from tickets.store import TicketStore

    url = f"sqlite:///{tmp_path}/tickets.db"
    store = TicketStore(url)
    store.migrate()
    now_ms = 400 * DAY_MS
    kept = []
    for n, (tenant, age_days) in enumerate((("nanning", 100), ("nanning", 20), ("enterprise", 100))):
        wav = tmp_path / f"call-{n}.wav"
        stereo_wav(wav, b"\x00\x00\x01\x00" * 800)
        kept.append(archive(wav, f"call-{n}", "call", tenant, now_ms - age_days * DAY_MS))
    store.save_recordings(kept)
    config = tmp_path / "hotline.yaml"  # 30 days in general, 365 for enterprise
    config.write_text(f"centre: {{name: t}}\nswitch: {{password: a-strong-password-1}}\ntickets: {{url: '{url}'}}\n"
                      "recorder: {retention_days: 30, retention: {enterprise: 365}}\n"
                      "ivr: {tenants: {nanning: {}, enterprise: {regions: [\"北京市\"]}}}\n", encoding="utf-8")

    def hotline(*args: str):
        return CliRunner().invoke(main, ["--config", str(config), "recordings", *args])

    import time
    from unittest import mock

    with mock.patch.object(time, "time", return_value=now_ms / 1000):
        dry = hotline("purge", "--dry-run")
        assert dry.exit_code == 0 and "call-0  nanning" in dry.output and "1 recording(s) would be deleted" in dry.output
        assert Path(kept[0].path).exists()
        done = hotline("purge")
    assert done.exit_code == 0 and "1 recording(s) deleted" in done.output
    assert not Path(kept[0].path).exists() and Path(kept[1].path).exists() and Path(kept[2].path).exists()
    rows = {item.call_id: item.purged_ms for item in store.recordings()}
    assert rows == {"call-0": now_ms, "call-1": None, "call-2": None}  # what went, and when, stays on record


def test_a_recording_is_streamed_with_ranges_to_authorised_tokens_and_every_retrieval_audited(switch, make_engine) -> None:
    """After the call: a supervisor of the agent's team gets the Opus file whole and in ranges (a browser's player
    seeking), one of another team and an agent's token get nothing, and each attempt is in the audit log."""
    from pydantic import SecretStr

    from config.acd import Token
    from tests.acd.test_api import call as api

    switch.set_endpoint("user/1001", answer_after=0.0)
    team, other = "supervisor-of-a-token-abcdefghij", "supervisor-of-b-token-abcdefghij"
    engine = make_engine(agents=("1001",), teams={"1001": "a"},
                         supervisors={"1901": {"contact": "user/1901", "teams": ["a"]},
                                      "1902": {"contact": "user/1902", "queues": ["general"]}},
                         tokens=[Token(token=SecretStr(team), role="supervisor", supervisor="1901"),
                                 Token(token=SecretStr(other), role="supervisor", supervisor="1902"),
                                 Token(token=SecretStr("agent-1001-token-abcdefghijkl"), role="agent", agent="1001")])
    engine.queueing.command("1001", "login")
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="1")
    assert switch.wait(lambda: call.bridged_to is not None, timeout=10)
    call.hangup()
    assert switch.wait(lambda: any(r.call_id == call.uuid for r in engine.records), timeout=10)
    gevent.joinall(engine.recording.archiving, timeout=30)
    assert engine.writer.flush(10)
    [kept] = engine.tickets.recordings(call.uuid)
    whole = Path(kept.path).read_bytes()
    host, port = engine.api.address[:2]

    def get(token: str, ranged: str = "") -> tuple[int, dict[str, str], bytes]:
        import urllib.request
        from urllib.error import HTTPError

        request = urllib.request.Request(f"http://{host}:{port}/recordings/{call.uuid}/call",
                                         headers={"Authorization": f"Bearer {token}", **({"Range": ranged} if ranged else {})})
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, dict(reply.headers), reply.read()
        except HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    status, headers, body = gevent.get_hub().threadpool.apply(get, (team,))
    assert (status, headers["Content-Type"], body) == (200, "audio/ogg", whole)
    status, headers, body = gevent.get_hub().threadpool.apply(get, (team, "bytes=10-19"))
    assert (status, headers["Content-Range"], body) == (206, f"bytes 10-19/{len(whole)}", whole[10:20])
    status, _, body = gevent.get_hub().threadpool.apply(get, (team, "bytes=-5"))
    assert (status, body) == (206, whole[-5:])
    assert gevent.get_hub().threadpool.apply(get, (team, f"bytes={len(whole)}-"))[0] == 416
    assert gevent.get_hub().threadpool.apply(get, (other,))[0] == 200  # the call came through their queue
    assert gevent.get_hub().threadpool.apply(get, ("agent-1001-token-abcdefghijkl",))[0] == 403
    assert api(engine, "GET", f"/recordings/{call.uuid}", team)[1][0]["sha256"] == kept.sha256
    config = Path(kept.path).parent / "hotline.yaml"  # the CLI fetches through the same API
    config.write_text(f"centre: {{name: t}}\nswitch: {{password: a-strong-password-1}}\n"
                      f"acd:\n  api: {{listen: '{host}:{port}'}}\n", encoding="utf-8")
    from click.testing import CliRunner

    from cli import main

    fetched = Path(kept.path).parent / "fetched.opus"
    got = CliRunner().invoke(main, ["--config", str(config), "recordings", "get", call.uuid, "-o", str(fetched),
                                    "--token", team])
    assert got.exit_code == 0 and fetched.read_bytes() == whole
    refused = CliRunner().invoke(main, ["--config", str(config), "recordings", "get", call.uuid, "-o", str(fetched),
                                        "--token", "agent-1001-token-abcdefghijkl"])
    assert refused.exit_code == 1 and "403: recordings are for supervisors' and engineers' tokens" in refused.output
    assert engine.writer.flush(10)
    assert [(e.actor, e.action, e.call_id, e.result, e.detail) for e in engine.tickets.audit(action="recording")] == [
        ("supervisor:1901", "recording", call.uuid, "done", "call"),
        ("supervisor:1901", "recording", call.uuid, "done", "call bytes=10-19"),
        ("supervisor:1901", "recording", call.uuid, "done", "call bytes=-5"),
        ("supervisor:1901", "recording", call.uuid, "416 Range Not Satisfiable", f"call bytes={len(whole)}-"),
        ("supervisor:1902", "recording", call.uuid, "done", "call"),
        ("agent:1001", "recording", call.uuid, "recordings are for supervisors' and engineers' tokens", "call"),
        ("supervisor:1901", "recording", call.uuid, "done", "call"),
        ("agent:1001", "recording", call.uuid, "recordings are for supervisors' and engineers' tokens", "call")]
