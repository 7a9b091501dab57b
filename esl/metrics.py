"""Prometheus metrics of the link to FreeSWITCH (the exporter itself lives in telemetry/)."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("hotline_esl_events_total", "Events received from FreeSWITCH", ["connection"])
RECONNECTS = Counter("hotline_esl_reconnects_total", "Times the ESL link was re-established after a loss")
CONNECTED = Gauge("hotline_esl_connected", "1 while both ESL connections are up and subscribed")
COMMAND_SECONDS = Histogram(
    "hotline_esl_command_seconds",
    "Time from sending an ESL command to its reply",
    ["kind"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
