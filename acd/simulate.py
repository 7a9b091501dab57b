"""``hotline simulate``: the real decision core under a virtual clock, with synthetic citizens and agents.

Arrivals are Poisson, handle times exponential, patience exponential (or infinite), agents always answer
after ``ring_s``. Time jumps from one event to the next, so an 8-hour day takes seconds. With no abandonment
and no wrap-up the queue is M/M/c, and its service level must match the Erlang C formula.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import statistics
from dataclasses import dataclass, field, replace

from acd.agents import Agent
from acd.distributor import Action, CancelOffer, Distributor, Leave, Offer
from acd.queues import QueueSpec, Strategy
from acd.service_level import Counts, ServiceLevel, kpi_lines


@dataclass(frozen=True)
class Scenario:
    agents: int = 30
    calls_per_hour: float = 500.0
    handle_s: float = 180.0
    patience_s: float | None = 120.0
    """Mean patience of a waiting caller; None: nobody hangs up while waiting."""
    hours: float = 8.0
    ring_s: float = 0.0
    wrap_up_s: float = 0.0
    strategy: Strategy = Strategy.LONGEST_IDLE
    last_in_first_out: bool = False
    """A deliberately wrong queue discipline, for checking that the Erlang C test can tell."""
    seed: int = 12345


@dataclass
class Report:
    scenario: Scenario
    totals: Counts
    max_waiting: int = 0
    events: int = 0
    busy_ms: int = 0
    thresholds_s: tuple[int, ...] = (15, 20, 30)

    @property
    def occupancy(self) -> float:
        return self.busy_ms / (self.scenario.agents * self.scenario.hours * 3_600_000)

    def lines(self) -> list[str]:
        t, s = self.totals, self.scenario
        return [f"{s.agents} agents, {s.calls_per_hour:g} calls/h for {s.hours:g} h, handle {s.handle_s:g} s, "
                f"patience {s.patience_s if s.patience_s is not None else 'infinite'} s, strategy {s.strategy.value}",
                f"max waiting {self.max_waiting}  occupancy {self.occupancy:.1%}",
                *kpi_lines(t, self.thresholds_s)]


@dataclass(order=True)
class _Event:
    at_ms: int
    seq: int
    kind: str = field(compare=False)
    call: str = field(compare=False)
    agent: str = field(compare=False, default="")


def run(scenario: Scenario) -> Report:
    """Simulate ``scenario`` and return its KPI report."""
    rng = random.Random(scenario.seed)
    queue = QueueSpec("general", "general", strategy=scenario.strategy, wrap_up_s=scenario.wrap_up_s,
                      ring_timeout_s=max(30.0, scenario.ring_s * 2))
    distributor = Distributor([queue], service_level=ServiceLevel(keep_days=None), rng=rng)
    for n in range(scenario.agents):
        distributor.add_agent(Agent(f"a{n:03d}", f"user/a{n:03d}", {"general": 5}))
        distributor.login(f"a{n:03d}", 0, ready=True)
    events: list[_Event] = []
    seq = itertools.count()
    end_ms = int(scenario.hours * 3_600_000)
    ringing: set[tuple[str, str]] = set()
    report = Report(scenario, Counts())

    def at(ms: float, kind: str, call: str, agent: str = "") -> None:
        heapq.heappush(events, _Event(int(ms), next(seq), kind, call, agent))

    def carry_out(actions: list[Action], now: int) -> None:
        for action in actions:
            if isinstance(action, Offer):
                ringing.add((action.call_id, action.agent))
                at(now + scenario.ring_s * 1000, "answer", action.call_id, action.agent)
            elif isinstance(action, CancelOffer):
                ringing.discard((action.call_id, action.agent))
            elif isinstance(action, Leave):
                pass  # overflow is not part of these scenarios

    calls = itertools.count()
    at(rng.expovariate(scenario.calls_per_hour / 3_600_000), "arrival", "")
    while events or distributor.next_due() is not None:
        due = distributor.next_due()
        if due is not None and (not events or due <= events[0].at_ms):
            carry_out(distributor.advance(due), due)
            continue
        event = heapq.heappop(events)
        now = event.at_ms
        report.events += 1
        if event.kind == "arrival":
            call = f"c{next(calls)}"
            priority = next(seq) if scenario.last_in_first_out else 0
            carry_out(distributor.enqueue(call, "general", call, now, priority=priority), now)
            report.max_waiting = max(report.max_waiting, len(distributor.waiting["general"]))
            if scenario.patience_s is not None:
                at(now + rng.expovariate(1 / scenario.patience_s) * 1000, "abandon", call)
            following = now + rng.expovariate(scenario.calls_per_hour / 3_600_000)
            if following < end_ms:
                at(following, "arrival", "")
        elif event.kind == "answer" and (event.call, event.agent) in ringing:
            ringing.discard((event.call, event.agent))
            carry_out(distributor.answered(event.call, event.agent, now), now)
            handle = rng.expovariate(1 / scenario.handle_s) * 1000
            report.busy_ms += int(min(handle, max(0, end_ms - now)))
            at(now + handle, "end", event.call, event.agent)
        elif event.kind == "abandon" and event.call in distributor.callers:
            carry_out(distributor.caller_left(event.call, now), now)
        elif event.kind == "end":
            carry_out(distributor.call_ended(event.agent, now), now)
    report.totals = distributor.service_level.total("general")
    return report


def runs(scenario: Scenario, count: int) -> list[Report]:
    """``scenario`` run ``count`` times with consecutive seeds from its own: one run's figures alone hide how much
    another day's callers would move them."""
    return [run(replace(scenario, seed=scenario.seed + n)) for n in range(count)]


