"""A real, throwaway PostgreSQL server (Debian package postgresql) on a free loopback port."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from calls.record import CallTimeline, OfferTrace


@dataclass
class Postgres:
    url: str
    data: Path
    port: int
    run_as: list[str]
    bin_dir: Path

    def pg_ctl(self, *args: str) -> None:
        subprocess.run([*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-w", *args],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def start(self) -> None:
        self.pg_ctl("-o", f"-k {self.data} -p {self.port} -h 127.0.0.1", "start")

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "stop")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL is not installed: `sh bootstrap.sh test` installs the Debian package postgresql")
    bin_dir = Path(found[-1]).parent
    home = Path(tempfile.mkdtemp(prefix="hotline-pg-"))  # not under pytest's root-only temp folder
    data = home / "data"
    data.mkdir()
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(home, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = Postgres(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", data, port, run_as, bin_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def timeline() -> Callable[[int], CallTimeline]:
    """``timeline(n)``: a complete answered call's record, distinct per ``n``."""
    def make(n: int) -> CallTimeline:
        return CallTimeline(f"call-{n:04d}", "13800138000", "12345", 1_000 + n, ivr_entry_ms=1_001 + n,
                            ivr_path=["menu:main", "key:1"], queue_entry_ms=1_002 + n, queue="general",
                            original_position=1, offers=[OfferTrace("1001", 1_003 + n, 1_004 + n, "answered")],
                            answered_ms=1_004 + n, agent="1001", hangup_ms=9_000 + n, hangup_side="caller",
                            hangup_cause="NORMAL_CLEARING", exit_reason="answered")

    return make
