"""Prompts spoken by the real espeak-ng into 8 and 16 kHz WAV, cached by content, written atomically."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from config.ivr import Prompt
from ivr.prompts import PromptError, PromptLibrary, espeak_ng

WELCOME = Prompt(text="您好，欢迎致电12345政务服务便民热线。")


def counting(calls: list[str]):
    def speak(text: str, out: Path) -> None:
        calls.append(text)
        espeak_ng(text, out)
    return speak


def test_a_prompt_becomes_narrowband_and_wideband_wav(tmp_path: Path) -> None:
    path = Path(PromptLibrary(tmp_path).path(WELCOME))
    for file, rate in ((path, 8000), (tmp_path / "8000" / path.name, 8000), (tmp_path / "16000" / path.name, 16000)):
        with wave.open(str(file)) as audio:
            assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (rate, 1, 2)
            assert audio.getnframes() / rate > 1.0  # a sentence, not a click


def test_each_text_is_spoken_once(tmp_path: Path) -> None:
    calls: list[str] = []
    library = PromptLibrary(tmp_path, speak=counting(calls))
    assert library.prepare([WELCOME, WELCOME]) == 1
    assert library.prepare([WELCOME]) == 0 and library.path(WELCOME) and calls == [WELCOME.text]
    other = library.path(Prompt(text="感谢您的来电，再见。"))
    assert other != library.path(WELCOME) and len(calls) == 2


def test_a_recording_is_used_as_given(tmp_path: Path) -> None:
    calls: list[str] = []
    library = PromptLibrary(tmp_path, speak=counting(calls))
    assert library.path(Prompt(text="您好", file="/srv/prompts/welcome.wav")) == "/srv/prompts/welcome.wav"
    assert calls == [] and library.prepare([Prompt(text="您好", file="/srv/prompts/welcome.wav")]) == 0


@pytest.mark.parametrize("text", ["--version", "-w /tmp/hijack.wav 你好", "--stdout"])
def test_text_that_looks_like_options_is_spoken(tmp_path: Path, text: str) -> None:
    path = Path(PromptLibrary(tmp_path).path(Prompt(text=text)))
    with wave.open(str(path)) as audio:
        assert audio.getnframes() > 0
    assert not Path("/tmp/hijack.wav").exists()


def test_a_missing_espeak_fails_clearly_and_leaves_no_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(PromptError, match="install the Debian package espeak-ng"):
        PromptLibrary(tmp_path / "cache").path(WELCOME)
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


def test_silence_from_a_broken_speaker_is_refused(tmp_path: Path) -> None:
    def broken(text: str, out: Path) -> None:
        out.write_bytes(b"not a wav")

    with pytest.raises(PromptError, match="no usable WAV"):
        PromptLibrary(tmp_path, speak=broken).path(WELCOME)
    assert list(tmp_path.glob("*.wav")) == []
