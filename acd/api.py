"""The agent-control HTTP JSON API: agent toolbars, supervisors (班长) and ``hotline agent ...`` talk to it.

    GET  /agents                       states of all agents (an agent token sees only its own)
    POST /agents/<id>/<action>         login | ready | not_ready ({"reason": "meal"}) | logout
    GET  /queues                       callers waiting, the longest wait, today's service level

Every request carries ``Authorization: Bearer <token>``; tokens and their roles come from ``acd.api.tokens``.
The handlers only translate HTTP to ``AcdRuntime.command``: the rules live in the ACD, not here.
"""

from __future__ import annotations

import hmac
import json
from typing import Callable, Iterable

from acd.agents import AgentStateError
from acd.runtime import AcdRuntime
from config.acd import Acd, Token
from telemetry.http import StartResponse, WsgiService

ACTIONS = ("login", "ready", "not_ready", "logout")


class HttpError(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


class AgentApi(WsgiService):
    """Serves the API for ``runtime`` on ``config.api.listen``."""

    def __init__(self, config: Acd, runtime: AcdRuntime, clock: Callable[[], int]) -> None:
        self.config = config
        self.runtime = runtime
        self.clock = clock
        super().__init__(config.api.listen)

    def app(self, environ: dict[str, object], start_response: StartResponse) -> Iterable[bytes]:
        try:
            token = self._authenticate(str(environ.get("HTTP_AUTHORIZATION", "")))
            status, body = self._route(token, str(environ["REQUEST_METHOD"]), str(environ["PATH_INFO"]), environ)
        except HttpError as exc:
            status, body = exc.status, {"error": str(exc)}
        data = json.dumps(body, ensure_ascii=False).encode()
        start_response(status, [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data)))])
        return [data]

    def _authenticate(self, header: str) -> Token:
        scheme, _, presented = header.partition(" ")
        if scheme != "Bearer" or not presented:
            raise HttpError("401 Unauthorized", "send Authorization: Bearer <token>")
        for token in self.config.api.tokens:
            if hmac.compare_digest(token.token.get_secret_value().encode(), presented.encode()):
                return token
        raise HttpError("401 Unauthorized", "unknown token")

    def _route(self, token: Token, method: str, path: str, environ: dict[str, object]) -> tuple[str, object]:
        parts = [p for p in path.split("/") if p]
        if method == "GET" and parts == ["agents"]:
            return "200 OK", [self._agent_view(a) for a in self.runtime.core.agents
                              if token.role != "agent" or a == token.agent]
        if method == "GET" and parts == ["queues"]:
            return "200 OK", self._queues_view()
        if method == "POST" and len(parts) == 3 and parts[0] == "agents":
            return self._command(token, parts[1], parts[2], environ)
        raise HttpError("404 Not Found", f"no such resource: {method} {path}")

    def _command(self, token: Token, agent_id: str, action: str, environ: dict[str, object]) -> tuple[str, object]:
        if agent_id not in self.runtime.core.agents:
            raise HttpError("404 Not Found", f"no agent {agent_id!r}")
        if token.role == "agent" and token.agent != agent_id:
            raise HttpError("403 Forbidden", "an agent token acts only on its own agent")
        if action not in ACTIONS:
            raise HttpError("404 Not Found", f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        reason = ""
        if action == "not_ready":
            reason = str(_json_body(environ).get("reason", ""))
            if reason not in self.config.reasons:
                raise HttpError("400 Bad Request", f"reason must be one of {', '.join(self.config.reasons)}")
        try:
            self.runtime.command(agent_id, action, reason)
        except (AgentStateError, ValueError) as exc:
            raise HttpError("409 Conflict", str(exc)) from None
        return "200 OK", self._agent_view(agent_id)

    def _agent_view(self, agent_id: str) -> dict[str, object]:
        agent = self.runtime.core.agents[agent_id]
        return {"id": agent.id, "state": agent.state.value, "reason": agent.reason, "since_ms": agent.since_ms,
                "calls_answered": agent.calls_answered}

    def _queues_view(self) -> list[dict[str, object]]:
        core, now = self.runtime.core, self.clock()
        views = []
        for name, line in core.waiting.items():
            oldest = min((core.callers[call].entered_ms for _, call in line), default=now)
            levels = core.service_level.total(name).levels(20)
            views.append({"queue": name, "waiting": len(line), "longest_wait_s": round((now - oldest) / 1000, 1),
                          "service_level_20s_12345": levels["hotline_12345"]})
        return views


def _json_body(environ: dict[str, object]) -> dict[str, object]:
    try:
        length = int(str(environ.get("CONTENT_LENGTH") or 0))
        data = json.loads(environ["wsgi.input"].read(min(length, 65536)) or b"{}")  # type: ignore[attr-defined]
    except (ValueError, TypeError):
        raise HttpError("400 Bad Request", "the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise HttpError("400 Bad Request", "the body must be a JSON object")
    return data
