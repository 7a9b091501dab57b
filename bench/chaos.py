"""Chaos under load: calls keep coming while the ESL link is cut again and again and the engine is killed.

    python bench/chaos.py [--calls 200] [--rate 20] [--cuts 10] [--agents 40]          # on the double
    HOTLINE_FS_HOST=127.0.0.1 HOTLINE_FS_PASSWORD=... python bench/chaos.py --switch   # a real FreeSWITCH, sipp

The engine runs as its own process (``hotline serve``, embedded defaults: SQLite, no Redis), so it can be killed
for real. On the double (its own process, no sipp) citizens call 12345 at ``--rate`` calls/s, press 1 (or nothing,
and reach a human by the menu's default) and talk 1-2 s once an agent answers; agents answer after a short ring.
With ``--switch``, sipp plays the citizens (UAC at ``--rate``: press 1, then stay until the switch hangs up) and all
the agents (one UAS: answers after 300 ms, hangs up after ``--talk-ms``), against a real FreeSWITCH carrying the
rendered configuration (give it ``--agents`` enough for rate x talk). During the load the link is cut ``--cuts`` times (``reload
mod_event_socket``: the double's reproduction of it, or the real one), and the engine is SIGKILLed once and started
again 2 s later. Then every call is checked:

* lost: a caller who never reached an agent (on the double, as the double saw it; on a switch, by the records,
  where an ``unseen`` call, put through as the link was cut and ended before it was back, is counted apart);
* orphan_legs: channels still up on the switch once every caller has hung up;
* stuck_agents: agents left offered or on a call;
* records_missing: calls without a record in the ticket store;
* records_twice: calls the engines recorded more than once (the store keeps the first, so only the engines' log,
  kept in the work folder, shows it).

With ``--call-control`` (on the double), agents also act on their calls all through the chaos, as a floor would:
hold and resume, mute, blind transfers to the queue and to 110, consultations with 110 or a colleague (then
complete, cancel or join), three-way calls and one-key linkage (then leave or drop), hang-ups; 110 answers after
0.5 s and hangs up 4 s later. Citizens then talk 2-5 s. Besides the checks above, ``refused`` counts actions the
engine turned down because the call had moved on (409) and ``errors`` any other answer (a bad target, a server
error), which should be none.

Last line: ``cuts=<n> kills=<n> calls=<n> lost=<n> orphan_legs=<n> stuck_agents=<n> records_missing=<n>
records_twice=<n>``, then ``actions=<n> refused=<n> errors=<n>`` with ``--call-control``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import multiprocessing.connection
import os
import random
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import gevent
import yaml
from gevent import subprocess

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
from scenarios import agent as agent_phone, citizen as citizen_phone  # noqa: E402  (the live tests' sipp scenarios)

import config  # noqa: E402
from esl import EslError, SwitchLink  # noqa: E402
from switch_conf.render import PUBLIC_DIALPLAN, render  # noqa: E402
from tickets.store import TicketStore  # noqa: E402

TOKEN = "chaos-engineer-token-0123456789"
AGENT_PORT, CITIZEN_PORT = 5291, 5271


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def settings_for(work: Path, switch: tuple[str, int, str], agents: int, contact: str) -> dict:
    """The engine's configuration file: embedded defaults but for the switch, the agents and fast recovery."""
    host, port, password = switch
    return {
        "centre": {"name": "chaos", "service_numbers": ["12345"]},
        "switch": {"host": host, "port": port, "password": password, "reconnect": {"initial": 0.1, "maximum": 0.5}},
        "telemetry": {"log_level": "info", "log_format": "console", "listen": f"127.0.0.1:{free_port()}"},
        "acd": {"agents": {f"c{n:03d}": {"contact": contact.format(n=n), "skills": {"general": 5}, "auto_login": True}
                           for n in range(agents)},
                "queues": {"general": {"skill": "general", "wrap_up": 0.5, "ring_timeout": 10}},
                "api": {"listen": f"127.0.0.1:{free_port()}", "tokens": [{"token": TOKEN, "role": "engineer"}]}},
        "ivr": {"prompts": {"choice": {"text": "请按1。"}}, "tenants": {"default": {"greeting": []}},
                "survey": {"enabled": False}, "prompt_cache": str(work / "prompts"),
                "voicemail": {"folder": str(work / "voicemail")}, "safety_net": {"after": 60}},
        "recorder": {"folder": str(work / "recordings")}, "state": {"folder": str(work / "state")},
        "tickets": {"url": f"sqlite:///{work}/tickets.db", "spool_dir": str(work / "spool")},
    }


