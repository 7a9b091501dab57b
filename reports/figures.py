"""The tender figures from the ticket store, computed in SQL (one code path for SQLite and PostgreSQL) for a range of
the centre's days, by period (hour, day, week, month), queue, tenant or agent.

Two anchors, as the live figures count them: what concerns a request for a human (answer rates, waits, abandons,
talk and hold, satisfaction) belongs to the period its queue entry fell in; what concerns a call as it reached the
switch (calls offered, 呼损, missed calls and their callbacks) to the period it arrived in. Each figure's
definition (``FIGURES``) is printed once with the report.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, case, cast, func, literal, or_, select
from sqlalchemy.engine import Engine

from reports.periods import PERIODS, boundaries, bucket, label
from tickets.store import AgentStateRow, CallbackRow, CallRow

VIEWS = (*PERIODS, "queue", "tenant", "agent")
LOST = ("system_failure", "safety_net")
"""Exit reasons of calls lost inside the switch before distribution (呼损): the engine failed them, or no engine
took them and the switch's own fallback did."""
SATISFIED = ("非常满意", "满意")
"""Satisfied or better, on the 好差评 scale (the tenders' 按键满意率 numerator)."""
ABANDON_BANDS_S = (5, 10, 20, 30, 60)
"""The abandon profile: callers who gave up within 5 s, 5-10 s, ... 60 s and beyond."""


@dataclass(frozen=True, slots=True)
class Figure:
    key: str
    name: str
    """The tenders' own name (Chinese)."""
    gloss: str
    definition: str


@dataclass
class Row:
    """One line of a view: a period, queue, tenant or agent, and its counts (``figures`` computes the rates)."""

    key: str
    counts: dict[str, float] = field(default_factory=dict)


@dataclass
class Report:
    first: dt.date
    last: dt.date
    by: str | None
    thresholds: tuple[int, ...]
    dimensions: tuple[str, ...]
    rows: list[Row]
    total: Row
    reasons: tuple[str, ...] = ()


def figures(thresholds: Sequence[int], quick_s: float, callback_hours: float,
            dimensions: Sequence[str], reasons: Sequence[str] = ()) -> list[Figure]:
    """Every figure of the report with its definition, in the order shown."""
    quick = f"{quick_s:g} s"
    rates = [Figure(f"within_{t}", f"{t}秒接通率", f"answered within {t} s",
                    "human requests answered within N s of their queue entry (ring time counts as waiting) / human "
                    f"requests, less callers who hung up within the quick-abandon threshold ({quick}); transferred "
                    "calls count once, from their first entry") for t in thresholds]
    return [
        Figure("offered", "呼入总量", "calls offered", "calls that reached the switch on a service number, by arrival"),
        Figure("requests", "人工请求量", "human requests", "calls that asked for a human (entered a queue); a call "
               "an agent sent back to a queue is one request, from its first entry"),
        Figure("answered", "人工接通量", "answered", "human requests an agent answered"),
        *rates,
        Figure("answer_rate", "接通率", "answer rate", "answered / human requests"),
        Figure("lost_rate", "呼损率", "lost in the switch", "calls lost inside the switch before distribution "
               "(a system failure, or taken by the switch's safety net while no engine was there) / calls offered"),
        Figure("abandoned", "放弃量", "abandoned", "human requests whose caller hung up waiting (秒挂 included)"),
        Figure("quick", "秒挂", "quick abandons", f"abandoned within {quick} of the queue entry"),
        Figure("transfers_in", "转入", "transfers in", "requests an agent sent back into a queue (counted here, "
               "not as new requests)"),
        Figure("asa_s", "平均应答时长", "average speed of answer, s", "queue entry to the agent's answer, over "
               "answered calls"),
        Figure("talk_s", "平均通话时长", "average talk, s", "answer to hang-up less hold and consultation, over "
               "answered calls whose end was seen"),
        Figure("hold_s", "平均保持时长", "average hold, s", "time on hold, over answered calls"),
        Figure("consult_s", "平均咨询时长", "average consultation, s", "time aside while the agent consulted "
               "someone, over answered calls"),
        Figure("missed", "漏接量", "missed calls", "callers who left a message, or left a queue unanswered beyond "
               f"the quick-abandon threshold ({quick}), by arrival"),
        Figure("callback_rate", "漏接回拨率", "missed calls called back", f"missed calls called back within "
               f"{callback_hours:g} h of their end / missed calls"),
        *(Figure(f"satisfaction_{d}", f"按键满意率（{d}）", f"satisfied, {d}", "非常满意 or 满意 / survey answers "
                 f"on {d} (a call not rated on it is not counted)") for d in dimensions),
        *(Figure(f"abandoned_{band}", f"放弃 {band}", f"abandoned {band}", "abandoned callers by how long they "
                 "waited") for band in _bands()),
        Figure("login_h", "签入时长", "logged in, h", "hours agents spent logged in (any state but logged out), "
               "from each state change to the next; by agent and in the total, not by period"),
        Figure("occupancy", "占用率", "occupancy", "time on calls and in wrap-up / that and the time ready or "
               "being offered (not-ready time is neither)"),
        *(Figure(f"not_ready_{r}_h", f"示忙时长（{r}）", f"not ready: {r}, h", "hours agents spent not ready "
                 "with this reason") for r in reasons),
    ]


