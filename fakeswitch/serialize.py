"""Events and replies as FreeSWITCH writes them on an ESL socket (mod_event_socket.c, switch_event.c)."""

from __future__ import annotations

import json

URL_UNSAFE = frozenset(b"\r\n #%&+:;<=>?@[\\]^`{|}\"")
HEX_UPPER = frozenset(b"0123456789ABCDEF")

Headers = list[tuple[str, str]]


def url_encode(value: str) -> str:
    """switch_url_encode with double_encode off: an existing ``%XX`` (upper-case hex) is passed through."""
    raw = value.encode("utf-8", "surrogateescape")
    out = []
    for i, byte in enumerate(raw):
        passthrough = byte == 0x25 and i + 2 < len(raw) and raw[i + 1] in HEX_UPPER and raw[i + 2] in HEX_UPPER
        if not passthrough and (byte < 0x20 or byte > 0x7E or byte in URL_UNSAFE):
            out.append(f"%{byte:02X}")
        else:
            out.append(chr(byte))
    return "".join(out)


def plain(headers: Headers, body: str = "") -> bytes:
    """switch_event_serialize: ``Name: urlencoded value`` lines, then the body after an inner Content-Length."""
    text = "".join(f"{name}: {url_encode(value)}\n" for name, value in headers)
    if body:
        encoded = body.encode("utf-8", "surrogateescape")
        return f"{text}Content-Length: {len(encoded)}\n\n".encode("utf-8", "surrogateescape") + encoded
    return (text + "\n").encode("utf-8", "surrogateescape")


def as_json(headers: Headers, body: str = "") -> bytes:
    """switch_event_serialize_json: a flat object of strings, the body in ``_body`` after ``Content-Length``."""
    data = dict(headers)
    if body:
        data["Content-Length"] = str(len(body.encode("utf-8", "surrogateescape")))
        data["_body"] = body
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogateescape")


def event_frame(fmt: str, headers: Headers, body: str = "") -> bytes:
    payload = as_json(headers, body) if fmt == "json" else plain(headers, body)
    return b"Content-Length: %d\nContent-Type: text/event-%s\n\n" % (len(payload), fmt.encode()) + payload


def reply(text: str, extra: Headers = ()) -> bytes:
    lines = "".join(f"{name}: {value}\n" for name, value in extra)
    return f"Content-Type: command/reply\nReply-Text: {text}\n{lines}\n".encode()


def api_response(body: str) -> bytes:
    data = body.encode("utf-8", "surrogateescape")
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(data) + data


SHUTDOWN = b"The system is being shut down.\n"
"""The disconnect notice's body when mod_event_socket is reloaded or unloaded (captured on 1.10.12)."""


def disconnect_notice(disposition: str | None = None, session: str | None = None,
                      text: bytes = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n") -> bytes:
    head = "Content-Type: text/disconnect-notice\n"
    if session:
        head += f"Controlled-Session-UUID: {session}\n"
    if disposition:
        head += f"Content-Disposition: {disposition}\n"
    return f"{head}Content-Length: {len(text)}\n\n".encode() + text


AUTH_REQUEST = b"Content-Type: auth/request\n\n"
RUDE_REJECTION = b"Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n"
