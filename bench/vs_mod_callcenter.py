"""Queue dispatch against FreeSWITCH's mod_callcenter, both measured by the switch's own clock.

    HOTLINE_FS_HOST=127.0.0.1 HOTLINE_FS_PASSWORD=... python bench/vs_mod_callcenter.py [--rates 5,10,15,20,30]
        [--agents 60] [--seconds 20] [--talk-ms 5000] [--profile DIR]

One live FreeSWITCH carrying the rendered configuration (12345 parked) and mod_callcenter with its stock
``support@default`` queue; the bench runs on the switch's host. The same sipp load goes through mod_callcenter and
then through this engine (``hotline serve`` in its own process: embedded defaults, a one-prompt menu whose silence
leads to the queue, no recording and no survey, since mod_callcenter does neither). One sipp UAS plays every agent
(agent NN is ``sofia/external/agentNN@...``; it answers after 200 ms and hangs up after ``--talk-ms``); sipp
citizens call 12345 at each rate for ``--seconds``. In the mod_callcenter phase a parked call is transferred inline
into ``callcenter support@default``, with the agents added through ``callcenter_config``. For the run the switch
admits 1,000 sessions a second (``fsctl sps``, put back afterwards), so what limits is the machine, not the stock
30 a second.

Clock: neither system's own. The bench keeps a raw ESL connection of its own, subscribed to CHANNEL_CREATE,
CHANNEL_EXECUTE, CHANNEL_BRIDGE and CHANNEL_HANGUP, and every figure is a difference of two ``Event-Date-Timestamp``
values stamped by FreeSWITCH (they advance in 20 ms steps on a default build, so figures under 50 ms are coarse):

* queue entry: the caller's first ``callcenter`` execution (mod_callcenter), or the first start of its queue's
  music on hold (ours: ``playback local_stream://moh``);
* entry -> offer: queue entry to the CHANNEL_CREATE of the agent leg that was bridged to the caller;
* freed -> offer: an agent leg's CHANNEL_HANGUP to the CHANNEL_CREATE of that agent's next leg, counted when that leg
  went to a caller already in the queue as the agent was freed (otherwise the gap is idle time, or the caller went
  to another agent, longest idle first: not dispatch);
* failed: calls placed by sipp that were never bridged to an agent.

CPU: utime + stime from /proc of the FreeSWITCH process and of the engine's process, over the load, per call placed;
and the engine's context switches per call (woken from a wait, preempted), since on a VM each is CPU it is charged.
``--profile DIR`` also records the engine with py-spy (top functions by own time) at every rate.
Last line: ``rate=<max rate at which mod_callcenter failed no call> ours_offer_p99_ms=<x> modcc_offer_p99_ms=<x>
ours_freed_p99_ms=<x> modcc_freed_p99_ms=<x> ours_cpu_ms_per_call=<x> ours_failed=<n> modcc_failed=<n>``
(the figures at that rate).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
from bisect import bisect_left
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import gevent
import yaml
from gevent import subprocess

from esl import Backoff, CommandFailed, Event, SwitchLink
from esl.connection import Connection
from esl.protocol import add_filter, subscribe

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
from scenarios import agent, citizen  # noqa: E402  (the live tests' sipp scenarios)

AGENT_PORT, CITIZEN_PORT = 5191, 5171
QUEUE = "support@default"
MUSIC = "local_stream://moh"
TOKEN = "bench-engineer-token-0123456789"
AGENT_CHANNEL = re.compile(r"sofia/external/(agent\d+)@")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def cpu_s(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def context_switches(pid: int) -> tuple[int, int]:
    """Voluntary (woken from a wait) and nonvoluntary (preempted) context switches of all a process's threads."""
    counts = [0, 0]
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        for line in status.read_text().splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                counts[line.startswith("non")] += int(line.split()[1])
    return counts[0], counts[1]


def switch_pid() -> int:
    return int(subprocess.check_output(["pgrep", "-o", "-x", "freeswitch"]).split()[0])


