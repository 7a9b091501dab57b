"""Live service level per queue and interval, in every variant the tenders and the anchors use.

A call is counted in the interval of its queue entry (the human request) and decided the moment it is
answered or abandoned, so the figure is live: Asterisk counts a call only when the conversation ends. Ring
time counts as waiting (wait = answer - queue entry). With T a threshold in seconds:

* ``answered_within(T) / answered`` (Asterisk SL, Wazo QoS);
* SL2: ``(answered within T + abandoned within T) / (answered + abandoned)`` (a quick abandon is a success);
* the 12345 form: ``answered within T / (human requests - abandons inside the quick-abandon threshold)``.

Calls lost inside the switch before distribution (呼损) are counted apart: they never became requests.
Intervals start on the centre's local clock (``timezone``), so "today" is the operator's day, and a live
engine keeps only the last ``KEEP_DAYS`` days in memory.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable
from zoneinfo import ZoneInfo

from calls.record import CallTimeline

INTERVALS_S = {"15min": 900, "30min": 1800, "hour": 3600, "day": 86400}
"""15 min and hours for the reports, half hours for the console's chart of the day, days for "today"."""
TENANT = "tenant:"
"""A tenant's (分中心) figures are kept beside the queues', under ``tenant:<name>``."""


def counted(queue: str, tenant: str | None) -> tuple[str, ...]:
    """The keys a request counts under: its queue, and its tenant's."""
    return (queue, TENANT + tenant) if tenant else (queue,)


KEEP_DAYS = 2
"""A live engine keeps today and yesterday; older figures are the ticket store's (every call has its record)."""

