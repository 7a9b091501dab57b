"""The ``hotline`` command.

Commands that run on the configuration take it with ``@with_settings``: it accepts ``--config`` after the
command as well as before it (``hotline serve --config F`` and ``hotline --config F serve``), loads the file
once per invocation, and turns a ConfigError into the located problems on stderr and exit status 1.

Every parameter has a checked type (TEXT, NUMBER, Finite, PathName, click's ranges and choices), so bad input is
click's one-line usage error with exit status 2 before a command starts anything; tests/test_cli_bad_input.py walks
every command with bad values to hold that.
"""

from __future__ import annotations

import functools
import math
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

import click
import yaml

import config
from config import ConfigError, Endpoint, Settings
from acd.queueing import CALL_ACTIONS
from acd.supervisors import ACTIONS as SUPERVISE_ACTIONS
from config.acd import TARGETED
from acd.queues import Strategy
from config.ivr import TICKET_STATUSES
from engine.link import ENGINE_EVENTS, switch_link
from esl import EslError, Event, tokens
from reports.figures import VIEWS

CONFIG_HELP = "YAML configuration file (without one: the built-in demo settings)."
_Command = TypeVar("_Command", bound=Callable[..., Any])
_T = TypeVar("_T")
_UNPRINTABLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}
"""Unicode categories refused in text typed on the command line: controls (terminal escapes, NUL, line breaks),
format characters (bidi overrides that reorder what an operator reads), undecodable bytes, line separators."""
_PASSWORD_IN_URL = re.compile(r"(://[^/?#:@]*):[^/?#]*@")


def masked(text: str) -> str:
    """``text`` with the password of every URL in it shown as ***: URLs are printed, their secrets never."""
    return _PASSWORD_IN_URL.sub(r"\1:***@", text)


def _plain(value: str, limit: int = 256) -> str:
    """Text from the command line, which is stored, printed and sent on: not blank, not longer than the store
    keeps, no character of _UNPRINTABLE."""
    if not value.strip():
        raise ValueError("must not be empty")
    if len(value) > limit:
        raise ValueError(f"at most {limit} characters, got {len(value)}")
    bad = next((ch for ch in value if unicodedata.category(ch) in _UNPRINTABLE), None)
    if bad is not None:
        raise ValueError(f"contains the control character U+{ord(bad):04X}: give plain text")
    return value