@dataclass
class Timeline:
    """What the switch stamped, in microseconds of its own clock, per channel."""

    created: dict[str, int] = field(default_factory=dict)
    agent_of: dict[str, str] = field(default_factory=dict)
    """Agent leg -> the agent it rang."""
    callers: set[str] = field(default_factory=set)
    entry: dict[str, int] = field(default_factory=dict)
    partner: dict[str, str] = field(default_factory=dict)
    """Caller -> the agent leg bridged to it."""
    hungup: dict[str, int] = field(default_factory=dict)

    def offers(self) -> list[float]:
        return [(self.created[leg] - self.entry[caller]) / 1000 for caller, leg in self.partner.items()
                if caller in self.entry and leg in self.created]

    def frees(self) -> list[float]:
        """Agent leg hung up -> that agent's next leg created, when that next leg went to a caller already in the
        queue as the agent was freed: how long work that was waiting took to reach the agent who came free. (When
        the next caller goes to another agent, longest idle first, the gap is not dispatch.)"""
        caller_of = {leg: caller for caller, leg in self.partner.items()}
        legs_by_agent: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for leg, agent_name in self.agent_of.items():
            legs_by_agent[agent_name].append((self.created[leg], leg))
        for legs in legs_by_agent.values():
            legs.sort()
        gaps = []
        for leg, agent_name in self.agent_of.items():
            freed = self.hungup.get(leg)
            if freed is None:
                continue
            legs = legs_by_agent[agent_name]
            following = bisect_left(legs, (freed, ""))  # a leg stamped in the hang-up's own 20 ms step counts
            if following == len(legs):
                continue
            created, next_leg = legs[following]
            caller = caller_of.get(next_leg)
            if caller is not None and self.entry.get(caller, freed + 1) <= freed:
                gaps.append((created - freed) / 1000)
        return gaps


class SwitchClock:
    """The bench's own raw ESL connection (neither system's): the switch's stamps of every channel event, for
    either system alike. The switch filters for it, so observing costs the machine little: channel creation,
    bridge and hang-up, and the executions of the application that marks queue entry."""

    def __init__(self, entry_app: str, entry_data: str | None) -> None:
        self.timeline = Timeline()
        self.entry_app, self.entry_data = entry_app, entry_data
        host, port, password = switch_address()
        self.connection = Connection.open(host, port, 10, self._event, "switch-clock")
        self.connection.login(password, 10)
        for command in (subscribe(["CHANNEL_CREATE", "CHANNEL_EXECUTE", "CHANNEL_BRIDGE", "CHANNEL_HANGUP"]),
                        add_filter("Event-Name", "/^(CHANNEL_CREATE|CHANNEL_BRIDGE|CHANNEL_HANGUP)$/"),
                        add_filter("Application", entry_app)):
            self.connection.command(command, 10)

    def __enter__(self) -> "SwitchClock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.connection.close()

    def _event(self, event: Event) -> None:
        timeline, uuid, name = self.timeline, event.uuid, event.name
        stamp = int(event.get("Event-Date-Timestamp") or 0)
        if name == "CHANNEL_CREATE":
            timeline.created[uuid] = stamp
            if match := AGENT_CHANNEL.match(event.get("Channel-Name") or ""):
                timeline.agent_of[uuid] = match.group(1)
            elif event.get("Call-Direction") == "inbound" and event.get("Caller-Destination-Number") == "12345":
                timeline.callers.add(uuid)
        elif name == "CHANNEL_EXECUTE":
            if uuid in timeline.callers and self.entry_data in (None, event.get("Application-Data")):
                timeline.entry.setdefault(uuid, stamp)
        elif name == "CHANNEL_BRIDGE":
            a, b = event.get("Bridge-A-Unique-ID") or "", event.get("Bridge-B-Unique-ID") or ""
            for caller, leg in ((a, b), (b, a)):
                if caller in timeline.callers and leg in timeline.agent_of:
                    timeline.partner.setdefault(caller, leg)
        elif name == "CHANNEL_HANGUP":
            timeline.hungup.setdefault(uuid, stamp)


class Load:
    """The sipp processes of one run: every agent's phone, and the citizens at a rate."""

    def __init__(self, work: Path, rate: float, seconds: float, talk_ms: int) -> None:
        (work / "agents.xml").write_text(agent(ring_ms=200, talk_ms=talk_ms))
        (work / "citizen.xml").write_text(citizen([], hangs_up=False))
        self.calls = int(rate * seconds)
        common = ["-i", "127.0.0.1", "-nostdin", "-timeout", f"{seconds * 6 + 120:.0f}s", "-timeout_error",
                  "-l", "5000"]
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


@dataclass
class Result:
    offers: list[float]
    frees: list[float]
    failed: int
    calls: int
    switch_cpu_s: float
    engine_cpu_s: float
    engine_switches: tuple[int, int] = (0, 0)
    """The engine's wake-ups and preemptions over the load (on a VM each costs CPU the engine is charged)."""


