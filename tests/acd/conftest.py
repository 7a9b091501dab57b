"""An engine against the FreeSWITCH double, configured per test: agents, API tokens, live state."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest

import config
from acd.engine import Engine
from cli import switch_link
from config import Endpoint
from config.acd import Agent as AgentConfig, Token


@pytest.fixture
def make_engine(switch, tmp_path) -> Iterator[Callable[..., Engine]]:
    """``make_engine(agents=("1001",), tokens=[], state=None)``: a started engine, stopped after the test."""
    started: list[Engine] = []

    def make(agents: tuple[str, ...] = ("1001", "1002"), tokens: list[Token] | None = None,
             state: dict[str, str] | None = None, **queue: object) -> Engine:
        base = config.defaults()
        queues = {name: q.model_copy(update=queue) for name, q in base.acd.queues.items()}
        settings = base.model_copy(update={
            "switch": base.switch.model_copy(update={"password": config.schema.SecretStr(switch.password)}),
            "telemetry": base.telemetry.model_copy(update={"listen": Endpoint("127.0.0.1", 0)}),
            "state": base.state.model_copy(update=state or {}),
            "tickets": base.tickets.model_copy(update={"url": f"sqlite:///{tmp_path}/tickets-{len(started)}.db",
                                                       "spool_dir": str(tmp_path / f"spool-{len(started)}")}),
            "acd": base.acd.model_copy(update={
                "agents": {a: AgentConfig(contact=f"user/{a}", skills={"general": 5}) for a in agents},
                "queues": queues,
                "api": base.acd.api.model_copy(update={"listen": Endpoint("127.0.0.1", 0), "tokens": tokens or []}),
            }),
        })
        engine = Engine(settings, switch_link(settings, address=switch.address))
        engine.start()
        started.append(engine)
        engine.link.wait_connected(10)
        assert engine.recovered.wait(10)
        return engine

    yield make
    for engine in started:
        if not engine.stopped.is_set():
            engine.stop()
