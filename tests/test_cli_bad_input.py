"""Bad input on the command line is refused with one line and exit status 2 (1 for a failure only running can find,
such as a broken configuration file or a store that does not answer), never a traceback. Every command and subcommand
is found by walking the click group, so a command added later is walked too."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import click
import pytest
from click.testing import CliRunner, Result

import config
from cli import Checked, main

GOOD = "centre: {name: t}\nswitch: {password: a-strong-password-1}\n"
NUMBERS = ["nan", "inf", "-inf", "-1", "0", "1e30", "9" * 30, "x", ""]
ZERO_OK = {"patience_s", "wrap_up_s", "seed"}
"""Numeric options where 0 means something (nobody abandons, no wrap-up, seed 0); -1 is refused everywhere."""
TEXTS = ["", "  ", "a\x1b[2Jb", "a\x00b", "a\nb", "a\x7fb", "a\x85b", "a\u202eb", "a\u2028b", "x" * 5000]
EMPTY_OK = {"keys"}
"""Text options where nothing means something: ``ivr walk --digits ""`` is a caller pressing nothing."""
CHOICES = ["", "no-such-choice", "a\x1bb"]
TIMES = ["", "2026-13-45", "yesterday", "a\x1bb"]


def commands(command: click.Command = main,
             path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command under ``command`` (itself included), with the words that name it."""
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from commands(sub, (*path, name))


def bad_values(command: click.Command, param: click.Parameter) -> list[tuple[str, int]]:
    """(value, exit status) for each bad value of ``param``; ``<...>`` names a file the test makes."""
    kind = param.type
    if isinstance(kind, (click.types.IntParamType, click.types.FloatParamType)):
        return [(value, 2) for value in NUMBERS if not (value == "0" and param.name in ZERO_OK)]
    if isinstance(kind, Checked):
        return [(value, 2) for value in TEXTS if not (value == "" and param.name in EMPTY_OK)]
    if isinstance(kind, click.Choice):
        return [(value, 2) for value in CHOICES]
    if isinstance(kind, click.DateTime):
        return [(value, 2) for value in TIMES]
    if isinstance(kind, click.Path):
        cases = [("", 2), ("a\x1bb", 2)]
        cases += [("<dir>", 2)] if not kind.dir_okay else []
        cases += [("<file>", 2)] if not kind.file_okay else []
        cases += [("<under-file>", 2)] if kind.writable else []
        if kind.file_okay and not kind.writable:  # a file read: the configuration
            cases.append(("<missing>", 2 if kind.exists else 1))
            if not isinstance(command, click.Group) or command.invoke_without_command:  # the command loads it
                cases.append(("<bad-yaml>", 1))
        return cases
    raise AssertionError(f"{param.name}: a {type(kind).__name__} parameter, with no bad inputs listed here: add them "
                         "(a plain string must get a checked type, such as cli.TEXT)")


CASES = [pytest.param(path, command, param, value, status,
                      id=f"{' '.join(path) or 'hotline'} {param.name} {value[:12]!r}")
         for path, command in commands() for param in command.params if not getattr(param, "is_flag", False)
         for value, status in bad_values(command, param)]


def sample(param: click.Parameter, good_config: Path) -> str:
    """A value ``param`` accepts, to fill the parameters not under test."""
    for value in [*getattr(param.type, "choices", ()), "1", "13800138000", "20261122", "2026-11-22", str(good_config)]:
        try:
            param.type.convert(value, param, None)
            return value
        except click.BadParameter:
            continue
    raise AssertionError(f"no valid sample for {param.name}")


def refusal(result: Result, status: int) -> str:
    """The one line that says what is wrong (after click's Usage: and Try lines, if any); fails on an exception
    escaping the command, another exit status or more lines."""
    assert isinstance(result.exception, SystemExit), result.exception  # anything else is a traceback to a person
    assert "Traceback" not in result.output
    assert result.exit_code == status, result.output
    lines = result.output.splitlines()
    after_usage = next((n + 1 for n, line in enumerate(lines) if line.startswith("Try ")), 0)
    told = [line for line in lines[after_usage:] if line.strip()]
    assert len(told) == 1, result.output
    return told[0]


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # a refusal that failed must not leave a database or rendered files in the repository
    return CliRunner(env={"HOTLINE_CONFIG": None, "HOTLINE_TOKEN": None})


