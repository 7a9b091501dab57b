"""ACD dispatch on the FreeSWITCH double at scale, and the engine's CPU per call end to end, everything over real ESL.

    python bench/acd_dispatch.py [--agents 5000] [--waiting 20000] [--seconds 5] [--calls 600 --rate 20]

Measures, by this process's own clock (engine and double in one process for the latencies, so they are the
dispatch alone, not what a caller hears: bench/vs_mod_callcenter.py measures that by the switch's clock):
* ready_to_offer: an agent becomes ready while ``--waiting`` callers wait -> the agent leg's ``bgapi originate`` is
  sent;
* enqueue_to_offer: a caller is enqueued while ``--agents`` agents are ready -> the originate is sent;
* memory per waiting call: what the ACD and the call model allocate for each waiting caller (tracemalloc,
  acd/ and calls/ files only);
* cps: whole calls per second through the ACD alone, sustained (the double places a call, it parks, the engine
  enqueues and offers it, the agent answers, the engine bridges, the caller hangs up, the agent is ready again),
  with the double in its own process and the engine on one core (gevent runs it on one thread);
* engine_cpu_ms_per_call: the whole engine (``Engine``, as ``hotline serve`` runs it) end to end, the double in its
  own process running the rendered dialplan: ``--calls`` citizens at ``--rate`` calls/s through a one-prompt menu
  (silence leads to the queue) to an agent, a second of talk, hang-up, the record stored in the ticket store (SQLite);
  this process's CPU time over the run, per call.

No baseline runs here: mod_callcenter is measured against this engine on a real FreeSWITCH by
bench/vs_mod_callcenter.py (replaying its algorithm here would not be mod_callcenter).
Last line: ``cps=<n> ready_to_offer_p99_ms=<x> enqueue_to_offer_p99_ms=<x> kib_per_waiting_call=<x>
engine_cpu_ms_per_call=<x>``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
import multiprocessing
import multiprocessing.connection
import time
import tracemalloc
import uuid

import gevent

import config
from acd.queueing import Queueing
from config.ivr import Menu
from calls.book import CallBook
from calls.clock import Clock
from calls.commands import Originate
from calls.journal import NoJournal
from calls.notices import ToQueue
from engine.capability import Hub
from engine.commands import SwitchCommands
from engine.link import ENGINE_EVENTS, switch_link
from engine.process import Engine
from esl import Event, SwitchLink
from fakeswitch import FakeSwitch
from on_the_double import close_double, drive, open_double, settings_for
from switch_conf.render import PUBLIC_DIALPLAN, render
from telemetry import logs

PASSWORD = "bench-password-123"


def acd_over(link: SwitchLink, agents: int) -> tuple[Hub, Queueing]:
    """The engine's ACD alone (queueing and the switch commands on a hub, no IVR), resumed and ready to take calls."""
    settings = config.Settings.model_validate({
        "centre": {"name": "bench"}, "switch": {"password": PASSWORD},
        "acd": {"queues": {"general": {"skill": "general", "wrap_up": 0, "ring_timeout": 600}},
                "agents": {f"a{n:04d}": {"contact": f"sofia/internal/a{n:04d}@127.0.0.1", "skills": {"general": 5}} for n in range(agents)}}})
    hub = Hub(settings, link, CallBook(lambda record: None), Clock(), NoJournal())
    SwitchCommands().attach(hub)
    queueing = Queueing(settings, {})
    queueing.attach(hub)
    hub.run(queueing.connector.resume())
    return hub, queueing


def enqueue(hub: Hub, call: str) -> None:
    """A caller asks for a human (what the front door does after its menus)."""
    hub.book.open(call, "13800138000", "12345", hub.clock())
    hub.run([ToQueue(call, "general", "13800138000", hub.clock())])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class Bench:
    def __init__(self, agents: int, ring_forever: bool) -> None:
        self.switch = FakeSwitch(PASSWORD, heartbeat_interval=None, playback_seconds=0.0)
        self.switch.default_endpoint.answer_after = None if ring_forever else 0.0
        self.switch.start()
        self.link = SwitchLink(*self.switch.address, PASSWORD, events=ENGINE_EVENTS)
        self.link.start()
        self.link.wait_connected(10)
        self.hub, self.queueing = acd_over(self.link, agents)
        self.core = self.queueing.core
        self.started: dict[str, float] = {}
        self.latency: list[float] = []
        self.hub.on(Originate, self._sent)

    def _sent(self, offer: Originate) -> None:
        started = self.started.pop(offer.variables["hotline_call"], None) or \
            self.started.pop(offer.variables["hotline_agent"], None)
        if started is not None:
            self.latency.append((time.perf_counter() - started) * 1000)

    def close(self) -> None:
        self.queueing.stop()
        self.link.stop()
        self.switch.stop()


