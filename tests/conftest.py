"""Shared fixtures: the real FreeSWITCH captures and a running FreeSWITCH double on a free loopback port."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
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


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real, throwaway redis-server on a free loopback port (Debian package redis-server)."""
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: `sh bootstrap.sh test` installs the Debian package redis-server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workdir = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                               "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(500):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if server.poll() is not None:
                    pytest.fail(f"redis-server exited with status {server.returncode}")
                time.sleep(0.01)  # the server process is still starting: readiness polling, not test timing
        else:
            pytest.fail("redis-server did not answer PING")
        yield url
    finally:
        server.terminate()
        server.wait(10)
