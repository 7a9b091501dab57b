"""The engine's link to FreeSWITCH: two inbound ESL connections kept up by a supervisor.

Commands go on one connection and the event subscription on the other, because a synchronous ``api``
holds back every event on its own socket for as long as it runs (esl-protocol.md §3). Anything slow goes
through ``bgapi``, whose result comes back as a BACKGROUND_JOB event on the event connection: its Job-UUID
is generated here and registered before the command is sent, so the result can never arrive unclaimed.
"""

from __future__ import annotations

import random
import time
import uuid as uuidlib
from dataclasses import dataclass
from typing import Callable, Iterable

import gevent
import structlog
from gevent.event import AsyncResult, Event as Flag

from esl import metrics, protocol, tokens
from esl.connection import Connection
from esl.dispatch import CallDispatcher, Handler, by_channel
from esl.errors import CommandFailed, CommandTimeout, ConnectionLost, EslError
from esl.protocol import Event

log = structlog.get_logger(__name__)

REQUIRED_EVENTS = ("HEARTBEAT", "BACKGROUND_JOB", "CHANNEL_EXECUTE_COMPLETE")
"""What the link itself consumes: liveness, bgapi results, execute completions."""

AWAITED = "hotline-awaited"
"""``event-uuid-name`` of the executions the link waits for. Every application on every channel (the dialplan's
``set``, ``answer``, ``park`` ...) completes with a CHANNEL_EXECUTE_COMPLETE carrying all its channel variables,
most of the bytes a call costs to read; the switch is asked to send only the completions named so."""


