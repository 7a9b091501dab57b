"""The ESL wire protocol with no I/O: bytes in, frames and events out; commands in, bytes out.

Everything that production, the capture tests, the fuzzers and the benchmark run goes through here,
so the two security rules live in exactly one place each:

* ``packet()`` refuses CR, LF and NUL in every command line, header name and header value, because one
  newline in a caller-supplied value starts a new header or a whole new command (esl-protocol.md §8);
* ``parse_plain()`` splits a plain event into lines BEFORE it URL-decodes each value, because FreeSWITCH
  never double-encodes: a caller's literal ``%0A`` arrives as ``%0A`` and must stay inside its value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping
from urllib.parse import unquote

import orjson

from esl.errors import ProtocolError, UnsafeValue

MAX_HEADER_BLOCK = 1 << 20
"""A header block longer than this without its blank line is not ESL (bounded memory on garbage)."""

MAX_BODY = 64 << 20
"""Largest body accepted; FreeSWITCH's own inbound limit is 16 MiB, api output (show channels) can exceed it."""

REPLY_TYPES = frozenset({"command/reply", "api/response"})
EVENT_TYPES = frozenset({"text/event-json", "text/event-plain"})


@dataclass(slots=True)
class Frame:
    """One switch-to-client message: its outer headers as sent (values not decoded) and its raw body."""

    headers: dict[str, str]
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def reply_text(self) -> str:
        return self.headers.get("Reply-Text", "")


