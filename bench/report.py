"""How long the monthly report takes on SQLite: a month of call records (1,000,000 by default) written through the
ticket store, then ``hotline report``'s computation for that month by day, timed; beside it, the same figures
recomputed in plain Python from the records read back (tests/reports/recompute.py, the property tests' oracle),
which is what a report without SQL would cost.

    python bench/report.py [--records 1000000] [--db PATH]

Traffic: arrivals spread over the month with a daytime peak, 85% asking for a human, answers within 0-60 s, a
tenth abandoned, surveys on half the answered calls, a few transfers, callbacks on some missed calls. The database
is kept (``--db``) so a second run only times. Last line: ``records=<n> seconds=<x>``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from calls.record import CallTimeline, TransferTrace
from reports.figures import compute, values
from tickets.store import TicketStore

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "reports"))
from recompute import recompute  # noqa: E402

ZONE, FIRST, LAST = "Asia/Shanghai", dt.date(2026, 11, 1), dt.date(2026, 11, 30)
ARGS = ((15, 20, 30), 5.0, 24.0, ("attitude", "efficiency", "result"))


def traffic(count: int, seed: int = 12345) -> tuple[list[CallTimeline], dict[str, int]]:
    rng = random.Random(seed)
    start = int(dt.datetime.combine(FIRST, dt.time(), ZoneInfo(ZONE)).timestamp() * 1000)
    days = (LAST - FIRST).days + 1
    calls, callbacks = [], {}
    for n in range(count):
        hour = min(23, max(0, int(rng.gauss(14, 4))))
        arrived = start + rng.randrange(days) * 86_400_000 + hour * 3_600_000 + rng.randrange(3_600_000)
        human = rng.random() < 0.85
        queued = arrived + rng.randrange(5_000, 40_000) if human else None
        answered = queued + rng.randrange(0, 60_000) if human and rng.random() < 0.9 else None
        end = (answered + rng.randrange(30_000, 600_000)) if answered else (queued or arrived) + rng.randrange(1_000, 90_000)
        reason = "answered" if answered else "abandoned" if human else rng.choice(["ivr_abandoned", "voicemail",
                                                                                    "system_failure"])
        survey = {d: rng.choice(["非常满意", "满意", "基本满意", "不满意", "not_rated"]) for d in ARGS[3]} \
            if answered and rng.random() < 0.5 else None
        transfers = [TransferTrace("1001", "second", "blind", answered, "done", queue="second")] \
            if answered and rng.random() < 0.03 else []
        calls.append(CallTimeline(f"bench-{n:07d}", f"138{n % 10_000_000:08d}", "12345", arrived, queue_entry_ms=queued,
                                  queue=rng.choice(["general", "second"]) if human else None, answered_ms=answered,
                                  agent=f"10{rng.randrange(30):02d}" if answered else None, hangup_ms=end,
                                  held_ms=rng.randrange(0, 30_000) if answered else 0, exit_reason=reason,
                                  survey=survey, transfers=transfers, tenant=rng.choice(["default", "nanning"])))
        if not answered and rng.random() < 0.5:
            callbacks[calls[-1].call_id] = end + rng.randrange(0, 48 * 3_600_000)
    return calls, callbacks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "hotline-bench-report.db")
    args = parser.parse_args()
    store = TicketStore(f"sqlite:///{args.db}")
    store.migrate()
    calls, callbacks = traffic(args.records)
    if len(store.call_ids()) != args.records:
        args.db.unlink(missing_ok=True)
        store = TicketStore(f"sqlite:///{args.db}")
        store.migrate()
        began = time.perf_counter()
        for at in range(0, len(calls), 20_000):
            store.save_all([(call, None) for call in calls[at:at + 20_000]])
        for call_id, done_ms in callbacks.items():
            store.called_back(call_id, "1001", "", done_ms)
        print(f"wrote {args.records} records and {len(callbacks)} callbacks in {time.perf_counter() - began:.1f} s "
              f"({os.path.getsize(args.db) / 2**20:.0f} MiB)")
    began = time.perf_counter()
    report = compute(store.engine, FIRST, LAST, ZONE, "day", *ARGS)
    ours = time.perf_counter() - began
    began = time.perf_counter()
    expected = recompute(calls, callbacks, FIRST, LAST, ZONE, "day", *ARGS)
    baseline = time.perf_counter() - began
    agree = all(values(report, row)[name] == value or abs((values(report, row)[name] or 0) - (value or 0)) < 1e-9
                for row in report.rows for name, value in expected[row.key].items())
    total = values(report, report.total)
    print(f"{FIRST} to {LAST} by day, SQLite: {ours:.2f} s; plain Python over the records already in memory: "
          f"{baseline:.2f} s; figures agree: {agree}")
    print(f"requests {total['requests']}  20秒接通率 {total['within_20']:.1%}  接通率 {total['answer_rate']:.1%}  "
          f"漏接回拨率 {total['callback_rate']:.1%}")
    print(f"records={args.records} seconds={ours:.2f}")


if __name__ == "__main__":
    main()