def _settle(bench: Bench, expected: int) -> None:
    deadline = time.monotonic() + 30
    while len(bench.latency) < expected and time.monotonic() < deadline:
        gevent.sleep(0.01)


def enqueue_to_offer(agents: int) -> list[float]:
    """Callers arrive about a millisecond apart while every agent is ready."""
    bench = Bench(agents, ring_forever=True)
    try:
        for agent in bench.core.agents:
            bench.queueing.command(agent, "login")
        for _ in range(agents):
            call = str(uuid.uuid4())
            bench.started[call] = time.perf_counter()
            enqueue(bench.hub, call)
            gevent.sleep(0.001)
        _settle(bench, agents)
        return bench.latency
    finally:
        bench.close()


def ready_to_offer(agents: int, waiting: int) -> tuple[list[float], float]:
    """Agents become ready about a millisecond apart while ``waiting`` callers wait."""
    bench = Bench(agents, ring_forever=True)
    try:
        for agent in bench.core.agents:
            bench.core.login(agent, bench.hub.clock(), ready=False)
        ours = [tracemalloc.Filter(True, "*/acd/*"), tracemalloc.Filter(True, "*/calls/*")]
        tracemalloc.start()
        before = tracemalloc.take_snapshot().filter_traces(ours)
        for _ in range(waiting):
            enqueue(bench.hub, str(uuid.uuid4()))
        after = tracemalloc.take_snapshot().filter_traces(ours)
        tracemalloc.stop()
        grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
        for agent in bench.core.agents:
            bench.started[agent] = time.perf_counter()
            bench.queueing.command(agent, "ready")
            gevent.sleep(0.001)
        _settle(bench, agents)
        return bench.latency, grown / waiting / 1024
    finally:
        bench.close()


def _switch_process(address: multiprocessing.connection.Connection, seconds: float, in_flight: int) -> None:
    """The double and its citizens in their own process: each caller hangs up as soon as it is bridged."""
    switch = FakeSwitch(PASSWORD, heartbeat_interval=None, playback_seconds=0.0)
    switch.start()
    address.send(switch.address)
    while not address.poll():  # the engine links and logs its agents in; a blocking recv would stall the hub
        gevent.sleep(0.01)
    address.recv()
    done, calls = 0, []
    started, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        still = []
        for call in calls:
            if call.bridged_to is not None:
                call.hangup()
                done += 1
            elif call.hangup_cause is None:
                still.append(call)
        calls = still
        while len(calls) < in_flight:
            calls.append(switch.place_call(caller_id_number="13800138000", destination_number="12345"))
        gevent.sleep(0.01)
    elapsed = time.perf_counter() - started
    address.send((done / elapsed, (time.process_time() - cpu) / elapsed))
    switch.stop()


def sustained_cps(agents: int, seconds: float, in_flight: int) -> tuple[float, float, float]:
    """Whole calls per second end to end; the engine's CPU ms per call; the share of a core the double used."""
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_switch_process, args=(theirs, seconds, in_flight))
    process.start()
    host, port = ours.recv()
    link = SwitchLink(host, port, PASSWORD, events=ENGINE_EVENTS)
    link.start()
    link.wait_connected(10)
    hub, queueing = acd_over(link, agents)
    core = queueing.core

    def parked(event: Event) -> None:
        if hub.book.find(event.uuid) is None:  # a new caller (the agent legs park too)
            enqueue(hub, event.uuid)

    link.on("CHANNEL_PARK", parked)
    for agent in core.agents:
        queueing.command(agent, "login")
    answered = core.service_level.total
    cpu = time.process_time()
    ours.send("go")
    while not ours.poll():
        gevent.sleep(0.01)
    cps, double_busy = ours.recv()
    cpu_ms = (time.process_time() - cpu) * 1000
    calls = answered("general").answered
    queueing.stop()
    link.stop()
    process.join(10)
    return cps, cpu_ms / max(1, calls), double_busy


