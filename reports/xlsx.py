"""The report as an Excel workbook (XlsxWriter): one sheet per view, figures in columns under their Chinese names
with the English gloss, rates as percentages, and native Excel charts (volume and the 20 s rate over time; the
abandon profile; satisfaction by dimension); the definitions on a sheet of their own."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import xlsxwriter

from reports.figures import Figure, Report, values
from reports.render import PERCENT, explained, title

SHEETS = {"day": "按日 by day", "hour": "按小时 by hour", "week": "按周 by week", "month": "按月 by month",
          "queue": "按队列 by queue", "tenant": "按分中心 by tenant", "agent": "按坐席 by agent"}
TIME_VIEWS = ("day", "hour", "week", "month")


def write(path: Path, make: Callable[[str | None], Report], listed: list[Figure], centre: str,
          rate: str) -> None:
    """``make(by)`` computes one view; ``rate``: the figure drawn as a line over the volume (the 20 s rate)."""
    book = xlsxwriter.Workbook(str(path))
    formats = {"head": book.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#dde7f0"}),
               "percent": book.add_format({"num_format": "0.0%"}), "seconds": book.add_format({"num_format": "0.0"}),
               "title": book.add_format({"bold": True, "font_size": 14})}
    total = make(None)
    summary = book.add_worksheet("总览 summary")
    summary.write(0, 0, title(total, centre), formats["title"])
    summary.set_column(0, 0, 44)
    summary.set_column(1, 1, 14)
    line = values(total, total.total)
    for n, figure in enumerate(listed, 2):
        summary.write(n, 0, f"{figure.name} ({figure.gloss})")
        _cell(summary, n, 1, figure, line[figure.key], formats)
    _summary_chart(book, summary, listed, "abandoned_", "column", "放弃分布 abandon profile", 1)
    _summary_chart(book, summary, listed, "satisfaction_", "bar", "按键满意率 satisfaction", 17, percent=True)
    for by, name in SHEETS.items():
        _view(book, name, make(by), listed, formats, rate if by in TIME_VIEWS else None)
    notes = book.add_worksheet("定义 definitions")
    notes.set_column(0, 0, 30)
    notes.set_column(1, 1, 120)
    for n, (names, definition) in enumerate(explained(listed)):
        notes.write(n, 0, names)
        notes.write(n, 1, definition)
    book.close()


def _summary_chart(book: xlsxwriter.Workbook, summary: object, listed: list[Figure], prefix: str, kind: str,
                   name: str, row: int, percent: bool = False) -> None:
    """A chart of the summary's figures whose keys start with ``prefix`` (the abandon profile, satisfaction)."""
    rows = [n for n, f in enumerate(listed, 2) if f.key.startswith(prefix)]
    if not rows:
        return
    chart = book.add_chart({"type": kind})
    chart.add_series({"name": name, "categories": ["总览 summary", rows[0], 0, rows[-1], 0],
                      "values": ["总览 summary", rows[0], 1, rows[-1], 1]})
    chart.set_title({"name": name})
    chart.set_legend({"none": True})
    if percent:
        chart.set_x_axis({"num_format": "0%", "min": 0, "max": 1})
    summary.insert_chart(row, 3, chart)  # type: ignore[attr-defined]


def _view(book: xlsxwriter.Workbook, name: str, report: Report, listed: list[Figure], formats: dict,
          rate: str | None) -> None:
    sheet = book.add_worksheet(name)
    sheet.set_row(0, 48)
    sheet.set_column(0, 0, 18)
    sheet.set_column(1, len(listed), 12)
    sheet.write(0, 0, report.by or "", formats["head"])
    for column, figure in enumerate(listed, 1):
        sheet.write(0, column, f"{figure.name}\n{figure.gloss}", formats["head"])
    rows = [*report.rows, report.total]
    for n, row in enumerate(rows, 1):
        sheet.write(n, 0, row.key)
        line = values(report, row)
        for column, figure in enumerate(listed, 1):
            _cell(sheet, n, column, figure, line[figure.key], formats)
    sheet.freeze_panes(1, 1)
    if rate is None or not report.rows:
        return
    keys = [f.key for f in listed]
    last = len(report.rows)  # the total row is not drawn
    chart = book.add_chart({"type": "column"})
    chart.add_series({"name": "人工请求量 requests", "categories": [name, 1, 0, last, 0],
                      "values": [name, 1, keys.index("requests") + 1, last, keys.index("requests") + 1]})
    line_chart = book.add_chart({"type": "line"})
    line_chart.add_series({"name": listed[keys.index(rate)].name, "categories": [name, 1, 0, last, 0],
                           "values": [name, 1, keys.index(rate) + 1, last, keys.index(rate) + 1], "y2_axis": True})
    chart.combine(line_chart)
    chart.set_title({"name": f"{name}: 话务量与接通率 volume and answer rate"})
    chart.set_y2_axis({"num_format": "0%", "min": 0, "max": 1})
    chart.set_size({"width": 900, "height": 320})
    sheet.insert_chart(last + 3, 1, chart)


def _cell(sheet: object, row: int, column: int, figure: Figure, value: float | int | None, formats: dict) -> None:
    if value is None:
        sheet.write_blank(row, column, None)  # type: ignore[attr-defined]
    elif figure.key.startswith(PERCENT):
        sheet.write_number(row, column, value, formats["percent"])  # type: ignore[attr-defined]
    else:
        sheet.write_number(row, column, value, formats["seconds"] if isinstance(value, float) else None)  # type: ignore[attr-defined]
