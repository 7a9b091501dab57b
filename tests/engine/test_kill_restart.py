"""The engine process killed (SIGKILL) in the middle of calls and started again, against the double: with the
embedded defaults (no Redis), everything the new process needs is on the switch. A conversation goes on and its
agent stays on it, a caller ringing an agent and one waiting keep their place, a caller cut off in the IVR goes to
a human, callers who dialled while no engine ran are taken, and every call ends with exactly one record."""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

import yaml
from gevent import subprocess

from switch_conf.render import PUBLIC_DIALPLAN, render
from tickets.store import TicketStore

import config


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_sigkill_and_restart_drop_no_call(switch, tmp_path: Path, prompt_cache: Path) -> None:
    settings = {
        "centre": {"name": "kill test", "service_numbers": ["12345"]},
        "switch": {"host": "127.0.0.1", "port": switch.address[1], "password": switch.password,
                   "reconnect": {"initial": 0.1, "maximum": 0.5}},
        "telemetry": {"log_level": "info", "log_format": "console", "listen": f"127.0.0.1:{free_port()}"},
        "acd": {"agents": {agent: {"contact": f"user/{agent}", "skills": {"general": 5}, "auto_login": True}
                           for agent in ("1001", "1002")},
                "queues": {"general": {"skill": "general", "wrap_up": 0, "strategy": "top-down"}},
                "api": {"listen": f"127.0.0.1:{free_port()}"}},
        "ivr": {"prompt_cache": str(prompt_cache), "survey": {"enabled": False},
                "voicemail": {"folder": str(tmp_path / "voicemail")}},
        "recorder": {"folder": str(tmp_path / "recordings")}, "state": {"folder": str(tmp_path / "state")},
        "tickets": {"url": f"sqlite:///{tmp_path}/tickets.db", "spool_dir": str(tmp_path / "spool")},
    }
    path = tmp_path / "hotline.yaml"
    path.write_text(yaml.safe_dump(settings))
    render(config.load(path), tmp_path / "freeswitch")
    switch.load_dialplan(str(tmp_path / "freeswitch" / PUBLIC_DIALPLAN))
    hotline = [sys.executable, "-c", "from cli import main; main()", "--config", str(path), "serve"]

    def start() -> subprocess.Popen:
        linked = len(switch.listeners)
        engine = subprocess.Popen(hotline, cwd=Path(__file__).parents[2], stdout=open(tmp_path / "engine.log", "ab"),
                                  stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert switch.wait(lambda: len(switch.listeners) >= linked + 2, timeout=30), "the engine did not link"
        return engine

    def queued(call) -> bool:
        return call.variables.get("current_application") == "playback" and "hotline_queue" in call.variables

    switch.set_endpoint("user/1001", answer_after=0.0)
    switch.set_endpoint("user/1002", answer_after=None)  # rings until the call is taken from it
    first = start()
    talking = switch.place_call(caller_id_number="13800000001", destination_number="12345", dtmf="1")
    assert switch.wait(lambda: talking.bridged_to is not None, timeout=20)
    ringing = switch.place_call(caller_id_number="13800000002", destination_number="12345", dtmf="1")
    assert switch.wait(lambda: any(c.name == "user/1002" for c in switch.channels.values()), timeout=20)
    old_offer = next(c for c in switch.channels.values() if c.name == "user/1002")
    leaving = switch.place_call(caller_id_number="13800000004", destination_number="12345", dtmf="1")
    assert switch.wait(lambda: queued(leaving), timeout=20)
    switch.playback_seconds = 30.0  # the next caller is still in the greeting when the engine dies
    in_ivr = switch.place_call(caller_id_number="13800000003", destination_number="12345")
    assert switch.wait(lambda: in_ivr.answered and in_ivr.application[0] == "playback", timeout=20)

    first.send_signal(signal.SIGKILL)
    first.wait(10)
    leaving.hangup()  # gives up while no engine runs: only the journal (its state folder) knows the call
    new = [switch.place_call(caller_id_number=f"1390000000{n}", destination_number="12345", dtmf="1")
           for n in range(2)]  # they dial while no engine runs: ringback, parked, the net armed
    assert switch.wait(lambda: all(c.parked and c.call_state == "RINGING" for c in new), timeout=10)
    switch.playback_seconds = 0.01
    switch.set_endpoint("user/1002", answer_after=0.0)

    second = start()
    try:
        assert switch.wait(lambda: old_offer.hangup_cause is not None, timeout=20)  # the orphan offer is hung up
        assert switch.wait(lambda: ringing.bridged_to is not None, timeout=20)  # and its caller offered again
        assert talking.bridged_to is not None and talking.hangup_cause is None  # the conversation went on
        assert switch.wait(lambda: all(queued(c) or c.bridged_to for c in (in_ivr, *new)), timeout=20)
        assert all(c.uuid not in switch.scheduled for c in new)  # taken before the net fired
        for call in (talking, ringing):  # the agents finish their calls and take the next callers in line
            call.bridged_to.hangup()
        for _ in range(3):
            assert switch.wait(lambda: sum(1 for c in (in_ivr, *new) if c.bridged_to) >= 1, timeout=20)
            next(c for c in (in_ivr, *new) if c.bridged_to).bridged_to.hangup()
        assert switch.wait(lambda: not switch.channels, timeout=20)
        store = TicketStore(settings["tickets"]["url"])
        assert switch.wait(lambda: len(store.call_ids()) == 6, timeout=20)  # the last hang-ups reached the engine
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
    gone = store.get(leaving.uuid)
    assert gone is not None and (gone.exit_reason, gone.hangup_ms, gone.queue) == ("abandoned", None, "general")
    records = {uuid: store.get(uuid) for uuid in (talking.uuid, ringing.uuid, in_ivr.uuid, *(c.uuid for c in new))}
    assert [uuid for uuid, record in records.items() if record is None] == []
    assert {uuid: (r.exit_reason, r.agent is not None) for uuid, r in records.items()} == \
        {uuid: ("answered", True) for uuid in records}
    assert records[in_ivr.uuid].ivr_path[-1] == "restarted"
    assert records[talking.uuid].hangup_side == "agent" and records[talking.uuid].agent == "1001"
