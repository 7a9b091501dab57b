"""Prompts as text, spoken by espeak-ng's Mandarin voice when no recording is given, so a fresh install speaks.

Each generated prompt is cached under a hash of its text, as 8 kHz and 16 kHz mono WAV:
``<cache>/8000/<hash>.wav``, ``<cache>/16000/<hash>.wav`` and ``<cache>/<hash>.wav`` (8 kHz). FreeSWITCH's
mod_sndfile first looks for ``<dir>/<channel rate>/<file>`` beside the path it is given, so a narrowband call
plays the 8 kHz file and a wideband one the 16 kHz file, with no resampling. Generation is blocking (a
subprocess): the engine runs ``prepare`` at start-up, and calls then only find files in the cache.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Callable, Iterable

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pydub looks for ffmpeg and imports audioop: WAV work needs neither
    from pydub import AudioSegment

from config.ivr import Prompt

VOICE = "cmn"
FORMAT = "1"
"""Bump when the generated audio changes, so caches regenerate."""
RATES = (8000, 16000)


class PromptError(RuntimeError):
    """A prompt could not be spoken; the message names it and what failed."""


def espeak_ng(text: str, out: Path) -> None:
    """Speak ``text`` into the WAV file ``out``; the text goes on stdin, so it can never be read as an option."""
    try:
        subprocess.run(["espeak-ng", "-v", VOICE, "--stdin", "-w", str(out)], input=text.encode("utf-8"),
                       check=True, capture_output=True, timeout=60)
    except FileNotFoundError:
        raise PromptError("espeak-ng is not installed: install the Debian package espeak-ng") from None
    except subprocess.CalledProcessError as exc:
        raise PromptError(f"espeak-ng failed: {exc.stderr.decode(errors='replace').strip()}") from None


class PromptLibrary:
    """Where each prompt's audio is, generating what is missing."""

    def __init__(self, cache_dir: Path, speak: Callable[[str, Path], None] = espeak_ng) -> None:
        self.cache = cache_dir.resolve()  # FreeSWITCH plays the path as given, from its own working directory
        self.speak = speak

    def path(self, prompt: Prompt) -> str:
        """What to give FreeSWITCH's playback: the recording if the prompt has one, else its generated WAV."""
        if prompt.file:
            return prompt.file
        target = self._target(prompt.text)
        if not target.exists():
            self._generate(prompt.text, target)
        return str(target)

    def prepare(self, prompts: Iterable[Prompt]) -> int:
        """Generate every missing prompt now (at start-up); returns how many were generated."""
        generated = 0
        for prompt in prompts:
            if not prompt.file and not self._target(prompt.text).exists():
                self._generate(prompt.text, self._target(prompt.text))
                generated += 1
        return generated

    def _target(self, text: str) -> Path:
        digest = hashlib.sha256(f"{FORMAT}\0{VOICE}\0{text}".encode()).hexdigest()[:20]
        return self.cache / f"{digest}.wav"

    def _generate(self, text: str, target: Path) -> None:
        """Speak, resample to each rate, and move each file into place atomically (the fallback last, since its
        presence marks the prompt as done), so a crash never leaves half a WAV to be played."""
        if not text.strip():
            raise PromptError("a prompt with no text cannot be spoken")
        for rate in RATES:
            (self.cache / str(rate)).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.cache) as work:
            spoken = Path(work) / "spoken.wav"
            try:
                self.speak(text, spoken)
                audio = AudioSegment.from_wav(spoken).set_channels(1).set_sample_width(2)
            except PromptError as exc:
                raise PromptError(f"prompt {text[:30]!r}: {exc}") from None
            except Exception as exc:
                raise PromptError(f"prompt {text[:30]!r}: espeak-ng gave no usable WAV ({exc})") from None
            for rate, final in ((8000, self.cache / "8000" / target.name), (16000, self.cache / "16000" / target.name),
                                (8000, target)):
                staged = Path(work) / f"{rate}-{final.parent.name}.wav"
                audio.set_frame_rate(rate).export(staged, format="wav")
                os.replace(staged, final)