class Checked(click.ParamType):
    """A value that ``check`` returns, or refuses with a ValueError: refused as click refuses a bad integer, one
    usage line and exit status 2, before the command starts anything."""

    def __init__(self, name: str, check: Callable[[str], Any]) -> None:
        self.name, self.check = name, check

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return self.check(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class Finite(click.FloatRange):
    """click.FloatRange that also refuses nan, which every range comparison lets through (and inf, without a max)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


class PathName(click.Path):
    """click.Path that refuses an empty name (pathlib reads it as the current folder) and control characters; with
    ``writable``, also a path that cannot be written: under a file, or in a folder that is not writable."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            _plain(os.fsdecode(value), limit=4096)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        path = super().convert(value, param, ctx)
        if self.writable and not os.path.exists(path):
            existing = Path(path).absolute().parent
            while not os.path.exists(existing):
                existing = existing.parent
            if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
                self.fail(f"cannot create {os.fsdecode(value)!r}: {str(existing)!r} is "
                          f"{'not writable' if existing.is_dir() else 'not a folder'}.", param, ctx)
        return path


TEXT = Checked("text", _plain)
NAME = Checked("name", functools.partial(_plain, limit=64))
NUMBER = Checked("number", tokens.number)
SEED = click.IntRange(0, 2**32 - 1)
WHEN = click.DateTime(["%Y-%m-%d", "%Y-%m-%d %H:%M"])
DAY = click.DateTime(["%Y-%m-%d"])
MAX_REPORT_DAYS = 3660
"""Ten years in one report: beyond, a typo in the year."""


@dataclass
class _State:
    """Per-invocation state: where the configuration comes from, loaded at most once and only when needed."""

    config_path: Path | None = None
    settings: Settings | None = None


def _config_option(command: _Command) -> _Command:
    def remember(ctx: click.Context, _: click.Parameter, value: Path | None) -> None:
        if value is not None:
            ctx.ensure_object(_State).config_path = value

    return click.option("--config", "config_path", type=PathName(exists=True, dir_okay=False, path_type=Path),
                        envvar="HOTLINE_CONFIG", show_envvar=True, expose_value=False, callback=remember,
                        help=CONFIG_HELP)(command)


def current_settings() -> Settings:
    """The Settings of the running command (``--config`` / HOTLINE_CONFIG, else the demo defaults)."""
    ctx = click.get_current_context()
    state = ctx.ensure_object(_State)
    if state.settings is None:
        try:
            state.settings = config.load(state.config_path)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            ctx.exit(1)
    return state.settings


def with_settings(command: _Command) -> _Command:
    """Decorator for commands that need the configuration: passes ``settings`` as the first argument."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        return command(current_settings(), *args, **kwargs)

    return _config_option(run)  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hotline12345", prog_name="hotline")
@_config_option
def main() -> None:
    """Call-centre engine for 12345 government-service hotlines, driving FreeSWITCH over the Event Socket."""


@main.group("config")
def config_group() -> None:
    """Check and show the configuration file."""


@config_group.command("check")
@click.argument("file", type=PathName(dir_okay=False, path_type=Path))
def config_check(file: Path) -> None:
    """Validate FILE and list every problem as file:line: key.path: problem (exit status 1 if any)."""
    try:
        settings = config.load(file)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem))
        if len(exc.problems) > 1:
            click.echo(f"{file}: {len(exc.problems)} problem(s)", err=True)
        click.get_current_context().exit(1)
    switch = Endpoint(settings.switch.host, settings.switch.port)
    click.echo(f"{file}: OK: {settings.centre.name} ({', '.join(settings.centre.service_numbers)}), "
               f"switch {switch}, outbound socket {settings.outbound_socket.listen}, "
               f"telemetry {settings.telemetry.listen}")


@config_group.command("show")
@with_settings
def config_show(settings: Settings) -> None:
    """Print the effective configuration (defaults filled in) as YAML, with the passwords masked."""
    source = click.get_current_context().ensure_object(_State).config_path or "built-in demo defaults"
    click.echo(f"# effective configuration from {source}")
    click.echo(masked(yaml.safe_dump(settings.model_dump(mode="json"), allow_unicode=True, sort_keys=False)), nl=False)


# --- the engine and its link to FreeSWITCH ---------------------------------------------------------------


@main.group("switch-conf")
def switch_conf_group() -> None:
    """FreeSWITCH's side of the configuration, rendered from this one."""


@switch_conf_group.command("render")
@click.argument("outdir", type=PathName(file_okay=False, writable=True, path_type=Path))
@with_settings
def switch_conf_render(settings: Settings, outdir: Path) -> None:
    """Write the files into OUTDIR, laid out like FreeSWITCH's conf directory (see the README to add them)."""
    from esl import protocol
    from esl.connection import Connection
    from switch_conf import directory
    from switch_conf.render import render

    if click.get_current_context().ensure_object(_State).config_path is None:
        click.echo("warning: no --config, so the ESL password rendered is this process's random demo one, which no "
                   "engine started separately will know; render with the engine's --config", err=True)
    sw = settings.switch
    conn: Connection | None = None
    try:  # one question, one connection: not the supervised link, which would retry and log while it does
        conn = Connection.open(sw.host, sw.port, sw.connect_timeout, lambda _: None, "esl-render")
        conn.login(sw.password.get_secret_value(), sw.connect_timeout)
        ask = lambda command: conn.request(protocol.api(command), sw.command_timeout).body.decode()  # noqa: E731
        collisions = [finding for finding in directory.check(settings, ask) if finding.collides]
    except EslError as exc:
        collisions = []
        click.echo(f"note: could not ask FreeSWITCH at {sw.host}:{sw.port} about the agents' SIP users ({exc}); "
                   "the engine asks when it starts", err=True)
    finally:
        if conn is not None:
            conn.close()
    if collisions:
        raise click.ClickException("\n".join(map(str, collisions)))
    try:
        written = render(settings, outdir)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    for path in written:
        click.echo(str(path))
    for agent in directory.unrendered(settings):
        click.echo(f"note: agent {agent} has no sip_password: no SIP user is rendered for them", err=True)


@main.group("switch")
def switch_group() -> None:
    """Inspect the FreeSWITCH the engine is configured for."""


@switch_group.command("status")
@with_settings
def switch_status(settings: Settings) -> None:
    """Connect over ESL, authenticate and print FreeSWITCH's `status` (exit status 1 if unreachable)."""
    link = switch_link(settings)
    link.start()
    try:
        link.wait_connected(settings.switch.connect_timeout * 2)
        click.echo(link.api("status"), nl=False)
    except EslError as exc:
        click.echo(f"FreeSWITCH at {settings.switch.host}:{settings.switch.port}: {exc}", err=True)
        click.get_current_context().exit(1)
    finally:
        link.stop()


@switch_group.command("watch")
@click.option("--event", "events", type=TEXT, multiple=True,
              help="Event name to show (repeatable); default: the engine's.")
@with_settings
def switch_watch(settings: Settings, events: tuple[str, ...]) -> None:
    """Print FreeSWITCH events as they arrive, one line each, until interrupted."""
    import gevent

    link = switch_link(settings)
    wanted = {name.removeprefix("CUSTOM ") for name in events or ENGINE_EVENTS}
    link.on("*", lambda event: click.echo(describe(event)) if event.name in wanted else None)
    link.start()
    try:
        gevent.wait()
    except KeyboardInterrupt:
        pass
    finally:
        link.stop()


def describe(event: Event) -> str:
    """One line per event for a person at a terminal; caller data is shown with repr, never interpreted."""
    fields = ("Unique-ID", "Caller-Caller-ID-Number", "Caller-Destination-Number", "Application", "DTMF-Digit",
              "Hangup-Cause", "from-user", "user")
    shown = " ".join(f"{name}={event.get(name)!r}" for name in fields if event.get(name))
    return f"{event.get('Event-Date-Local', '')} {event.name} {shown}"


@main.command()
@with_settings
def serve(settings: Settings) -> None:
    """Run the engine against the configured FreeSWITCH until interrupted (SIGINT/SIGTERM)."""
    import signal

    import gevent

    from engine.process import Engine
    from telemetry import logs

    logs.configure(settings.telemetry)
    engine = Engine(settings, switch_link(settings))
    engine.start()
    gevent.signal_handler(signal.SIGTERM, engine.stop)
    try:
        engine.stopped.wait()
    except KeyboardInterrupt:
        engine.stop()
    if engine.refused:
        raise click.ClickException(engine.refused)


@main.command()
@click.option("--calls", type=click.IntRange(1, 10_000), default=30, show_default=True,
              help="How many simulated citizens call.")
@click.option("--agents", "agent_count", type=click.IntRange(1, 1000), default=8, show_default=True,
              help="How many simulated agents answer.")
@click.option("--rate", type=Finite(0, 1000, min_open=True), default=3.0, show_default=True,
              help="Mean arrivals per second (Poisson).")
@click.option("--seed", type=SEED, default=12345, show_default=True, help="Random seed, for a repeatable run.")
@with_settings
def demo(settings: Settings, calls: int, agent_count: int, rate: float, seed: int) -> None:
    """Run the engine on embedded defaults against the built-in FreeSWITCH double, with simulated people.

    No FreeSWITCH is needed: the double speaks real ESL on a free loopback port and the engine drives it
    exactly as it would a real switch. Citizens call, hear the greeting, press a key or not, wait in the
    queue and talk 1-3 s with an agent (or give up after 30 s); agents answer after a short ring and wrap up
    for 1 s. Prompts and ringing are compressed twentyfold.
    """
    from engine.demo import run_demo

    if not run_demo(settings, calls, agent_count, rate, seed, click.echo, _on_terminal()):
        click.echo("some calls did not complete", err=True)
        click.get_current_context().exit(1)


def _on_terminal() -> bool:
    """A person watching (redraw in place, often) rather than a log (a block now and then)."""
    import sys

    return sys.stdout.isatty()


@main.command()
@click.option("--agents", type=click.IntRange(1, 10_000), default=30, show_default=True)
@click.option("--calls-per-hour", type=Finite(0, 1_000_000, min_open=True), default=500.0, show_default=True)
@click.option("--handle", "handle_s", type=Finite(0, 86_400, min_open=True), default=180.0, show_default=True,
              help="Mean handle time, seconds.")
@click.option("--patience", "patience_s", type=Finite(0, 86_400), default=120.0, show_default=True,
              help="Mean caller patience, seconds (0: nobody abandons).")
@click.option("--hours", type=Finite(0, 744, min_open=True), default=8.0, show_default=True,
              help="Simulated hours (at most a month).")
@click.option("--wrap-up", "wrap_up_s", type=Finite(0, 3600), default=0.0, show_default=True)
@click.option("--strategy", type=click.Choice([s.value for s in Strategy]), default="longest-idle", show_default=True)
@click.option("--seed", type=SEED, default=12345, show_default=True, help="The first run's seed; each next run adds 1.")
@click.option("--runs", type=click.IntRange(1, 100), default=5, show_default=True,
              help="Runs with consecutive seeds, for the spread of the figures.")
def simulate(agents: int, calls_per_hour: float, handle_s: float, patience_s: float, hours: float,
             wrap_up_s: float, strategy: str, seed: int, runs: int) -> None:
    """Run the real ACD on a virtual clock with synthetic callers and agents; print the first run's KPI report, the
    spread of the headline figures over all runs, and Erlang C."""
    from acd import simulate as simulation

    scenario = simulation.Scenario(agents=agents, calls_per_hour=calls_per_hour, handle_s=handle_s,
                                   patience_s=patience_s or None, hours=hours, wrap_up_s=wrap_up_s,
                                   strategy=Strategy(strategy), seed=seed)
    reports = simulation.runs(scenario, runs)
    for line in reports[0].lines() + (simulation.spread_lines(reports) if runs > 1 else []):
        click.echo(line)
    erlangs = calls_per_hour * handle_s / 3600
    if erlangs < agents:
        click.echo(f"Erlang C (no abandonment, no wrap-up) 20 s: "
                   f"{simulation.erlang_c_service_level(agents, calls_per_hour, handle_s, 20):.1%}")
    else:
        click.echo(f"Erlang C: {erlangs:g} erlangs on {agents} agents: without abandonment the queue grows "
                   "without end")


@main.group("agent")
def agent_group() -> None:
    """Agents' states and their calls through the running engine's API (login, ready, notready, logout, list, call)."""


TOKEN_OPTION = click.option("--token", type=TEXT, envvar="HOTLINE_TOKEN", show_envvar=True, required=True,
                            help="An acd.api token: an agent's own, or a supervisor's or engineer's.")


def api_request(settings: Settings, token: str, method: str, path: str, body: dict[str, str] | None = None) -> object:
    """One request to the engine's agent API; exits with its error message on failure."""
    import json

    return json.loads(api_bytes(settings, token, method, path, json.dumps(body or {}).encode()) or b"null")


def api_bytes(settings: Settings, token: str, method: str, path: str, data: bytes = b"") -> bytes:
    """One request to the engine's API, its body as sent back; exits with the error message on failure."""
    import json

    from gevent import socket

    listen = settings.acd.api.listen
    request = (f"{method} {path} HTTP/1.0\r\nHost: hotline\r\nAuthorization: Bearer {token}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data
    try:
        with socket.create_connection((listen.host, listen.port), timeout=10) as sock:
            sock.sendall(request)
            reply = b"".join(iter(lambda: sock.recv(65536), b""))
    except OSError as exc:
        raise click.ClickException(f"the engine's API at {listen} does not answer: {exc}") from None
    head, _, payload = reply.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    if status != 200:
        result = json.loads(payload or b"null")
        raise click.ClickException(f"{status}: {result.get('error') if isinstance(result, dict) else result}")
    return payload


def _act(settings: Settings, token: str, agent: str, action: str, **body: str) -> None:
    state = api_request(settings, token, "POST", f"/agents/{agent}/{action}", body)
    click.echo(f"{state['id']}: {state['state']}{' (' + state['reason'] + ')' if state['reason'] else ''}")


@agent_group.command("login")
@click.argument("agent", type=TEXT)
@TOKEN_OPTION
@with_settings
def agent_login(settings: Settings, agent: str, token: str) -> None:
    """Log AGENT in, ready for calls (签入)."""
    _act(settings, token, agent, "login")


@agent_group.command("ready")
@click.argument("agent", type=TEXT)
@TOKEN_OPTION
@with_settings
def agent_ready(settings: Settings, agent: str, token: str) -> None:
    """Make AGENT ready (置闲); ends wrap-up early."""
    _act(settings, token, agent, "ready")


@agent_group.command("notready")
@click.argument("agent", type=TEXT)
@click.option("--reason", type=TEXT, required=True, help="A reason code from acd.reasons (rest, meal, ...).")
@TOKEN_OPTION
@with_settings
def agent_not_ready(settings: Settings, agent: str, reason: str, token: str) -> None:
    """Make AGENT not ready (置忙) with a reason."""
    _act(settings, token, agent, "not_ready", reason=reason)


@agent_group.command("logout")
@click.argument("agent", type=TEXT)
@TOKEN_OPTION
@with_settings
def agent_logout(settings: Settings, agent: str, token: str) -> None:
    """Log AGENT out (签出)."""
    _act(settings, token, agent, "logout")


@agent_group.command("call")
@click.argument("agent", type=TEXT)
@click.argument("action", type=click.Choice(CALL_ACTIONS))
@click.argument("target", type=TEXT, required=False)
@TOKEN_OPTION
@with_settings
def agent_call(settings: Settings, agent: str, action: str, target: str | None, token: str) -> None:
    """Act on AGENT's call (坐席工具条): hold, resume, mute, unmute; transfer (blind, 盲转), consult (咨询) then
    complete, cancel or join; three_way (三方通话), linkage (一键转接 by the directory entry's mode); leave a
    three-way call, drop its third party; hangup (挂机). TARGET, for transfer, consult, three_way and linkage: queue:NAME,
    agent:ID, a linkage directory entry (110, 119, ...) or a plain number."""
    if action in TARGETED and not target:
        raise click.UsageError(f"{action} needs a TARGET: queue:NAME, agent:ID, a directory entry or a number")
    _act(settings, token, agent, action, **({"to": target} if target else {}))


@agent_group.command("list")
@TOKEN_OPTION
@with_settings
def agent_list(settings: Settings, token: str) -> None:
    """Every agent's state (an agent token shows only its own)."""
    for state in api_request(settings, token, "GET", "/agents"):
        click.echo(f"{state['id']:>8}  {state['state']:<10} {state['reason']:<14} calls {state['calls_answered']}")


@main.command()
@click.argument("action", type=click.Choice(SUPERVISE_ACTIONS))
@click.argument("agent", type=TEXT)
@TOKEN_OPTION
@with_settings
def supervise(settings: Settings, action: str, agent: str, token: str) -> None:
    """Supervise AGENT's call (班长) with a supervisor's token: listen (your phone rings, then hears the call),
    whisper (the agent hears you, the caller does not), barge (both do), takeover (your listening phone takes the
    caller, the agent goes to wrap-up), hangup (强拆: the call ends), stop (your phone hangs up). Audited."""
    result = api_request(settings, token, "POST", f"/supervise/{agent}/{action}")
    listening = ", ".join(f"{s['supervisor']} ({s['mode']})" for s in result["supervisors"]) or "nobody"
    click.echo(f"{agent}: {action} done; listening now: {listening}")


@main.command()
@click.option("--since", "since", type=WHEN, default=None,
              help="From this day or minute (the machine's local time); default: the last 24 hours.")
@click.option("--actor", type=TEXT, default=None, help="supervisor:<id>, supervisor, engineer or phone:<user>.")
@click.option("--action", type=TEXT, default=None,
              help="listen, whisper, barge, takeover, hangup, stop, ready, not_ready ...")
@click.option("--agent", type=TEXT, default=None, help="Only actions on this agent.")
@click.option("--call", "call_id", type=TEXT, default=None, help="Only actions on this call.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@with_settings
def audit(settings: Settings, since: Any, actor: str | None, action: str | None, agent: str | None,
          call_id: str | None, limit: int) -> None:
    """The audit log (审计): every supervisor action and forced agent state, oldest first."""
    import time
    from datetime import datetime

    since_ms = int(since.timestamp() * 1000) if since is not None else int((time.time() - 86400) * 1000)
    entries = _tickets(settings, lambda store: store.audit(since_ms, actor=actor, action=action, agent=agent,
                                                          call_id=call_id, limit=limit))
    for entry in entries:
        when = datetime.fromtimestamp(entry.at_ms / 1000).strftime("%Y-%m-%d %H:%M:%S")
        detail = f" ({tokens.scrub(entry.detail, 256)})" if entry.detail else ""  # as asked: no terminal controls
        click.echo(f"{when}  {entry.actor:<18} {tokens.scrub(entry.action)}{detail} agent {entry.agent or '-'} "
                   f"call {entry.call_id or '-'}: {tokens.scrub(entry.result, 256)}")
    click.echo(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}")


@main.group("recordings")
def recordings_group() -> None:
    """Recordings kept like evidence: each archived file (Opus), its size, duration and SHA-256."""


SINCE_OPTION = click.option("--since", "since", type=WHEN, default=None,
                            help="Archived from this day or minute (local time); default: everything.")


@recordings_group.command("list")
@click.option("--call", "call_id", type=TEXT, default=None, help="Only this call's recordings.")
@SINCE_OPTION
@with_settings
def recordings_list(settings: Settings, call_id: str | None, since: Any) -> None:
    """The archived recordings, oldest first, with any problem found when they were archived."""
    for item in _recordings(settings, call_id, since):
        problem = f"  PROBLEM: {item.problem}" if item.problem else ""
        click.echo(f"{item.call_id}  {item.kind:<8} {item.codec:<5} {item.duration_ms / 1000:8.1f} s "
                   f"{item.bytes:>10} B  sha256 {item.sha256[:16]}  {item.path}{problem}")


@recordings_group.command("verify")
@click.option("--call", "call_id", type=TEXT, default=None, help="Only this call's recordings.")
@SINCE_OPTION
@with_settings
def recordings_verify(settings: Settings, call_id: str | None, since: Any) -> None:
    """Check every archived file is there and unchanged (its SHA-256 recomputed); exit 1 naming each that is not."""
    from recorder.archive import sha256

    items, bad = _recordings(settings, call_id, since), 0
    for item in items:
        path = Path(item.path)
        found = "missing" if not path.exists() else "changed" if sha256(path) != item.sha256 else item.problem
        if found:
            bad += 1
            click.echo(f"{item.call_id}  {item.path}: {found}")
    click.echo(f"{len(items) - bad} of {len(items)} recording(s) intact")
    if bad:
        raise SystemExit(1)


@recordings_group.command("purge")
@click.option("--dry-run", is_flag=True, help="Say what the retention policy would delete, delete nothing.")
@with_settings
def recordings_purge(settings: Settings, dry_run: bool) -> None:
    """Apply the retention policy now (recorder.retention_days, per tenant recorder.retention): delete the archived
    recordings older than that, and mark each purged in the ticket store (the engine also does this every 6 h)."""
    import time

    from recorder.archive import expired, purge

    now_ms = int(time.time() * 1000)
    gone = _tickets(settings, lambda store: (expired if dry_run else purge)(store, settings.recorder, now_ms))
    for item in gone:
        click.echo(f"{item.call_id}  {item.tenant or '-'}  {item.path}")
    click.echo(f"{len(gone)} recording(s) {'would be' if dry_run else ''} deleted".replace("  ", " "))


@recordings_group.command("get")
@click.argument("call_id", type=TEXT)
@click.option("--kind", type=click.Choice(["call", "consult"]), default="call", show_default=True)
@click.option("-o", "--output", type=PathName(dir_okay=False, writable=True, path_type=Path), required=True,
              help="Where to write it (an .opus file).")
@TOKEN_OPTION
@with_settings
def recordings_get(settings: Settings, call_id: str, kind: str, output: Path, token: str) -> None:
    """Fetch a call's recording through the engine's API (a supervisor's or engineer's token; audited)."""
    data = api_bytes(settings, token, "GET", f"/recordings/{call_id}/{kind}")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(data)
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc}") from None
    click.echo(f"{output}: {len(data)} bytes")


def _recordings(settings: Settings, call_id: str | None, since: Any) -> list[Any]:
    since_ms = int(since.timestamp() * 1000) if since is not None else 0
    return _tickets(settings, lambda store: store.recordings(call_id, since_ms))



@main.group("transcripts")
def transcripts_group() -> None:
    """Transcripts of the recordings (vosk, asr.enabled): each call as a dialogue of citizen and agent, searchable."""


@transcripts_group.command("search")
@click.argument("word", type=TEXT)
@click.option("--flagged", is_flag=True, help="Only transcripts with a keyword alert (asr.keywords).")
@click.option("--since", "since", type=WHEN, default=None,
              help="Transcribed from this day or minute (local time); default: everything.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000), help="Calls shown at most.")
@with_settings
def transcripts_search(settings: Settings, word: str, flagged: bool, since: Any, limit: int) -> None:
    """Calls whose transcript says WORD (spaces ignored), newest first, with each utterance that says it."""
    from tickets.transcripts import Transcripts, said

    since_ms = int(since.timestamp() * 1000) if since is not None else 0
    found = _tickets(settings, lambda store: Transcripts(store).search(word, since_ms, flagged, limit))
    for transcript, utterance in said(found, word):
        click.echo(f"{transcript.call_id}  {transcript.kind:<7} {_at(utterance['start_ms'])} "
                   f"{utterance['speaker']}: {tokens.scrub(utterance['text'], 1000)}")
    click.echo(f"{len(found)} call(s)")


@transcripts_group.command("show")
@click.argument("call_id", type=TEXT)
@with_settings
def transcripts_show(settings: Settings, call_id: str) -> None:
    """A call's transcripts as dialogues (the conversation, then any consultation), with keyword alerts; or why
    one is not there (waiting, failed and why)."""
    from tickets.transcripts import Transcripts

    found = _tickets(settings, lambda store: Transcripts(store).of(call_id))
    if not found:
        raise click.ClickException(f"no transcript of call {call_id} (not recorded, not archived yet, or ASR off)")
    for transcript in found:
        click.echo(f"== {transcript.kind}: {transcript.state}, tries {transcript.attempts}  {transcript.path}")
        if transcript.error:
            click.echo(f"   last error: {tokens.scrub(transcript.error, 256)}")
        for flag in transcript.flags:
            click.echo(f"   ALERT {flag['category']}: {flag['word']} ({flag['speaker']} at {_at(flag['at_ms'])})")
        for utterance in transcript.dialogue:
            click.echo(f"{_at(utterance['start_ms'])} {utterance['speaker']:<8} {tokens.scrub(utterance['text'], 1000)}")


@transcripts_group.command("backlog")
@with_settings
def transcripts_backlog(settings: Settings) -> None:
    """The transcription backlog: recordings waiting or being transcribed, done, failed, and the oldest waiting."""
    import time

    from tickets.transcripts import Transcripts

    counts = _tickets(settings, lambda store: Transcripts(store).backlog())
    oldest = counts.pop("oldest_queued_ms")
    waited = f"; oldest queued {(time.time() * 1000 - oldest) / 60000:.1f} min ago" if oldest is not None else ""
    click.echo(", ".join(f"{state} {count}" for state, count in counts.items()) + waited)


def _at(ms: int) -> str:
    """A time within a recording, as [mm:ss.s]."""
    return f"[{ms // 60000:02d}:{ms % 60000 / 1000:04.1f}]"


@main.command()
@click.option("--from", "first", type=DAY, required=True,
              help="The first day (YYYY-MM-DD, the centre's day in its time zone).")
@click.option("--to", "last", type=DAY, required=True, help="The last day, included.")
@click.option("--by", type=click.Choice(VIEWS), default=None,
              help="One line per hour, day, week, month, queue, tenant or agent (default: the range's totals).")
@click.option("--format", "form", type=click.Choice(["table", "csv", "xlsx", "pdf"]), default="table",
              show_default=True, help="xlsx and pdf hold every view, with charts (--by is for table and csv).")
@click.option("-o", "--output", type=PathName(dir_okay=False, writable=True, path_type=Path), default=None,
              help="Write here instead of the terminal (needed for xlsx and pdf).")
@with_settings
def report(settings: Settings, first: Any, last: Any, by: str | None, form: str, output: Path | None) -> None:
    """The tender KPI report (月报) from the ticket store: 20秒接通率, 30秒接通率, 接通率, 呼损率, 漏接回拨率,
    按键满意率 and the rest under their own names, each defined once, computed in SQL in the centre's time zone."""
    from reports import drawn_rate, listed, report_for
    from reports.render import as_csv, table

    first, last = first.date(), last.date()
    if last < first:
        raise click.BadParameter(f"{last} is before --from {first}", param_hint="'--to'")
    if (last - first).days > MAX_REPORT_DAYS:
        raise click.BadParameter(f"at most {MAX_REPORT_DAYS} days in one report", param_hint="'--to'")
    if form in ("xlsx", "pdf") and output is None:
        raise click.BadParameter(f"the {form} report needs a file to go to", param_hint="'-o' / '--output'")
    if form in ("xlsx", "pdf") and by is not None:
        raise click.BadParameter(f"the {form} report holds every view: leave --by out", param_hint="'--by'")
    figures = listed(settings)

    def run(store: Any) -> str | None:
        if form == "xlsx" or form == "pdf":
            from reports import pdf, xlsx

            (xlsx if form == "xlsx" else pdf).write(
                output, lambda view: report_for(settings, store.engine, first, last, view), figures,
                settings.centre.name, drawn_rate(settings))
            return None
        made = report_for(settings, store.engine, first, last, by)
        return as_csv(made, figures) if form == "csv" else table(made, figures, settings.centre.name)

    text = _tickets(settings, run)
    if text is None:
        click.echo(f"{output}: {form} report, {first} to {last}")
    elif output is not None:
        output.write_text(text, encoding="utf-8")
        click.echo(f"{output}: {form} report, {first} to {last}")
    else:
        click.echo(text, nl=form != "csv")


@main.command()
@with_settings
def status(settings: Settings) -> None:
    """The floor right now, from the engine's journal (its state folder, or Redis): the engine, agents by state,
    callers waiting per queue."""
    import time
    from collections import Counter
    from datetime import datetime

    import redis

    from engine.journal import journal_for
    from engine.process import HEARTBEAT_S

    journal = journal_for(settings.state)
    try:
        seen, agents, callers = journal.engine_seen(), journal.load("agents"), journal.load("callers")
    except (OSError, ValueError, redis.RedisError) as exc:
        where = settings.state.redis_url if settings.state.backend == "redis" else settings.state.folder
        raise click.ClickException(masked(f"cannot read live state from {where}: {exc}")) from None
    now = int(time.time() * 1000)
    if seen is None:
        click.echo("engine: never seen here (no engine has run with this state.prefix)")
    else:
        ago, at = (now - seen.seen_ms) / 1000, datetime.fromtimestamp(seen.seen_ms / 1000).strftime("%Y-%m-%d %H:%M:%S")
        last = f"last seen {ago:.0f} s ago ({at})"
        if seen.stopped:
            click.echo(f"engine: stopped at {at}, {ago:.0f} s ago; the figures below are from then")
        elif ago > 3 * HEARTBEAT_S:
            click.echo(f"engine: not seen for {ago:.0f} s (last at {at}): down or unreachable; the figures below "
                       "are stale")
        elif not seen.link_up:
            click.echo(f"engine: DEGRADED, no link to FreeSWITCH, {last}: no call is offered")
        else:
            click.echo(f"engine: up, linked to FreeSWITCH, {last}")
    states = Counter(str(agent["state"]) for agent in agents.values())
    click.echo("agents: " + ("  ".join(f"{state} {n}" for state, n in sorted(states.items())) or "none"))
    for agent_id, agent in sorted(agents.items()):
        if agent["state"] == "not_ready":
            click.echo(f"  {agent_id} not ready: {agent['reason']} for {(now - int(agent['since_ms'])) // 1000} s")
        if agent.get("registered") is False and agent["state"] != "logged_out":
            click.echo(f"  {agent_id} phone not registered: not offered calls")
    by_queue: dict[str, list[int]] = {name: [] for name in settings.acd.queues}
    for caller in callers.values():
        by_queue.setdefault(str(caller["queue"]), []).append(now - int(caller["entered_ms"]))
    for queue, waits in sorted(by_queue.items()):
        click.echo(f"queue {queue}: {len(waits)} waiting" + (f", longest {max(waits) // 1000} s" if waits else ""))


@main.group(invoke_without_command=True)
@click.option("--hours", type=Finite(0, 24 * 366, min_open=True), default=24.0, show_default=True,
              help="How far back to look (at most a year).")
@_config_option
@click.pass_context
def callbacks(context: click.Context, hours: float) -> None:
    """The callback list (漏接回拨): callers who left a message or left a queue without an agent (gave up beyond
    the quick-abandon threshold, timed out, found it full or unstaffed, pressed the exit key), with the reason, not
    yet called back and not answered on a later call; `callbacks done` takes one off."""
    if context.invoked_subcommand is not None:
        return
    import time
    from datetime import datetime

    from tickets.region import caller_region

    settings = current_settings()
    since_ms = int((time.time() - hours * 3600) * 1000)
    quick_ms = int(settings.acd.service_level.quick_abandon * 1000)
    missed = _tickets(settings, lambda store: store.missed(since_ms, quick_ms))
    for call in missed:
        when = datetime.fromtimestamp(call.switch_entry_ms / 1000).strftime("%Y-%m-%d %H:%M:%S")
        number = tokens.scrub(call.caller_number)  # caller-supplied: no terminal control characters
        waited = f"{(call.hangup_ms - call.queue_entry_ms) / 1000:.0f} s" \
            if call.hangup_ms is not None and call.queue_entry_ms is not None else "an unseen time"
        what = f"queue {call.queue}  {call.exit_reason} after {waited}" if call.queue else call.exit_reason or ""
        if call.recording:
            what += f"  left a message {call.recording}"
        click.echo(f"{when}  {number:<16} {caller_region(call.caller_number) or '':<14} {what}  call {call.call_id}")
    click.echo(f"{len(missed)} caller(s) to call back in the last {hours:g} h")


@callbacks.command("done")
@click.argument("call_id", type=TEXT)
@click.option("--by", type=NAME, required=True, help="The agent who called back.")
@click.option("--note", type=TEXT, default=None, help="How it went (reached, no answer, ticket number ...).")
@with_settings
def callbacks_done(settings: Settings, call_id: str, by: str, note: str | None) -> None:
    """Mark an abandoned call as called back, so it leaves the list."""
    import time

    try:
        new = _tickets(settings, lambda store: store.called_back(call_id, by, note or "", int(time.time() * 1000)))
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"call {call_id}: " + ("called back" if new else "was already called back"))


def _tickets(settings: Settings, read: Callable[[Any], _T]) -> _T:
    """Run one ticket-store operation, turning a store that cannot be reached into a one-line error."""
    from sqlalchemy.exc import SQLAlchemyError

    from tickets.store import TicketStore

    try:
        store = TicketStore(settings.tickets.url)
        store.migrate()
        return read(store)
    except SQLAlchemyError as exc:
        raise click.ClickException(masked(f"cannot use the ticket store {settings.tickets.url}: "
                                          f"{str(exc).splitlines()[0]}")) from None


# --- IVR -------------------------------------------------------------------------------------------------


@main.group("ivr")
def ivr_group() -> None:
    """The menus (IVR): print the tree, or walk it as a caller would, without a switch."""


@ivr_group.command("show")
@with_settings
def ivr_show(settings: Settings) -> None:
    """Every tenant with its numbers, regions and hours, and the menu tree it answers with."""
    from config.ivr import references

    ivr = settings.ivr

    def tree(menu: str, depth: int, seen: set[str]) -> None:
        node = ivr.menus[menu]
        click.echo(f"{'  ' * depth}[{menu}] {ivr.prompt(node.prompt).text}")
        if menu in seen:
            return
        seen = seen | {menu}
        for path, action in references(node):
            label = path.removeprefix("keys.")
            if action.do == "menu":
                click.echo(f"{'  ' * (depth + 1)}{label} ->")
                tree(action.menu, depth + 2, seen)
            else:
                click.echo(f"{'  ' * (depth + 1)}{label} -> {_action_text(action)}")
        if node.default is None:
            click.echo(f"{'  ' * (depth + 1)}default -> queue (the tenant's human queue)")

    for name, tenant in ivr.tenants.items():
        click.echo(f"tenant {name}: numbers {', '.join(tenant.numbers) or 'all'}; regions "
                   f"{', '.join(tenant.regions) or 'any'}; human queue {tenant.queue}; caller ID {tenant.caller_id}")
        click.echo(f"  hours: weekdays {' '.join(tenant.hours.weekdays) or 'closed'}, weekends "
                   f"{' '.join(tenant.hours.weekends) or 'closed'}, {len(tenant.hours.holidays)} holiday span(s), "
                   f"{len(tenant.hours.makeup_days)} make-up day(s); after hours: {tenant.after_hours.then}")
        tree(tenant.menu, 1, set())


def _action_text(action: Any) -> str:
    details = {k: v for k, v in action.model_dump().items() if k != "do" and v not in ("", 0, None)}
    return " ".join([action.do, *(f"{k}={v}" for k, v in details.items())])


def _keys(digits: str) -> list[str]:
    """``--digits``: each comma-separated item one phone key, or nothing (silence)."""
    keys = digits.split(",") if digits else []
    bad = [key for key in keys if key and (len(key) != 1 or key not in "0123456789*#")]
    if bad:
        raise ValueError(f"{bad[0]!r}: each item is one key of 0-9 * # (or empty for silence)")
    return keys


@ivr_group.command("walk")
@click.option("--digits", "keys", type=Checked("keys", _keys), default="", help="The key pressed at each prompt, "
              "comma-separated; an empty item is silence. Example: 1,,2")
@click.option("--called", type=NUMBER, default=None, help="The number dialled (default: the first service number).")
@click.option("--caller", type=NUMBER, default="13800138000", show_default=True, help="The caller's number (for "
              "tenant regions and the emergency list).")
@click.option("--at", "at", type=WHEN, default=None, help='When the call comes, for business hours: "2026-10-01 '
              '10:00" (the tenant\'s time zone; default: now).')
@with_settings
def ivr_walk(settings: Settings, keys: list[str], called: str | None, caller: str, at: Any) -> None:
    """What a caller pressing DIGITS hears and where they end up (the blacklist is not consulted)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from config.ivr import EXITS
    from ivr.menus import MenuWalk
    from ivr.tenants import is_open, select
    from tickets.region import caller_region

    ivr = settings.ivr
    called = called or settings.centre.service_numbers[0]
    if called not in settings.centre.service_numbers:
        raise click.BadParameter(f"{called} is not one of centre.service_numbers", param_hint="--called")
    name, tenant = select(ivr, called, caller_region(caller))
    zone = ZoneInfo(tenant.hours.timezone)
    when = at.replace(tzinfo=zone) if at else dt.datetime.now(zone)
    click.echo(f"tenant {name} ({called}, caller {caller}, {when:%Y-%m-%d %H:%M %Z})")
    if caller in ivr.emergency.callers:
        click.echo(f"ends at: queue {ivr.emergency.queue} priority={ivr.emergency.priority} (emergency caller list)")
        return
    if not is_open(tenant.hours, when):
        click.echo(f"hears: {ivr.prompt(tenant.after_hours.prompt).text}")
        click.echo(f"ends at: {tenant.after_hours.then} {tenant.after_hours.number}".rstrip() + " (after hours)")
        return
    walk = MenuWalk(ivr, tenant)
    step: Any = walk.start(tuple(tenant.greeting))
    for _ in range(100):  # silence forever through defaults must end; the loader guarantees a way out
        if isinstance(step, EXITS):
            if step.do != "lookup":
                break
            click.echo(f"hears: {ivr.prompt(ivr.lookup.prompt).text}")
            step = walk.again()
            continue
        for prompt in step.before:
            click.echo(f"hears: {ivr.prompt(prompt).text}")
        click.echo(f"hears: {ivr.prompt(step.prompt).text}  [menu {step.menu}]")
        key = keys.pop(0) if keys else ""
        click.echo(f"presses: {key or '(nothing)'}")
        step = walk.press(key or None)
    click.echo(f"path: {' > '.join(walk.path)}")
    click.echo(f"ends at: {_action_text(step)}")


@main.group("blacklist")
def blacklist_group() -> None:
    """Blocked numbers (恶意号码): callers rejected or told so at the door, every call still recorded."""


@blacklist_group.command("add")
@click.argument("number", type=NUMBER)
@click.option("--reason", type=TEXT, required=True,
              help="Why (harassment, repeated malicious calls, ...): kept with the entry.")
@click.option("--days", type=Finite(0, 36_500, min_open=True), default=None,
              help="Expire after this many days (default: until removed).")
@click.option("--by", type=NAME, default="cli", show_default=True, help="Who blocked it.")
@with_settings
def blacklist_add(settings: Settings, number: str, reason: str, days: float | None, by: str) -> None:
    """Block NUMBER, or replace its entry (saying what the entry was)."""
    import time

    from ivr.blacklist import REFRESH_S
    from tickets.store import Block

    now_ms = int(time.time() * 1000)
    expires = now_ms + int(days * 86_400_000) if days else None

    def block(store: Any) -> Block | None:
        old = next((entry for entry in store.blacklist(now_ms) if entry.number == number), None)
        store.block(Block(number, reason, now_ms, by, expires))
        return old

    old = _tickets(settings, block)
    click.echo(f"blocked {number}" + (f" for {days:g} day(s)" if days else " until removed") + f": {reason} "
               f"(a running engine turns it away within {REFRESH_S:g} s)")
    if old is not None:
        click.echo(f"replaces: {_block_text(old)}")


def _block_text(entry: Any) -> str:
    """A blacklist entry for a person: since when, by whom, until when, why (stored text, scrubbed)."""
    until = _minute(entry.expires_ms) if entry.expires_ms else "until removed"
    return (f"since {_minute(entry.added_ms)} by {tokens.scrub(entry.added_by):<10} {until:<16} "
            f"{tokens.scrub(entry.reason, 256)}")


def _minute(ms: int) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M")


@blacklist_group.command("remove")
@click.argument("number", type=NUMBER)
@with_settings
def blacklist_remove(settings: Settings, number: str) -> None:
    removed = _tickets(settings, lambda store: store.unblock(number))
    if not removed:
        raise click.ClickException(f"{number} is not on the blacklist")
    click.echo(f"unblocked {number}")


@blacklist_group.command("list")
@with_settings
def blacklist_list(settings: Settings) -> None:
    import time

    entries = _tickets(settings, lambda store: store.blacklist(int(time.time() * 1000)))
    for entry in entries:
        click.echo(f"{entry.number:<16} {_block_text(entry)}")
    click.echo(f"{len(entries)} number(s) blocked")


def _ticket(ticket: str) -> str:
    if not (ticket.isascii() and ticket.isdigit() and 4 <= len(ticket) <= 32):
        raise ValueError("a ticket number is 4-32 digits (callers key it in)")
    return ticket


@main.command("ticket-status")
@click.argument("ticket", type=Checked("ticket", _ticket))
@click.option("--set", "new_status", type=click.Choice(TICKET_STATUSES), default=None,
              help="Record the ticket's status (as the ticket system reports it) for the callers' self-service lookup.")
@with_settings
def ticket_status(settings: Settings, ticket: str, new_status: str | None) -> None:
    """A ticket's status as callers hear it when they key its number in."""
    import time

    if new_status:
        _tickets(settings, lambda store: store.set_status(ticket, new_status, int(time.time() * 1000)))
    status = _tickets(settings, lambda store: store.status(ticket))
    click.echo(f"ticket {ticket}: {status or 'not found'}")
