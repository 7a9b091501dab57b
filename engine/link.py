"""The engine's supervised ESL link, as ``settings.switch`` describes it, subscribed to what the engine follows."""

from __future__ import annotations

from acd.phones import SUBSCRIPTION as PHONE_EVENTS
from calls.commands import CALL_KEY_EVENT
from calls.facts import EVENTS as CALL_EVENTS, call_of
from config import Settings
from esl import Backoff, SwitchLink

ENGINE_EVENTS = (*CALL_EVENTS, "DTMF", *PHONE_EVENTS, f"CUSTOM {CALL_KEY_EVENT}")
"""What the engine acts on, besides what the link consumes itself (esl.client.REQUIRED_EVENTS)."""


def switch_link(settings: Settings, address: tuple[str, int] | None = None) -> SwitchLink:
    """The link described by ``settings.switch`` (``address`` overrides it, for the demo and tests)."""
    sw = settings.switch
    host, port = address or (sw.host, sw.port)
    return SwitchLink(
        host, port, sw.password.get_secret_value(), events=[*ENGINE_EVENTS, *sw.events],
        connect_timeout=sw.connect_timeout, command_timeout=sw.command_timeout,
        heartbeat_timeout=sw.heartbeat_timeout,
        backoff=Backoff(sw.reconnect.initial, sw.reconnect.maximum, sw.reconnect.jitter), call_of=call_of,
    )
