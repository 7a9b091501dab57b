"""Every configuration mistake is reported with the file, the key path, the line, and what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

import config

Problems = Callable[[str], list[config.Problem]]

PASSWORD = "s3cret-Nanning-12345"

VALID = f"""\
centre:
  name: 南宁市12345政务服务便民热线
  service_numbers: ["12345"]
switch:
  host: 127.0.0.1
  password: "{PASSWORD}"
  reconnect:
    initial: 1
    maximum: 30
"""
"""A minimal valid file; tests edit it to introduce exactly one mistake."""


def edit(old: str, new: str) -> str:
    assert old in VALID
    return VALID.replace(old, new)


CASES = [
    # (file text, key path, line, words the message must contain)
    pytest.param(edit("    maximum: 30", "    maximun: 30"), "switch.reconnect.maximun", 9,
                 ["unknown key", "did you mean 'maximum'", "initial, maximum, jitter"], id="typo-in-key"),
    pytest.param(edit(f'  password: "{PASSWORD}"\n', ""), "switch.password", 4,
                 ["missing", "under switch"], id="missing-key-points-at-parent"),
    pytest.param("centre:\n  name: x\n", "switch", 1, ["missing", "top level"], id="missing-section"),
    pytest.param(edit(PASSWORD, "ClueCon"), "switch.password", 6, ["ClueCon", "default password"], id="cluecon"),
    pytest.param(edit(PASSWORD, "hunter2"), "switch.password", 6, ["7 characters", "at least 12"], id="short"),
    pytest.param(edit(PASSWORD, "long enough but spaced"), "switch.password", 6, ["spaces"], id="space"),
    pytest.param(edit(PASSWORD, "dollar$${sign}xx"), "switch.password", 6, ["$${...}"], id="dollar"),
    pytest.param(edit("  host: 127.0.0.1\n", '  host: 127.0.0.1\n  port: "8021"\n'), "switch.port", 6,
                 ["valid integer", "'8021'"], id="port-as-text"),
    pytest.param(edit("  host: 127.0.0.1\n", "  host: 127.0.0.1\n  port: 70000\n"), "switch.port", 6,
                 ["65535", "70000"], id="port-range"),
    pytest.param(edit('["12345"]', "[12345]"), "centre.service_numbers[0]", 3, ["quotes", "12345"],
                 id="unquoted-number"),
    pytest.param(edit('["12345"]', '["0771-12345"]'), "centre.service_numbers[0]", 3,
                 ["digits", "'0771-12345'"], id="number-with-dash"),
    pytest.param(edit("  host: 127.0.0.1\n", "  host: 127.0.0.1\n  heartbeat_timeout: 20\n"),
                 "switch.heartbeat_timeout", 6, ["exceed 20", "HEARTBEAT every 20 s", "got 20"], id="heartbeat"),
    pytest.param(edit("    maximum: 30", "    maximum: 30\n    jitter: 1.5"), "switch.reconnect.jitter", 10,
                 ["less than or equal to 1", "1.5"], id="jitter"),
    pytest.param(edit("    maximum: 30", "    maximum: 0.5"), "switch.reconnect.maximum", 9,
                 ["switch.reconnect.initial", "got 0.5"], id="maximum-below-initial"),
    pytest.param(VALID + "  events: [CHANNEL_ANSWER, ALL]\n", "switch.events[1]", 10,
                 ["ALL is refused", "PRIVATE_COMMAND", "sendmsg"], id="event-all"),
    pytest.param(VALID + "  events: [channel_answer]\n", "switch.events[0]", 10,
                 ["capitals", "'channel_answer'"], id="event-lowercase"),
    pytest.param(edit("  host: 127.0.0.1", "  host: 1.1.1.1"), "switch.host", 5,
                 ["public", "root-equivalent", "'1.1.1.1'"], id="switch-public"),
    pytest.param(VALID + 'outbound_socket:\n  listen: "0.0.0.0:8084"\n', "outbound_socket.listen", 11,
                 ["every interface", "no authentication"], id="outbound-any"),
    pytest.param(VALID + 'outbound_socket:\n  listen: "8.8.8.8:8084"\n', "outbound_socket.listen", 11,
                 ["public address", "no authentication", "'8.8.8.8:8084'"], id="outbound-public"),
    pytest.param(VALID + 'outbound_socket:\n  listen: "pbx.example.com:8084"\n', "outbound_socket.listen", 11,
                 ["IP address", "host name"], id="outbound-hostname"),
    pytest.param(VALID + "telemetry:\n  log_format: xml\n", "telemetry.log_format", 11,
                 ["'json' or 'console'", "'xml'"], id="literal"),
    pytest.param(VALID + "telemetry:\n  listen: 9345\n", "telemetry.listen", 11,
                 ['"host:port"', "9345"], id="listen-not-host-port"),
    pytest.param(VALID + "telemetry: yes\n", "telemetry", 10, ["mapping", "log_level, log_format, listen"],
                 id="section-not-mapping"),
    pytest.param(VALID + "centre:\n  name: again\n", "centre", 10, ["duplicate key", "line 1"], id="duplicate"),
    pytest.param(VALID + "yes: 1\n", "yes", 10, ["as bool", "quote it"], id="key-read-as-boolean"),
]


@pytest.mark.parametrize(("text", "key", "line", "words"), CASES)
def test_problem_names_file_key_line_and_cause(problems: Problems, text: str, key: str, line: int,
                                               words: list[str]) -> None:
    found = [problem for problem in problems(text) if problem.key == key]
    assert len(found) == 1, [str(problem) for problem in problems(text)]
    problem = found[0]
    assert Path(problem.file).name == "hotline.yaml"
    assert problem.line == line
    assert str(problem).startswith(f"{problem.file}:{line}: {key}: ")
    for word in words:
        assert word in problem.message


def test_every_problem_is_reported_at_once_in_line_order(problems: Problems) -> None:
    text = edit(PASSWORD, "ClueCon") + "  events: [ALL]\ntelemetry:\n  log_level: loud\n"
    found = problems(text)
    assert [problem.key for problem in found] == ["switch.password", "switch.events[0]", "telemetry.log_level"]
    assert [problem.line for problem in found] == [6, 10, 12]


def test_password_is_never_echoed(problems: Problems) -> None:
    for password in ("hunter2", "has a space in it"):
        found = problems(edit(PASSWORD, password))
        assert found and all(password not in str(problem) for problem in found)


def test_yaml_syntax_error_names_file_line_and_column(problems: Problems) -> None:
    (problem,) = problems("centre:\n  name: x\nswitch:\n  host: [127.0.0.1\n")
    assert problem.key == "(syntax)"
    assert (problem.line, problem.column) == (5, 1)
    assert str(problem).startswith(f"{problem.file}:5:1: (syntax): invalid YAML")


def test_unclosed_quote_is_located(problems: Problems) -> None:
    (problem,) = problems('centre:\n  name: "x\nswitch: {}\n')
    assert problem.key == "(syntax)" and problem.line is not None and problem.line >= 2
    assert "quoted scalar" in problem.message


@pytest.mark.parametrize(("text", "got"), [("", "an empty value"), ("- centre\n", "['centre']")])
def test_top_level_must_be_a_mapping_of_sections(problems: Problems, text: str, got: str) -> None:
    (problem,) = problems(text)
    assert problem.line == 1 and problem.key == "(top level)"
    assert "centre, switch, outbound_socket, telemetry" in problem.message and got in problem.message


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"
    with pytest.raises(config.ConfigError) as caught:
        config.load(missing)
    (problem,) = caught.value.problems
    assert problem.file == str(missing) and "cannot read" in problem.message


def test_line_numbers_follow_the_editor_not_yaml_line_breaks(problems) -> None:
    """YAML breaks lines at NEL (U+0085) too; an operator's editor does not, and the line must match it."""
    [problem] = problems('centre: {name: "a\x85b"}\nswitch:\n')
    assert problem.key == "switch" and problem.line == 2
