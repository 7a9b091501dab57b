"""One ESL socket on gevent: a reader greenlet, the reply FIFO and a non-blocking event sink.

FreeSWITCH answers every command strictly in order, whatever the reply type, so one FIFO of waiters
serves ``command/reply`` and ``api/response`` alike. A waiter that times out stays in the FIFO until its
(late) reply arrives and is thrown away, which keeps every later command matched to its own reply.
"""

from __future__ import annotations

from collections import deque
from typing import Callable

import gevent
import structlog
from gevent import socket
from gevent.event import AsyncResult, Event as Flag
from gevent.lock import Semaphore

from esl import metrics
from esl.errors import AuthFailed, CommandFailed, CommandTimeout, ConnectionLost, EslError, ProtocolError
from esl.protocol import EVENT_TYPES, REPLY_TYPES, Event, Frame, FrameParser, auth, parse_event

log = structlog.get_logger(__name__)

EventSink = Callable[[Event], None]


class Connection:
    """A connected ESL socket. ``on_event`` runs on the reader: it must only enqueue, never block."""

    def __init__(self, sock: socket.socket, on_event: EventSink, name: str = "esl") -> None:
        self.name = name
        self._sock = sock
        self._on_event = on_event
        self._events_received = metrics.EVENTS.labels(name)
        self._parser = FrameParser()
        self._replies: deque[AsyncResult] = deque()
        self._send_lock = Semaphore()
        self._greeting = AsyncResult()
        self.closed = Flag()
        self.close_reason: EslError | None = None
        self.disconnect_notice: Frame | None = None
        self._reader = gevent.spawn(self._read_loop)

    @classmethod
    def open(cls, host: str, port: int, timeout: float, on_event: EventSink, name: str = "esl") -> "Connection":
        """TCP connect only; ``login`` performs the auth handshake."""
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise ConnectionLost(f"cannot reach FreeSWITCH at {host}:{port}: {exc}") from None
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock, on_event, name)

    def login(self, password: str, timeout: float) -> None:
        """Wait for ``auth/request`` and authenticate; raises AuthFailed on a wrong password or an ACL refusal."""
        try:
            self._greeting.get(timeout=timeout)
        except gevent.Timeout:
            self.close(ConnectionLost("FreeSWITCH sent no auth/request greeting"))
            raise CommandTimeout(f"{self.name}: no auth/request greeting within {timeout} s") from None
        reply = self.request(auth(password), timeout)
        if not reply.reply_text.startswith("+OK"):
            self.close(AuthFailed("password refused"))
            raise AuthFailed(f"{self.name}: FreeSWITCH refused the ESL password ({reply.reply_text})")

    def request(self, data: bytes, timeout: float) -> Frame:
        """Send one packet and wait for its reply. Raises ConnectionLost at once if the link drops."""
        waiter = self.send(data)
        try:
            return waiter.get(timeout=timeout)
        except gevent.Timeout:
            line = data.split(b"\n", 1)[0][:80].decode("utf-8", "replace")
            raise CommandTimeout(f"{self.name}: no reply within {timeout} s to {line!r}") from None

    def send(self, data: bytes) -> AsyncResult:
        """Queue a waiter and send; the waiter is in the FIFO before the first byte leaves."""
        if self.closed.is_set():
            raise self.close_reason or ConnectionLost(f"{self.name}: not connected")
        waiter = AsyncResult()
        with self._send_lock:
            self._replies.append(waiter)
            try:
                sent = self._sock.send(data)  # all of it, nearly always: gevent's sendall asks SO_SNDBUF each time
                if sent < len(data):
                    self._sock.sendall(data[sent:])
            except OSError as exc:
                self.close(ConnectionLost(f"{self.name}: send failed: {exc}"))
        return waiter

    def command(self, data: bytes, timeout: float) -> str:
        """A command whose reply is ``command/reply``: returns Reply-Text, raises CommandFailed on -ERR."""
        text = self.request(data, timeout).reply_text
        if text.startswith("-ERR"):
            raise CommandFailed(f"{self.name}: {text}")
        return text

    def close(self, reason: EslError | None = None) -> None:
        """Close the socket and fail every waiting command at once with the reason."""
        if self.closed.is_set():
            return
        self.close_reason = reason or ConnectionLost(f"{self.name}: closed")
        self.closed.set()
        try:
            self._sock.close()
        finally:
            waiters, self._replies = self._replies, deque()
            for waiter in waiters:
                waiter.set_exception(self.close_reason)
            if not self._greeting.ready():
                self._greeting.set_exception(self.close_reason)
            if gevent.getcurrent() is not self._reader:
                self._reader.kill(block=False)

    def _read_loop(self) -> None:
        reason: EslError
        try:
            while True:
                data = self._sock.recv(262144)
                if not data:
                    reason = ConnectionLost(f"{self.name}: FreeSWITCH closed the connection")
                    break
                events = 0
                for frame in self._parser.feed(data):
                    events += self._dispatch(frame)
                if events:
                    self._events_received.inc(events)  # once per read: the counter takes a lock per call
        except EslError as exc:
            reason = exc
        except OSError as exc:
            reason = ConnectionLost(f"{self.name}: {exc}")
        if self._parser.buffered:
            log.warning("esl.truncated_frame", connection=self.name, bytes=self._parser.buffered)
        self.close(reason)

    def _dispatch(self, frame: Frame) -> int:
        """Hand the frame to whoever waits for it; 1 if it was an event, for the count."""
        content_type = frame.content_type
        if content_type in EVENT_TYPES:
            self._on_event(parse_event(frame))
            return 1
        if content_type in REPLY_TYPES:
            if not self._replies:
                raise ProtocolError(f"{self.name}: a reply arrived with no command waiting for it")
            self._replies.popleft().set(frame)
        elif content_type == "auth/request":
            self._greeting.set(frame)
        elif content_type == "text/disconnect-notice":
            self.disconnect_notice = frame
        elif content_type == "text/rude-rejection":
            raise AuthFailed(f"{self.name}: FreeSWITCH's ACL refused this address")
        elif content_type != "log/data":
            log.warning("esl.unknown_frame", connection=self.name, content_type=content_type)
        return 0
