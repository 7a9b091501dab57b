"""Which operation centre (分中心) answers a call, and whether it is open.

The called number narrows the tenants (those listing it, else those listing none); among them the first whose
regions contain the caller's region wins, else the first with no regions (the loader guarantees one exists
for every service number).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from config.ivr import Hours, Ivr, Tenant, serving


def select(ivr: Ivr, called: str, region: str | None) -> tuple[str, Tenant]:
    tenants = serving(ivr, called)
    for name, tenant in tenants:
        if region and any(region.startswith(r) for r in tenant.regions):
            return name, tenant
    return next((name, t) for name, t in tenants if not t.regions)


def _days(spans: list[str]) -> set[dt.date]:
    days = set()
    for span in spans:
        first, _, last = span.partition("..")
        day, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last or first)
        while day <= end:
            days.add(day)
            day += dt.timedelta(days=1)
    return days


ALL_DAY = ["00:00-24:00"]


def is_open(hours: Hours, when: dt.datetime) -> bool:
    """Open at ``when`` (an aware datetime) by the centre's local calendar: public holidays first, then the
    weekend days worked instead (调休) with weekday hours, then weekdays and weekends. A centre open round the
    clock every day (12345's rule, and the default) needs no calendar."""
    if hours.weekdays == hours.weekends == ALL_DAY and (not hours.holidays or hours.holiday_hours == ALL_DAY):
        return True
    local = when.astimezone(ZoneInfo(hours.timezone))
    day = local.date()
    if day in _days(hours.holidays):
        spans = hours.holiday_hours
    elif day in _days(hours.makeup_days) or day.weekday() < 5:
        spans = hours.weekdays
    else:
        spans = hours.weekends
    clock = local.strftime("%H:%M")
    return any(span[:5] <= clock < span[6:] for span in spans)
