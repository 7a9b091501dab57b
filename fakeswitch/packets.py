"""Client-to-switch packets as mod_event_socket's read_packet accepts them."""

from __future__ import annotations

from dataclasses import dataclass, field

from gevent import socket

MAX_BODY = 16 << 20
"""read_packet drops a connection whose content-length is negative or above this."""


class Drop(Exception):
    """The peer broke the protocol badly enough that FreeSWITCH would close the socket."""


@dataclass
class Packet:
    command: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """Header names are case-insensitive on the switch side."""
        return self.headers.get(name.lower())


class PacketReader:
    """Reads one packet at a time: a command line, headers, a blank line, an optional body."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = bytearray()

    def _fill(self) -> None:
        data = self._sock.recv(65536)
        if not data:
            raise EOFError
        self._buf += data

    def read(self) -> Packet:
        while True:
            while self._buf[:1] in (b"\r", b"\n"):
                del self._buf[:1]
            end = self._buf.find(b"\n\n")
            crlf = self._buf.find(b"\r\n\r\n")
            if crlf >= 0 and (end < 0 or crlf < end):
                end, skip = crlf, 4
            else:
                skip = 2
            if end >= 0:
                break
            self._fill()
        block = self._buf[:end].decode("utf-8", "surrogateescape").replace("\r", "")
        del self._buf[: end + skip]
        command, *lines = block.split("\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        packet = Packet(command, headers)
        if "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise Drop("bad content-length") from None
            if length < 0 or length > MAX_BODY:
                raise Drop(f"content-length {length} out of range")
            while len(self._buf) < length:
                self._fill()
            packet.body = bytes(self._buf[:length])
            del self._buf[:length]
        return packet
