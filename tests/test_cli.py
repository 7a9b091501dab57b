"""The ``hotline`` command line: help, ``config check`` and ``config show``, simulate, render, blacklist, status."""

from __future__ import annotations

import os
import re
import statistics
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import config
from acd.simulate import Scenario, erlang_c_service_level, runs
from cli import main, masked

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
    assert "queue general    waiting   0  longest   0.0 s  answered    6/6" in result.output  # the last frame
    shown = dict(re.findall(r"^(\S+) \([^)]*\)\s+(.*)$", result.output, re.M))  # the report from the store
    assert shown["人工请求量"].split() == ["6", "6"] and shown["人工接通量"].split() == ["6", "6"]
    assert shown["20秒接通率"].split() == ["100.0%", "100.0%"] and "by queue" in result.output


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


def test_version_comes_from_the_installed_package(runner: CliRunner) -> None:
    from importlib.metadata import version

    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output == f"hotline, version {version('hotline12345')}\n"


def test_simulate_a_large_centre_prints_the_spread_over_runs(runner: CliRunner) -> None:
    result = runner.invoke(main, ["simulate", "--agents", "150", "--calls-per-hour", "2900", "--hours", "0.25",
                                  "--runs", "3", "--seed", "7"])
    assert result.exit_code == 0, result.output
    reports = runs(Scenario(agents=150, calls_per_hour=2900, hours=0.25, seed=7), 3)
    asa_s = [report.totals.wait_ms_total / report.totals.answered / 1000 for report in reports]
    assert len(set(asa_s)) == 3, "each run has its own seed"
    lines = result.output.splitlines()
    assert lines[0].startswith("150 agents, 2900 calls/h for 0.25 h")
    assert "spread over 3 runs (seeds 7-9):" in lines
    assert (f"  average speed of answer: mean {statistics.fmean(asa_s):.1f} s  sd {statistics.stdev(asa_s):.1f} s  "
            f"min {min(asa_s):.1f} s  max {max(asa_s):.1f} s") in lines
    assert lines[-1] == f"Erlang C (no abandonment, no wrap-up) 20 s: {erlang_c_service_level(150, 2900, 180, 20):.1%}"


def test_simulate_says_when_the_load_exceeds_the_agents(runner: CliRunner) -> None:
    result = runner.invoke(main, ["simulate", "--agents", "2", "--calls-per-hour", "60", "--hours", "0.5",
                                  "--runs", "1"])
    assert result.exit_code == 0, result.output
    assert "spread over" not in result.output
    assert result.output.splitlines()[-1] == "Erlang C: 3 erlangs on 2 agents: without abandonment the queue grows " \
                                             "without end"


def test_render_without_a_config_warns_of_the_per_process_password(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["switch-conf", "render", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "random demo one" in warnings[0] and "--config" in warnings[0]
    configured = runner.invoke(main, ["--config", str(write(tmp_path, GOOD)), "switch-conf", "render",
                                      str(tmp_path / "out2")])
    assert configured.exit_code == 0 and "warning:" not in configured.stderr


@pytest.mark.skipif(not os.path.isdir("/proc/sys"), reason="needs Linux's read-only /proc/sys (root can write "
                    "any mode-read-only folder)")
def test_render_refuses_a_read_only_target_before_anything(runner: CliRunner) -> None:
    result = runner.invoke(main, ["switch-conf", "render", "/proc/sys/hotline-render"])
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == ("Error: Invalid value for 'OUTDIR': cannot create "
                                              "'/proc/sys/hotline-render': '/proc/sys' is not writable.")


def test_blacklist_add_says_what_it_replaces(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + f"tickets: {{url: 'sqlite:///{tmp_path}/t.db'}}\n")

    def add(*args: str) -> list[str]:
        result = runner.invoke(main, ["--config", str(path), "blacklist", "add", "13666666666", *args])
        assert result.exit_code == 0, result.output
        return result.output.splitlines()

    assert len(add("--reason", "反复骚扰", "--by", "班长王", "--days", "30")) == 1, "nothing replaced"
    expires = (datetime.now() + timedelta(days=30)).strftime("%Y-%m-%d")
    replaced = add("--reason", "恶意占线")
    assert replaced[0].startswith("blocked 13666666666 until removed: 恶意占线")
    assert replaced[1].startswith("replaces: since ") and " by 班长王 " in replaced[1]
    assert f" {expires} " in replaced[1] and replaced[1].endswith(" 反复骚扰")
    assert add("--reason", "x")[1].endswith("until removed    恶意占线")


def test_printed_urls_never_show_their_password(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "tickets: {url: 'postgresql+psycopg://hotline:pg-Secret-1@db.example/hotline'}\n"
                                  "state: {backend: redis, redis_url: 'rediss://:redis-Secret-2@cache:6380/0'}\n")
    result = runner.invoke(main, ["--config", str(path), "config", "show"])
    assert result.exit_code == 0, result.output
    assert "Secret" not in result.output
    shown = yaml.safe_load(result.stdout)
    assert shown["tickets"]["url"] == "postgresql+psycopg://hotline:***@db.example/hotline"
    assert shown["state"]["redis_url"] == "rediss://:***@cache:6380/0"


@pytest.mark.parametrize("text, shown", [
    ("redis://:p@ss:w@h:6379/0", "redis://:***@h:6379/0"),  # the last @ ends the password, as urlsplit reads it
    ("postgresql://u@h/db", "postgresql://u@h/db"),
    ("sqlite:///var/t.db", "sqlite:///var/t.db"),
    ("at postgresql://u:x@h/db and redis://:y@r/0", "at postgresql://u:***@h/db and redis://:***@r/0"),
])
def test_masked_hides_only_passwords(text: str, shown: str) -> None:
    assert masked(text) == shown


def test_status_says_when_the_engine_was_last_seen(runner: CliRunner, tmp_path: Path) -> None:
    from engine.journal import FolderJournal

    path = write(tmp_path, GOOD + f"state: {{folder: {tmp_path}/state}}\n")
    never = runner.invoke(main, ["--config", str(path), "status"])
    assert never.exit_code == 0 and never.output.startswith("engine: never seen")
    journal = FolderJournal(tmp_path / "state")
    seen_ms = int(time.time() * 1000) - 12_000
    journal.beat(seen_ms, link_up=True)
    journal.close()
    result = runner.invoke(main, ["--config", str(path), "status"])
    assert result.exit_code == 0, result.output
    at = datetime.fromtimestamp(seen_ms / 1000).strftime("%Y-%m-%d %H:%M:%S")
    first = result.output.splitlines()[0]
    assert re.fullmatch(rf"engine: up, linked to FreeSWITCH, last seen \d+ s ago \({at}\)", first), first
