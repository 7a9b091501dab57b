"""The server side of the ``socket`` dialplan application: FreeSWITCH connects here, one socket per call.

Outbound mode has no authentication: whoever reaches this port can pose as the switch and feed the engine
forged calls. The listen address therefore comes from configuration, which only accepts loopback or a
private address, and this module refuses a wildcard bind outright.
"""

from __future__ import annotations

from typing import Callable

import structlog
from gevent import socket
from gevent.queue import Queue
from gevent.server import StreamServer

from esl import protocol, tokens
from esl.client import Waiters, execute_on
from esl.connection import Connection
from esl.errors import ConnectionLost, EslError, UnsafeValue
from esl.protocol import Event, decode_values

log = structlog.get_logger(__name__)


class OutboundSession:
    """One call handed to the engine by ``socket host:port async full``."""

    def __init__(self, conn: Connection, command_timeout: float) -> None:
        self._conn = conn
        self._executions = Waiters()
        self.command_timeout = command_timeout
        self.channel: dict[str, str] = {}
        self.events: Queue[Event] = Queue()
        conn.closed.rawlink(lambda _: self._executions.fail_all(conn.close_reason or ConnectionLost("call gone")))

    @property
    def uuid(self) -> str:
        return self.channel.get("Unique-ID", "")

    @property
    def closed(self) -> bool:
        return self._conn.closed.is_set()

    def connect(self) -> dict[str, str]:
        """The first command of outbound mode; the reply carries the channel's variables, URL-encoded."""
        frame = self._conn.request(protocol.packet("connect"), self.command_timeout)
        self.channel = decode_values(dict(frame.headers))
        return self.channel

    def myevents(self) -> None:
        """Receive this call's events, in json, on this socket (they arrive on ``events``)."""
        self._conn.command(protocol.packet("myevents json"), self.command_timeout)

    def linger(self, seconds: int | None = None) -> None:
        """Keep the socket open after hang-up so the final events (CHANNEL_HANGUP_COMPLETE) still arrive."""
        line = "linger" if seconds is None else f"linger {int(seconds)}"
        self._conn.command(protocol.packet(line), self.command_timeout)

    def getvar(self, name: str) -> str:
        return self._conn.command(protocol.packet(f"getvar {tokens.name(name)}"), self.command_timeout)

    def execute(self, app: str, arg: str = "", *, wait_complete: bool = False, timeout: float = 3600.0) -> Event | None:
        return execute_on(
            self._conn, self._executions, None, app, arg, wait_complete=wait_complete, lock=False, loops=1,
            reply_timeout=self.command_timeout, complete_timeout=timeout,
        )

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        self._conn.command(protocol.hangup(None, tokens.hangup_cause(cause)), self.command_timeout)

    def exit(self) -> None:
        """Release the call (FreeSWITCH continues its dialplan unless the call was hung up)."""
        try:
            self._conn.command(protocol.packet("exit"), self.command_timeout)
        except ConnectionLost:
            pass
        self._conn.close()

    def _on_event(self, event: Event) -> None:
        if event.name == "CHANNEL_EXECUTE_COMPLETE":
            self._executions.resolve(event.get("Application-UUID"), event)
        self.events.put(event)


SessionHandler = Callable[[OutboundSession], None]


class OutboundServer:
    """Accepts outbound-mode connections and runs ``handler(session)`` for each call on its own greenlet."""

    def __init__(self, host: str, port: int, handler: SessionHandler, command_timeout: float = 10.0) -> None:
        if host in ("", "0.0.0.0", "::"):
            raise UnsafeValue("the outbound socket has no authentication: bind it to loopback or a private address")
        self._handler = handler
        self.command_timeout = command_timeout
        self._server = StreamServer((host, port), self._serve)

    @property
    def address(self) -> tuple[str, int]:
        return self._server.address[:2]

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def _serve(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        session: OutboundSession | None = None
        conn = Connection(sock, lambda event: session._on_event(event) if session else None, "esl-outbound")
        session = OutboundSession(conn, self.command_timeout)
        try:
            session.connect()
            self._handler(session)
        except EslError as exc:
            log.warning("esl.outbound_session_failed", uuid=session.uuid, peer=peer[0], error=str(exc))
        except Exception:
            log.exception("esl.outbound_handler_crashed", uuid=session.uuid, peer=peer[0])
        finally:
            conn.close()
