"""The configuration schema: one pydantic model per YAML section, checked in full when the engine starts.

Every section forbids unknown keys (a typo must fail, not fall back to a default), takes YAML types as written
(``port: "8021"`` is an error, not a guess) and is frozen once loaded. A new section (``acd:``, ``ivr:``) is a
new ``Section`` subclass and one more field on ``Settings``; error reporting needs no change.
"""

from __future__ import annotations

import functools
import re
import secrets
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from config.acd import Acd
from config.ivr import Ivr, centre_problems, zone
from config.linkage import Linkage
from config.addresses import _HOSTNAME, Endpoint, ListenAddress, PrivateListenAddress, _ip
from config.section import Section

FREESWITCH_HEARTBEAT_S = 20
"""FreeSWITCH's default HEARTBEAT interval (``event-heartbeat-interval`` in switch.conf.xml)."""


Port = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[float, Field(gt=0)]


# --- centre ------------------------------------------------------------------------------------------


def _digits(number: str) -> str:
    if not re.fullmatch(r"[0-9]{3,20}", number):
        raise ValueError('a service number is 3-20 digits with nothing else, e.g. "12345" or "077112345"')
    return number


class Centre(Section):
    """The hotline centre (热线中心) this engine serves."""

    name: Annotated[str, Field(min_length=1)]
    service_numbers: Annotated[list[Annotated[str, AfterValidator(_digits)]], Field(min_length=1)] = ["12345"]
    timezone: Annotated[str, AfterValidator(zone)] = "Asia/Shanghai"
    """The centre's day: "today" on the wallboard, the API and ``hotline status`` starts at its midnight."""


# --- switch ------------------------------------------------------------------------------------------


def _switch_host(host: str) -> str:
    ip = _ip(host)
    if ip is None and not _HOSTNAME.fullmatch(host):
        raise ValueError("expected an IP address or a host name (letters, digits, dots and hyphens)")
    if ip is not None and ip.is_unspecified:
        raise ValueError("an unspecified address is not one to connect to: give the address FreeSWITCH's event "
                         "socket listens on")
    if ip is not None and not (ip.is_loopback or ip.is_private):
        raise ValueError("public addresses are refused: ESL is unencrypted and root-equivalent (the `system` API), "
                         "so FreeSWITCH must listen on loopback or a private network; tunnel it between sites")
    return host


def _password(secret: SecretStr) -> SecretStr:
    value = secret.get_secret_value()
    if value.lower() == "cluecon":
        raise ValueError("ClueCon is FreeSWITCH's published default password and ESL is root-equivalent "
                         "(the `system` API): choose a new one of at least 12 characters")
    if len(value) < 12:
        raise ValueError(f"{len(value)} characters is too short; use at least 12: it is all that guards a "
                         "root-equivalent interface")
    if re.search(r"[\s$\x00-\x1f\x7f]", value):
        raise ValueError("must not contain spaces, control characters or $: it is sent on the `auth` command line "
                         "and written into event_socket.conf.xml, where FreeSWITCH expands $${...}")
    return secret


_REFUSED_EVENTS = {
    "ALL": "it also delivers PRIVATE_COMMAND, which repeats every sendmsg's arguments to every subscriber; "
           "list the events you need",
    "PRIVATE_COMMAND": "it repeats every sendmsg's arguments (caller data included) to every "
                       "subscriber",
}


def _event_name(name: str) -> str:
    if name in _REFUSED_EVENTS:
        raise ValueError(f"{name} is refused: {_REFUSED_EVENTS[name]}")
    if not re.fullmatch(r"[A-Z][A-Z_]*|CUSTOM [A-Za-z0-9_.-]+::[A-Za-z0-9_.-]+", name):
        raise ValueError('expected an event name in capitals such as CHANNEL_ANSWER, or one custom subclass '
                         'such as "CUSTOM sofia::register"')
    return name


def _acl_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        raise ValueError("expected the name of an ACL list from acl.conf.xml, such as loopback.auto")
    return name


class Reconnect(Section):
    """Back-off between attempts to reach FreeSWITCH again, so a restarted switch is not stormed."""

    initial: Seconds = 0.5
    maximum: Seconds = 30.0
    jitter: Annotated[float, Field(ge=0, le=1)] = 0.2

    @field_validator("maximum")
    @classmethod
    def _not_below_initial(cls, maximum: float, info: ValidationInfo) -> float:
        initial = info.data.get("initial")
        if initial is not None and maximum < initial:
            raise ValueError(f"must not be below switch.reconnect.initial ({initial} s)")
        return maximum


class Switch(Section):
    """FreeSWITCH's inbound event socket; switch_conf renders event_socket.conf.xml from the same values."""

    host: Annotated[str, AfterValidator(_switch_host)] = "127.0.0.1"
    port: Port = 8021
    password: Annotated[SecretStr, AfterValidator(_password)]
    inbound_acl: Annotated[str, AfterValidator(_acl_name)] = "loopback.auto"
    connect_timeout: Seconds = 5.0
    command_timeout: Seconds = 10.0
    heartbeat_timeout: float = 60.0
    reconnect: Reconnect = Reconnect()
    events: list[Annotated[str, AfterValidator(_event_name)]] = []

    @field_validator("heartbeat_timeout")
    @classmethod
    def _longer_than_heartbeat(cls, timeout: float) -> float:
        if timeout <= FREESWITCH_HEARTBEAT_S:
            raise ValueError(f"must exceed {FREESWITCH_HEARTBEAT_S} s: FreeSWITCH sends HEARTBEAT every "
                             f"{FREESWITCH_HEARTBEAT_S} s, so a shorter timeout drops healthy links")
        return timeout