@dataclass
class Counts:
    requests: int = 0
    answered: int = 0
    abandoned: int = 0
    timed_out: int = 0
    exited: int = 0
    quick_abandons: int = 0
    transfers_in: int = 0
    """Callers an agent sent back to a queue: counted here, not as new requests (their first answer stands)."""
    answered_within: dict[int, int] = field(default_factory=dict)
    abandoned_within: dict[int, int] = field(default_factory=dict)
    wait_ms_total: int = 0
    held_ms_total: int = 0
    consult_ms_total: int = 0
    """Time answered callers spent on hold, and aside while their agent consulted someone (counted as each call
    ends): reported apart from the talk, as the tenders ask."""

    def add(self, other: "Counts") -> None:
        """Add ``other``'s counts to these (intervals or queues summed)."""
        for name in ("requests", "answered", "abandoned", "timed_out", "exited", "quick_abandons", "transfers_in",
                     "wait_ms_total", "held_ms_total", "consult_ms_total"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in ((self.answered_within, other.answered_within),
                             (self.abandoned_within, other.abandoned_within)):
            for threshold, n in theirs.items():
                mine[threshold] = mine.get(threshold, 0) + n

    def levels(self, threshold_s: int, undecided: int = 0) -> dict[str, float | None]:
        """Every form at ``threshold_s``. ``undecided``: of the requests counted, callers still waiting and not yet
        ``threshold_s`` in line, neither a success nor a failure yet: out of the 12345 form's denominator (the
        monthly report, where every call has ended, agrees)."""
        def ratio(numerator: int, denominator: int) -> float | None:
            return numerator / denominator if denominator > 0 else None

        within = self.answered_within.get(threshold_s, 0)
        return {
            "answered_within": ratio(within, self.answered),
            "sl2": ratio(within + self.abandoned_within.get(threshold_s, 0), self.answered + self.abandoned),
            "hotline_12345": ratio(within, self.requests - self.quick_abandons - undecided),
        }


FORMS = {"hotline_12345": "{t}秒接通率 (12345: answered within {t} s / requests less quick abandons)",
         "answered_within": "Asterisk SL (answered within {t} s / answered)",
         "sl2": "SL2 ((answered + abandoned) within {t} s / (answered + abandoned))"}
"""How each form of the service level is named where people read it: the tenders' own term first."""


def kpi_lines(totals: Counts, thresholds_s: tuple[int, ...]) -> list[str]:
    """The figures the tenders read, under their names: volumes, average speed of answer, hold and
    consultation, and each threshold in every form (the 12345 one first)."""
    per_answer = max(1, totals.answered) * 1000
    lines = [f"人工请求量 requests {totals.requests}  人工接通量 answered {totals.answered}  放弃量 abandoned "
             f"{totals.abandoned} (秒挂 quick {totals.quick_abandons})  timed out {totals.timed_out}  left by key "
             f"{totals.exited}  转入 transfers in {totals.transfers_in}",
             f"平均应答时长 average speed of answer {totals.wait_ms_total / per_answer:.1f} s",
             f"平均保持时长 average hold {totals.held_ms_total / per_answer:.1f} s, 平均咨询时长 consultation "
             f"{totals.consult_ms_total / per_answer:.1f} s (per answered call)"]
    for threshold in thresholds_s:
        levels = totals.levels(threshold)
        for form, name in FORMS.items():
            value = levels[form]
            lines.append(f"{name.format(t=threshold)}: {value:.1%}" if value is not None else
                         f"{name.format(t=threshold)}: -")
    return lines


class ServiceLevel:
    """Counters per (queue, interval name, interval start); thresholds and quick-abandon from configuration."""

    def __init__(self, thresholds_s: tuple[int, ...] = (15, 20, 30), quick_abandon_s: float = 5.0,
                 timezone: str = "Asia/Shanghai", keep_days: int | None = KEEP_DAYS) -> None:
        """``keep_days`` None keeps every interval (a simulation, which ends)."""
        self.thresholds_s = thresholds_s
        self.quick_abandon_ms = int(quick_abandon_s * 1000)
        self.zone = ZoneInfo(timezone)
        self.buckets: dict[tuple[str, str, int], Counts] = {}
        self.lost_in_switch = 0
        self.keep_days = keep_days
        self._latest_day = (0, 0)
        """[start, end) of the newest local day seen, so most calls need no time-zone arithmetic."""

    def day_start(self, at_ms: int) -> int:
        """Local midnight (the centre's time zone) of the day ``at_ms`` falls in, in ms since the epoch."""
        local = dt.datetime.fromtimestamp(at_ms / 1000, self.zone)
        return int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)

    def _day_of(self, at_ms: int) -> int:
        start, end = self._latest_day
        if start <= at_ms < end:
            return start
        day = self.day_start(at_ms)
        if day > start:  # a new day: the days kept stay, anything older goes
            self._latest_day = (day, self.day_start(day + 26 * 3_600_000))
            if self.keep_days is not None:
                oldest = self.day_start(day - (self.keep_days - 1) * 86_400_000 + 3_600_000)
                for key in [key for key in self.buckets if key[2] < oldest]:
                    del self.buckets[key]
        return day

    def _each(self, queue: str, entered_ms: int, tenant: str | None) -> list[Counts]:
        """The counters a request entered at ``entered_ms`` counts in: each interval's, under its queue and, with
        ``tenant``, its tenant's too (``counted``)."""
        day = self._day_of(entered_ms)
        counts = []
        for key in counted(queue, tenant):
            for name, seconds in INTERVALS_S.items():
                size = seconds * 1000
                start = day + (entered_ms - day) // size * size
                counts.append(self.buckets.setdefault((key, name, start), Counts()))
        return counts

    def request(self, queue: str, entered_ms: int, tenant: str | None = None) -> None:
        for counts in self._each(queue, entered_ms, tenant):
            counts.requests += 1

    def transferred_in(self, queue: str, entered_ms: int, tenant: str | None = None) -> None:
        for counts in self._each(queue, entered_ms, tenant):
            counts.transfers_in += 1

    def handled(self, queue: str, entered_ms: int, held_ms: int, consult_ms: int, tenant: str | None = None) -> None:
        """An answered call ended: its time on hold and in consultation, counted in the interval of its entry."""
        for counts in self._each(queue, entered_ms, tenant):
            counts.held_ms_total += held_ms
            counts.consult_ms_total += consult_ms

    def answered(self, queue: str, entered_ms: int, answered_ms: int, tenant: str | None = None) -> None:
        wait = answered_ms - entered_ms
        for counts in self._each(queue, entered_ms, tenant):
            counts.answered += 1
            counts.wait_ms_total += wait
            for threshold in self.thresholds_s:
                if wait <= threshold * 1000:
                    counts.answered_within[threshold] = counts.answered_within.get(threshold, 0) + 1

    def abandoned(self, queue: str, entered_ms: int, left_ms: int, tenant: str | None = None) -> None:
        wait = left_ms - entered_ms
        for counts in self._each(queue, entered_ms, tenant):
            counts.abandoned += 1
            if wait < self.quick_abandon_ms:
                counts.quick_abandons += 1
            for threshold in self.thresholds_s:
                if wait <= threshold * 1000:
                    counts.abandoned_within[threshold] = counts.abandoned_within.get(threshold, 0) + 1

    def timed_out(self, queue: str, entered_ms: int, left_ms: int, tenant: str | None = None) -> None:
        for counts in self._each(queue, entered_ms, tenant):
            counts.timed_out += 1

    def exited(self, queue: str, entered_ms: int, left_ms: int, tenant: str | None = None) -> None:
        """Left by the exit key: neither answered nor abandoned (Asterisk's EXITWITHKEY)."""
        for counts in self._each(queue, entered_ms, tenant):
            counts.exited += 1

    def count(self, record: CallTimeline) -> None:
        """Count a finished call from its record: how a restarted engine gets back today's figures from the
        ticket store, through the same counters live calls use."""
        queue, entered = record.queue, record.queue_entry_ms
        if queue is None or entered is None:
            if record.exit_reason == "system_failure":
                self.lost_in_switch += 1
            return
        tenant = record.tenant
        self.request(queue, entered, tenant)
        if record.answered_ms is not None:
            self.answered(queue, entered, record.answered_ms, tenant)
            self.handled(queue, entered, record.held_ms, record.consult_ms, tenant)
        elif record.exit_reason == "abandoned" and record.hangup_ms is not None:
            self.abandoned(queue, entered, record.hangup_ms, tenant)
        elif record.exit_reason == "timeout":
            self.timed_out(queue, entered, record.hangup_ms or entered, tenant)
        elif record.exit_reason == "exit_key":
            self.exited(queue, entered, record.hangup_ms or entered, tenant)
        for transfer in record.transfers:
            if transfer.queue is not None:
                self.transferred_in(transfer.queue, entered, tenant)

    def callback_due(self, entered_ms: int, left_ms: int) -> bool:
        """An abandoned caller goes on the callback list (漏接回拨) unless they hung up inside the quick threshold."""
        return left_ms - entered_ms >= self.quick_abandon_ms

    def report(self, queue: str, interval: str, start_ms: int) -> Counts:
        return self.buckets.get((queue, interval, start_ms), Counts())

    def today(self, queue: str, now_ms: int) -> Counts:
        """The centre's day so far: what the wallboard, ``hotline status`` and the API call today."""
        return self.report(queue, "day", self.day_start(now_ms))

    def total(self, queue: str, interval: str = "day") -> Counts:
        """All intervals of one length added up (a whole simulation, a month)."""
        total = Counts()
        for (name, kind, _), counts in self.buckets.items():
            if name == queue and kind == interval:
                total.add(counts)
        return total

    def across(self, interval: str, start_ms: int, queues: Iterable[str]) -> Counts:
        """One interval of ``queues`` added up (the centre's half hour, for the console's chart)."""
        total = Counts()
        for queue in queues:
            total.add(self.report(queue, interval, start_ms))
        return total
