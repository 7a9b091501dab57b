"""Shared fixtures: the real FreeSWITCH captures and a running FreeSWITCH double on a free loopback port."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import pytest
from gevent.queue import Queue

if TYPE_CHECKING:
    from fakeswitch import FakeSwitch

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def captures_dir() -> Path:
    """The byte-exact ESL captures of a real FreeSWITCH 1.11 (../shared/fs-captures beside the repository)."""
    path = Path(os.environ.get("HOTLINE_FS_CAPTURES", REPO.parent / "shared" / "fs-captures"))
    if not any(path.glob("*_rx.txt")):
        pytest.fail(f"no FreeSWITCH captures in {path}: set HOTLINE_FS_CAPTURES to the fs-captures folder")
    return path


@pytest.fixture
def switch() -> Iterator["FakeSwitch"]:
    """A FreeSWITCH double speaking real ESL on 127.0.0.1:<free port>, with a strong password."""
    from fakeswitch import FakeSwitch

    sw = FakeSwitch(password=secrets.token_urlsafe(16), host="127.0.0.1", port=0)
    sw.start()
    yield sw
    sw.stop()


@pytest.fixture
def collect() -> Callable[..., Queue]:
    """``collect(link, name)``: a queue that receives every event ``name`` the link dispatches."""
    def subscribe(link, name: str) -> Queue:
        queue: Queue = Queue()
        link.on(name, queue.put)
        return queue

    return subscribe
