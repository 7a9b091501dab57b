"""The same sipp load through FreeSWITCH's mod_callcenter, then through this engine, on one live FreeSWITCH.

    HOTLINE_FS_HOST=127.0.0.1 HOTLINE_FS_PASSWORD=... python bench/vs_mod_callcenter.py [--rates 2,5,10,20]
        [--agents 60] [--seconds 20] [--talk-ms 5000]

The switch needs the configuration ``hotline switch-conf render`` writes (12345 parked) and mod_callcenter with
its stock ``support@default`` queue. One sipp UAS plays all agents (each answers after 200 ms and hangs up after
``--talk-ms``); sipp citizens call 12345 at each rate. In the mod_callcenter phase a parked call is sent into
``callcenter support@default`` (inline transfer), with the agents added through ``callcenter_config``; in ours the
engine takes it (no menu: the tenant's default straight to the queue). Each system's own account is measured:
mod_callcenter's events (member-queue-start -> agent-offering; agent back to Waiting -> its next offering), our
call and agent timelines (queue entry -> originate sent; ready -> next offer); freed -> offer only counts when a
caller was waiting as the agent was freed. Failed = calls never bridged to an
agent. CPU: the switch from /proc, the engine from this process.
Last line: ``rate=<max cps tested> ours_p99_ms=<x> modcc_p99_ms=<x> ours_failed=<n> modcc_failed=<n>``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import gevent
from gevent import subprocess

import config
from acd.agents import AgentState
from engine.process import Engine
from engine.link import switch_link
from esl import Backoff, Event, SwitchLink
from telemetry import logs

AGENT_PORT, CITIZEN_PORT = 5191, 5171
QUEUE = "support@default"

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from scenarios import agent, citizen  # noqa: E402  (the live tests' sipp scenarios)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def while_waiting(frees: list[tuple[float, float]], waits: list[tuple[float, float]]) -> list[float]:
    """Agent freed -> next offer, counted only when a caller was waiting as the agent was freed (otherwise the
    gap is idle time, not dispatch)."""
    return [offer - freed for freed, offer in frees if any(start <= freed < end for start, end in waits)]


def switch_cpu_s() -> float:
    """utime + stime of the FreeSWITCH process, from /proc (the bench runs on the switch's host)."""
    pid = subprocess.check_output(["pgrep", "-o", "-x", "freeswitch"]).split()[0].decode()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Load:
    """The sipp processes of one run: the agents' phone and the citizens at a rate."""

    def __init__(self, work: Path, rate: float, seconds: float, talk_ms: int) -> None:
        (work / "agents.xml").write_text(agent(ring_ms=200, talk_ms=talk_ms))
        (work / "citizen.xml").write_text(citizen([], hangs_up=False))
        self.calls = int(rate * seconds)
        common = ["-i", "127.0.0.1", "-nostdin", "-timeout", f"{seconds + 120:.0f}s", "-timeout_error", "-l", "2000"]
        self.agents = subprocess.Popen(
            [shutil.which("sipp"), "-sf", str(work / "agents.xml"), "-p", str(AGENT_PORT), "-mp", "7100",
             "-m", str(self.calls), *common], cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.citizens = subprocess.Popen(
            [shutil.which("sipp"), "127.0.0.1:5080", "-sf", str(work / "citizen.xml"), "-s", "12345",
             "-p", str(CITIZEN_PORT), "-mp", "7300", "-r", f"{rate:g}", "-m", str(self.calls), *common],
            cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def finish(self) -> None:
        self.citizens.wait()
        self.agents.kill()
        self.agents.wait()


def run_modcc(work: Path, rate: float, seconds: float, agents: int, talk_ms: int) -> dict:
    link = SwitchLink(os.environ["HOTLINE_FS_HOST"], int(os.environ.get("HOTLINE_FS_PORT", "8021")),
                      os.environ["HOTLINE_FS_PASSWORD"], events=["CHANNEL_PARK", "CUSTOM callcenter::info"],
                      backoff=Backoff(0.1, 1.0))
    link.start()
    link.wait_connected(10)
    joined: dict[str, float] = {}
    offers, frees, waits, bridged = [], [], [], set()
    freed_at: dict[str, float] = {}

    def on_park(event: Event) -> None:
        if event.get("Caller-Destination-Number") == "12345":
            link.api(f"uuid_transfer {event.uuid} callcenter:{QUEUE} inline")

    def on_cc(event: Event) -> None:
        at = int(event.get("Event-Date-Timestamp") or 0) / 1000
        action, member = event.get("CC-Action"), event.get("CC-Member-Session-UUID") or ""
        agent = event.get("CC-Agent") or ""
        if action == "member-queue-start":
            joined[member] = at
        elif action == "agent-offering":
            if member in joined:
                waits.append((joined[member], at))
                offers.append(at - joined.pop(member))
            if agent in freed_at:
                frees.append((freed_at.pop(agent), at))
        elif action == "agent-state-change" and event.get("CC-Agent-State") == "Waiting":
            freed_at[agent] = at
        elif action == "bridge-agent-start":
            bridged.add(member)

    link.on("CHANNEL_PARK", on_park)
    link.on("callcenter::info", on_cc)
    for n in range(agents):
        name = f"bench{n:02d}"
        for command in (f"agent add {name} callback", f"agent set contact {name} "
                        f"{{ignore_early_media=true}}sofia/external/agent@127.0.0.1:{AGENT_PORT}",
                        f"agent set wrap_up_time {name} 0", f"agent set max_no_answer {name} 0",
                        f"tier add {QUEUE} {name} 1 1", f"agent set status {name} Available",
                        f"agent set state {name} Waiting"):
            link.api(f"callcenter_config {command}")
    cpu = switch_cpu_s()
    load = Load(work, rate, seconds, talk_ms)
    load.finish()
    result = {"offer": offers, "freed": while_waiting(frees, waits), "failed": load.calls - len(bridged),
              "switch_cpu_s": switch_cpu_s() - cpu, "engine_cpu_s": 0.0}
    for n in range(agents):
        link.api(f"callcenter_config agent del bench{n:02d}")
    link.stop()
    return result


def run_ours(work: Path, rate: float, seconds: float, agents: int, talk_ms: int) -> dict:
    settings = config.Settings.model_validate({
        "centre": {"name": "bench", "service_numbers": ["12345"]},
        "switch": {"host": os.environ["HOTLINE_FS_HOST"], "port": int(os.environ.get("HOTLINE_FS_PORT", "8021")),
                   "password": os.environ["HOTLINE_FS_PASSWORD"]},
        "telemetry": {"log_level": "warning"},
        "acd": {"agents": {f"bench{n:02d}": {"contact": f"sofia/external/agent@127.0.0.1:{AGENT_PORT}",
                                             "skills": {"general": 5}, "auto_login": True} for n in range(agents)},
                "queues": {"general": {"skill": "general", "wrap_up": 0, "ring_timeout": 30}}},
        "ivr": {"menus": {"main": {"prompt": "choice", "timeout": 0.1}}, "tenants": {"default": {"greeting": []}},
                "prompts": {"choice": {"text": "请稍候。"}},
                "survey": {"enabled": False}, "prompt_cache": str(work / "prompts")},
        "recorder": {"enabled": False}, "state": {"folder": str(work / "state")},
        "tickets": {"url": f"sqlite:///{work}/tickets.db", "spool_dir": str(work / "spool")},
    })
    anywhere = config.Endpoint("127.0.0.1", 0)
    settings = settings.model_copy(update={
        "telemetry": settings.telemetry.model_copy(update={"listen": anywhere}),
        "acd": settings.acd.model_copy(update={"api": settings.acd.api.model_copy(update={"listen": anywhere})})})
    logs.configure(settings.telemetry)
    engine = Engine(settings, switch_link(settings))
    engine.start()
    engine.link.wait_connected(10)
    cpu, switch_cpu = time.process_time(), switch_cpu_s()
    load = Load(work, rate, seconds, talk_ms)
    load.finish()
    gevent.sleep(1)  # the last hang-ups reach the engine
    engine_cpu, switch_used = time.process_time() - cpu, switch_cpu_s() - switch_cpu
    records = [r for r in engine.records]
    offers = [(r.offers[0].ring_start_ms - r.queue_entry_ms) for r in records if r.offers and r.queue_entry_ms]
    waits = [(r.queue_entry_ms, r.offers[0].ring_start_ms if r.offers else r.hangup_ms or r.queue_entry_ms)
             for r in records if r.queue_entry_ms]
    frees = [(before.at_ms, after.at_ms) for agent in engine.queueing.core.agents.values()
             for before, after in zip(list(agent.log), list(agent.log)[1:])
             if before.old is AgentState.ON_CALL and before.new is AgentState.READY and after.new is AgentState.OFFERED]
    freed = while_waiting(frees, waits)
    answered = sum(r.exit_reason == "answered" for r in records)
    engine.stop()
    return {"offer": offers, "freed": freed, "failed": load.calls - answered, "switch_cpu_s": switch_used,
            "engine_cpu_s": engine_cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="2,5,10,20")
    parser.add_argument("--agents", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--talk-ms", type=int, default=5000)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    last = {}
    print(f"{'system':<14}{'cps':>5}{'offer p50':>11}{'offer p99':>11}{'freed n':>9}{'freed p50':>11}{'freed p99':>11}"
          f"{'failed':>8}{'switch cpu':>12}{'engine cpu':>12}")
    for rate in rates:
        for name, run in (("mod_callcenter", lambda w: run_modcc(w, rate, args.seconds, args.agents, args.talk_ms)),
                          ("ours", lambda w: run_ours(w, rate, args.seconds, args.agents, args.talk_ms))):
            work = Path(tempfile.mkdtemp(prefix=f"hotline-vs-{name}-"))
            result = run(work)
            last[name] = result
            print(f"{name:<14}{rate:>5g}{percentile(result['offer'], 50):>9.1f}ms{percentile(result['offer'], 99):>9.1f}ms"
                  f"{len(result['freed']):>9}{percentile(result['freed'], 50):>9.1f}ms"
                  f"{percentile(result['freed'], 99):>9.1f}ms"
                  f"{result['failed']:>8}{result['switch_cpu_s']:>11.1f}s{result['engine_cpu_s']:>11.1f}s")
            gevent.sleep(2)  # let the switch settle between runs
    print(f"rate={max(rates):g} ours_p99_ms={percentile(last['ours']['offer'], 99):.1f} "
          f"modcc_p99_ms={percentile(last['mod_callcenter']['offer'], 99):.1f} ours_failed={last['ours']['failed']} "
          f"modcc_failed={last['mod_callcenter']['failed']}")


if __name__ == "__main__":
    main()