def measure(work: Path, timeline: Timeline, load: Load, switch_cpu: float, engine_cpu: float) -> Result:
    """The figures of a run; the switch's stamps are kept in ``timeline.json`` of its work folder."""
    (work / "timeline.json").write_text(json.dumps(asdict(timeline), default=sorted))
    return Result(timeline.offers(), timeline.frees(), load.calls - len(timeline.partner), load.calls,
                  switch_cpu, engine_cpu)


def switch_address() -> tuple[str, int, str]:
    return os.environ["HOTLINE_FS_HOST"], int(os.environ.get("HOTLINE_FS_PORT", "8021")), os.environ["HOTLINE_FS_PASSWORD"]


def agent_contact(n: int) -> str:
    return f"sofia/external/agent{n:02d}@127.0.0.1:{AGENT_PORT}"


def run_modcc(work: Path, rate: float, seconds: float, agents: int, talk_ms: int) -> Result:
    host, port, password = switch_address()
    control = SwitchLink(host, port, password, events=["CHANNEL_PARK"], backoff=Backoff(0.1, 1.0))

    def on_park(event: Event) -> None:
        if event.get("Caller-Destination-Number") == "12345":
            control.api(f"uuid_transfer {event.uuid} callcenter:{QUEUE} inline")

    control.on("CHANNEL_PARK", on_park)
    control.start()
    control.wait_connected(10)
    names = [f"bench{n:02d}" for n in range(agents)]
    for name in names:  # what a run cut short left behind
        with contextlib.suppress(CommandFailed):
            control.api(f"callcenter_config agent del {name}")
    for n, name in enumerate(names):
        for command in (f"agent add {name} callback", f"agent set contact {name} "
                        f"{{ignore_early_media=true}}{agent_contact(n)}",
                        f"agent set wrap_up_time {name} 0", f"agent set max_no_answer {name} 0",
                        f"tier add {QUEUE} {name} 1 1", f"agent set status {name} Available",
                        f"agent set state {name} Waiting"):
            control.api(f"callcenter_config {command}")
    try:
        with SwitchClock("callcenter", None) as clock:
            pid = switch_pid()
            switch_cpu = cpu_s(pid)
            load = Load(work, rate, seconds, talk_ms)
            load.finish()
            switch_cpu = cpu_s(pid) - switch_cpu
        return measure(work, clock.timeline, load, switch_cpu, 0.0)
    finally:
        for name in names:
            control.api(f"callcenter_config agent del {name}")
        control.stop()


