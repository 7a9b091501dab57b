"""The report's figures recomputed in plain Python from the raw records, straight from the definitions, sharing no
code with reports/: what the property tests hold the SQL to (and what bench/report.py times as its baseline)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from calls.record import CallTimeline
from tickets.agent_states import StateChange

LEVELS = ("非常满意", "满意", "基本满意", "不满意", "非常不满意")


def period_of(at_ms: int, zone: ZoneInfo, by: str | None) -> str:
    local = dt.datetime.fromtimestamp(at_ms / 1000, zone)
    if by == "hour":
        return f"{local:%Y-%m-%d %H}:00"
    if by == "week":
        return "%d-W%02d" % local.isocalendar()[:2]
    if by == "month":
        return f"{local:%Y-%m}"
    return f"{local:%Y-%m-%d}" if by == "day" else "合计 total"


def key_of(record: CallTimeline, at_ms: int, zone: ZoneInfo, by: str | None) -> str:
    if by in ("queue", "tenant", "agent"):
        return getattr(record, by) or "-"
    return period_of(at_ms, zone, by)


def recompute(records: list[CallTimeline], called_back_ms: dict[str, int], first: dt.date, last: dt.date,
              timezone: str, by: str | None, thresholds: tuple[int, ...], quick_s: float, callback_hours: float,
              dimensions: tuple[str, ...], changes: list[StateChange] = (), reasons: tuple[str, ...] = (),
              now_ms: int = 0) -> dict[str, dict[str, float | int | None]]:
    """Figure key -> value, per row key (as the report names its rows), from ``records``, the time each call
    was called back (``called_back_ms``) and the agents' state ``changes`` (a state lasts until the next change,
    the last one until ``now_ms``)."""
    zone = ZoneInfo(timezone)
    start = dt.datetime.combine(first, dt.time(), zone).timestamp() * 1000
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone).timestamp() * 1000
    quick_ms = quick_s * 1000
    sums: dict[str, dict[str, float]] = {}

    def add(key: str, name: str, value: float = 1) -> None:
        sums.setdefault(key, {})[name] = sums.setdefault(key, {}).get(name, 0) + value

    for r in records:
        if start <= r.switch_entry_ms < end:
            key = key_of(r, r.switch_entry_ms, zone, by)
            add(key, "offered")
            if r.exit_reason in ("system_failure", "safety_net") and r.queue_entry_ms is None:
                add(key, "lost")
            quick = r.exit_reason == "abandoned" and r.queue_entry_ms is not None and r.hangup_ms is not None \
                and r.hangup_ms - r.queue_entry_ms < quick_ms
            if r.exit_reason == "voicemail" or (r.queue_entry_ms is not None and r.answered_ms is None and not quick):
                add(key, "missed")
                ended = r.hangup_ms if r.hangup_ms is not None else r.switch_entry_ms
                if r.call_id in called_back_ms and called_back_ms[r.call_id] - ended <= callback_hours * 3_600_000:
                    add(key, "called_back")
        if r.queue_entry_ms is None or not start <= r.queue_entry_ms < end:
            continue
        key = key_of(r, r.queue_entry_ms, zone, by)
        add(key, "requests")
        if any(t.queue is not None for t in r.transfers):
            add(key, "transfers_in")
        if r.answered_ms is not None:
            wait = r.answered_ms - r.queue_entry_ms
            add(key, "answered")
            add(key, "wait_ms", wait)
            add(key, "held_ms", r.held_ms)
            add(key, "consult_ms", r.consult_ms)
            for t in thresholds:
                add(key, f"answered_{t}", wait <= t * 1000)
            if r.hangup_ms is not None:
                add(key, "ended")
                add(key, "talk_ms", r.hangup_ms - r.answered_ms - r.held_ms - r.consult_ms)
        if r.exit_reason == "abandoned":
            add(key, "abandoned")
            waited = r.hangup_ms - r.queue_entry_ms if r.hangup_ms is not None else None
            if waited is not None:
                add(key, "quick", waited < quick_ms)
                edges = (0, 5, 10, 20, 30, 60)
                bands = [f"{a}-{b}s" for a, b in zip(edges, edges[1:])]
                band = next((name for name, b in zip(bands, edges[1:]) if waited < b * 1000), "60s+")
                add(key, f"abandoned_{band}")
        for d in dimensions:
            rating = (r.survey or {}).get(d)
            if rating in LEVELS:
                add(key, f"rated_{d}")
                add(key, f"satisfied_{d}", rating in LEVELS[:2])
    if by in (None, "agent"):
        for agent, times in agent_time(changes, int(start), int(end), now_ms, reasons).items():
            for name, value in times.items():
                add(agent if by == "agent" else "合计 total", name, value)
    return {key: rates(n, thresholds, dimensions, reasons) for key, n in sums.items()}


def agent_time(changes: list[StateChange], start: int, end: int, now_ms: int,
               reasons: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Per agent, milliseconds logged in, handling, available and not ready by reason within [start, end)."""
    found: dict[str, dict[str, float]] = {}
    by_agent: dict[str, list[StateChange]] = {}
    for change in sorted(changes, key=lambda c: (c.at_ms, c.id)):
        by_agent.setdefault(change.agent, []).append(change)
    for agent, mine in by_agent.items():
        if not any(c.at_ms < end for c in mine):
            continue
        times = found.setdefault(agent, {"login_ms": 0, "handling_ms": 0, "available_ms": 0,
                                         **{f"not_ready_{r}_ms": 0 for r in reasons}})
        for change, following in zip(mine, [*mine[1:], None]):
            until = following.at_ms if following is not None else now_ms
            span = max(0, min(until, end) - max(change.at_ms, start))
            if change.state != "logged_out":
                times["login_ms"] += span
            if change.state in ("on_call", "wrap_up"):
                times["handling_ms"] += span
            if change.state in ("ready", "offered"):
                times["available_ms"] += span
            if change.state == "not_ready" and change.reason in reasons:
                times[f"not_ready_{change.reason}_ms"] += span
    return found


