"""ACD dispatch on the FreeSWITCH double: 1,000 agents, 5,000 waiting callers, everything over real ESL.

    python bench/acd_dispatch.py [--agents 1000] [--waiting 5000] [--seconds 5]

Measures (latency and memory with engine and double in one process, so those figures are a ceiling):
* ready_to_offer: an agent becomes ready while callers wait -> the agent leg's ``bgapi originate`` is sent;
* enqueue_to_offer: a caller is enqueued while agents are ready -> the originate is sent;
* memory per waiting call: what the ACD and the call model allocate for each waiting caller (tracemalloc,
  acd/ and calls/ files only);
* cps: whole calls per second, sustained, end to end (the double places a call, it parks, the engine enqueues
  and offers it, the agent answers, the engine bridges, the caller hangs up, the agent is ready again), with
  the double in its own process and the engine on one core (gevent runs it on one thread); also the engine's
  CPU per call, the capacity it implies, and the double's CPU, to show which side limits.

Baseline, in the same process on the same double: mod_callcenter's discipline (acd-reference.md §3), which
looks for work in a 100 ms poll rather than on the event, replayed through the same engine. On a real
FreeSWITCH 1.11 mod_callcenter measured join -> offer p99 100-120 ms and agent freed -> offer p99 1,000 ms.
Last line: ``cps=<n> ready_to_offer_p99_ms=<x> enqueue_to_offer_p99_ms=<x> kib_per_waiting_call=<x>``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.connection
import time
import tracemalloc
import uuid
from collections.abc import Callable

import gevent

import config
from acd.queueing import Queueing
from calls.book import CallBook
from calls.clock import Clock
from calls.commands import Originate
from calls.journal import NoJournal
from calls.notices import ToQueue
from engine.capability import Hub
from engine.commands import SwitchCommands
from engine.link import ENGINE_EVENTS
from esl import Event, SwitchLink
from fakeswitch import FakeSwitch

PASSWORD = "bench-password-123"


def acd_over(link: SwitchLink, agents: int) -> tuple[Hub, Queueing]:
    """The engine's ACD alone (queueing and the switch commands on a hub, no IVR), resumed and ready to take calls."""
    settings = config.Settings.model_validate({
        "centre": {"name": "bench"}, "switch": {"password": PASSWORD},
        "acd": {"queues": {"general": {"skill": "general", "wrap_up": 0, "ring_timeout": 600}},
                "agents": {f"a{n:04d}": {"contact": f"user/a{n:04d}", "skills": {"general": 5}} for n in range(agents)}}})
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


class Poller:
    """The baseline's discipline: work is found on the next pass of a fixed poll, not when it appears."""

    def __init__(self, interval_s: float) -> None:
        self.pending: list[tuple[Callable[..., None], tuple]] = []
        self.greenlet = gevent.spawn(self._run, interval_s)

    def __call__(self, action: Callable[..., None], *args: object) -> None:
        self.pending.append((action, args))

    def _run(self, interval_s: float) -> None:
        while True:
            gevent.sleep(interval_s)
            pending, self.pending = self.pending, []
            for action, args in pending:
                action(*args)


def at_once(action: Callable[..., None], *args: object) -> None:
    action(*args)


def _settle(bench: Bench, expected: int) -> None:
    deadline = time.monotonic() + 30
    while len(bench.latency) < expected and time.monotonic() < deadline:
        gevent.sleep(0.01)


def enqueue_to_offer(agents: int, submit: Callable[..., None]) -> list[float]:
    """Callers arrive about a millisecond apart while every agent is ready."""
    bench = Bench(agents, ring_forever=True)
    try:
        for agent in bench.core.agents:
            bench.queueing.command(agent, "login")
        for _ in range(agents):
            call = str(uuid.uuid4())
            bench.started[call] = time.perf_counter()
            submit(enqueue, bench.hub, call)
            gevent.sleep(0.001)
        _settle(bench, agents)
        return bench.latency
    finally:
        bench.close()


def ready_to_offer(agents: int, waiting: int, submit: Callable[..., None]) -> tuple[list[float], float]:
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
            submit(bench.queueing.command, agent, "ready")
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


def report(name: str, values: list[float]) -> None:
    print(f"{name:34} n={len(values)} p50={percentile(values, 50):8.3f} ms p99={percentile(values, 99):8.3f} ms "
          f"max={max(values):8.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--waiting", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--in-flight", type=int, default=800, help="calls the double keeps in progress")
    args = parser.parse_args()
    poller = Poller(0.1)
    baseline_enqueue = enqueue_to_offer(args.agents, poller)
    baseline_ready, _ = ready_to_offer(args.agents, args.waiting, poller)
    poller.greenlet.kill()
    enqueue = enqueue_to_offer(args.agents, at_once)
    ready, kib = ready_to_offer(args.agents, args.waiting, at_once)
    cps, cpu_ms_per_call, double_busy = sustained_cps(args.agents, args.seconds, args.in_flight)
    report("enqueue -> offer (baseline poll)", baseline_enqueue)
    report("enqueue -> offer (ours)", enqueue)
    report("ready -> offer (baseline poll)", baseline_ready)
    report("ready -> offer (ours)", ready)
    print(f"memory per waiting call: {kib:.2f} KiB (ACD and call model allocations; {args.waiting} waiting)")
    print(f"sustained: {cps:.0f} calls/s end to end, {args.in_flight} in flight; the double used "
          f"{double_busy:.0%} of a core; engine CPU {cpu_ms_per_call:.2f} ms per call, "
          f"so {1000 / cpu_ms_per_call:.0f} calls/s would fill the engine's core")
    print("mod_callcenter on a real FreeSWITCH 1.11 (acd-reference.md §3): join -> offer p99 100-120 ms, "
          "agent freed -> offer p99 1,000 ms")
    print(f"cps={cps:.0f} ready_to_offer_p99_ms={percentile(ready, 99):.3f} "
          f"enqueue_to_offer_p99_ms={percentile(enqueue, 99):.3f} kib_per_waiting_call={kib:.2f}")


if __name__ == "__main__":
    main()