def engine_settings(work: Path, agents: int) -> dict:
    """The engine's configuration file: embedded defaults but for the switch, the agents and a one-prompt menu."""
    host, port, password = switch_address()
    return {
        "centre": {"name": "bench", "service_numbers": ["12345"]},
        "switch": {"host": host, "port": port, "password": password},
        "telemetry": {"log_level": "warning", "listen": f"127.0.0.1:{free_port()}"},
        "acd": {"agents": {f"bench{n:02d}": {"contact": agent_contact(n), "skills": {"general": 5},
                                             "auto_login": True} for n in range(agents)},
                "queues": {"general": {"skill": "general", "wrap_up": 0, "ring_timeout": 30}},
                "api": {"listen": f"127.0.0.1:{free_port()}", "tokens": [{"token": TOKEN, "role": "engineer"}]}},
        "ivr": {"menus": {"main": {"prompt": "choice", "timeout": 0.1}}, "tenants": {"default": {"greeting": []}},
                "prompts": {"choice": {"text": "请稍候。"}}, "survey": {"enabled": False},
                "prompt_cache": str(work / "prompts")},
        "recorder": {"enabled": False}, "state": {"folder": str(work / "state")},
        "tickets": {"url": f"sqlite:///{work}/tickets.db", "spool_dir": str(work / "spool")},
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ready_agents(api: str) -> int:
    """How many agents the engine's API shows ready (0 while it cannot answer)."""
    host, port = api.split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2) as sock:
            sock.sendall(f"GET /agents HTTP/1.0\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
            reply = b"".join(iter(lambda: sock.recv(65536), b""))
    except OSError:
        return 0
    return reply.count(b'"state": "ready"') + reply.count(b'"state":"ready"')


def run_ours(work: Path, rate: float, seconds: float, agents: int, talk_ms: int, profile: Path | None) -> Result:
    settings = engine_settings(work, agents)
    (work / "hotline.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True))
    log = open(work / "engine.log", "wb")
    engine = subprocess.Popen([sys.executable, "-c", "from cli import main; main()", "--config",
                               str(work / "hotline.yaml"), "serve"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    spy = None
    try:
        deadline = time.monotonic() + 60
        while ready_agents(settings["acd"]["api"]["listen"]) < agents:
            if engine.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the engine did not get its agents ready; see {work / 'engine.log'}")
            gevent.sleep(0.2)
        if profile is not None:
            spy = subprocess.Popen([shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"), "record",
                                    "--pid", str(engine.pid), "--format", "raw", "--rate", "200", "--gil", "--output",
                                    str(profile / f"ours-{rate:g}cps.txt")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        with SwitchClock("playback", MUSIC) as clock:
            pid = switch_pid()
            switch_cpu, engine_cpu, switches = cpu_s(pid), cpu_s(engine.pid), context_switches(engine.pid)
            load = Load(work, rate, seconds, talk_ms)
            load.finish()
            switch_cpu, engine_cpu = cpu_s(pid) - switch_cpu, cpu_s(engine.pid) - engine_cpu
            after = context_switches(engine.pid)
        result = measure(work, clock.timeline, load, switch_cpu, engine_cpu)
        result.engine_switches = (after[0] - switches[0], after[1] - switches[1])
        return result
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        engine.send_signal(signal.SIGTERM)
        engine.wait(30)


def admitted_sessions(control: SwitchLink) -> int:
    """The switch's sessions-per-second limit, from ``status``."""
    match = re.search(r"out of max (\d+)", control.api("status"))
    return int(match.group(1)) if match else 30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="5,10,15,20,30")
    parser.add_argument("--agents", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--talk-ms", type=int, default=5000)
    parser.add_argument("--profile", type=Path, help="record the engine with py-spy into this folder")
    args = parser.parse_args()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    rates = [float(r) for r in args.rates.split(",")]
    host, port, password = switch_address()
    control = SwitchLink(host, port, password, backoff=Backoff(0.1, 1.0))
    control.start()
    control.wait_connected(10)
    sps = admitted_sessions(control)
    control.api("fsctl sps 1000")
    results: dict[float, dict[str, Result]] = {}
    print(f"{'system':<14}{'cps':>5}{'calls':>7}{'entry->offer p50/p99':>22}{'freed n':>9}"
          f"{'freed->offer p50/p99':>22}{'failed':>8}{'switch cpu/call':>17}{'engine cpu/call':>17}"
          f"{'woken/call':>12}{'preempted/call':>15}", flush=True)
    try:
        for rate in rates:
            for name in ("mod_callcenter", "ours"):
                work = Path(tempfile.mkdtemp(prefix=f"hotline-vs-{name}-"))
                result = run_modcc(work, rate, args.seconds, args.agents, args.talk_ms) if name == "mod_callcenter" \
                    else run_ours(work, rate, args.seconds, args.agents, args.talk_ms, args.profile)
                results.setdefault(rate, {})[name] = result
                print(f"{name:<14}{rate:>5g}{result.calls:>7}"
                      f"{percentile(result.offers, 50):>10.0f} /{percentile(result.offers, 99):>6.0f} ms"
                      f"{len(result.frees):>9}{percentile(result.frees, 50):>10.0f} /{percentile(result.frees, 99):>6.0f} ms"
                      f"{result.failed:>8}{result.switch_cpu_s * 1000 / result.calls:>14.2f} ms"
                      f"{result.engine_cpu_s * 1000 / result.calls:>14.2f} ms"
                      f"{result.engine_switches[0] / result.calls:>12.1f}{result.engine_switches[1] / result.calls:>15.1f}",
                      flush=True)
                gevent.sleep(3)  # the switch settles between runs
    finally:
        control.api(f"fsctl sps {sps}")
        control.stop()
    clean = [rate for rate in rates if results[rate]["mod_callcenter"].failed == 0] or [min(rates)]
    top = max(clean)
    ours, modcc = results[top]["ours"], results[top]["mod_callcenter"]
    print(f"rate={top:g} ours_offer_p99_ms={percentile(ours.offers, 99):.0f} "
          f"modcc_offer_p99_ms={percentile(modcc.offers, 99):.0f} ours_freed_p99_ms={percentile(ours.frees, 99):.0f} "
          f"modcc_freed_p99_ms={percentile(modcc.frees, 99):.0f} "
          f"ours_cpu_ms_per_call={ours.engine_cpu_s * 1000 / ours.calls:.2f} ours_failed={ours.failed} "
          f"modcc_failed={modcc.failed}")


if __name__ == "__main__":
    main()
