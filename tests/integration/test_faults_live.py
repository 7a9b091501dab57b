"""Faults on a real FreeSWITCH with sipp citizens and agents: the event socket reloaded with a caller in the IVR;
the engine's link cut while one caller talks and another rings an agent; a caller who gives up while the agent's
phone rings; a bridge the switch refuses; the engine killed and started again while citizens keep dialling. Each
checks the people (what sipp saw), the agents' states and the stored records."""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

import yaml
from gevent import subprocess
from gevent.queue import Queue

from acd.agents import AgentState
from calls.legs import LegState
from calls.notices import Connecting
from esl import SwitchLink
from live import (AGENT_MEDIA, AGENT_PORT, CITIZEN_MEDIA, CITIZEN_PORT, SECOND_AGENT_MEDIA, SECOND_AGENT_PORT,
                  only_record, records, stored)

PROMPTS = {"choice": {"text": "请按1。"}, "survey_intro": {"text": "请评价。"},
           "survey_attitude": {"text": "满意请按2。"}, "survey_thanks": {"text": "谢谢。"}}
NO_SURVEY = {"survey": {"enabled": False}}


def citizen(sipp, tmp_path: Path, steps: list[tuple[str, int]], name: str = "citizen", port: int = CITIZEN_PORT,
            media: int = CITIZEN_MEDIA):
    return sipp.run(sipp.citizen(steps), tmp_path, name, port, media, target="127.0.0.1:5080")


def until(condition, what: str, timeout: float = 30.0) -> None:
    """Wait for ``condition`` (the engine and the switch are event-driven; this only looks again as they move)."""
    import gevent

    deadline = gevent.get_hub().loop.now() + timeout
    while not condition():
        assert gevent.get_hub().loop.now() < deadline, f"timed out waiting for {what}"
        gevent.sleep(0.05)


def test_the_event_socket_reloaded_with_a_caller_in_the_ivr(live_engine, live_link, sipp, tmp_path: Path) -> None:
    """What lost 60 callers on a real switch: `reload mod_event_socket` while they heard the greeting."""
    long_greeting = {"text": "您好，欢迎致电12345政务服务便民热线，" * 6}  # about 15 s of speech
    engine = live_engine(prompts={**PROMPTS, "long": long_greeting}, tenants={"default": {"greeting": ["long"]}},
                         **NO_SURVEY)
    agent = sipp.run(sipp.agent(ring_ms=500), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA)
    caller = citizen(sipp, tmp_path, [("", 25000)])
    until(lambda: any(call.caller.talking for call in engine.book.calls.values()), "the caller in the greeting")
    made = engine.link.connections_made
    live_link.bgapi("reload mod_event_socket")
    until(lambda: engine.link.connections_made > made and engine.health()[0], "the engine back and reconciled")
    assert caller.wait() == 0 and agent.wait() == 0  # answered by the agent, then hung up as planned
    record = only_record(engine)
    assert (record.exit_reason, record.agent, record.hangup_side) == ("answered", "a1", "caller")
    assert "resumed" in record.ivr_path and engine.queueing.core.service_level.lost_in_switch == 0