class EngineProcess:
    """``hotline serve`` in its own process: started, killed, started again; its log kept in the work folder."""

    def __init__(self, path: Path, work: Path) -> None:
        self.path, self.log = path, open(work / "engine.log", "ab")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", "from cli import main; main()", "--config",
                                         str(self.path), "serve"], cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)

    def agents(self, api: str) -> list[dict]:
        """Every agent's state, and call, from the engine's API (OSError while it cannot answer)."""
        return self.request(api, "GET", "/agents")[1]

    @staticmethod
    def request(api: str, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        """The engine's API as an engineer: (status, JSON body); OSError while it cannot answer."""
        host, port = api.split(":")
        data = json.dumps(body or {}).encode()
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(f"{method} {path} HTTP/1.0\r\nAuthorization: Bearer {TOKEN}\r\n"
                         f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
            reply = b"".join(iter(lambda: sock.recv(65536), b""))
        head, _, payload = reply.partition(b"\r\n\r\n")
        return int(head.split()[1]), json.loads(payload)


def chaos(engine: EngineProcess, cut: callable, seconds: float, cuts: int) -> tuple[int, int]:
    """Cut the link ``cuts`` times and kill the engine once, spread over ``seconds`` of load."""
    events = sorted([(seconds * (n + 0.5) / cuts, "cut") for n in range(cuts)] + [(seconds * 0.45, "kill")])
    started, done = time.monotonic(), {"cut": 0, "kill": 0}
    for at, what in events:
        gevent.sleep(max(0.0, started + at - time.monotonic()))
        if what == "cut":
            cut()
        else:
            engine.kill()
            gevent.sleep(2.0)  # the engine is down for 2 s while citizens keep calling
            engine.start()
        done[what] += 1
    return done["cut"], done["kill"]


def next_action(call: dict, colleagues: list[str], rng: random.Random) -> tuple[str, str]:
    """What an agent on ``call`` (the API's view of it) does next, with its target ("" for none)."""
    if call["held"]:
        return "resume", ""
    if call["consulting"]:
        return rng.choice(["complete", "cancel", "join"]), ""
    if call["three_way"]:
        return rng.choice(["leave", "drop"]), ""
    other = f"agent:{rng.choice(colleagues)}" if colleagues else "110"
    return rng.choice([("hold", ""), ("mute", ""), ("transfer", "queue:general"), ("transfer", "110"),
                       ("consult", "110"), ("consult", other), ("three_way", "110"), ("three_way", other),
                       ("linkage", "110"), ("hangup", "")])


def control(engine: EngineProcess, api: str, rng: random.Random, rate: float, until: float) -> Counter:
    """Agents on a call act on it, ``rate`` actions a second in all, until ``until`` (monotonic): a Counter of
    done (200), refused (409: the call moved on meanwhile) and errors (anything else)."""
    counts: Counter = Counter()
    while time.monotonic() < until:
        gevent.sleep(rng.expovariate(rate))
        try:
            agents = engine.agents(api)
            talking = [agent for agent in agents if agent["call"]]
            if not talking:
                continue
            agent = rng.choice(talking)
            colleagues = [other["id"] for other in agents if other["state"] == "ready"]
            action, to = next_action(agent["call"], colleagues, rng)
            status, answer = engine.request(api, "POST", f"/agents/{agent['id']}/{action}", {"to": to} if to else {})
        except (OSError, ValueError):
            continue  # the engine is down (killed) or its socket closed mid-answer
        outcome = {200: "done", 409: "refused"}.get(status, "errors")
        if outcome == "errors":
            print(f"{action} {to} for {agent['id']}: {status} {answer}")
        counts[outcome] += 1
    return counts


def settle(engine: EngineProcess, api: str, agents: int) -> int:
    """Wait for every agent to be back, then count those still offered or on a call."""
    deadline, stuck = time.monotonic() + 30, agents
    while time.monotonic() < deadline:
        try:
            states = [a["state"] for a in engine.agents(api)]
        except OSError:
            gevent.sleep(0.5)
            continue
        stuck = sum(1 for state in states if state in ("offered", "on_call"))
        if stuck == 0 and "wrap_up" not in states:
            break
        if time.monotonic() > deadline - 1:
            print("agents left:", [a for a in engine.agents(api) if a["state"] in ("offered", "on_call")])
        gevent.sleep(0.5)
    return stuck


def explain(url: str, lost: list[str]) -> None:
    """What the records say of the calls that never reached an agent."""
    store = TicketStore(url)
    for uuid in lost:
        record = store.get(uuid)
        print(f"lost {uuid}: " + (f"{record.exit_reason} side={record.hangup_side} path={record.ivr_path} "
                                  f"offers={[(o.agent, o.result) for o in record.offers]}" if record else "no record"))


def twice(log: Path) -> int:
    """How many calls the engines' log shows recorded more than once (``call.record`` lines); each is printed."""
    recorded = Counter(re.search(r"call_id=(\S+)", line).group(1) for line in log.read_text().splitlines()
                       if " call.record " in line)
    for call_id in (call_id for call_id, times in recorded.items() if times > 1):
        print(f"recorded {recorded[call_id]} times: {call_id}")
    return sum(1 for times in recorded.values() if times > 1)


def missing(url: str, uuids: list[str]) -> int:
    """How many of the calls ``uuids`` have no record in the ticket store; each is printed."""
    store = TicketStore(url)
    stored = set(store.call_ids())
    absent = [uuid for uuid in uuids if uuid not in stored]
    for uuid in absent:
        print(f"no record: {uuid}")
    return len(absent)


# --- on the double -------------------------------------------------------------------------------------------


def _double(pipe: multiprocessing.connection.Connection, password: str, dialplan: str, agents: int, calls: int,
            rate: float, seed: int, talk: tuple[float, float]) -> None:
    """The double, its citizens (talking ``talk`` seconds, low to high), its agents and 110, in their own process;
    cuts on request, a report at the end."""
    from fakeswitch import FakeSwitch

    rng = random.Random(seed)
    switch = FakeSwitch(password, time_scale=0.2, playback_seconds=1.0)
    switch.load_dialplan(dialplan)
    for n in range(agents):
        switch.set_endpoint(f"user/c{n:03d}", answer_after=rng.uniform(0.2, 1.0))
    switch.set_endpoint("sofia/gateway/pstn/110", answer_after=0.5, hangup_after=4.0)  # the default directory's 110
    switch.start()
    pipe.send(switch.address)
    placed: list[str] = []
    reached: set[str] = set()

    def citizen() -> None:
        call = switch.place_call(caller_id_number=f"13{rng.randrange(10**9):09d}", destination_number="12345",
                                 dtmf=rng.choice(["1", "1", "1", ""]))
        placed.append(call.uuid)
        if switch.wait(lambda: call.bridged_to is not None or call.hangup_cause is not None, timeout=60):
            if call.bridged_to is not None:
                reached.add(call.uuid)
                gevent.sleep(rng.uniform(*talk))
        call.hangup()

    def load() -> None:
        citizens = []
        for _ in range(calls):
            citizens.append(gevent.spawn(citizen))
            gevent.sleep(rng.expovariate(rate))
        gevent.joinall(citizens)

    loading = None
    while True:
        while not pipe.poll():
            gevent.sleep(0.01)
        command = pipe.recv()
        if command == "load":
            loading = gevent.spawn(load)
        elif command == "cut":
            switch.reload_event_socket(down_s=0.05)  # the port refuses for about 50 ms, as measured on 1.10.12
        elif command == "report":
            loading.join()
            switch.wait(lambda: not switch.channels, timeout=20)
            pipe.send((placed, sorted(reached), len(switch.channels)))
        elif command == "stop":
            switch.stop()
            return


def on_the_double(args: argparse.Namespace, work: Path) -> tuple[int, int, int, int, int, int, int, Counter]:
    password = "chaos-esl-password-1"
    settings = settings_for(work, ("127.0.0.1", 0, password), args.agents, "user/c{n:03d}")
    settings["switch"]["port"] = 1  # placeholder until the double has its port
    render(config.Settings.model_validate(settings), work / "freeswitch")
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_double, args=(theirs, password, str(work / "freeswitch" / PUBLIC_DIALPLAN), args.agents, args.calls,
                              args.rate, args.seed, (2, 5) if args.call_control else (1, 2)))
    process.start()
    host, port = ours.recv()
    settings["switch"]["port"] = port
    path = work / "hotline.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True))
    engine = EngineProcess(path, work)
    engine.start()
    gevent.sleep(3)  # the engine starts and links before the first citizen dials
    ours.send("load")
    api, seconds = settings["acd"]["api"]["listen"], args.calls / args.rate
    acting = gevent.spawn(control, engine, api, random.Random(args.seed), 20.0, time.monotonic() + seconds) \
        if args.call_control else None
    cuts, kills = chaos(engine, lambda: ours.send("cut"), seconds, args.cuts)
    ours.send("report")
    while not ours.poll():
        gevent.sleep(0.05)
    placed, reached, orphans = ours.recv()
    stuck = settle(engine, api, args.agents)
    engine.stop()
    ours.send("stop")
    process.join(10)
    explain(settings["tickets"]["url"], sorted(set(placed) - set(reached)))
    return (cuts, kills, len(placed), len(placed) - len(reached), orphans, stuck,
            missing(settings["tickets"]["url"], placed), acting.get() if acting is not None else Counter())


# --- on a real FreeSWITCH with sipp ------------------------------------------------------------------------


def on_the_switch(args: argparse.Namespace, work: Path) -> tuple[int, int, int, int, int, int, int, Counter]:
    """Needs the rendered configuration installed for service number 12345 (see the README)."""
    address = (os.environ["HOTLINE_FS_HOST"], int(os.environ.get("HOTLINE_FS_PORT", "8021")),
               os.environ["HOTLINE_FS_PASSWORD"])
    settings = settings_for(work, address, args.agents, f"sofia/external/c{{n:03d}}@127.0.0.1:{AGENT_PORT}")
    path = work / "hotline.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True))
    link = SwitchLink(*address)
    link.start()
    link.wait_connected(10)
    link.api("hupall MANAGER_REQUEST")
    link.api("fsctl sps 1000")  # stock FreeSWITCH admits 30 sessions/s; each call takes two (caller, agent)
    (work / "agents.xml").write_text(agent_phone(ring_ms=300, talk_ms=args.talk_ms))  # agents end their calls
    (work / "citizen.xml").write_text(citizen_phone([("", 800), ("1", 0)], hangs_up=False))  # callers wait for it
    common = ["-i", "127.0.0.1", "-nostdin", "-timeout", "180s", "-l", str(args.calls), "-trace_err",
              "-trace_stat", "-stf", "stats.csv"]
    agents = subprocess.Popen([shutil.which("sipp"), "-sf", "agents.xml", "-p", str(AGENT_PORT), "-mp", "7500",
                               "-m", str(args.calls * 10), *common], cwd=work, stdout=subprocess.DEVNULL,  # offers
                              stderr=subprocess.STDOUT)
    engine = EngineProcess(path, work)
    engine.start()
    gevent.sleep(3)
    citizens = subprocess.Popen([shutil.which("sipp"), "127.0.0.1:5080", "-sf", "citizen.xml", "-s", "12345",
                                 "-p", str(CITIZEN_PORT), "-mp", "7700", "-r", f"{args.rate:g}", "-m", str(args.calls),
                                 *common[:-2], "-stf", "citizens.csv"], cwd=work, stdout=subprocess.DEVNULL,
                                stderr=subprocess.STDOUT)

    def cut() -> None:
        try:
            link.bgapi("reload mod_event_socket")
        except EslError:
            pass  # our own link is being cut as well

    cuts, kills = chaos(engine, cut, args.calls / args.rate, args.cuts)
    try:
        citizens.wait(120)
    except subprocess.TimeoutExpired:
        citizens.kill()  # callers still waiting two minutes on: lost, and their calls are in the records below
    stuck = settle(engine, settings["acd"]["api"]["listen"], args.agents)
    link.wait_connected(10)
    gevent.sleep(2)  # show channels trails the events by up to a second on 1.10.12
    orphans = json.loads(link.api("show channels as json"))["row_count"]
    engine.stop()
    agents.kill()
    link.stop()
    store = TicketStore(settings["tickets"]["url"])
    records = [store.get(call_id) for call_id in store.call_ids()]
    unreached = [r.call_id for r in records if r.agent is None and r.exit_reason != "unseen"]
    explain(settings["tickets"]["url"], unreached)
    unseen = sum(1 for r in records if r.exit_reason == "unseen")
    print(f"unseen={unseen} (put through to an agent as the link was cut, then ended before it was back: whether "
          "they talked is not known; on the callback list)")
    return cuts, kills, args.calls, len(unreached), orphans, stuck, max(0, args.calls - len(records)), Counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--cuts", type=int, default=10)
    parser.add_argument("--agents", type=int, default=40)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--talk-ms", type=int, default=3000, help="--switch: how long sipp's agents talk")
    parser.add_argument("--switch", action="store_true", help="a real FreeSWITCH (HOTLINE_FS_*) with sipp")
    parser.add_argument("--call-control", action="store_true",
                        help="on the double: agents hold, transfer, consult and call three-way meanwhile")
    args = parser.parse_args()
    if args.switch and args.call_control:
        parser.error("--call-control runs on the double only")
    work = Path(tempfile.mkdtemp(prefix="hotline-chaos-"))
    cuts, kills, calls, lost, orphans, stuck, records, acted = \
        (on_the_switch if args.switch else on_the_double)(args, work)
    repeated = twice(work / "engine.log")
    print(f"engine log and records in {work}")
    print(f"cuts={cuts} kills={kills} calls={calls} lost={lost} orphan_legs={orphans} stuck_agents={stuck} "
          f"records_missing={records} records_twice={repeated}" + (f" actions={acted['done']} refused={acted['refused']} "
                                          f"errors={acted['errors']}" if args.call_control else ""))


if __name__ == "__main__":
    main()
