"""The engine's one configuration file: YAML, validated in full at load, errors located by file, line and key.

``load(path)`` returns frozen ``Settings`` or raises ``ConfigError`` listing every problem; ``load(None)`` and
``defaults()`` give the built-in demo settings, so the engine runs with no file at all.
"""

from config.loader import load
from config.problems import ConfigError, Problem
from config.schema import Centre, Endpoint, OutboundSocket, Reconnect, Section, Settings, Switch, Telemetry, defaults

__all__ = [
    "Centre", "ConfigError", "Endpoint", "OutboundSocket", "Problem", "Reconnect", "Section", "Settings", "Switch",
    "Telemetry", "defaults", "load",
]
