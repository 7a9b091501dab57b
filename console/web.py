"""The console's page and assets, served by the engine's API without a token: they hold no data. Everything the
page shows comes from ``/floor/events`` and every button goes to ``/supervise`` or ``/agents``, all with the
token the supervisor types in, so the page shows nothing to someone without a valid one. No request leaves the
machine: the chart library (uPlot) is vendored beside the page."""

from __future__ import annotations

from pathlib import Path

from engine.api import Raw
from engine.capability import Hub, Request

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".png": "image/png"}


class Console:
    def __init__(self) -> None:
        self.assets = {path.relative_to(STATIC).as_posix(): path for path in STATIC.rglob("*")
                       if path.suffix in TYPES}
        """Only the files shipped here, by name: no path from a request reaches the file system."""

    def attach(self, hub: Hub) -> None:
        hub.route("GET", "/console", lambda request: self._asset("index.html"), public=True)
        hub.route("GET", "/console/{name}", self._named, public=True)
        hub.route("GET", "/console/vendor/{name}", lambda request: self._asset(f"vendor/{request.params['name']}"),
                  public=True)

    def _named(self, request: Request) -> tuple[int, object]:
        return self._asset(request.params["name"])

    def _asset(self, name: str) -> tuple[int, object]:
        path = self.assets.get(name)
        if path is None:
            return 404, {"error": f"no such file: {name}"}
        return 200, Raw(TYPES[path.suffix], path.read_bytes())
