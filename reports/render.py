"""A report as a terminal table or CSV: one line per period, queue, tenant or agent, then the total; the figures
under their Chinese names with the English gloss, and each figure's definition once, below."""

from __future__ import annotations

import csv
import io
import unicodedata

from reports.figures import Figure, Report, values

PERCENT = ("within_", "answer_rate", "lost_rate", "callback_rate", "satisfaction_", "occupancy")
"""Figures shown as percentages (the rest are counts or seconds)."""


def shown(figure: Figure, value: float | int | None) -> str:
    """How a value reads in a table: 93.2%, 14.5 (seconds), 1200; "-" where there was nothing to divide by."""
    if value is None:
        return "-"
    if figure.key.startswith(PERCENT):
        return f"{value:.1%}"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def title(report: Report, centre: str) -> str:
    by = f", by {report.by}" if report.by else ""
    days = f"{report.first}" if report.first == report.last else f"{report.first} to {report.last}"
    return f"{centre}: {days}{by}"


def table(report: Report, listed: list[Figure], centre: str) -> str:
    """Figures down, rows across (a month of days fits a wide terminal; the total is the last column)."""
    rows = [*report.rows, report.total] if report.by else [report.total]
    head = [f"{f.name} ({f.gloss})" for f in listed]
    cells = [[shown(f, values(report, row)[f.key]) for row in rows] for f in listed]
    keys = [row.key for row in rows]
    width = max(_width(text) for text in head)
    columns = [max([_width(key), *(_width(line[n]) for line in cells)]) for n, key in enumerate(keys)]
    out = [title(report, centre), "",
           _pad("", width) + "  " + "  ".join(_pad(key, w, right=True) for key, w in zip(keys, columns))]
    out += [_pad(name, width) + "  " + "  ".join(_pad(text, w, right=True) for text, w in zip(line, columns))
            for name, line in zip(head, cells)]
    return "\n".join([*out, "", *definitions(listed)])


def explained(listed: list[Figure]) -> list[tuple[str, str]]:
    """(names, definition) once per definition: the N秒接通率 share one; the abandon profile's bands need none."""
    named: dict[str, list[Figure]] = {}
    for figure in listed:
        if not figure.key.startswith("abandoned_"):
            named.setdefault(figure.definition, []).append(figure)
    return [(" / ".join(f"{f.name} ({f.gloss})" for f in same), definition) for definition, same in named.items()]


def definitions(listed: list[Figure]) -> list[str]:
    return ["Definitions:", *(f"  {names}: {definition}" for names, definition in explained(listed))]


def as_csv(report: Report, listed: list[Figure]) -> str:
    """One row per period (queue, tenant, agent) and the total; rates as fractions, times in seconds."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([report.by or "range", *(f"{f.name} {f.gloss}" for f in listed)])
    for row in [*report.rows, report.total] if report.by else [report.total]:
        line = values(report, row)
        writer.writerow([row.key, *("" if line[f.key] is None else round(line[f.key], 6) for f in listed)])
    return out.getvalue()


def _width(text: str) -> int:
    """Terminal columns: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    space = " " * (width - _width(text))
    return space + text if right else text + space
