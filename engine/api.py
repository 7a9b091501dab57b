"""The engine's HTTP JSON API: agent toolbars, supervisors (班长) and ``hotline agent ...`` talk to it.

Capabilities register their routes on the hub (``hub.route("POST", "/agents/{agent}/{action}", handler)``); this
module only authenticates, matches the path and speaks JSON. Every request carries ``Authorization: Bearer
<token>``; tokens and their roles come from ``acd.api.tokens``, and a handler sees the token's role and agent.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from config.acd import Api, Token
from engine.capability import Route
from telemetry.http import StartResponse, WsgiService

STATUS = {200: "200 OK", 206: "206 Partial Content", 400: "400 Bad Request", 401: "401 Unauthorized",
          403: "403 Forbidden", 404: "404 Not Found", 409: "409 Conflict", 416: "416 Range Not Satisfiable"}


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ApiRequest:
    role: str
    agent: str
    supervisor: str
    params: dict[str, str]
    environ: dict[str, object] = field(repr=False)
    _body: dict[str, object] | None = field(default=None, repr=False)

    def body(self) -> dict[str, object]:
        """The JSON object sent (read once, then kept), or HttpError 400."""
        if self._body is not None:
            return self._body
        try:
            length = int(str(self.environ.get("CONTENT_LENGTH") or 0))
            data = json.loads(self.environ["wsgi.input"].read(min(length, 65536)) or b"{}")  # type: ignore[attr-defined]
        except (ValueError, TypeError):
            raise HttpError(400, "the body must be a JSON object") from None
        if not isinstance(data, dict):
            raise HttpError(400, "the body must be a JSON object")
        self._body = data
        return data


@dataclass(frozen=True, slots=True)
class Raw:
    """A body that is not JSON: a page or an asset (bytes), or server-sent events (an iterator of chunks)."""

    content_type: str
    body: bytes | Iterator[bytes]
    headers: tuple[tuple[str, str], ...] = ()


class EngineApi(WsgiService):
    """Serves ``routes`` on ``config.listen``: the public ones to anyone, the rest to holders of ``config.tokens``."""

    def __init__(self, config: Api, routes: list[tuple[str, str, Route, bool]]) -> None:
        self.config = config
        self.routes = routes
        super().__init__(config.listen)

    def app(self, environ: dict[str, object], start_response: StartResponse) -> Iterable[bytes]:
        try:
            method, path = str(environ["REQUEST_METHOD"]), str(environ["PATH_INFO"])
            handler, params, public = self._match(method, path)
            token = None if public else self._authenticate(str(environ.get("HTTP_AUTHORIZATION", "")))
            status, body = handler(ApiRequest(token.role if token else "", token.agent if token else "",
                                              token.supervisor if token else "", params, environ))
        except HttpError as exc:
            status, body = exc.status, {"error": str(exc)}
        if isinstance(body, Raw):
            headers = [("Content-Type", body.content_type), ("Cache-Control", "no-store"), *body.headers]
            if isinstance(body.body, bytes):
                start_response(STATUS.get(status, f"{status} Error"), [*headers, ("Content-Length", str(len(body.body)))])
                return [body.body]
            start_response(STATUS.get(status, f"{status} Error"), headers)
            return body.body
        data = json.dumps(body, ensure_ascii=False).encode()
        start_response(STATUS.get(status, f"{status} Error"),
                       [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data)))])
        return [data]

    def _authenticate(self, header: str) -> Token:
        scheme, _, presented = header.partition(" ")
        if scheme != "Bearer" or not presented:
            raise HttpError(401, "send Authorization: Bearer <token>")
        for token in self.config.tokens:
            if hmac.compare_digest(token.token.get_secret_value().encode(), presented.encode()):
                return token
        raise HttpError(401, "unknown token")

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str], bool]:
        parts = [p for p in path.split("/") if p]
        for route_method, pattern, handler, public in self.routes:
            names = [p for p in pattern.split("/") if p]
            if route_method != method or len(names) != len(parts):
                continue
            params = {}
            for name, part in zip(names, parts):
                if name.startswith("{") and name.endswith("}"):
                    params[name[1:-1]] = part
                elif name != part:
                    break
            else:
                return handler, params, public
        raise HttpError(404, f"no such resource: {method} {path}")
