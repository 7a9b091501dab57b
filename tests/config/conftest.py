"""Helpers for configuration tests: write a YAML file and collect the problems ``config.load`` reports."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

import config


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str, name: str = "hotline.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def problems(write: Callable[[str], Path]) -> Callable[[str], list[config.Problem]]:
    """Load ``text`` from a file, assert it is refused, and return the problems."""

    def problems(text: str) -> list[config.Problem]:
        with pytest.raises(config.ConfigError) as caught:
            config.load(write(text))
        assert caught.value.problems, "a ConfigError must carry at least one problem"
        return caught.value.problems

    return problems
