"""Write FreeSWITCH configuration files from Settings: each template's ``{{name}}`` fields, XML-escaped.

Rendering the switch's side from the same file the engine reads keeps the ESL password, address and ACL in
step; a hand-edited event_socket.conf.xml is how ``ClueCon`` on 0.0.0.0 ends up in production. Placeholders
are ``{{name}}`` rather than ``$name`` because FreeSWITCH's own ``${var}`` and ``$${var}`` must pass untouched.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from xml.sax.saxutils import escape

from config import Settings

TEMPLATES = Path(__file__).resolve().parent
EVENT_SOCKET = Path("autoload_configs", "event_socket.conf.xml")
_FIELD = re.compile(r"\{\{([a-z_]+)\}\}")


def render(settings: Settings, outdir: Path) -> list[Path]:
    """Render every template into ``outdir`` (FreeSWITCH's conf directory layout); returns the files written."""
    switch = settings.switch
    return [_write(EVENT_SOCKET, outdir, {
        "listen_ip": _listen_ip(switch.host),
        "listen_port": str(switch.port),
        "password": switch.password.get_secret_value(),
        "inbound_acl": switch.inbound_acl,
    })]


def _listen_ip(host: str) -> str:
    """FreeSWITCH binds an IP, not a name; config has already refused public and unspecified addresses."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError(f"switch.host {host!r} is a host name; event_socket.conf.xml needs the IP address "
                         "FreeSWITCH listens on: set switch.host to that address") from None


def _write(template: Path, outdir: Path, fields: dict[str, str]) -> Path:
    """Fill ``template``; a placeholder without a field is a KeyError, never an empty value."""
    source = (TEMPLATES / template).read_text(encoding="utf-8")
    text = _FIELD.sub(lambda match: escape(fields[match[1]], {'"': "&quot;", "'": "&apos;"}), source)
    target = outdir / template
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
