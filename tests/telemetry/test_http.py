"""/healthz says why the engine is unhealthy; /metrics serves the engine's Prometheus metrics."""

from __future__ import annotations

from typing import Iterator

import pytest
from gevent import socket

from config import Endpoint
from esl import metrics
from telemetry.http import HealthCheck, TelemetryServer


def get(server: TelemetryServer, path: str) -> tuple[int, str]:
    """A plain HTTP/1.0 GET over a gevent socket (a blocking client would stall the server's own hub)."""
    with socket.create_connection(server.address, timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: test\r\n\r\n".encode())
        data = b"".join(iter(lambda: sock.recv(65536), b""))
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


@pytest.fixture
def serve() -> Iterator:
    servers: list[TelemetryServer] = []

    def start(health: HealthCheck) -> TelemetryServer:
        server = TelemetryServer(Endpoint("127.0.0.1", 0), health)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_healthy(serve) -> None:
    assert get(serve(lambda: (True, "")), "/healthz") == (200, "ok\n")


def test_unhealthy_gives_the_reason(serve) -> None:
    assert get(serve(lambda: (False, "ESL link down")), "/healthz") == (503, "ESL link down\n")


def test_a_crashing_check_is_unhealthy_not_a_crash(serve) -> None:
    def broken() -> tuple[bool, str]:
        raise RuntimeError("boom")

    status, body = get(serve(broken), "/healthz")
    assert status == 503 and "boom" in body


def test_metrics_include_the_esl_link(serve) -> None:
    metrics.RECONNECTS.inc(0)
    status, body = get(serve(lambda: (True, "")), "/metrics")
    assert status == 200 and "hotline_esl_reconnects_total" in body and "hotline_esl_connected" in body


def test_unknown_path(serve) -> None:
    assert get(serve(lambda: (True, "")), "/admin")[0] == 404
