"""Logs are JSON lines with a millisecond timestamp when configured so, and the level filters."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from config import Telemetry
from telemetry import logs


def test_json_lines_with_ms_timestamps(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(Telemetry(log_level="info", log_format="json"))
    structlog.get_logger("test").info("call.answered", uuid="abc", wait_ms=1234)
    logging.getLogger("stdlib").debug("hidden")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(lines) == 1
    [line] = lines
    assert line["event"] == "call.answered" and line["wait_ms"] == 1234 and line["level"] == "info"
    assert "." in line["timestamp"] and len(line["timestamp"].split(".")[1]) >= 3