def spread_lines(reports: list[Report], threshold_s: int = 20) -> list[str]:
    """Mean, standard deviation and range across ``reports`` of the figures a centre is judged by."""
    def shown(name: str, values: list[float | None], unit: str, scale: float) -> str:
        known = [value * scale for value in values if value is not None]
        if not known:
            return f"  {name}: -"
        sd = statistics.stdev(known) if len(known) > 1 else 0.0
        return (f"  {name}: mean {statistics.fmean(known):.1f}{unit}  sd {sd:.1f}{unit}  "
                f"min {min(known):.1f}{unit}  max {max(known):.1f}{unit}")

    totals = [report.totals for report in reports]
    seeds = [report.scenario.seed for report in reports]
    return [f"spread over {len(reports)} runs (seeds {seeds[0]}-{seeds[-1]}):",
            shown(f"{threshold_s} s service level (12345 form)",
                  [t.levels(threshold_s)["hotline_12345"] for t in totals], "%", 100),
            shown("average speed of answer", [t.wait_ms_total / t.answered if t.answered else None for t in totals],
                  " s", 1 / 1000),
            shown("abandoned", [t.abandoned / t.requests if t.requests else None for t in totals], "%", 100)]


def erlang_c(agents: int, erlangs: float) -> float:
    """Probability that an arriving caller has to wait in an M/M/c queue (Erlang C).

    Computed from Erlang B's recursion B(k) = A B(k-1) / (k + A B(k-1)), whose every step stays in [0, 1]: the
    textbook A^c / c! overflows a float past about 170 agents.
    """
    if erlangs >= agents:
        return 1.0
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = erlangs * blocking / (k + erlangs * blocking)
    return agents * blocking / (agents - erlangs * (1 - blocking))


def erlang_c_service_level(agents: int, calls_per_hour: float, handle_s: float, threshold_s: float) -> float:
    """Share of callers answered within ``threshold_s`` in M/M/c: 1 - C(c, A) e^{-(c - A) t / h}."""
    erlangs = calls_per_hour * handle_s / 3600
    return 1 - erlang_c(agents, erlangs) * math.exp(-(agents - erlangs) * threshold_s / handle_s)