def _split_headers(block: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split("\n"):
        name, sep, value = line.partition(": ")
        if not sep:
            if not line.strip():
                continue
            name, value = line.rstrip(":"), ""
        headers[name] = value
    return headers


class FrameParser:
    """Incremental Content-Length framing, tolerant of any fragmentation of the byte stream."""

    __slots__ = ("_buf", "_pending")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pending: tuple[dict[str, str], int] | None = None

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return every frame they complete, in order. Bytes that complete their frames are
        read where they are (most reads end on a frame's end: one copy of each body); a frame cut across reads
        gathers in the buffer."""
        if self._buf or self._pending is not None:
            buf = self._buf
            buf += data
            frames, pos = self._frames(buf)
            del buf[:pos]
        else:
            frames, pos = self._frames(data)
            self._buf += memoryview(data)[pos:]
        return frames

    def _frames(self, buf: bytes | bytearray) -> tuple[list[Frame], int]:
        frames: list[Frame] = []
        pos = 0
        while True:
            if self._pending is None:
                while buf.startswith(b"\n", pos):
                    pos += 1
                end = buf.find(b"\n\n", pos)
                if end < 0:
                    if len(buf) - pos > MAX_HEADER_BLOCK:
                        raise ProtocolError(f"no end of header block within {MAX_HEADER_BLOCK} bytes")
                    break
                headers = _split_headers(buf[pos:end].decode("utf-8", "replace"))
                pos = end + 2
                length = headers.get("Content-Length")
                if length is None:
                    frames.append(Frame(headers))
                    continue
                self._pending = (headers, _content_length(length))
            headers, length = self._pending
            if len(buf) - pos < length:
                break
            body = buf[pos : pos + length]
            frames.append(Frame(headers, body if isinstance(body, bytes) else bytes(body)))
            pos += length
            self._pending = None
        return frames, pos

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame (a truncated stream leaves some)."""
        return len(self._buf)


def _content_length(value: str) -> int:
    if not value.isdigit() or int(value) > MAX_BODY:
        raise ProtocolError(f"bad Content-Length {value[:20]!r}")
    return int(value)


class Event:
    """A FreeSWITCH event: header values decoded to text, plus the body (BACKGROUND_JOB output, ...).

    Every value is untrusted input: it came from a caller's SIP signalling or DTMF as often as not.

    A json event (``Event.json``) is read on demand: it carries every channel variable, 150 headers in 4-9 KB, of
    which the engine reads a handful, so ``get`` finds the one asked for in the raw text instead of building all
    of them (a tenth of the engine's CPU per call went to ``orjson.loads``). ``headers`` builds the whole mapping
    on first use. The search is exact for the compact JSON FreeSWITCH writes (``cJSON_PrintUnformatted``): a key
    is matched only after ``{`` or ``,``, and inside a JSON string every ``"`` is escaped, so no value (a caller ID,
    a SIP header) can pose as a key; anything else (whitespace, an array value) is read by the full parse. A
    repeated key reads as its first (FreeSWITCH repeats none the engine reads; the full parse keeps the last).
    """

    __slots__ = ("_headers", "_raw", "_body")

    def __init__(self, headers: dict[str, str], body: str = "") -> None:
        self._headers = headers
        self._raw: bytes | None = None
        self._body = body

    @classmethod
    def json(cls, payload: bytes) -> "Event":
        """A json event, read on demand (``parse_json`` reads it whole)."""
        if not payload.startswith(b'{"'):
            return parse_json(payload)
        event = cls({})
        event._raw = payload
        return event

    @property
    def headers(self) -> dict[str, str]:
        if self._raw is not None:
            whole = parse_json(self._raw)
            self._headers, self._body, self._raw = whole._headers, whole._body, None
        return self._headers

    @property
    def body(self) -> str:
        if self._raw is not None:
            return self._find("_body") or ""
        return self._body

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self._headers.get(name)
        if value is None and self._raw is not None and name != "_body":
            value = self._find(name)
            if value is not None:  # a miss is not a value (after a fallback parse, the value is already there)
                self._headers[name] = value
        return default if value is None else value

    def _find(self, name: str) -> str | None:
        raw = self._raw
        assert raw is not None
        key = _KEYS.get(name) or _key(name)
        if raw.startswith(key, 1):  # Event-Name, FreeSWITCH's first
            at = 1
        else:
            at = raw.find(b"," + key) + 1
            if at == 0:
                return None if b"\\" not in key else self.headers.get(name)  # a name JSON escapes: as parsed
        start = at + len(key)
        if not raw.startswith(b'"', start):
            return self.headers.get(name)  # not a string: as the full parse has it
        end = raw.find(b'"', start + 1)
        while end > 0 and _escaped(raw, end):
            end = raw.find(b'"', end + 1)
        if end < 0:
            raise ProtocolError("json event ends inside a string")
        text = raw[start + 1:end]
        if b"\\" not in text:
            return text.decode("utf-8", "replace")
        return orjson.loads(raw[start:end + 1].decode("utf-8", "replace"))

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    @property
    def name(self) -> str:
        """Event-Name, or the subclass for CUSTOM events (``callcenter::info``)."""
        name = self.get("Event-Name", "")
        if name == "CUSTOM":
            return self.get("Event-Subclass", name)
        return name

    @property
    def uuid(self) -> str:
        """The channel the event is about ('' for switch-wide events such as HEARTBEAT)."""
        return self.get("Unique-ID", "")

    @property
    def sequence(self) -> int:
        return int(self.get("Event-Sequence", "0"))

    def __repr__(self) -> str:
        return f"<Event {self.name} {self.uuid}>"


_KEYS: dict[str, bytes] = {}
"""``"name":`` as compact JSON writes it, per header name looked up (a few dozen)."""


def _key(name: str) -> bytes:
    key = _KEYS[name] = orjson.dumps(name) + b":"
    return key


def _escaped(raw: bytes, quote: int) -> bool:
    """Whether the ``"`` at ``quote`` is escaped: preceded by an odd number of backslashes."""
    before = quote
    while raw[before - 1] == 0x5C:
        before -= 1
    return (quote - before) % 2 == 1


def parse_event(frame: Frame) -> Event:
    """Decode an event frame (json or plain) into an Event."""
    if frame.content_type == "text/event-json":
        return Event.json(frame.body)
    if frame.content_type == "text/event-plain":
        return parse_plain(frame.body)
    raise ProtocolError(f"not an event frame: {frame.content_type!r}")


def parse_json(payload: bytes) -> Event:
    """A json event read whole: a flat object of strings; the body, if any, is ``_body``.

    FreeSWITCH passes a caller's non-UTF-8 bytes through raw, so invalid UTF-8 is decoded with
    replacement characters rather than rejected.
    """
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        try:
            data = orjson.loads(payload.decode("utf-8", "replace"))
        except orjson.JSONDecodeError as exc:
            raise ProtocolError(f"event is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError("json event is not an object")
    body = data.pop("_body", "")
    return Event(data, body if isinstance(body, str) else str(body))


def parse_plain(payload: bytes) -> Event:
    """Split into lines first, then URL-decode each value: the order that keeps callers from forging headers."""
    head, sep, rest = payload.partition(b"\n\n")
    headers = decode_values(_split_headers(head.decode("utf-8", "replace")))
    body = ""
    length = headers.pop("Content-Length", None)
    if length is not None:
        body = rest[: _content_length(length)].decode("utf-8", "replace")
    return Event(headers, body)


def decode_values(headers: dict[str, str]) -> dict[str, str]:
    """URL-decode, in place, the values of headers already split into lines (plain events, ``connect``)."""
    for name, value in headers.items():
        if "%" in value:
            headers[name] = unquote(value, "utf-8", "replace")
    return headers


# --- client to switch ---------------------------------------------------------------------------

_FORBIDDEN = str.maketrans("", "", "\r\n\0")


def check_text(value: str, what: str) -> str:
    """Refuse a value that would end the packet or a header early. The single guard every byte passes."""
    if not isinstance(value, str):
        raise UnsafeValue(f"{what} must be text, got {type(value).__name__}")
    if value.translate(_FORBIDDEN) != value:
        raise UnsafeValue(f"{what} contains CR, LF or NUL, which would inject ESL commands: {value[:60]!r}")
    return value


def packet(line: str, headers: Iterable[tuple[str, str]] = (), body: bytes | None = None) -> bytes:
    """Encode one client packet. Every command sent by this project is built here."""
    parts = [check_text(line, "command line")]
    for name, value in headers:
        check_text(name, "header name")
        if ":" in name or " " in name or not name:
            raise UnsafeValue(f"bad header name {name!r}")
        parts.append(f"{name}: {check_text(value, f'header {name}')}")
    if body is None:
        return ("\n".join(parts) + "\n\n").encode()
    parts.append(f"content-length: {len(body)}")
    return ("\n".join(parts) + "\n\n").encode() + body


def auth(password: str) -> bytes:
    return packet(f"auth {password}")


def api(command: str) -> bytes:
    return packet(f"api {command}")


def bgapi(command: str, job_uuid: str) -> bytes:
    return packet(f"bgapi {command}", [("Job-UUID", job_uuid)])


def subscribe(names: Iterable[str], custom: Iterable[str] = ()) -> bytes:
    """``event json NAMES [CUSTOM sub::class ...]``: always json, always an explicit list (never ALL)."""
    words = list(names)
    subclasses = list(custom)
    if "ALL" in words:
        raise UnsafeValue("ALL also delivers PRIVATE_COMMAND, which repeats every sendmsg; list the events")
    if subclasses:
        words += ["CUSTOM", *subclasses]
    if not words:
        raise UnsafeValue("subscribe to at least one event")
    for word in words:
        if not word or " " in word:
            raise UnsafeValue(f"bad event name {word!r}")
    return packet("event json " + " ".join(words))


def add_filter(header: str, value: str) -> bytes:
    if not header or " " in header:
        raise UnsafeValue(f"bad filter header {header!r}")
    return packet(f"filter {header} {value}")


def sendmsg(uuid: str | None, headers: Mapping[str, str], body: bytes | None = None) -> bytes:
    """``sendmsg [uuid]``; in outbound mode the uuid is implied by the socket."""
    line = f"sendmsg {uuid}" if uuid else "sendmsg"
    return packet(line, headers.items(), body)


def execute(uuid: str | None, app: str, arg: str, event_uuid: str, *, lock: bool = False, loops: int = 1,
            name: str | None = None) -> bytes:
    """Run a dialplan application; the argument goes as a length-delimited body, safe for any byte but NUL.
    ``name`` (``event-uuid-name``) comes back as Application-UUID-Name on the execution's events."""
    if "\0" in arg:
        raise UnsafeValue(f"argument of {app} contains NUL, which FreeSWITCH would silently truncate")
    headers = {"call-command": "execute", "execute-app-name": app, "event-uuid": event_uuid}
    if name is not None:
        headers["event-uuid-name"] = name
    if lock:
        headers["event-lock"] = "true"
    if loops != 1:
        headers["loops"] = str(int(loops))
    headers["content-type"] = "text/plain"
    return sendmsg(uuid, headers, arg.encode())


def hangup(uuid: str | None, cause: str) -> bytes:
    return sendmsg(uuid, {"call-command": "hangup", "hangup-cause": cause})


def iter_frames(stream: bytes, chunk: int = 65536) -> Iterator[Frame]:
    """Frame a whole recorded stream (captures, benchmarks) exactly as a live socket would."""
    parser = FrameParser()
    for start in range(0, len(stream), chunk):
        yield from parser.feed(stream[start : start + chunk])
    if parser.buffered:
        raise ProtocolError(f"stream ends inside a frame ({parser.buffered} bytes left over)")
