"""Integration tests against a live FreeSWITCH, selected by environment variables.

    HOTLINE_FS_HOST=127.0.0.1 HOTLINE_FS_PORT=8021 HOTLINE_FS_PASSWORD=... pytest tests/integration

Without HOTLINE_FS_HOST every test here is skipped with that reason; with it, an unreachable switch fails.
"""

from __future__ import annotations

import os
from typing import Iterator

import pytest

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
