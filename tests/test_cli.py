"""The ``hotline`` command line: help, ``config check`` and ``config show``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import config
from cli import main

PASSWORD = "cli-Test-pass-12345"
GOOD = f"""\
centre:
  name: 南宁市12345政务服务便民热线
  service_numbers: ["12345", "077112345"]
switch:
  password: "{PASSWORD}"
"""
BAD = """\
centre:
  name: 南宁市12345政务服务便民热线
switch:
  password: ClueCon
  events: [ALL]
outbound_socket:
  listen: "0.0.0.0:8084"
"""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"HOTLINE_CONFIG": None})


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hotline.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_help_lists_the_config_option_and_commands(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "--config FILE" in result.output and "HOTLINE_CONFIG" in result.output
    assert "config" in result.output
    result = runner.invoke(main, ["config", "--help"])
    assert result.exit_code == 0 and "check" in result.output and "show" in result.output


def test_check_accepts_a_good_file_with_one_line(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    result = runner.invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1
    assert result.stdout.startswith(f"{path}: OK: 南宁市12345政务服务便民热线 (12345, 077112345)")
    assert "switch 127.0.0.1:8021" in result.stdout


def test_check_lists_every_problem_and_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, BAD)
    result = runner.invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{path}:4: switch.password: ClueCon is FreeSWITCH's published default password")
    assert lines[1].startswith(f"{path}:5: switch.events[0]: ALL is refused")
    assert lines[2].startswith(f"{path}:7: outbound_socket.listen: 0.0.0.0 listens on every interface")
    assert "3 problem(s)" in result.stderr


def test_check_reports_a_yaml_syntax_error_with_line_and_column(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "centre:\n  name: [x\n")
    result = runner.invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{path}:3:1: (syntax): invalid YAML")


def test_check_of_a_missing_file_fails(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["config", "check", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 1 and "absent.yaml" in result.stdout and "cannot read" in result.stdout


@pytest.mark.parametrize("where", ["before", "after", "env"])
def test_show_prints_effective_yaml_with_the_password_masked(runner: CliRunner, tmp_path: Path, where: str) -> None:
    path = str(write(tmp_path, GOOD))
    args, env = {
        "before": (["--config", path, "config", "show"], {}),
        "after": (["config", "show", "--config", path], {}),
        "env": (["config", "show"], {"HOTLINE_CONFIG": path}),
    }[where]
    result = runner.invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    shown = yaml.safe_load(result.stdout)
    assert shown["switch"]["password"] == "**********"
    assert shown["centre"]["service_numbers"] == ["12345", "077112345"]
    assert shown["switch"]["heartbeat_timeout"] == 60.0, "defaults are filled in"
    assert shown["outbound_socket"]["listen"] == "127.0.0.1:8084"
    assert result.stdout.startswith(f"# effective configuration from {path}\n")


def test_show_without_a_file_shows_the_demo_defaults_masked(runner: CliRunner) -> None:
    result = runner.invoke(main, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert config.defaults().switch.password.get_secret_value() not in result.output
    assert yaml.safe_load(result.stdout)["switch"]["host"] == "127.0.0.1"
    assert "built-in demo defaults" in result.stdout


def test_show_with_a_bad_file_prints_the_problems_and_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, BAD)
    result = runner.invoke(main, ["--config", str(path), "config", "show"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"{path}:4: switch.password:" in result.stderr


def test_demo_serves_every_simulated_citizen() -> None:
    result = CliRunner().invoke(main, ["demo", "--calls", "6", "--agents", "3", "--rate", "50"])
    assert result.exit_code == 0, result.output
    assert "requests 6  answered 6  abandoned 0" in result.output
    assert "queue general    waiting   0  longest   0.0 s  answered    6/6" in result.output  # the last frame
    assert "KPI report" in result.output and " 20 s: answered_within 100.0%" in result.output


def test_switch_status_against_the_double(tmp_path: Path, switch) -> None:
    host, port = switch.address
    config_file = tmp_path / "hotline.yaml"
    config_file.write_text(f"centre: {{name: t}}\nswitch: {{host: {host}, port: {port}, password: {switch.password}}}\n")
    result = CliRunner().invoke(main, ["--config", str(config_file), "switch", "status"])
    assert result.exit_code == 0, result.output
    assert "is ready" in result.output


def test_switch_status_names_an_unreachable_switch(tmp_path: Path) -> None:
    config_file = tmp_path / "hotline.yaml"
    config_file.write_text("centre: {name: t}\nswitch: {host: 127.0.0.1, port: 1, password: a-strong-password-1,"
                           " connect_timeout: 0.2, reconnect: {initial: 0.05, maximum: 0.1}}\n")
    result = CliRunner().invoke(main, ["--config", str(config_file), "switch", "status"])
    assert result.exit_code == 1
    assert "127.0.0.1:1" in result.output


def test_blacklist_add_list_expire_and_remove(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + f"tickets: {{url: 'sqlite:///{tmp_path}/t.db'}}\n")

    def run(*args: str):
        return runner.invoke(main, ["--config", str(path), "blacklist", *args])

    assert run("add", "13666666666", "--reason", "反复骚扰", "--by", "班长王").exit_code == 0
    assert run("add", "13777777777", "--reason", "test", "--days", "0.00000001").exit_code == 0  # expires at once
    listed = run("list")
    assert "13666666666" in listed.output and "反复骚扰" in listed.output and "13777777777" not in listed.output
    assert "1 number(s) blocked" in listed.output
    assert run("add", "1366;hupall", "--reason", "x").exit_code == 2
    assert run("remove", "13666666666").exit_code == 0
    missing = run("remove", "13666666666")
    assert missing.exit_code == 1 and "not on the blacklist" in missing.output


def test_ticket_status_is_set_and_read_back(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + f"tickets: {{url: 'sqlite:///{tmp_path}/t.db'}}\n")
    base = ["--config", str(path), "ticket-status"]
    assert "not found" in runner.invoke(main, [*base, "2026112200017"]).output
    assert "processing" in runner.invoke(main, [*base, "2026112200017", "--set", "processing"]).output
    assert runner.invoke(main, [*base, "20261122A"]).exit_code == 2
    assert runner.invoke(main, [*base, "2026112200017", "--set", "lost"]).exit_code == 2