def rates(n: dict[str, float], thresholds: tuple[int, ...], dimensions: tuple[str, ...],
          reasons: tuple[str, ...] = ()) -> dict[str, float | int | None]:
    def ratio(a: str, b: float) -> float | None:
        return n.get(a, 0) / b if b else None

    seconds = lambda ms: None if ms is None else ms / 1000  # noqa: E731
    return {"offered": n.get("offered", 0), "requests": n.get("requests", 0), "answered": n.get("answered", 0),
            **{f"within_{t}": ratio(f"answered_{t}", n.get("requests", 0) - n.get("quick", 0)) for t in thresholds},
            "answer_rate": ratio("answered", n.get("requests", 0)), "lost_rate": ratio("lost", n.get("offered", 0)),
            "abandoned": n.get("abandoned", 0), "quick": n.get("quick", 0), "transfers_in": n.get("transfers_in", 0),
            "asa_s": seconds(ratio("wait_ms", n.get("answered", 0))), "talk_s": seconds(ratio("talk_ms", n.get("ended", 0))),
            "hold_s": seconds(ratio("held_ms", n.get("answered", 0))),
            "consult_s": seconds(ratio("consult_ms", n.get("answered", 0))), "missed": n.get("missed", 0),
            "callback_rate": ratio("called_back", n.get("missed", 0)),
            **{f"satisfaction_{d}": ratio(f"satisfied_{d}", n.get(f"rated_{d}", 0)) for d in dimensions},
            **{f"abandoned_{b}": n.get(f"abandoned_{b}", 0)
               for b in ("0-5s", "5-10s", "10-20s", "20-30s", "30-60s", "60s+")},
            "login_h": n["login_ms"] / 3_600_000 if "login_ms" in n else None,
            "occupancy": ratio("handling_ms", n.get("handling_ms", 0) + n.get("available_ms", 0))
            if "login_ms" in n else None,
            **{f"not_ready_{r}_h": n[f"not_ready_{r}_ms"] / 3_600_000 if "login_ms" in n else None for r in reasons}}
