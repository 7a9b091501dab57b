"""Every answered call is recorded, both legs in one two-channel WAV, and the record points at it."""

from __future__ import annotations

import wave
from pathlib import Path


def test_an_answered_call_is_recorded_in_stereo_and_referenced(switch, make_engine) -> None:
    switch.set_endpoint("user/1001", answer_after=0.0)
    engine = make_engine(agents=("1001",))
    engine.queueing.command("1001", "login")
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="1")
    assert switch.wait(lambda: call.bridged_to is not None, timeout=10)
    assert call.variables.get("RECORD_STEREO") == "true"
    call.hangup()
    assert switch.wait(lambda: any(r.call_id == call.uuid for r in engine.records), timeout=10)
    record = next(r for r in engine.records if r.call_id == call.uuid)
    assert record.recording and record.recording.endswith(f"{call.uuid}.wav")
    assert switch.wait(lambda: Path(record.recording).exists(), timeout=5)
    with wave.open(record.recording) as audio:
        assert audio.getnchannels() == 2


def test_an_unanswered_call_has_no_recording(switch, make_engine) -> None:
    engine = make_engine(agents=("1001",))
    call = switch.place_call(caller_id_number="13800138000", destination_number="12345", dtmf="1")
    assert switch.wait(lambda: call.uuid in engine.queueing.core.callers, timeout=10)
    call.hangup()
    assert switch.wait(lambda: any(r.call_id == call.uuid for r in engine.records), timeout=10)
    assert next(r for r in engine.records if r.call_id == call.uuid).recording is None
