"""Listen addresses in the configuration: ``host:port`` text in the file, checked where it must be private."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer, PlainValidator


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A TCP listen address; written ``host:port`` (``[v6]:port``) in the file and in ``config show``."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


_ENDPOINT = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]+)):(?P<port>[0-9]{1,5})")
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_NO_AUTH = "the outbound socket has no authentication, so whoever reaches it controls calls"


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
    except ValueError:
        return None


def _endpoint(value: object) -> Endpoint:
    if isinstance(value, Endpoint):
        return value
    match = _ENDPOINT.fullmatch(value) if isinstance(value, str) else None
    if match is None or (match["v6"] and _ip(match["v6"]) is None):
        raise ValueError('expected "host:port" in quotes, e.g. "127.0.0.1:8084" or "[::1]:8084"')
    if not 1 <= int(match["port"]) <= 65535:
        raise ValueError("the port must be between 1 and 65535")
    return Endpoint(match["v6"] or match["host"], int(match["port"]))


def _private_endpoint(endpoint: Endpoint) -> Endpoint:
    ip = _ip(endpoint.host)
    if ip is None:
        raise ValueError(f"give an IP address (or localhost): a host name cannot be checked to be private, "
                         f"and {_NO_AUTH}")
    if ip.is_unspecified:
        raise ValueError(f"{ip} listens on every interface, public ones included; {_NO_AUTH}: "
                         "use 127.0.0.1 or a private address")
    if not (ip.is_loopback or ip.is_private):
        raise ValueError(f"{ip} is a public address; {_NO_AUTH}: use 127.0.0.1 or a private address")
    return endpoint


ListenAddress = Annotated[Endpoint, PlainValidator(_endpoint), PlainSerializer(str, return_type=str)]
PrivateListenAddress = Annotated[ListenAddress, AfterValidator(_private_endpoint)]


