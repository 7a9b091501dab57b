"""Report periods on the centre's clock: the boundaries of each local hour, day, ISO week or month between two
dates, and the SQL expression that puts a millisecond timestamp into one of them. Uniform periods (hours, days and
weeks where the zone keeps one offset, as China's does) are integer arithmetic; months, or periods across a
daylight-saving change, a CASE over the boundaries: the same SQL on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, case, literal

PERIODS = ("hour", "day", "week", "month")


def boundaries(first: dt.date, last: dt.date, zone: ZoneInfo, period: str | None) -> list[int]:
    """Milliseconds of each period's start from local midnight of ``first`` to the end of ``last`` (its next
    midnight), and that end; ``period`` None: the whole range, one period."""
    start = dt.datetime.combine(first, dt.time(), zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone)
    marks, at = [start], start
    while period is not None and at < end:
        if period == "hour":  # wall-clock hours, stepped in UTC so a repeated or skipped hour is kept exact
            at = (at.astimezone(dt.timezone.utc) + dt.timedelta(hours=1)).astimezone(zone)
        elif period == "day":
            at = dt.datetime.combine(at.date() + dt.timedelta(days=1), dt.time(), zone)
        elif period == "week":
            at = dt.datetime.combine(at.date() + dt.timedelta(days=7 - at.weekday()), dt.time(), zone)
        else:
            month = at.date().replace(day=1) + dt.timedelta(days=32)
            at = dt.datetime.combine(month.replace(day=1), dt.time(), zone)
        marks.append(min(at, end))
    if marks[-1] != end:
        marks.append(end)
    return [int(mark.timestamp() * 1000) for mark in marks]


def label(start_ms: int, zone: ZoneInfo, period: str | None) -> str:
    """How a period is named in the report: 2026-12-01 14:00, 2026-12-01, 2026-W49, 2026-12."""
    local = dt.datetime.fromtimestamp(start_ms / 1000, zone)
    if period == "hour":
        return local.strftime("%Y-%m-%d %H:00")
    if period == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return local.strftime("%Y-%m") if period == "month" else local.strftime("%Y-%m-%d")


def bucket(column: Any, marks: list[int]) -> Any:
    """The index of the period ``column`` falls in (rows are filtered to [marks[0], marks[-1]) beforehand)."""
    inner = marks[1:-1]
    sizes = {b - a for a, b in zip(inner, inner[1:])}
    if len(sizes) == 1:
        (size,) = sizes
        if inner[0] - marks[0] <= size and marks[-1] - inner[-1] <= size:
            return (column - literal(inner[0] - size, BigInteger)) // literal(size, BigInteger)
    return case(*((column < literal(mark, BigInteger), index) for index, mark in enumerate(inner)),
                else_=len(inner)) if inner else literal(0)
