"""Prompts spoken by the real espeak-ng into 8 and 16 kHz WAV, cached by content, written atomically."""

from __future__ import annotations

import threading
import wave
from pathlib import Path
from typing import Callable

import pytest

from config.ivr import Prompt
from ivr.prompts import PromptError, PromptLibrary, espeak_ng

WELCOME = Prompt(text="您好，欢迎致电12345政务服务便民热线。")
GOODBYE = Prompt(text="感谢您的来电，再见。")
Speak = Callable[[str, Path], None]


def counting(calls: list[str], speak: Speak = espeak_ng) -> Speak:
    def counted(text: str, out: Path) -> None:
        calls.append(text)
        speak(text, out)
    return counted


def files(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()]


def test_a_prompt_becomes_narrowband_and_wideband_wav(tmp_path: Path) -> None:
    path = Path(PromptLibrary(tmp_path).path(WELCOME))
    assert path.parent == tmp_path.resolve()
    expected = [(path, 8000), (tmp_path / "8000" / path.name, 8000), (tmp_path / "16000" / path.name, 16000)]
    durations = []
    for file, rate in expected:
        with wave.open(str(file)) as audio:
            assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (rate, 1, 2)
            durations.append(audio.getnframes() / rate)
    assert min(durations) > 0.3 and max(durations) - min(durations) < 0.01  # one sentence, at each rate
    assert sorted(files(tmp_path)) == sorted(file for file, _ in expected)  # no temporary file left behind


def test_each_text_is_spoken_once(tmp_path: Path) -> None:
    calls: list[str] = []
    library = PromptLibrary(tmp_path, speak=counting(calls))
    assert library.prepare([WELCOME, WELCOME]) == 1
    assert library.prepare([WELCOME]) == 0
    assert PromptLibrary(tmp_path, speak=counting(calls)).prepare([WELCOME]) == 0  # the cache outlives the process
    assert Path(library.path(WELCOME)).exists() and calls == [WELCOME.text]


def test_a_different_text_is_a_different_file(tmp_path: Path) -> None:
    calls: list[str] = []
    library = PromptLibrary(tmp_path, speak=counting(calls))
    welcome, goodbye = library.path(WELCOME), library.path(GOODBYE)
    assert welcome != goodbye and calls == [WELCOME.text, GOODBYE.text]
    assert Path(welcome).read_bytes() != Path(goodbye).read_bytes()


def test_a_recording_is_used_as_given(tmp_path: Path) -> None:
    calls: list[str] = []
    library = PromptLibrary(tmp_path / "cache", speak=counting(calls))
    recorded = Prompt(text="您好", file="prompts/welcome.wav")
    assert library.path(recorded) == "prompts/welcome.wav"
    assert library.prepare([recorded]) == 0
    assert calls == [] and not (tmp_path / "cache").exists()


@pytest.mark.parametrize("template", ["--version", "-w {out}", "--stdout", "-- -w {out} 你好", "--compile=cmn"])
def test_text_that_looks_like_options_is_spoken(tmp_path: Path, template: str) -> None:
    hijack = tmp_path / "hijack.wav"
    path = Path(PromptLibrary(tmp_path / "cache").path(Prompt(text=template.format(out=hijack))))
    with wave.open(str(path)) as audio:
        assert audio.getnframes() / audio.getframerate() > 0.3  # the words themselves, spoken
    assert not hijack.exists()


def test_concurrent_generation_of_one_prompt_leaves_whole_files(tmp_path: Path) -> None:
    both_speaking = threading.Barrier(2, timeout=30)

    def in_step(text: str, out: Path) -> None:
        espeak_ng(text, out)
        both_speaking.wait()  # both have spoken before either moves its files into place

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(PromptLibrary(tmp_path, in_step).path(WELCOME)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and results[0] == results[1]
    with wave.open(results[0]) as audio:
        assert audio.getnframes() / audio.getframerate() > 0.3
    assert len(files(tmp_path)) == 3


def test_a_missing_espeak_fails_clearly_and_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-such-bin"))
    with pytest.raises(PromptError, match=r"您好，欢迎.*install the Debian package espeak-ng"):
        PromptLibrary(tmp_path / "cache").path(WELCOME)
    assert files(tmp_path / "cache") == []


def test_a_failing_speaker_leaves_no_file(tmp_path: Path) -> None:
    def half_then_crash(text: str, out: Path) -> None:
        espeak_ng(text, out)
        raise OSError("disk full")

    with pytest.raises(PromptError, match=r"您好，欢迎.*disk full"):
        PromptLibrary(tmp_path, speak=half_then_crash).path(WELCOME)
    assert files(tmp_path) == []


@pytest.mark.parametrize("output", [b"not a wav", None])
def test_a_speaker_without_usable_audio_is_refused(tmp_path: Path, output: bytes | None) -> None:
    def broken(text: str, out: Path) -> None:
        if output is not None:
            out.write_bytes(output)

    with pytest.raises(PromptError, match="no usable WAV"):
        PromptLibrary(tmp_path, speak=broken).path(WELCOME)
    assert files(tmp_path) == []


@pytest.mark.parametrize("text", ["  \n", "\u3000"])  # empty text is refused by the configuration itself
def test_a_prompt_without_text_is_refused(tmp_path: Path, text: str) -> None:
    calls: list[str] = []
    with pytest.raises(PromptError, match="no text"):
        PromptLibrary(tmp_path, speak=counting(calls)).prepare([Prompt(text=text)])
    assert calls == [] and files(tmp_path) == []