def own_completions_only(names: Iterable[str], custom: Iterable[str]) -> list[tuple[str, str]]:
    """ESL filters that pass the subscribed events but CHANNEL_EXECUTE_COMPLETE, which passes only when it
    completes an execution the link waits for. FreeSWITCH sends an event that matches any positive filter
    (mod_event_socket.c, the filter loop of event_handler): the first matches by name, the second by the name
    the link gave its executions."""
    passed = [name for name in names if name != "CHANNEL_EXECUTE_COMPLETE"] + (["CUSTOM"] if custom else [])
    return [("Event-Name", f"/^({'|'.join(passed)})$/"), ("Application-UUID-Name", AWAITED)]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential reconnect delay with jitter, so a restarted switch is not hit by every engine at once."""

    initial: float = 0.5
    maximum: float = 30.0
    jitter: float = 0.2

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        base = min(self.maximum, self.initial * (2**attempt))
        return base * (1 - self.jitter + 2 * self.jitter * rng())


class Waiters:
    """Results awaited by key (Job-UUID, Application-UUID), registered before the request is sent."""

    def __init__(self) -> None:
        self._pending: dict[str, AsyncResult] = {}

    def expect(self, key: str) -> AsyncResult:
        self._pending[key] = result = AsyncResult()
        return result

    def resolve(self, key: str | None, value: object) -> None:
        result = self._pending.pop(key, None) if key else None
        if result is not None:
            result.set(value)

    def discard(self, key: str) -> None:
        self._pending.pop(key, None)

    def fail_all(self, error: Exception) -> None:
        pending, self._pending = self._pending, {}
        for result in pending.values():
            result.set_exception(error)

    def __len__(self) -> int:
        return len(self._pending)


def wait(result: AsyncResult, timeout: float, what: str) -> object:
    try:
        return result.get(timeout=timeout)
    except gevent.Timeout:
        raise CommandTimeout(f"{what}: nothing within {timeout} s") from None


class SwitchLink:
    """Commands, events and call control over a supervised pair of ESL connections.

    Event handlers registered with ``on`` run on per-call greenlets in arrival order (``call_of`` says which
    channels make one call; by default each channel is one). Callbacks registered
    with ``on_connected`` run after every (re)connection once the subscription is in place, so state can be
    re-read from the switch. While the link is down every call fails at once with ConnectionLost.
    """

    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        *,
        events: Iterable[str] = (),
        connect_timeout: float = 5.0,
        command_timeout: float = 10.0,
        heartbeat_timeout: float = 60.0,
        backoff: Backoff = Backoff(),
        call_of: Callable[[Event], str] = by_channel,
    ) -> None:
        self.address = (host, port)
        self._password = password
        events = list(events)
        names, custom = _split_subscription([*REQUIRED_EVENTS, *events])
        self._subscription = protocol.subscribe(names, custom)
        self._filters = [] if "CHANNEL_EXECUTE_COMPLETE" in events else own_completions_only(names, custom)
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.heartbeat_timeout = heartbeat_timeout
        self.backoff = backoff
        self.dispatcher = CallDispatcher(call_of)
        self._jobs = Waiters()
        self._executions = Waiters()
        self._connected_callbacks: list[Callable[[], None]] = []
        self._lost_callbacks: list[Callable[[], None]] = []
        self._commands: Connection | None = None
        self._events: Connection | None = None
        self.connected = Flag()
        self.last_heartbeat = 0.0
        self.connections_made = 0
        self._supervisor: gevent.Greenlet | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the supervisor; it connects, and reconnects after any loss, until ``stop``."""
        if self._supervisor is None:
            self._supervisor = gevent.spawn(self._supervise)

    def wait_connected(self, timeout: float) -> None:
        if not self.connected.wait(timeout):
            raise ConnectionLost(f"no ESL link to {self.address[0]}:{self.address[1]} within {timeout} s")

    def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.kill()
            self._supervisor = None
        self._teardown(ConnectionLost("the engine is stopping"))

    @property
    def up(self) -> bool:
        """Linked right now. ``connected`` is cleared by the supervisor a moment after a connection dies (a send
        that failed closes it at once): whoever must know that a piece of work ran on a live link asks this."""
        return self.connected.is_set() and all(conn is not None and not conn.closed.is_set()
                                               for conn in (self._commands, self._events))

    def on(self, name: str, handler: Handler) -> None:
        self.dispatcher.on(name, handler)

    def on_connected(self, callback: Callable[[], None]) -> None:
        self._connected_callbacks.append(callback)

    def on_lost(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (on the supervisor, so it must not block) each time an established link drops."""
        self._lost_callbacks.append(callback)

    # --- commands ----------------------------------------------------------------------------------

    def api(self, command: str, timeout: float | None = None) -> str:
        """A synchronous ``api``: for quick commands only (it holds the command connection's queue).

        FreeSWITCH reports an API command's failure in the body (``-ERR No such channel!``, ``-USAGE: ...``),
        not in the frame: that is a CommandFailed here, never a result to be read as success."""
        started = time.perf_counter()
        frame = self._command_connection().request(protocol.api(command), timeout or self.command_timeout)
        metrics.COMMAND_SECONDS.labels("api").observe(time.perf_counter() - started)
        name = command.split(" ", 1)[0]
        if frame.content_type == "command/reply":
            raise CommandFailed(f"api {name}: {frame.reply_text}")
        body = frame.body.decode("utf-8", "replace")
        if body.startswith(("-ERR", "-USAGE")):
            raise CommandFailed(f"api {name}: {body.strip()}")
        return body

    def bgapi(self, command: str) -> AsyncResult:
        """Start a background job without waiting; the result is set to the job's output (BACKGROUND_JOB body).

        The switch's ``+OK Job-UUID`` acknowledgement is not waited for, so a dispatcher can send many jobs
        back to back; a refusal there (``-ERR``) settles the job as that error.
        """
        job_uuid = str(uuidlib.uuid4())
        result = self._jobs.expect(job_uuid)
        try:
            ack = self._command_connection().send(protocol.bgapi(command, job_uuid))
        except EslError:
            self._jobs.discard(job_uuid)
            raise
        ack.rawlink(lambda reply: self._acknowledged(job_uuid, reply))
        return result

    def _acknowledged(self, job_uuid: str, reply: AsyncResult) -> None:
        if reply.successful() and not reply.value.reply_text.startswith("+OK"):
            self._jobs.resolve(job_uuid, f"-ERR {reply.value.reply_text}")

    def bgapi_wait(self, command: str, timeout: float | None = None) -> str:
        return wait(self.bgapi(command), timeout or self.command_timeout, f"bgapi {command.split(' ', 1)[0]}")

    def originate(self, endpoint: str, variables: dict[str, str], target: str = "&park()") -> AsyncResult:
        """Originate in the background; caller-derived variables are validated (tokens.originate)."""
        return self.bgapi("originate " + tokens.originate(endpoint, variables, target))

    def execute(
        self,
        uuid: str,
        app: str,
        arg: str = "",
        *,
        wait_complete: bool = False,
        lock: bool = False,
        loops: int = 1,
        timeout: float = 3600.0,
        acknowledged: bool = True,
    ) -> Event | None:
        """Run an application on a call through ``sendmsg``; optionally wait for its CHANNEL_EXECUTE_COMPLETE, or
        (``acknowledged=False``, see ``execute_on``) not even for the switch's ``+OK``.

        ``timeout`` bounds the wait for completion (a playback may run for minutes); the link failing or the
        call hanging up ends the wait sooner, since FreeSWITCH completes a running application on hang-up.
        """
        return execute_on(
            self._command_connection(), self._executions, tokens.uuid(uuid), app, arg,
            wait_complete=wait_complete, lock=lock, loops=loops,
            reply_timeout=self.command_timeout, complete_timeout=timeout, acknowledged=acknowledged,
        )

    def hangup(self, uuid: str, cause: str = "NORMAL_CLEARING") -> None:
        """End a leg now with ``uuid_kill``, which FreeSWITCH acts on whether the leg talks or still rings (a
        ``sendmsg`` hangup waits in the channel's queue until it answers); CommandFailed if it is already gone."""
        self.api(f"uuid_kill {tokens.uuid(uuid)} {tokens.hangup_cause(cause)}")

    # --- internals ---------------------------------------------------------------------------------

    def _command_connection(self) -> Connection:
        conn = self._commands
        if conn is None or conn.closed.is_set() or not self.connected.is_set():
            raise ConnectionLost(f"no ESL link to {self.address[0]}:{self.address[1]}")
        return conn

    def _on_event(self, event: Event) -> None:
        """Runs on the reader: settle the link's own waiters, hand everything else to the dispatcher."""
        name = event.name
        if name == "HEARTBEAT":
            self.last_heartbeat = time.monotonic()
        elif name == "BACKGROUND_JOB":
            self._jobs.resolve(event.get("Job-UUID"), event.body)
        elif name == "CHANNEL_EXECUTE_COMPLETE":
            self._executions.resolve(event.get("Application-UUID"), event)
        self.dispatcher.put(event)

    def _connect(self) -> None:
        host, port = self.address
        commands = Connection.open(host, port, self.connect_timeout, _no_events, "esl-commands")
        self._commands = commands
        commands.login(self._password, self.connect_timeout)
        events = Connection.open(host, port, self.connect_timeout, self._on_event, "esl-events")
        self._events = events
        events.login(self._password, self.connect_timeout)
        events.command(self._subscription, self.command_timeout)
        for header, value in self._filters:
            events.command(protocol.add_filter(header, value), self.command_timeout)
        self.last_heartbeat = time.monotonic()

    def _supervise(self) -> None:
        attempt = 0
        while True:
            try:
                self._connect()
                attempt = 0
                self._up()
                reason = self._watch()
            except EslError as exc:
                reason = exc
            self._teardown(reason)
            delay = self.backoff.delay(attempt)
            log.warning("esl.link_down", reason=str(reason), retry_in=round(delay, 3), attempt=attempt)
            attempt += 1
            gevent.sleep(delay)

    def _up(self) -> None:
        self.connections_made += 1
        if self.connections_made > 1:
            metrics.RECONNECTS.inc()
        metrics.CONNECTED.set(1)
        self.connected.set()
        log.info("esl.link_up", host=self.address[0], port=self.address[1], connections=self.connections_made)
        for callback in self._connected_callbacks:
            gevent.spawn(callback)

    def _watch(self) -> EslError:
        """Return why the link must be re-established: a connection closed, or heartbeats stopped."""
        assert self._commands is not None and self._events is not None
        closed = (self._commands.closed, self._events.closed)
        while True:
            ready = gevent.wait(closed, timeout=self.heartbeat_timeout / 4, count=1)
            if ready:
                conn = self._commands if self._commands.closed.is_set() else self._events
                return conn.close_reason or ConnectionLost(f"{conn.name} closed")
            silent = time.monotonic() - self.last_heartbeat
            if silent > self.heartbeat_timeout:
                return ConnectionLost(f"no HEARTBEAT from FreeSWITCH for {silent:.0f} s")

    def _teardown(self, reason: EslError) -> None:
        """Close both connections and fail every waiter at once: nothing waits on a dead link."""
        was_up = self.connected.is_set()
        self.connected.clear()
        metrics.CONNECTED.set(0)
        for conn in (self._commands, self._events):
            if conn is not None:
                conn.close(reason)
        self._jobs.fail_all(reason)
        self._executions.fail_all(reason)
        if was_up:
            for callback in self._lost_callbacks:
                callback()


def execute_on(
    conn: Connection,
    executions: Waiters,
    uuid: str | None,
    app: str,
    arg: str,
    *,
    wait_complete: bool,
    lock: bool,
    loops: int,
    reply_timeout: float,
    complete_timeout: float,
    acknowledged: bool = True,
) -> Event | None:
    """``sendmsg execute`` with an event-uuid; shared by inbound links and outbound sessions. With
    ``acknowledged=False`` the switch's ``+OK`` is not waited for (its reply still takes its place in the FIFO): for
    an application followed at once by one that is, whose reply says whether the channel is still there, so the
    two replies come back on one wake-up."""
    if wait_complete and not acknowledged:
        raise ValueError("an execution whose completion is awaited has its acknowledgement awaited too")
    event_uuid = str(uuidlib.uuid4())
    data = protocol.execute(uuid, tokens.name(app), tokens.app_argument(arg), event_uuid, lock=lock, loops=loops,
                            name=AWAITED if wait_complete else None)
    if not acknowledged:
        conn.send(data)
        return None
    done = executions.expect(event_uuid) if wait_complete else None
    try:
        conn.command(data, reply_timeout)
    except EslError:
        executions.discard(event_uuid)
        raise
    if done is None:
        return None
    try:
        return wait(done, complete_timeout, f"execute {app}")  # type: ignore[return-value]
    finally:
        executions.discard(event_uuid)


def _no_events(event: Event) -> None:
    """The command connection subscribes to nothing; anything arriving there is a protocol surprise."""
    log.warning("esl.unexpected_event", name=event.name)


def _split_subscription(entries: Iterable[str]) -> tuple[list[str], list[str]]:
    """Config lists plain names and ``CUSTOM sub::class`` entries; the wire wants them grouped."""
    names: list[str] = []
    custom: list[str] = []
    for entry in entries:
        if entry.startswith("CUSTOM "):
            custom.extend(entry.split()[1:])
        elif entry not in names:
            names.append(entry)
    return names, custom