def test_the_link_cut_while_one_caller_talks_and_another_rings(live_engine, esl_cut, sipp, tmp_path: Path) -> None:
    """Both callers hang up while the engine is cut off: it learns it from the switch, hangs up the agent's phone
    that still rings for nobody, and counts the cut against no agent."""
    engine = live_engine(agents=(AGENT_PORT, SECOND_AGENT_PORT), via=esl_cut.address, **NO_SURVEY)
    agents = engine.queueing.core.agents
    talker = sipp.run(sipp.agent(ring_ms=300), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA)
    ringer = sipp.run(sipp.unanswered_agent(), tmp_path, "agent2", SECOND_AGENT_PORT, SECOND_AGENT_MEDIA)
    first = citizen(sipp, tmp_path, [("", 800), ("1", 0), ("", 8000)], "first")
    until(lambda: agents["a1"].state is AgentState.ON_CALL, "the first caller talking")
    second = citizen(sipp, tmp_path, [("", 800), ("1", 0), ("", 3000)], "second", 5072, 6110)
    # ringing on the switch, not only offered: an originate still on its way when the link is cut never leaves
    until(lambda: any(leg.party == "a2" and leg.state is LegState.RINGING for _, leg in engine.book.legs()),
          "the second caller ringing a2")
    esl_cut.cut()
    assert first.wait() == 0 and second.wait() == 0 and talker.wait() == 0  # all of it unseen by the engine
    assert ringer.process.poll() is None  # a2's phone still rings, for a caller who has gone
    assert not engine.health()[0]
    esl_cut.restore()
    assert ringer.wait() == 0  # the engine, back, cancelled it
    first_record, second_record = records(engine, 2)
    assert (first_record.exit_reason, first_record.agent, first_record.hangup_ms) == ("answered", "a1", None)
    assert (second_record.exit_reason, second_record.hangup_ms) == ("abandoned", None)
    assert [(o.agent, o.result) for o in second_record.offers] == [("a2", "cancelled")]
    until(lambda: {a.state for a in agents.values()} == {AgentState.READY}, "both agents ready")
    assert agents["a1"].missed_in_a_row == agents["a2"].missed_in_a_row == {}


def test_a_caller_who_gives_up_while_the_agent_rings_cancels_it_at_once(live_engine, sipp, tmp_path: Path) -> None:
    engine = live_engine()
    ringer = sipp.run(sipp.unanswered_agent(), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA)
    caller = citizen(sipp, tmp_path, [("", 800), ("1", 0), ("", 3000)])
    assert caller.wait() == 0 and ringer.wait() == 0
    [bye] = caller.stamped("sent", "BYE")
    [(cancel, message)] = ringer.messages_of("received", "CANCEL")
    print(f"caller's BYE -> agent phone's CANCEL: {(cancel - bye) * 1000:.1f} ms (sipp's clock)")
    assert 'Reason: SIP;cause=487;text="ORIGINATOR_CANCEL"' in message  # the engine's uuid_kill, not the ring
    assert cancel > bye                                                   # timeout's NO_ANSWER (15 s later)
    record = only_record(engine)
    assert (record.exit_reason, [(o.agent, o.result) for o in record.offers]) == ("abandoned", [("a1", "cancelled")])
    assert engine.queueing.core.agents["a1"].state is AgentState.READY


