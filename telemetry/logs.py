"""One logging pipeline: structlog for the engine, stdlib loggers (gevent, libraries) routed through it.

JSON lines are for log shippers; the console format is for a person at a terminal. Timestamps are local ISO 8601
with milliseconds and the UTC offset, so a log line can be matched to a call's millisecond timestamps and to
FreeSWITCH's own log without guessing the time zone.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from config import Telemetry


def _timestamp(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    event["timestamp"] = datetime.now().astimezone().isoformat(timespec="milliseconds")
    return event


_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    _timestamp,
]


def configure(settings: Telemetry) -> None:
    """Route structlog and stdlib logging to stderr in ``settings.log_format`` at ``settings.log_level``.

    Safe to call again (the level and format are replaced): structlog's chain is the same for every setting and
    only the stdlib handler changes, so loggers cached by structlog keep working.
    """
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    renderer: list[Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer(ensure_ascii=False)]
        if settings.log_format == "json"
        else [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
