"""Integration tests against a live FreeSWITCH, selected by environment variables.

    HOTLINE_FS_HOST=127.0.0.1 HOTLINE_FS_PORT=8021 HOTLINE_FS_PASSWORD=... pytest tests/integration

Without HOTLINE_FS_HOST every test here is skipped with that reason; with it, an unreachable switch fails.
The switch must have the configuration ``hotline switch-conf render`` writes (the 12345 route parks calls).

sipp plays the people: a citizen (UAC, RFC 2833 keys from sipp's own pcaps) and agents (UAS that answer after
a set ring time). Each scenario is written per test with its timings and run as a subprocess on gevent, so the
engine under test keeps running while sipp plays its part.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

import pytest
from gevent import subprocess

from esl import Backoff, SwitchLink

LIVE = os.environ.get("HOTLINE_FS_HOST")
HERE = os.path.dirname(__file__)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark this folder's tests ``integration``; skip them, saying why, when no switch is configured."""
    skip = pytest.mark.skip(reason="no live FreeSWITCH: set HOTLINE_FS_HOST, HOTLINE_FS_PORT, HOTLINE_FS_PASSWORD")
    for item in items:
        if str(item.fspath).startswith(HERE):
            item.add_marker(pytest.mark.integration)
            if not LIVE:
                item.add_marker(skip)


@pytest.fixture
def live_link() -> Iterator[SwitchLink]:
    link = SwitchLink(
        os.environ["HOTLINE_FS_HOST"], int(os.environ.get("HOTLINE_FS_PORT", "8021")), os.environ["HOTLINE_FS_PASSWORD"],
        events=["CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_PARK", "CHANNEL_HANGUP_COMPLETE", "DTMF"],
        backoff=Backoff(initial=0.1, maximum=1.0),
    )
    link.start()
    link.wait_connected(10)
    yield link
    link.stop()


sys.path.insert(0, HERE)  # the scenarios module beside this file, shared with bench/vs_mod_callcenter.py
from scenarios import agent, busy_agent, citizen, unanswered_agent  # noqa: E402

SIPP = shutil.which("sipp")


@pytest.fixture
def sipp() -> SimpleNamespace:
    """``sipp.citizen(steps)``, ``sipp.agent(ring_ms, talk_ms)``: scenarios; ``sipp.run(...)``: start one."""
    return SimpleNamespace(citizen=citizen, agent=agent, busy_agent=busy_agent, unanswered_agent=unanswered_agent,
                           run=run)


@dataclass
class Sipp:
    process: subprocess.Popen
    log: Path

    def wait(self, timeout: float = 90) -> int:
        return self.process.wait(timeout)


def run(scenario: str, workdir: Path, name: str, port: int, media_port: int, target: str = "",
        service: str = "12345", calls: int = 1) -> Sipp:
    """Start sipp on ``port`` with ``scenario``: one call, against ``target`` (a UAC) or waiting for one (a UAS)."""
    assert SIPP, "sipp is not installed: apt install sip-tester"
    path = workdir / f"{name}.xml"
    path.write_text(scenario, encoding="utf-8")
    log = workdir / f"{name}.log"
    args = [SIPP, *([target] if target else []), "-sf", str(path), "-i", "127.0.0.1", "-p", str(port),
            "-mi", "127.0.0.1", "-mp", str(media_port), "-m", str(calls), "-s", service, "-timeout", "90s",
            "-timeout_error", "-nostdin", "-trace_err", "-error_file", str(log)]
    return Sipp(subprocess.Popen(args, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT), log)
