"""Prompts as text, spoken by espeak-ng's Mandarin voice when no recording is given, so a fresh install speaks.

Each generated prompt is cached under a hash of its text as three mono 16-bit WAV files: ``<cache>/8000/<hash>.wav``,
``<cache>/16000/<hash>.wav`` and the 8 kHz fallback ``<cache>/<hash>.wav``, whose path is what FreeSWITCH is given.
FreeSWITCH's mod_sndfile first looks for ``<dir>/<channel rate>/<file>`` beside that path, so a narrowband call
plays the 8 kHz file and a wideband one the 16 kHz file, with no resampling during the call.

Generation is blocking (a subprocess, then resampling): callers on gevent run ``prepare`` at start-up (the engine
does), so ``path`` at call time only finds files in the cache.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import wave
import warnings
from pathlib import Path
from typing import Callable, Iterable

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pydub warns that ffmpeg is missing and imports audioop: WAV work needs neither
    from pydub import AudioSegment

from config.ivr import Prompt

VOICE = "cmn"
FORMAT = "1"
"""Part of the cache key: bump it when the generated audio changes, so every cache regenerates."""
RATES = (8000, 16000)
FALLBACK_RATE = 8000
TIMEOUT_S = 60


class PromptError(RuntimeError):
    """A prompt could not be spoken; the message names it and what failed."""


def espeak_ng(text: str, out: Path) -> None:
    """Speak ``text`` into the WAV file ``out`` (22050 Hz). The text goes on stdin (``--stdin``), never into the
    argument list, so text such as ``-w /etc/x`` is spoken rather than read as an option."""
    try:
        subprocess.run(["espeak-ng", "-v", VOICE, "--stdin", "-w", str(out)], input=text.encode("utf-8"),
                       capture_output=True, check=True, timeout=TIMEOUT_S)
    except FileNotFoundError:
        raise PromptError("espeak-ng is not installed: install the Debian package espeak-ng") from None
    except subprocess.TimeoutExpired:
        raise PromptError(f"espeak-ng did not finish within {TIMEOUT_S} s") from None
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode("utf-8", errors="replace").strip()
        raise PromptError(f"espeak-ng failed with status {exc.returncode} ({detail}); the Debian package espeak-ng "
                          f"provides the {VOICE!r} voice") from None


class PromptLibrary:
    """Where each prompt's audio is, generating what is missing into a content-addressed cache."""

    def __init__(self, cache_dir: Path, speak: Callable[[str, Path], None] = espeak_ng) -> None:
        self.cache = cache_dir.resolve()  # FreeSWITCH resolves relative paths against its own sound directory
        self.speak = speak
        self._targets: dict[str, Path] = {}

    def path(self, prompt: Prompt) -> str:
        """What to give FreeSWITCH's playback: the recording if the prompt has one, else its generated WAV
        (spoken now if it is not in the cache yet)."""
        if prompt.file:
            return prompt.file
        target = self._target(prompt.text)
        if not target.exists():
            self._generate(prompt.text, target)
        return str(target)

    def prepare(self, prompts: Iterable[Prompt]) -> int:
        """Generate every missing prompt now, at start-up; returns how many were generated."""
        generated = 0
        for prompt in prompts:
            if prompt.file:
                continue
            target = self._target(prompt.text)
            if not target.exists():
                self._generate(prompt.text, target)
                generated += 1
        return generated

    def _target(self, text: str) -> Path:
        """Where a text's WAV is: hashed once per text, since a call asks for several prompts."""
        target = self._targets.get(text)
        if target is None:
            digest = hashlib.sha256(f"{FORMAT}\0{VOICE}\0{text}".encode("utf-8")).hexdigest()[:20]
            target = self._targets[text] = self.cache / f"{digest}.wav"
        return target

    def _generate(self, text: str, target: Path) -> None:
        """Speak into a private temporary directory, then move each rate into place with ``os.replace``, the
        fallback last since its presence marks the prompt as done: a crash never leaves half a WAV to be played,
        and concurrent generators of one prompt each replace whole, identical files."""
        name = f"prompt {text[:30]!r}"
        if not text.strip():
            raise PromptError(f"{name}: no text to speak")
        self.cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".speaking-", dir=self.cache) as work:
            spoken = Path(work) / "spoken.wav"
            try:
                self.speak(text, spoken)
            except PromptError as exc:
                raise PromptError(f"{name}: {exc}") from None
            except Exception as exc:  # a speaker is pluggable: whatever it raises, the caller gets one error type
                raise PromptError(f"{name}: text-to-speech failed: {exc!r}") from None
            audio = _read(spoken, name)
            finals = [(rate, self.cache / str(rate) / target.name) for rate in RATES] + [(FALLBACK_RATE, target)]
            for index, (rate, final) in enumerate(finals):
                final.parent.mkdir(exist_ok=True)
                staged = Path(work) / f"{index}.wav"
                _write(staged, audio.set_frame_rate(rate))
                os.replace(staged, final)


def _read(path: Path, name: str) -> AudioSegment:
    """The speaker's WAV as mono 16-bit audio, read with the stdlib: pydub's own reader falls back to ffmpeg."""
    try:
        with wave.open(str(path), "rb") as source:
            audio = AudioSegment(data=source.readframes(source.getnframes()), sample_width=source.getsampwidth(),
                                 frame_rate=source.getframerate(), channels=source.getnchannels())
    except (OSError, EOFError, wave.Error) as exc:
        raise PromptError(f"{name}: text-to-speech gave no usable WAV ({exc})") from None
    if len(audio) == 0:
        raise PromptError(f"{name}: text-to-speech gave an empty WAV")
    return audio.set_channels(1).set_sample_width(2)


def _write(path: Path, audio: AudioSegment) -> None:
    """Write ``audio`` as WAV and flush it to disk, so the rename that follows never exposes unwritten data."""
    with open(path, "wb") as raw:
        with wave.open(raw, "wb") as out:
            out.setnchannels(audio.channels)
            out.setsampwidth(audio.sample_width)
            out.setframerate(audio.frame_rate)
            out.writeframes(audio.raw_data)
        raw.flush()
        os.fsync(raw.fileno())
