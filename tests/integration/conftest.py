"""Integration tests against a live FreeSWITCH, selected by environment variables.

    HOTLINE_FS_HOST=127.0.0.1 HOTLINE_FS_PORT=8021 HOTLINE_FS_PASSWORD=... pytest tests/integration

Without HOTLINE_FS_HOST every test here is skipped with that reason; with it, an unreachable switch fails.
The switch must have the configuration ``hotline switch-conf render`` writes (the 12345 route parks calls).

sipp plays the people: a citizen (UAC, RFC 2833 keys from sipp's own pcaps) and agents (UAS that answer after
a set ring time). Each scenario is written per test with its timings and run as a subprocess on gevent, so the
engine under test keeps running while sipp plays its part.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Iterator

import gevent
import pytest
from gevent import socket, subprocess
from gevent.server import StreamServer

import config
from engine.link import switch_link
from engine.process import Engine
from esl import Backoff, EslError, SwitchLink

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


@pytest.fixture(autouse=True)
def no_calls_left(request: pytest.FixtureRequest) -> None:
    """Each live test starts on an empty switch: calls a failed test left behind (a killed sipp sends no BYE, and a
    stock FreeSWITCH keeps such a call up) would be taken back by the engine as live ones."""
    if not LIVE or not str(request.node.fspath).startswith(HERE):
        return
    link = SwitchLink(os.environ["HOTLINE_FS_HOST"], int(os.environ.get("HOTLINE_FS_PORT", "8021")),
                      os.environ["HOTLINE_FS_PASSWORD"])
    link.start()
    try:
        link.wait_connected(10)
        link.api("hupall MANAGER_REQUEST")
    finally:
        link.stop()


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


sys.path.insert(0, HERE)  # the modules beside this file: scenarios (shared with bench/vs_mod_callcenter.py), live
from live import AGENT_PORT, SUPERVISOR_TOKEN  # noqa: E402
from softphone import PASSWORD, Softphone  # noqa: E402
from scenarios import (agent, agent_keying, agent_transferring, busy_agent, citizen, phone_call,  # noqa: E402
                       unanswered_agent)

SIPP = shutil.which("sipp")


@pytest.fixture
def sipp() -> Iterator[SimpleNamespace]:
    """``sipp.citizen(steps)``, ``sipp.agent(ring_ms, talk_ms)``: scenarios; ``sipp.run(...)``: start one. Every
    sipp still running when the test ends is killed, so a failed test does not hold its ports for the next."""
    started: list[Sipp] = []

    def start(*args: object, **kwargs: object) -> Sipp:
        started.append(run(*args, **kwargs))  # type: ignore[arg-type]
        return started[-1]

    yield SimpleNamespace(citizen=citizen, agent=agent, agent_keying=agent_keying, busy_agent=busy_agent,
                          unanswered_agent=unanswered_agent, agent_transferring=agent_transferring,
                          phone_call=phone_call, run=start)
    for process in started:
        if process.process.poll() is None:
            process.process.kill()
            process.process.wait(10)


@dataclass
class Sipp:
    process: subprocess.Popen
    log: Path

    def wait(self, timeout: float = 90) -> int:
        return self.process.wait(timeout)


    @property
    def messages(self) -> Path:
        """sipp's own trace of every SIP message it sent and received, each stamped by sipp's clock."""
        return self.log.with_name(self.log.stem + "_messages.log")

    def stamped(self, direction: str, method: str) -> list[float]:
        """When sipp ``sent`` or ``received`` requests of ``method``, in seconds since the epoch (sipp's clock)."""
        return [stamp for stamp, _ in self.messages_of(direction, method)]

    def messages_of(self, direction: str, method: str) -> list[tuple[float, str]]:
        """The requests of ``method`` sipp ``sent`` or ``received``, each with when (sipp's clock) and its text."""
        found = []
        for block in self.messages.read_text(errors="replace").split("----------------------------------------------- ")[1:]:
            head, _, rest = block.partition("\n")
            date, clock = head.split()[:2]
            stamp = datetime.datetime.strptime(f"{date} {clock}", "%Y-%m-%d %H:%M:%S.%f").timestamp()
            action, _, message = rest.partition("\n\n")
            if action.startswith(f"UDP message {direction}") and message.startswith(f"{method} "):
                found.append((stamp, message))
        return found


def run(scenario: str, workdir: Path, name: str, port: int, media_port: int, target: str = "",
        service: str = "12345", calls: int = 1, extra: tuple[str, ...] = ()) -> Sipp:
    """Start sipp on ``port`` with ``scenario``: one call, against ``target`` (a UAC) or waiting for one (a UAS);
    ``extra``: more of sipp's options (a fixed Call-ID, digest credentials)."""
    assert SIPP, "sipp is not installed: apt install sip-tester"
    path = workdir / f"{name}.xml"
    path.write_text(scenario, encoding="utf-8")
    log = workdir / f"{name}.log"
    args = [SIPP, *([target] if target else []), "-sf", str(path), "-i", "127.0.0.1", "-p", str(port),
            "-mi", "127.0.0.1", "-mp", str(media_port), "-m", str(calls), "-s", service, "-timeout", "90s",
            "-timeout_error", "-nostdin", "-trace_err", "-error_file", str(log),
            "-trace_msg", "-message_file", str(log.with_name(f"{name}_messages.log")), *extra]
    return Sipp(subprocess.Popen(args, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT), log)


class EslCut:
    """A TCP relay between the engine and FreeSWITCH's event socket that the test can cut: the switch goes on,
    the engine sees nothing, and no new connection is let through until ``restore``."""

    def __init__(self, switch: tuple[str, int]) -> None:
        self.switch = switch
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.open = True
        self.server = StreamServer(("127.0.0.1", 0), self._relay)
        self.server.start()

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address[:2]

    def cut(self) -> None:
        self.open = False
        for pair in self.pairs:
            for end in pair:
                end.close()
        self.pairs.clear()

    def restore(self) -> None:
        self.open = True

    def _relay(self, engine: socket.socket, _: object) -> None:
        if not self.open:
            engine.close()
            return
        upstream = socket.create_connection(self.switch)
        self.pairs.append((engine, upstream))
        gevent.joinall([gevent.spawn(self._pipe, engine, upstream), gevent.spawn(self._pipe, upstream, engine)],
                       count=1)
        engine.close()
        upstream.close()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass


@pytest.fixture
def esl_cut() -> Iterator[EslCut]:
    relay = EslCut((os.environ["HOTLINE_FS_HOST"], int(os.environ.get("HOTLINE_FS_PORT", "8021"))))
    yield relay
    relay.server.stop()


@pytest.fixture
def phones(tmp_path: Path) -> Iterator[Callable[..., Softphone]]:
    """``phones(user, tone_hz=440)``: a baresip phone registered as directory user ``user`` (1005-1019), sending a
    sine of ``tone_hz``; stopped after the test."""
    started: list[Softphone] = []

    def phone(user: str, tone_hz: int = 440) -> Softphone:
        n = int(user) - 1005
        started.append(Softphone(user, PASSWORD, tmp_path, sip_port=5110 + 2 * n, ctrl_port=4110 + 2 * n,
                                 tone_hz=tone_hz))
        started[-1].start()
        started[-1].wait_registered(10)
        return started[-1]

    yield phone
    for phone_ in started:
        phone_.stop()


@pytest.fixture
def live_engine(tmp_path: Path) -> Iterator[Callable[..., Engine]]:
    started: list[Engine] = []

    def make(logged_in: bool = True, agents: tuple[int, ...] = (AGENT_PORT,), queue: dict | None = None,
             thresholds: list[int] | None = None, via: tuple[str, int] | None = None,
             directory: dict[str, dict] | None = None, linkage: dict | None = None, call_keys: dict | None = None,
             supervisors: dict[str, dict] | None = None, asr: dict | None = None, **ivr: object) -> Engine:
        """Agents a1, a2, ... on sipp phones at ``agents`` ports, offered top-down (a1 first), or ``directory``:
        agents as configured (id -> fields), such as ``user/1005`` on a real softphone; ``via``: reach the
        switch's event socket through this address (an EslCut relay); ``linkage``: the section, as configured;
        ``supervisors``: acd.supervisors, each with a token ``<SUPERVISOR_TOKEN>-<id>`` naming them; ``asr``: the
        section."""
        settings = config.Settings.model_validate({
            "centre": {"name": "live test", "service_numbers": ["12345"]},
            "switch": {"host": os.environ["HOTLINE_FS_HOST"], "port": int(os.environ.get("HOTLINE_FS_PORT", "8021")),
                       "password": os.environ["HOTLINE_FS_PASSWORD"]},
            "acd": {"agents": directory or {f"a{n}": {"contact": f"sofia/external/agent@127.0.0.1:{port}",
                                                      "skills": {"general": 5}, "auto_login": logged_in}
                                            for n, port in enumerate(agents, 1)},
                    "queues": {name: {"skill": "general", "wrap_up": 0, "ring_timeout": 15, "strategy": "top-down",
                                      **(queue or {})} for name in ("general", "second")},
                    "service_level": {"thresholds": thresholds or [15, 20, 30]}, "call_keys": call_keys or {},
                    "supervisors": supervisors or {},
                    "api": {"tokens": [{"token": SUPERVISOR_TOKEN, "role": "supervisor"},
                                       *({"token": f"{SUPERVISOR_TOKEN}-{name}", "role": "supervisor",
                                          "supervisor": name} for name in supervisors or {})]}},
            "ivr": {"prompts": {"choice": {"text": "请按1。"}, "survey_intro": {"text": "请评价。"},
                                "survey_attitude": {"text": "满意请按2。"}, "survey_thanks": {"text": "谢谢。"}},
                    "tenants": {"default": {"greeting": []}}, "prompt_cache": str(tmp_path / "prompts"),
                    "voicemail": {"folder": str(tmp_path / "voicemail")}, **ivr},
            "linkage": linkage or {}, "asr": asr or {},
            "recorder": {"folder": str(tmp_path / "recordings")}, "state": {"folder": str(tmp_path / "state")},
            "tickets": {"url": f"sqlite:///{tmp_path}/tickets.db", "spool_dir": str(tmp_path / "spool")},
        })
        anywhere = config.Endpoint("127.0.0.1", 0)  # free ports: not a configurable value, so set after loading
        settings = settings.model_copy(update={
            "telemetry": settings.telemetry.model_copy(update={"listen": anywhere}),
            "acd": settings.acd.model_copy(update={"api": settings.acd.api.model_copy(update={"listen": anywhere})})})
        engine = Engine(settings, switch_link(settings, address=via))
        engine.start()
        started.append(engine)
        engine.link.wait_connected(10)
        return engine

    yield make
    for engine in started:
        for uuid in [leg.uuid for _, leg in engine.book.legs()]:  # a failed test leaves no call on the switch
            with contextlib.suppress(EslError):
                engine.link.api(f"uuid_kill {uuid}")
        engine.stop()
