"""/metrics (Prometheus exposition) and /healthz on one small gevent WSGI server (``WsgiService``, which the
engine's HTTP API in engine/api.py also builds on).

Kept separate from any business HTTP API so monitoring keeps answering while the rest of the engine is busy,
and so it can listen on its own (loopback by default) address.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable

from gevent.pywsgi import WSGIServer
from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app

from config import Endpoint

HealthCheck = Callable[[], tuple[bool, str]]
"""Returns (healthy, reason); the reason is shown when unhealthy, e.g. ``(False, "ESL link down")``."""

StartResponse = Callable[..., object]


class WsgiService:
    """A small gevent HTTP service on a configured address; subclasses provide ``app``."""

    def __init__(self, listen: Endpoint) -> None:
        self._server = WSGIServer((listen.host, listen.port), self.app, log=None,
                                  error_log=logging.getLogger(type(self).__module__))

    def app(self, environ: dict[str, object], start_response: StartResponse) -> Iterable[bytes]:
        raise NotImplementedError

    @property
    def address(self) -> tuple[str, int]:
        """The bound address (useful with port 0)."""
        host, port = self._server.address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()


class TelemetryServer(WsgiService):
    """Serves GET /metrics and GET /healthz; everything else is 404 (405 for other methods)."""

    def __init__(self, listen: Endpoint, health: HealthCheck, registry: CollectorRegistry = REGISTRY) -> None:
        self._health = health
        self._metrics: Callable[[dict[str, object], StartResponse], Iterable[bytes]] = make_wsgi_app(registry)
        super().__init__(listen)

    def app(self, environ: dict[str, object], start_response: StartResponse) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            return _text(start_response, "405 Method Not Allowed", "GET only\n")
        path = environ["PATH_INFO"]
        if path == "/metrics":
            return self._metrics(environ, start_response)
        if path == "/healthz":
            try:
                healthy, reason = self._health()
            except Exception as exc:  # a broken check is itself unhealthy, never a crashed endpoint
                healthy, reason = False, f"health check failed: {exc!r}"
            return _text(start_response, "200 OK", "ok\n") if healthy else _text(
                start_response, "503 Service Unavailable", f"{reason}\n")
        return _text(start_response, "404 Not Found", "try /metrics or /healthz\n")


def _text(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    data = body.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))])
    return [data]
