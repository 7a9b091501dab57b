"""The agent-control API and ``hotline agent``: roles, reasons and state rules, against a running engine."""

from __future__ import annotations

import json
from pathlib import Path
import pytest
from click.testing import CliRunner
from gevent import socket
from pydantic import SecretStr

from engine.process import Engine
from cli import main
from config.acd import Token

AGENT_TOKEN = "agent-1001-token-abcdefghijkl"
SUPERVISOR_TOKEN = "supervisor-token-abcdefghijkl"


@pytest.fixture
def engine(make_engine) -> Engine:
    return make_engine(tokens=[Token(token=SecretStr(AGENT_TOKEN), role="agent", agent="1001"),
                               Token(token=SecretStr(SUPERVISOR_TOKEN), role="supervisor")])


def call(engine: Engine, method: str, path: str, token: str | None, body: dict | None = None) -> tuple[int, object]:
    data = json.dumps(body or {}).encode()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    with socket.create_connection(engine.api.address, timeout=5) as sock:
        sock.sendall(f"{method} {path} HTTP/1.0\r\n{auth}Content-Length: {len(data)}\r\n\r\n".encode() + data)
        reply = b"".join(iter(lambda: sock.recv(65536), b""))
    head, _, payload = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


def test_agent_controls_only_itself(engine: Engine) -> None:
    assert call(engine, "POST", "/agents/1001/login", AGENT_TOKEN)[1]["state"] == "ready"
    status, body = call(engine, "POST", "/agents/1001/not_ready", AGENT_TOKEN, {"reason": "meal"})
    assert (status, body["state"], body["reason"]) == (200, "not_ready", "meal")
    assert call(engine, "POST", "/agents/1002/ready", AGENT_TOKEN)[0] == 403
    assert [a["id"] for a in call(engine, "GET", "/agents", AGENT_TOKEN)[1]] == ["1001"]


def test_supervisor_sees_and_moves_everyone(engine: Engine) -> None:
    assert call(engine, "POST", "/agents/1002/login", SUPERVISOR_TOKEN)[0] == 200
    agents = call(engine, "GET", "/agents", SUPERVISOR_TOKEN)[1]
    assert {a["id"]: a["state"] for a in agents} == {"1001": "logged_out", "1002": "ready"}
    queues = call(engine, "GET", "/queues", SUPERVISOR_TOKEN)[1]
    assert queues[0]["queue"] == "general" and queues[0]["waiting"] == 0


def test_refusals_say_why(engine: Engine) -> None:
    assert call(engine, "GET", "/agents", None)[0] == 401
    assert call(engine, "GET", "/agents", "not-a-token-at-all-xxxxxxxx")[0] == 401
    status, body = call(engine, "POST", "/agents/1001/not_ready", AGENT_TOKEN, {"reason": "gossip"})
    assert status == 400 and "meal" in body["error"]
    call(engine, "POST", "/agents/1001/login", AGENT_TOKEN)
    engine.queueing.core.agents["1001"].reserve("6f1b2c3d-1111-4222-8333-944455556666", 0)
    status, body = call(engine, "POST", "/agents/1001/not_ready", AGENT_TOKEN, {"reason": "meal"})
    assert status == 409 and "offered" in body["error"]
    assert call(engine, "POST", "/agents/9999/ready", SUPERVISOR_TOKEN)[0] == 404


def test_cli_changes_an_agent_through_the_engine(engine: Engine, tmp_path: Path) -> None:
    host, port = engine.api.address
    config_file = tmp_path / "hotline.yaml"
    config_file.write_text(
        "centre: {name: t}\nswitch: {password: a-strong-password-1}\n"
        f"acd:\n  agents:\n    '1001': {{contact: user/1001, skills: {{general: 5}}}}\n"
        f"  api: {{listen: '{host}:{port}'}}\n")
    runner = CliRunner()
    args = ["--config", str(config_file), "agent"]
    assert runner.invoke(main, [*args, "login", "1001", "--token", AGENT_TOKEN]).output.strip() == "1001: ready"
    result = runner.invoke(main, [*args, "notready", "1001", "--reason", "training", "--token", AGENT_TOKEN])
    assert result.output.strip() == "1001: not_ready (training)"
    refused = runner.invoke(main, [*args, "ready", "1002", "--token", AGENT_TOKEN])
    assert refused.exit_code == 1 and "403" in refused.output