def test_a_bridge_the_switch_refuses_offers_the_caller_again(live_engine, sipp, tmp_path: Path) -> None:
    """The first agent's leg is hung up on the switch between its answer and the bridge: the switch refuses
    ``uuid_bridge``, the engine hangs nothing up twice and offers the caller to the next agent."""
    engine = live_engine(agents=(AGENT_PORT, SECOND_AGENT_PORT), **NO_SURVEY)
    refused: list[str] = []

    def lose_the_first_leg(connecting: Connecting) -> None:
        if not refused:
            leg = engine.book.get(connecting.call_id).agent_leg
            refused.append(leg)
            engine.link.api(f"uuid_kill {leg}")

    engine.hub.on(Connecting, lose_the_first_leg)
    first = sipp.run(sipp.agent(ring_ms=300), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA)
    second = sipp.run(sipp.agent(ring_ms=300), tmp_path, "agent2", SECOND_AGENT_PORT, SECOND_AGENT_MEDIA)
    caller = citizen(sipp, tmp_path, [("", 800), ("1", 0), ("", 4000)])
    assert caller.wait() == 0 and first.wait() == 0 and second.wait() == 0
    record = only_record(engine)
    assert [(o.agent, o.result) for o in record.offers] == [("a1", "failed"), ("a2", "answered")]
    assert record.agent == "a2" and len(refused) == 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_engine_killed_and_started_again_while_citizens_dial(sipp, tmp_path: Path) -> None:
    """SIGKILL with one caller talking, two more dial while no engine runs (they hear ringback), the engine is
    started again: the conversation goes on to its end, the two are answered, all three are recorded."""
    phones = {"a1": (AGENT_PORT, 6400), "a2": (SECOND_AGENT_PORT, 6410), "a3": (5093, 6420)}
    settings = {
        "centre": {"name": "live kill test", "service_numbers": ["12345"]},
        "switch": {"host": os.environ["HOTLINE_FS_HOST"], "port": int(os.environ.get("HOTLINE_FS_PORT", "8021")),
                   "password": os.environ["HOTLINE_FS_PASSWORD"], "reconnect": {"initial": 0.1, "maximum": 0.5}},
        "telemetry": {"log_level": "info", "log_format": "console", "listen": f"127.0.0.1:{free_port()}"},
        "acd": {"agents": {agent: {"contact": f"sofia/external/agent@127.0.0.1:{port}", "skills": {"general": 5},
                                   "auto_login": True} for agent, (port, _) in phones.items()},
                "queues": {"general": {"skill": "general", "wrap_up": 0, "strategy": "top-down"}},
                "api": {"listen": f"127.0.0.1:{free_port()}"}},
        "ivr": {"prompts": PROMPTS, "tenants": {"default": {"greeting": []}}, **NO_SURVEY,
                "prompt_cache": str(tmp_path / "prompts"), "voicemail": {"folder": str(tmp_path / "voicemail")}},
        "recorder": {"folder": str(tmp_path / "recordings")}, "state": {"folder": str(tmp_path / "state")},
        "tickets": {"url": f"sqlite:///{tmp_path}/tickets.db", "spool_dir": str(tmp_path / "spool")},
    }
    path = tmp_path / "hotline.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True))

    def engine() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", "from cli import main; main()", "--config", str(path), "serve"],
                                cwd=Path(__file__).parents[2], stdout=open(tmp_path / "engine.log", "ab"),
                                stderr=subprocess.STDOUT)

    watch = SwitchLink(os.environ["HOTLINE_FS_HOST"], int(os.environ.get("HOTLINE_FS_PORT", "8021")),
                       os.environ["HOTLINE_FS_PASSWORD"], events=["CHANNEL_BRIDGE", "CHANNEL_PARK"])
    bridged, parked = Queue(), Queue()
    watch.on("CHANNEL_BRIDGE", bridged.put)
    watch.on("CHANNEL_PARK", parked.put)
    watch.start()
    watch.wait_connected(10)
    agents = [sipp.run(sipp.agent(ring_ms=300), tmp_path, agent, port, media) for agent, (port, media) in phones.items()]
    old = engine()
    try:
        talking = citizen(sipp, tmp_path, [("", 800), ("1", 0), ("", 15000)], "talking")
        bridged.get(timeout=30)  # the first caller talks with a1
        old.send_signal(signal.SIGKILL)
        old.wait(10)
        while not parked.empty():
            parked.get()
        late = [citizen(sipp, tmp_path, [("", 800), ("1", 0), ("", 3000)], f"late{n}", 5073 + n, 6300 + 10 * n)
                for n in range(2)]
        for _ in late:  # parked, hearing ringback, with no engine to take them
            assert parked.get(timeout=30).get("Caller-Destination-Number") == "12345"
        new = engine()
        try:
            assert all(process.wait() == 0 for process in (talking, *late, *agents))
            kept = stored(settings["tickets"]["url"], 3)
        finally:
            new.send_signal(signal.SIGTERM)
            new.wait(20)
    finally:
        watch.stop()
    assert sorted((r.exit_reason, r.agent) for r in kept) == [("answered", "a1"), ("answered", "a2"),
                                                                ("answered", "a3")]
    assert kept[0].agent == "a1" and kept[0].hangup_side == "caller"  # talked through the kill to the end