@pytest.mark.parametrize("path, command, tested, value, status", CASES)
def test_every_parameter_refuses_bad_input_in_one_line(runner: CliRunner, tmp_path: Path, path: tuple[str, ...],
                                                       command: click.Command, tested: click.Parameter, value: str,
                                                       status: int) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    (tmp_path / "bad.yaml").write_text("centre: [unclosed\n", encoding="utf-8")
    value = {"<dir>": str(tmp_path), "<file>": str(tmp_path / "a-file"), "<under-file>": str(tmp_path / "a-file" / "x"),
             "<missing>": str(tmp_path / "missing.yaml"), "<bad-yaml>": str(tmp_path / "bad.yaml")}.get(value, value)
    options: list[str] = []
    arguments: list[str] = []
    before_tested = True
    for param in command.params:
        if param is tested:
            before_tested = False
            if isinstance(param, click.Argument):
                arguments.append(value)
            else:
                options += [param.opts[-1], value]
        elif isinstance(param, click.Argument) and (param.required or before_tested):
            arguments.append(sample(param, good))
        elif isinstance(param, click.Option) and param.required:
            options += [param.opts[-1], sample(param, good)]
    result = runner.invoke(main, [*path, *options, "--", *arguments] if arguments else [*path, *options])
    line = refusal(result, status)
    if status == 2:
        assert line.startswith(f"Error: Invalid value for {tested.get_error_hint(click.Context(command))}: "), line
    else:
        assert value in line, line  # the file, named


def test_the_walk_reaches_every_command() -> None:
    walked = {" ".join(case.values[0]) for case in CASES}
    assert {"simulate", "demo", "blacklist add", "callbacks", "callbacks done", "audit", "transcripts search",
            "switch-conf render", "agent notready", "supervise", "config check", "serve"} <= walked


def test_an_unreachable_store_is_one_line_with_its_password_masked(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "hotline.yaml"
    path.write_text(GOOD + "tickets: {url: 'postgresql+psycopg://hotline:s3cret-pw@127.0.0.1:1/hotline'}\n"
                    "state: {backend: redis, redis_url: 'redis://:s3cret-pw@127.0.0.1:1/0'}\n", encoding="utf-8")
    for args in (["blacklist", "list"], ["status"]):
        result = runner.invoke(main, ["--config", str(path), *args])
        line = refusal(result, 1)
        assert "s3cret-pw" not in result.output and ":***@127.0.0.1:1" in line, line


def test_a_configuration_file_over_1_mib_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text(GOOD + "#" * config.loader.MAX_BYTES, encoding="utf-8")
    with pytest.raises(config.ConfigError) as caught:
        config.load(path)
    [problem] = caught.value.problems
    assert problem.file == str(path) and "larger than 1024 KiB" in problem.message


def test_a_billion_laughs_file_is_refused_without_expanding(runner: CliRunner, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Nine levels of nine aliases: 387 million values once expanded, 600 bytes as written."""
    levels = ["a: &a [" + ", ".join(['"lol"'] * 9) + "]"]
    for previous, name in zip("abcdefgh", "bcdefghi"):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(levels) + "\n", encoding="utf-8")

    def compose(_: Path) -> None:
        raise AssertionError("the document was composed: refuse it from its events, before")

    monkeypatch.setattr(config.source, "read", compose)
    line = refusal(runner.invoke(main, ["config", "check", str(path)]), 1)
    assert line.startswith(f"{path}: (file): ") and "aliases" in line and "billion laughs" in line


def test_aliases_a_person_writes_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text("centre: {name: t}\n"
                    "switch: {password: a-strong-password-1, connect_timeout: &seconds 4, command_timeout: *seconds,\n"
                    "         reconnect: {<<: &backoff {initial: 1, maximum: 30}}}\n", encoding="utf-8")
    switch = config.load(path).switch
    assert (switch.command_timeout, switch.reconnect.maximum) == (4, 30)


def test_nesting_too_deep_is_refused_not_a_recursion_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("centre: " + "[" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(config.ConfigError) as caught:
        config.load(path)
    assert "nested more than 64 deep" in caught.value.problems[0].message
