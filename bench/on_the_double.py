"""What the benchmarks on the double share: driving a whole engine while the double and its citizens run in their
own process (so the engine's CPU is this process's alone)."""

from __future__ import annotations

import multiprocessing.connection
import time
from pathlib import Path

import gevent

import config
from config.acd import Agent as AgentConfig
from engine.process import Engine
from fakeswitch import FakeSwitch


def drive(engine: Engine, pipe: multiprocessing.connection.Connection) -> tuple[list[str], float, float]:
    """Tell the double's citizens to go, then wait until they have all ended, the engine has handled the last
    hang-ups and their records are in the ticket store. Returns the calls' UUIDs, this process's CPU seconds and
    the wall seconds it took, by this process's clocks."""
    cpu, wall = time.process_time(), time.perf_counter()
    pipe.send("go")
    while not pipe.poll():  # a blocking recv would stall the engine's hub
        gevent.sleep(0.05)
    uuids = pipe.recv()
    deadline = time.monotonic() + 30
    while any(uuid in engine.book.calls for uuid in uuids) and time.monotonic() < deadline:
        gevent.sleep(0.05)  # the engine still handling the last hang-ups
    assert engine.writer is not None
    engine.writer.flush(60)  # then the records into the ticket store
    used, elapsed = time.process_time() - cpu, time.perf_counter() - wall
    pipe.send("done")
    return uuids, used, elapsed


def open_double(pipe: multiprocessing.connection.Connection, password: str, dialplan: str,
                users: list[str]) -> FakeSwitch:
    """In the double's process: the double running the rendered dialplan, the agents' phones registered (as on a
    working floor), its address sent to the engine's process; returns once that says go."""
    switch = FakeSwitch(password, heartbeat_interval=None, playback_seconds=0.02)
    switch.load_dialplan(dialplan)
    for user in users:
        switch.register(user)
    switch.start()
    pipe.send(switch.address)
    while not pipe.poll():  # the engine starts and links; a blocking recv would stall the double's hub
        gevent.sleep(0.01)
    pipe.recv()
    return switch


def close_double(pipe: multiprocessing.connection.Connection, switch: FakeSwitch, uuids: list[str]) -> None:
    """In the double's process: tell the engine's process which calls were placed, stop once it is done."""
    pipe.send(uuids)
    while not pipe.poll():
        gevent.sleep(0.01)
    switch.stop()


def settings_for(work: Path, password: str, agents: list[str], ivr: dict[str, object],
                 **sections: object) -> config.Settings:
    """The engine's settings for a run on the double: embedded defaults kept in ``work``, quiet logs, ``agents`` on
    their registered phones (``user/<id>``, skill general), ``ivr`` fields replaced and whole ``sections``."""
    base = config.defaults()
    return base.model_copy(update={
        "switch": base.switch.model_copy(update={"password": config.schema.SecretStr(password)}),
        "telemetry": base.telemetry.model_copy(update={"listen": config.Endpoint("127.0.0.1", 0), "log_level": "warning"}),
        "tickets": base.tickets.model_copy(update={"url": f"sqlite:///{work}/tickets.db", "spool_dir": str(work / "spool")}),
        "state": base.state.model_copy(update={"folder": str(work / "state")}),
        "ivr": base.ivr.model_copy(update={"prompt_cache": "var/hotline/prompts", **ivr}),
        "acd": base.acd.model_copy(update={
            "agents": {agent: AgentConfig(contact=f"user/{agent}", skills={"general": 5}, auto_login=True)
                       for agent in agents},
            "api": base.acd.api.model_copy(update={"listen": config.Endpoint("127.0.0.1", 0)})}),
        **sections,
    })