def _bands() -> list[str]:
    edges = (0, *ABANDON_BANDS_S)
    return [f"{a}-{b}s" for a, b in zip(edges, edges[1:])] + [f"{edges[-1]}s+"]


def compute(engine: Engine, first: dt.date, last: dt.date, timezone: str, by: str | None,
            thresholds: Sequence[int], quick_s: float, callback_hours: float, dimensions: Sequence[str],
            known: Sequence[str] = (), reasons: Sequence[str] = (), now_ms: int | None = None) -> Report:
    """The report for the centre's days ``first`` to ``last`` (both included), by ``by`` (None: totals only);
    ``known``: the queues, tenants or agents configured, shown even when they had no call; ``reasons``: the
    not-ready reasons, each with its time; ``now_ms``: where a state still going is cut (default: now)."""
    zone = ZoneInfo(timezone)
    marks = boundaries(first, last, zone, by if by in PERIODS else None)
    start, end = literal(marks[0]), literal(marks[-1])
    c = CallRow.__table__.c
    quick_ms, callback_ms = int(quick_s * 1000), int(callback_hours * 3_600_000)

    def key(anchor: Any) -> Any:
        if by in PERIODS:
            return bucket(anchor, marks)
        return {"queue": c.queue, "tenant": c.tenant, "agent": c.agent}.get(by or "", literal(0))

    wait = c.answered_ms - c.queue_entry_ms
    reason = func.coalesce(c.exit_reason, "")  # no NULL in the conditions below: NOT NULL would drop a row
    abandoned = reason == "abandoned"
    gave_up = c.hangup_ms - c.queue_entry_ms
    quick = and_(abandoned, c.hangup_ms.is_not(None), gave_up < quick_ms)
    answered = c.answered_ms.is_not(None)
    seen_end = and_(answered, c.hangup_ms.is_not(None))
    edges = (0, *ABANDON_BANDS_S)
    requested = [
        func.count().label("requests"),
        _count(answered, "answered"),
        *(_count(and_(answered, wait <= t * 1000), f"answered_{t}") for t in thresholds),
        _count(abandoned, "abandoned"),
        _count(quick, "quick"),
        _count(cast(c.transfers, String).like('%"queue": "%'), "transfers_in"),
        _sum(answered, wait, "wait_ms"),
        _sum(seen_end, c.hangup_ms - c.answered_ms - c.held_ms - c.consult_ms, "talk_ms"),
        _count(seen_end, "ended"),
        _sum(answered, c.held_ms, "held_ms"),
        _sum(answered, c.consult_ms, "consult_ms"),
        *(_count(and_(abandoned, gave_up >= a * 1000, gave_up < b * 1000), f"abandoned_{a}-{b}s")
          for a, b in zip(edges, edges[1:])),
        _count(and_(abandoned, gave_up >= edges[-1] * 1000), f"abandoned_{edges[-1]}s+"),
    ]
    for dimension in dimensions:
        rating = c.survey[dimension].as_string()
        requested += [_count(rating.in_(SATISFIED), f"satisfied_{dimension}"),
                      _count(rating.in_(("非常满意", "满意", "基本满意", "不满意", "非常不满意")), f"rated_{dimension}")]
    missed = or_(reason == "voicemail", and_(c.queue_entry_ms.is_not(None), c.answered_ms.is_(None), ~quick))
    called_back = select(CallbackRow.call_id).where(
        CallbackRow.call_id == c.call_id,
        CallbackRow.done_ms - func.coalesce(c.hangup_ms, c.switch_entry_ms) <= callback_ms).exists()
    arrived = [func.count().label("offered"),
               _count(and_(reason.in_(LOST), c.queue_entry_ms.is_(None)), "lost"),
               _count(missed, "missed"),
               _count(and_(missed, called_back), "called_back")]
    rows: dict[Any, Row] = {}
    with engine.connect() as connection:
        for anchor, columns in ((c.queue_entry_ms, requested), (c.switch_entry_ms, arrived)):
            group = key(anchor).label("k")
            query = select(group, *columns).where(anchor >= start, anchor < end).group_by(group)
            for found in connection.execute(query).mappings():
                row = rows.setdefault(found["k"], Row(_name(found["k"], by, marks, zone)))
                row.counts.update({name: value or 0 for name, value in found.items() if name != "k"})
    if by in (None, "agent"):  # agents' time is by agent, or the range's total: a state is not split by period
        with engine.connect() as connection:
            for found in connection.execute(_agent_time(marks[0], marks[-1], now_ms, reasons, by)).mappings():
                row = rows.setdefault(found["k"], Row(_name(found["k"], by, marks, zone)))
                row.counts.update({name: value or 0 for name, value in found.items() if name != "k"})
    named = {row.key for row in rows.values()}
    rows.update({name: Row(name) for name in known if name not in named})
    ordered = sorted(rows.values(), key=lambda row: (row.key == "-", row.key))
    total = Row("合计 total")
    for row in ordered:
        for name, value in row.counts.items():
            total.counts[name] = total.counts.get(name, 0) + value
    return Report(first, last, by, tuple(thresholds), tuple(dimensions), ordered, total, tuple(reasons))


