"""Shared fixtures: the real FreeSWITCH captures and a running FreeSWITCH double on a free loopback port."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import pytest
from gevent.queue import Queue

if TYPE_CHECKING:
    from engine.process import Engine
    from config.acd import Token
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
def played_apps(monkeypatch) -> list[tuple[str, str, str]]:
    """(call UUID, application, argument) of every application the double runs, in order."""
    from fakeswitch.channels import Channel

    seen: list[tuple[str, str, str]] = []
    original = Channel.execute

    def execute(self: Channel, app: str, arg: str, event_uuid: str, event_uuid_name: str | None = None) -> None:
        seen.append((self.uuid, app, arg))
        original(self, app, arg, event_uuid, event_uuid_name)

    monkeypatch.setattr(Channel, "execute", execute)
    return seen


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


@pytest.fixture(scope="session")
def prompt_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One prompt cache for the whole run: each prompt is spoken by espeak-ng once, not once per engine."""
    return tmp_path_factory.mktemp("prompts")


@pytest.fixture
def make_engine(switch, tmp_path, prompt_cache) -> Iterator[Callable[..., "Engine"]]:
    """``make_engine(agents=("1001",), tokens=[], state=None, ivr=None, queues=None, teams=None, supervisors=None,
    asr=None, recorder=None, **queue)``: a started engine (``teams``: agent -> team; ``supervisors``: id -> acd.supervisors fields),
    its agents' phones registered, reconciled with the double (which runs the rendered dialplan), stopped after the test; ``ivr`` replaces fields of
    the ``ivr:`` section, ``queues`` (name -> Queue) the queues, ``queue`` fields of every queue; an agent id may
    carry its skill as ``"1002:second"`` (default general); ``asr`` and ``recorder``: fields of those sections."""
    import config
    from engine.link import switch_link
    from config import Endpoint
    from config.acd import Agent as AgentConfig, Supervisor as SupervisorConfig
    from switch_conf.render import PUBLIC_DIALPLAN, render

    started: list[Engine] = []

    def make(agents: tuple[str, ...] = ("1001", "1002"), tokens: list[Token] | None = None,
             state: dict[str, str] | None = None, ivr: dict[str, object] | None = None,
             queues: dict[str, object] | None = None, teams: dict[str, str] | None = None,
             supervisors: dict[str, dict[str, object]] | None = None, asr: dict[str, object] | None = None,
             recorder: dict[str, object] | None = None, **queue: object) -> Engine:
        base = config.defaults()
        queues = {name: q.model_copy(update=queue) for name, q in (queues or base.acd.queues).items()}
        settings = base.model_copy(update={
            "switch": base.switch.model_copy(update={"password": config.schema.SecretStr(switch.password)}),
            "telemetry": base.telemetry.model_copy(update={"listen": Endpoint("127.0.0.1", 0)}),
            "state": base.state.model_copy(update={"folder": str(tmp_path / "state"), **(state or {})}),
            "ivr": base.ivr.model_copy(update={"prompt_cache": str(prompt_cache),
                                               "voicemail": base.ivr.voicemail.model_copy(
                                                   update={"folder": str(tmp_path / "voicemail")}),
                                               **(ivr or {})}),
            "recorder": base.recorder.model_copy(update={"folder": str(tmp_path / "recordings"), **(recorder or {})}),
            "asr": base.asr.model_copy(update=asr or {}),
            "tickets": base.tickets.model_copy(update={"url": f"sqlite:///{tmp_path}/tickets-{len(started)}.db",
                                                       "spool_dir": str(tmp_path / f"spool-{len(started)}")}),
            "acd": base.acd.model_copy(update={
                "agents": {a.split(":")[0]: AgentConfig(contact=f"user/{a.split(':')[0]}",
                                                        skills={(a.split(":") + ["general"])[1]: 5},
                                                        team=(teams or {}).get(a.split(":")[0])) for a in agents},
                "supervisors": {name: SupervisorConfig(**fields) for name, fields in (supervisors or {}).items()},
                "queues": queues,
                "api": base.acd.api.model_copy(update={"listen": Endpoint("127.0.0.1", 0), "tokens": tokens or []}),
            }),
        })
        from engine.process import Engine

        if not switch.routes:  # the rendered dialplan, safety net included, as a real switch would have it
            render(settings, tmp_path / "freeswitch")
            switch.load_dialplan(str(tmp_path / "freeswitch" / PUBLIC_DIALPLAN))
        for agent in settings.acd.agents:  # the agents' softphones are registered, as on a working floor
            switch.register(agent)
        engine = Engine(settings, switch_link(settings, address=switch.address))
        engine.start()
        started.append(engine)
        engine.link.wait_connected(10)
        assert engine.reconciled.wait(10)
        return engine

    failed = _handler_failures()
    yield make
    for engine in started:
        if not engine.stopped.is_set():
            engine.stop()
    assert _handler_failures() == failed, "a hub handler raised (hub.handler_failed in the log)"


def _handler_failures() -> float:
    from prometheus_client import REGISTRY

    return sum(sample.value for metric in REGISTRY.collect() if metric.name == "hotline_handler_failures"
               for sample in metric.samples if sample.name.endswith("_total"))


# --- a real PostgreSQL server (Debian package postgresql), for the ticket store's and the reports' tests ---------

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