# --- outbound socket, telemetry ------------------------------------------------------------------------


class OutboundSocket(Section):
    """Where the engine listens for the ``socket`` dialplan application (outbound mode)."""

    listen: PrivateListenAddress = Endpoint("127.0.0.1", 8084)


class Telemetry(Section):
    """Logs and the /metrics + /healthz endpoint."""

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "json"
    listen: ListenAddress = Endpoint("127.0.0.1", 9345)


class State(Section):
    """Where the engine journals its live state (agents' states, live calls' records so far, its heartbeat), for
    ``hotline status`` and for a restarted engine: a folder on its own disk, or Redis (several hosts)."""

    backend: Literal["local", "redis"] = "local"
    folder: Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]+$")] = "var/hotline/state"
    redis_url: Annotated[str, Field(pattern=r"^rediss?://")] = "redis://127.0.0.1:6379/0"
    prefix: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")] = "hotline"


class Tickets(Section):
    """Where call records (工单) go: SQLite embedded by default, PostgreSQL in production. Records wait in the
    spool folder whenever the database is unreachable."""

    url: Annotated[str, Field(pattern=r"^(sqlite:///|postgresql(\+psycopg)?://)")] = "sqlite:///var/hotline/tickets.db"
    spool_dir: Annotated[str, Field(min_length=1)] = "var/hotline/spool"


class Recorder(Section):
    """Call recording: every answered call, both legs, as a two-channel WAV that FreeSWITCH writes in ``folder``
    (so the folder must be writable by the switch, and readable by whoever reviews calls)."""

    enabled: bool = True
    folder: Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]+$")] = "var/hotline/recordings"
    retention_days: Annotated[int, Field(ge=1, le=36500)] = 1095
    """How long archived recordings are kept (three years by default), then deleted by the purge."""
    retention: dict[Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")], Annotated[int, Field(ge=1, le=36500)]] = {}
    """Per tenant (分中心), days kept, where it differs from ``retention_days``."""
    include_ivr: bool = False
    """Record from the caller's answer, the IVR included (the caller's keys and what they heard), rather than from
    the agent's bridge."""


Words = Annotated[list[Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]],
                  Field(max_length=10_000)]


class Asr(Section):
    """Transcription of recordings by vosk, in worker processes beside the engine (asr.workers)."""

    enabled: bool = False
    workers: Annotated[int, Field(ge=1, le=256)] = 1
    """Worker processes, one core each (bench/asr_throughput.py measures how many a centre needs)."""
    attempts: Annotated[int, Field(ge=1, le=20)] = 3
    """Tries of one recording before it is marked failed with the reason."""
    vocabulary: Words = []
    """Limit recognition to these words (a model with a runtime graph only); empty: the model's whole vocabulary."""
    keywords: dict[Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")], Words] = {}
    """Alert categories and their words (e.g. self_harm: [自杀, 不想活]); a transcript saying one is flagged and
    supervisors are told."""

    model: str = ""
    """The vosk model's folder. The production model is Chinese (vosk-model-small-cn-0.22, or the large
    vosk-model-cn-0.22), downloaded by the operator."""

    @field_validator("model")
    @classmethod
    def _model_usable(cls, model: str, info: ValidationInfo) -> str:
        """Checked after the fields above (pydantic's order): with ASR on, the folder must be a vosk model."""
        from asr.model import model_problem  # asr builds on config: imported once config is loaded

        if info.data.get("enabled") and (problem := model_problem(model, bool(info.data.get("vocabulary")))):
            raise ValueError(problem)
        return model


class Settings(Section):
    """The whole configuration file."""

    centre: Centre
    switch: Switch
    outbound_socket: OutboundSocket = OutboundSocket()
    telemetry: Telemetry = Telemetry()
    acd: Acd = Acd()
    ivr: Ivr = Ivr()
    linkage: Linkage = Linkage()
    state: State = State()
    tickets: Tickets = Tickets()
    recorder: Recorder = Recorder()
    asr: Asr = Asr()

    @model_validator(mode="after")
    def _ivr_meets_acd(self) -> "Settings":
        problems = centre_problems(self.ivr, set(self.acd.queues), self.centre.service_numbers)
        from calls.targets import TargetError, resolve  # calls builds on config: imported once config is loaded

        for digit, key in self.acd.call_keys.items():
            try:
                if key.to:
                    resolve(key.to, self)
            except TargetError as exc:
                problems.append(f"acd.call_keys.{digit}.to: {exc}")
        problems += [f"recorder.retention.{tenant}: no tenant of that name in ivr.tenants "
                     f"({', '.join(sorted(self.ivr.tenants))})" for tenant in self.recorder.retention
                     if tenant not in self.ivr.tenants]
        if problems:
            raise ValueError("; ".join(problems))
        return self


@functools.cache
def defaults() -> Settings:
    """The built-in demo: a switch (or the fakeswitch double) on loopback with a random password.

    Cached, so everything in one process (engine, test double, rendered event_socket.conf.xml) agrees on it.
    """
    return Settings(
        centre=Centre(name="hotline demo centre (演示热线)"),
        switch=Switch(password=SecretStr(secrets.token_urlsafe(18))),
    )

