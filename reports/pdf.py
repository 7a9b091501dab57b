"""The report as a PDF for the monthly meeting: WeasyPrint lays out HTML with the Noto CJK fonts (Debian's
fonts-noto-cjk), the charts drawn as SVG here (volume bars with the 20 s rate as a line, the abandon profile), the
summary, the views by day, queue, tenant and agent, and the definitions. Every value from the store goes in
escaped."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Callable, Sequence

from reports.figures import Figure, Report, values
from reports.render import explained, shown, title

STYLE = """
@page { size: A4 landscape; margin: 12mm; @bottom-right { content: counter(page) " / " counter(pages); font-size: 8pt; } }
body { font-family: "Noto Sans CJK SC", sans-serif; font-size: 8.5pt; color: #1d2733; }
h1 { font-size: 15pt; margin: 0 0 4mm; } h2 { font-size: 11pt; margin: 5mm 0 2mm; page-break-after: avoid; }
table { border-collapse: collapse; width: 100%; } th, td { border: 0.3pt solid #b8c4cf; padding: 1mm 1.4mm; }
th { background: #dde7f0; font-weight: bold; text-align: left; } td.n { text-align: right; }
.page { page-break-before: always; } dl { column-count: 2; } dt { font-weight: bold; } dd { margin: 0 0 1.5mm; }
"""
VIEWS = (("day", "按日 by day"), ("queue", "按队列 by queue"), ("tenant", "按分中心 by tenant"),
         ("agent", "按坐席 by agent"))
COLUMNS = ("requests", "answered", "within_*", "answer_rate", "abandoned", "quick", "asa_s", "talk_s", "hold_s",
           "missed", "callback_rate")
"""The figures a view's table shows (all of them are on the summary page)."""


def write(path: Path, make: Callable[[str | None], Report], listed: list[Figure], centre: str, rate: str) -> None:
    from weasyprint import HTML  # loads pango: only when a PDF is asked for

    total = make(None)
    line = values(total, total.total)
    body = [f"<h1>{escape(title(total, centre))}</h1>", "<h2>总览 summary</h2>",
            _table(["指标 figure", "值 value"], [[f"{f.name} ({f.gloss})", shown(f, line[f.key])] for f in listed
                                              if not f.key.startswith("abandoned_")])]
    bands = [f for f in listed if f.key.startswith("abandoned_")]
    body += ["<h2>放弃分布 abandon profile</h2>",
             _bars([f.gloss.removeprefix("abandoned ") for f in bands], [float(line[f.key] or 0) for f in bands])]
    columns = [f for f in listed if any(f.key == c or (c.endswith("*") and f.key.startswith(c[:-1])) for c in COLUMNS)]
    for by, name in VIEWS:
        report = make(by)
        rows = [*report.rows, report.total]
        body += [f'<div class="page"><h2>{escape(name)}</h2>']
        if by == "day" and report.rows:
            day = [values(report, row) for row in report.rows]
            drawn = next(f for f in listed if f.key == rate)
            body.append(_bars([row.key[5:] for row in report.rows], [float(v["requests"] or 0) for v in day],
                              (drawn.name, [v[rate] for v in day])))
        body += [_table([by, *(f"{f.name}<br>{f.gloss}" for f in columns)],
                        [[row.key, *(shown(f, values(report, row)[f.key]) for f in columns)] for row in rows],
                        header_html=True), "</div>"]
    body += ['<div class="page"><h2>定义 definitions</h2><dl>',
             *(f"<dt>{escape(names)}</dt><dd>{escape(definition)}</dd>" for names, definition in explained(listed)),
             "</dl></div>"]
    page = f'<html lang="zh-CN"><head><meta charset="utf-8"><style>{STYLE}</style></head><body>{"".join(body)}</body></html>'
    HTML(string=page).write_pdf(str(path))


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], header_html: bool = False) -> str:
    """``header_html``: the head cells hold markup of ours (a line break), not data."""
    cells = "".join(f"<th>{h if header_html else escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f'<td class="{"n" if n else ""}">{escape(str(v))}</td>' for n, v in enumerate(row))
                   + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _bars(labels: Sequence[str], bars: Sequence[float],
          rates: tuple[str, Sequence[float | None]] | None = None) -> str:
    """An SVG column chart, with ``rates`` (its name, and values 0..1) as a line on a right-hand 0-100% axis."""
    width, height, left, right, bottom = 900, 190, 40, 70, 26
    step = (width - left - right) / max(1, len(bars))
    top = max([*bars, 1.0])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="Noto Sans CJK SC" font-size="9">',
             f'<text x="2" y="10">{top:g}</text><text x="2" y="{height - bottom}">0</text>']
    for n, (name, value) in enumerate(zip(labels, bars)):
        x, h = left + n * step, (height - bottom - 12) * value / top
        parts.append(f'<rect x="{x + step * 0.15:.1f}" y="{height - bottom - h:.1f}" width="{step * 0.7:.1f}" '
                     f'height="{h:.1f}" fill="#0b4f8a"/>')
        if len(labels) <= 31 or n % 2 == 0:
            parts.append(f'<text x="{x + step / 2:.1f}" y="{height - 10}" text-anchor="middle">{escape(name)}</text>')
    if rates is not None:
        rate_name, shares = rates
        points = " ".join(f"{left + (n + 0.5) * step:.1f},{height - bottom - (height - bottom - 12) * r:.1f}"
                          for n, r in enumerate(shares) if r is not None)
        parts += [f'<polyline points="{points}" fill="none" stroke="#2e8b57" stroke-width="2"/>',
                  f'<text x="{width - right + 4}" y="10">100%</text>',
                  f'<text x="{width - right + 4}" y="24" fill="#2e8b57">{escape(rate_name)}</text>']
    return "".join(parts) + "</svg>"