def _agent_time(start: int, end: int, now_ms: int | None, reasons: Sequence[str], by: str | None) -> Any:
    """Milliseconds each agent (or all, without ``by``) spent logged in, not ready by reason, handling calls (on
    a call or wrapping up) and available (ready or being offered) within [start, end): each state from its change
    to the next, the state an agent was in at ``start`` included, one still going cut at ``now_ms``."""
    s = AgentStateRow.__table__.c
    before = AgentStateRow.__table__.alias("before")
    entered_last = select(func.max(before.c.at_ms)).where(before.c.agent == s.agent, before.c.at_ms < start) \
        .scalar_subquery()
    spans = select(s.agent, s.state, s.reason, s.at_ms, func.lead(s.at_ms).over(
        partition_by=s.agent, order_by=(s.at_ms, s.id)).label("next_ms")).where(
        s.at_ms < end, or_(s.at_ms >= start, s.at_ms == entered_last)).subquery()
    stop = min(end, int(time.time() * 1000) if now_ms is None else now_ms)
    until = func.coalesce(spans.c.next_ms, stop)
    until = case((until < literal(end), until), else_=literal(end))
    since = case((spans.c.at_ms > literal(start), spans.c.at_ms), else_=literal(start))
    span = case((until > since, until - since), else_=0)
    key = spans.c.agent if by == "agent" else literal(0)

    def spent(condition: Any, name: str) -> Any:
        return func.sum(case((condition, span), else_=0)).label(name)

    columns = [spent(spans.c.state != "logged_out", "login_ms"),
               spent(spans.c.state.in_(("on_call", "wrap_up")), "handling_ms"),
               spent(spans.c.state.in_(("ready", "offered")), "available_ms"),
               *(spent(and_(spans.c.state == "not_ready", spans.c.reason == reason), f"not_ready_{reason}_ms")
                 for reason in reasons)]
    return select(key.label("k"), *columns).group_by(key)


def values(report: Report, row: Row) -> dict[str, float | int | None]:
    """A row's figures, keyed as ``figures`` names them: counts as they are, rates as fractions, times in seconds;
    None where the denominator is nothing."""
    n = row.counts

    def ratio(numerator: str, denominator: float) -> float | None:
        return n.get(numerator, 0) / denominator if denominator else None

    answered, requests = n.get("answered", 0), n.get("requests", 0)
    shown: dict[str, float | int | None] = {
        "offered": n.get("offered", 0), "requests": requests, "answered": answered,
        **{f"within_{t}": ratio(f"answered_{t}", requests - n.get("quick", 0)) for t in report.thresholds},
        "answer_rate": ratio("answered", requests), "lost_rate": ratio("lost", n.get("offered", 0)),
        "abandoned": n.get("abandoned", 0), "quick": n.get("quick", 0), "transfers_in": n.get("transfers_in", 0),
        "asa_s": _seconds(ratio("wait_ms", answered)), "talk_s": _seconds(ratio("talk_ms", n.get("ended", 0))),
        "hold_s": _seconds(ratio("held_ms", answered)), "consult_s": _seconds(ratio("consult_ms", answered)),
        "missed": n.get("missed", 0), "callback_rate": ratio("called_back", n.get("missed", 0)),
        **{f"satisfaction_{d}": ratio(f"satisfied_{d}", n.get(f"rated_{d}", 0)) for d in report.dimensions},
        **{f"abandoned_{band}": n.get(f"abandoned_{band}", 0) for band in _bands()},
        **_agent_values(n, report.reasons),
    }
    return shown


def _agent_values(n: dict[str, float], reasons: Sequence[str]) -> dict[str, float | None]:
    """Hours logged in and not ready by reason, and occupancy; None in a view that has no agents' time (periods)."""
    if "login_ms" not in n:
        return {name: None for name in ("login_h", "occupancy", *(f"not_ready_{r}_h" for r in reasons))}
    busy = n["handling_ms"] + n["available_ms"]
    return {"login_h": n["login_ms"] / 3_600_000, "occupancy": n["handling_ms"] / busy if busy else None,
            **{f"not_ready_{r}_h": n.get(f"not_ready_{r}_ms", 0) / 3_600_000 for r in reasons}}


def _name(found: Any, by: str | None, marks: list[int], zone: ZoneInfo) -> str:
    if by in PERIODS:
        return label(marks[int(found)], zone, by)
    return "-" if found is None else str(found) if by else "合计 total"


def _count(condition: Any, name: str) -> Any:
    return func.sum(_case(condition, 1)).label(name)


def _sum(condition: Any, value: Any, name: str) -> Any:
    return func.sum(_case(condition, value)).label(name)


def _case(condition: Any, value: Any) -> Any:
    return case((condition, value), else_=0)


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000
