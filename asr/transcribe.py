"""One recording to a dialogue: each channel decoded by ffmpeg and recognised by vosk apart, with word timestamps,
then the utterances of both merged by time. Blocking and CPU-bound: it runs in the worker processes only
(asr.worker), never on the engine's hub.

The recordings are two-channel (recorder.recording): left is the leg the recording is on, right what that leg
hears. On a call's recording that is the citizen, then the agent (or whatever the citizen hears: the IVR when the
IVR part is recorded); on a consultation's, the consulted unit, then the agent.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping, Sequence

from asr.model import sample_rate

SPEAKERS = {"call": ("citizen", "agent"), "consult": ("unit", "agent")}
"""Who is on the left and right channel of each kind of recording."""
CHUNK = 8_000
"""Bytes fed to the recogniser at a time (a quarter second at 16 kHz)."""
UNKNOWN = "[unk]"


class TranscribeError(Exception):
    """The recording could not be transcribed: the reason is stored with the job (and it is tried again)."""


@dataclass(frozen=True, slots=True)
class Utterance:
    speaker: str
    start_ms: int
    end_ms: int
    text: str
    words: tuple[tuple[str, int, int, float], ...]
    """(word, start_ms, end_ms, confidence), from the start of the recording."""


@dataclass(frozen=True, slots=True)
class Flag:
    """A keyword heard: its category (from asr.keywords), the word, who said it and when in the recording."""

    category: str
    word: str
    speaker: str
    at_ms: int


class Transcriber:
    """A loaded vosk model (seconds to load, so once per worker process) and what limits its vocabulary."""

    def __init__(self, folder: str, vocabulary: Sequence[str] = ()) -> None:
        from vosk import Model, SetLogLevel  # the worker's import: the engine never loads vosk

        SetLogLevel(-1)
        self.model = Model(folder)
        self.rate = sample_rate(folder)
        self.grammar = json.dumps([*vocabulary, UNKNOWN], ensure_ascii=False) if vocabulary else None

    def dialogue(self, path: str, kind: str) -> list[Utterance]:
        """Both channels of ``path``, recognised apart, merged in order of time."""
        speakers = SPEAKERS.get(kind, SPEAKERS["call"])
        said = [u for channel, speaker in enumerate(speakers) for u in self._channel(path, channel, speaker)]
        return sorted(said, key=lambda u: (u.start_ms, u.speaker))

    def _channel(self, path: str, channel: int, speaker: str) -> list[Utterance]:
        from vosk import KaldiRecognizer

        recogniser = KaldiRecognizer(self.model, self.rate, self.grammar) if self.grammar else \
            KaldiRecognizer(self.model, self.rate)
        recogniser.SetWords(True)
        said = []
        for chunk in _pcm(path, channel, self.rate):
            if recogniser.AcceptWaveform(chunk):
                said.append(json.loads(recogniser.Result()))
        said.append(json.loads(recogniser.FinalResult()))
        return [u for result in said if (u := _utterance(result, speaker)) is not None]


def _pcm(path: str, channel: int, rate: int) -> Iterator[bytes]:
    """One channel of ``path`` as 16-bit mono PCM at ``rate``, streamed from ffmpeg (any format it reads: the
    archived Opus, or a WAV not compressed)."""
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-i", path, "-af", f"pan=mono|c0=c{channel}",
               "-ar", str(rate), "-f", "s16le", "-"]
    try:
        ffmpeg = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        raise TranscribeError(f"cannot run ffmpeg: {exc}") from exc
    assert ffmpeg.stdout is not None and ffmpeg.stderr is not None
    with ffmpeg:
        while chunk := ffmpeg.stdout.read(CHUNK):
            yield chunk
        problem = ffmpeg.stderr.read().decode(errors="replace").strip()
    if ffmpeg.returncode != 0:
        raise TranscribeError(f"ffmpeg could not read {path}: {(problem.splitlines() or ['no output'])[-1][:160]}")


def _utterance(result: Mapping[str, object], speaker: str) -> Utterance | None:
    words = tuple((str(w["word"]), round(float(w["start"]) * 1000), round(float(w["end"]) * 1000), float(w["conf"]))
                  for w in result.get("result", ()) if w["word"] != UNKNOWN)  # type: ignore[union-attr]
    if not words:
        return None
    return Utterance(speaker, words[0][1], words[-1][2], " ".join(w[0] for w in words), words)


def flags(dialogue: Iterable[Utterance], keywords: Mapping[str, Sequence[str]]) -> list[Flag]:
    """Every keyword said, once per utterance. Words are compared without spaces: a Chinese model spaces its
    words, so 不想活 comes back as 不 想 活."""
    found = []
    for utterance in dialogue:
        compact = utterance.text.replace(" ", "")
        for category, words in keywords.items():
            for word in words:
                if word.replace(" ", "") in compact:
                    found.append(Flag(category, word, utterance.speaker, utterance.start_ms))
    return found


def as_text(dialogue: Iterable[Utterance]) -> str:
    """The dialogue as one line per utterance, ``[mm:ss.s] speaker: words`` (what the record shows and the
    search reads)."""
    return "\n".join(f"[{u.start_ms // 60000:02d}:{u.start_ms % 60000 / 1000:04.1f}] {u.speaker}: {u.text}"
                     for u in dialogue)
