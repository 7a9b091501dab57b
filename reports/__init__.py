"""The tender KPI report (月报): figures computed in SQL from the ticket store (``figures``), shown as a table or
CSV (``render``), an Excel workbook (``xlsx``) or a PDF (``pdf``); ``hotline report`` and the demo's last page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from config import Settings
from reports.figures import Report, compute, figures
from reports.render import table


def report_for(settings: Settings, engine: Any, first: dt.date, last: dt.date, by: str | None) -> Report:
    """The report as the configuration defines its figures (thresholds, quick abandons, callbacks, survey)."""
    levels = settings.acd.service_level
    known = {"queue": settings.acd.queues, "tenant": settings.ivr.tenants, "agent": settings.acd.agents}.get(by or "", {})
    return compute(engine, first, last, settings.centre.timezone, by, tuple(levels.thresholds), levels.quick_abandon,
                   levels.callback_hours, dimensions(settings), list(known), settings.acd.reasons)


def listed(settings: Settings) -> list:
    levels = settings.acd.service_level
    return figures(levels.thresholds, levels.quick_abandon, levels.callback_hours, dimensions(settings),
                   settings.acd.reasons)


def dimensions(settings: Settings) -> tuple[str, ...]:
    return tuple(d.name for d in settings.ivr.survey.dimensions)


def report_text(settings: Settings, engine: Any, first: dt.date, last: dt.date, by: str | None) -> str:
    return table(report_for(settings, engine, first, last, by), listed(settings), settings.centre.name)


def drawn_rate(settings: Settings) -> str:
    """The rate the charts draw over the volume: 20秒接通率, or the first threshold when 20 s is not one."""
    thresholds = settings.acd.service_level.thresholds
    return f"within_{20 if 20 in thresholds else thresholds[0]}"