def _citizens(pipe: multiprocessing.connection.Connection, dialplan: str, agents: int, calls: int, rate: float) -> None:
    """The double (running the rendered dialplan) and its citizens: ``calls`` at ``rate``, each hanging up a second
    after it is bridged to an agent."""
    switch = open_double(pipe, PASSWORD, dialplan, [f"b{n:04d}" for n in range(agents)])
    placed, bridged_at = [], {}
    started = time.perf_counter()
    while len(placed) < calls or any(call.hangup_cause is None for call in placed):
        if len(placed) < calls and time.perf_counter() - started >= len(placed) / rate:
            placed.append(switch.place_call(caller_id_number=f"139{len(placed):08d}", destination_number="12345"))
        for call in placed:
            if call.bridged_to is not None and call.hangup_cause is None:
                if time.perf_counter() - bridged_at.setdefault(call.uuid, time.perf_counter()) >= 1.0:
                    call.hangup()
        gevent.sleep(0.005)
    close_double(pipe, switch, [call.uuid for call in placed])


def engine_cpu_per_call(calls: int, rate: float) -> tuple[float, int]:
    """The whole engine's CPU per call end to end (IVR, queue, agent, record stored); and how many calls were
    recorded answered."""
    work = Path(tempfile.mkdtemp(prefix="hotline-dispatch-bench-"))
    agents = max(10, int(rate * 3))
    base = config.defaults()
    settings = settings_for(work, PASSWORD, [f"b{n:04d}" for n in range(agents)], {
        "menus": {"main": Menu(prompt="choice", timeout=0.1)},
        "tenants": {"default": base.ivr.tenants["default"].model_copy(update={"greeting": []})},
        "survey": base.ivr.survey.model_copy(update={"enabled": False})},
        recorder=base.recorder.model_copy(update={"enabled": False}))
    settings = settings.model_copy(update={"acd": settings.acd.model_copy(update={
        "queues": {"general": settings.acd.queues["general"].model_copy(update={"wrap_up": 0})}})})
    logs.configure(settings.telemetry)
    render(settings, work / "freeswitch")
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_citizens, args=(theirs, str(work / "freeswitch" / PUBLIC_DIALPLAN), agents, calls, rate))
    process.start()
    engine = Engine(settings, switch_link(settings, address=ours.recv()))
    engine.start()
    engine.link.wait_connected(10)
    assert engine.reconciled.wait(10)
    uuids, cpu_s, _ = drive(engine, ours)
    process.join(10)
    answered = sum(1 for uuid in uuids if (record := engine.tickets.get(uuid)) and record.exit_reason == "answered")
    engine.stop()
    return cpu_s * 1000 / len(uuids), answered


def report(name: str, values: list[float]) -> None:
    print(f"{name:34} n={len(values)} p50={percentile(values, 50):8.3f} ms p99={percentile(values, 99):8.3f} ms "
          f"max={max(values):8.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--waiting", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--in-flight", type=int, default=800, help="calls the double keeps in progress")
    parser.add_argument("--calls", type=int, default=600, help="calls through the whole engine")
    parser.add_argument("--rate", type=float, default=20.0, help="calls/s through the whole engine")
    args = parser.parse_args()
    enqueue = enqueue_to_offer(args.agents)
    ready, kib = ready_to_offer(args.agents, args.waiting)
    cps, acd_cpu_ms, double_busy = sustained_cps(min(args.agents, 1000), args.seconds, args.in_flight)
    engine_cpu_ms, answered = engine_cpu_per_call(args.calls, args.rate)
    report(f"enqueue -> offer ({args.agents} agents ready)", enqueue)
    report(f"ready -> offer ({args.waiting} waiting)", ready)
    print(f"memory per waiting call: {kib:.2f} KiB (ACD and call model allocations; {args.waiting} waiting)")
    print(f"ACD alone, sustained: {cps:.0f} calls/s end to end, {args.in_flight} in flight; the double used "
          f"{double_busy:.0%} of a core; {acd_cpu_ms:.2f} ms of CPU per call")
    print(f"whole engine: {args.calls} calls at {args.rate:g}/s through the menu to an agent, {answered} recorded "
          f"answered; {engine_cpu_ms:.2f} ms of CPU per call")
    print(f"cps={cps:.0f} ready_to_offer_p99_ms={percentile(ready, 99):.3f} "
          f"enqueue_to_offer_p99_ms={percentile(enqueue, 99):.3f} kib_per_waiting_call={kib:.2f} "
          f"engine_cpu_ms_per_call={engine_cpu_ms:.2f}")


if __name__ == "__main__":
    main()
