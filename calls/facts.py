"""What the switch says happened to a leg, read out of ESL events and command results.

Facts carry only what the call model needs and come from FreeSWITCH's own headers: the leg (``Unique-ID``), the
variables the engine set on legs it originated (``hotline_call``, ``hotline_agent``), the SIP user FreeSWITCH
authenticated or dialled, the hang-up cause and ``sip_hangup_disposition`` (who sent the BYE or CANCEL), and
``Event-Sequence`` to order the toggles (bridge, unbridge, hold) when events arrive out of order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from esl import Event, tokens


@dataclass(frozen=True, slots=True)
class Created:
    uuid: str
    call: str | None = None
    """``hotline_call``: the call this leg was originated for (an offer to an agent)."""
    agent: str | None = None
    """``hotline_agent``: the agent it was originated to."""
    user: str | None = None
    """The SIP user FreeSWITCH authenticated the call as (``user_name``) or dialled (``dialed_user``)."""
    dialled: str = ""
    """``Caller-Destination-Number``: what the phone dialled (a feature code is a request, not a call)."""
    at_ms: int = 0
    """When, by the switch's clock (``Event-Date-Timestamp``; 0 when not known), as in every fact that has it."""


@dataclass(frozen=True, slots=True)
class Answered:
    uuid: str
    at_ms: int = 0


@dataclass(frozen=True, slots=True)
class Parked:
    uuid: str
    seq: int = 0
    referred_to: str | None = None
    """The number a softphone's blind transfer (SIP REFER) named, when that is why the leg parks (``sip_refer_to``
    set: the rendered hotline_referred extension parked it there)."""
    at_ms: int = 0


@dataclass(frozen=True, slots=True)
class Bridged:
    uuid: str
    peer: str
    seq: int = 0
    at_ms: int = 0
    peer_number: str = ""
    """What the peer's leg dialled (``Other-Leg-Destination-Number``): who a softphone's attended transfer
    brought in, on a leg the engine did not originate."""
    peer_created_ms: int = 0
    peer_answered_ms: int = 0
    """When the peer's leg was created and answered, by the switch's clock."""


@dataclass(frozen=True, slots=True)
class Unbridged:
    uuid: str
    peer: str
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Held:
    """The leg went on hold (CHANNEL_HOLD: ``uuid_hold``, or the phone's own re-INVITE), or came back from it
    (CHANNEL_UNHOLD)."""

    uuid: str
    on: bool
    seq: int = 0
    at_ms: int = 0
    """When, by the switch's clock (``Event-Date-Timestamp``)."""
    since_ms: int = 0
    """When the hold began, by the switch's clock (``Caller-Channel-Last-Hold``)."""


@dataclass(frozen=True, slots=True)
class HungUp:
    uuid: str
    cause: str | None = None
    """None: the leg vanished while the engine could not see it (found missing by reconciliation)."""
    disposition: str | None = None
    """Who sent the BYE (``sip_hangup_disposition``), which CHANNEL_HANGUP_COMPLETE carries and CHANNEL_HANGUP does
    not yet on FreeSWITCH 1.10.12."""
    at_ms: int = 0
    referred: bool = False
    """The phone transferred its partner away first (SIP REFER: ``endpoint_disposition`` BLIND_TRANSFER or
    ATTENDED_TRANSFER), then hung up; or, with Replaces (an attended transfer), the switch bridged its partner to
    the far end of the phone's other call and hung this leg up (``transfer_to`` att:<uuid>, as captured)."""


@dataclass(frozen=True, slots=True)
class OriginateResult:
    """The background originate finished: answered (``cause`` None) or failed with ``cause``."""

    uuid: str
    cause: str | None = None


@dataclass(frozen=True, slots=True)
class BridgeResult:
    """``uuid_bridge`` of the call's caller to ``uuid`` was accepted (``error`` None) or refused."""

    call_id: str
    uuid: str
    error: str | None = None


Fact = Created | Answered | Parked | Bridged | Unbridged | Held | HungUp | OriginateResult | BridgeResult

EVENTS = ("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_PARK", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_HOLD",
          "CHANNEL_UNHOLD", "CHANNEL_HANGUP_COMPLETE")
"""The channel events facts are read from. A hang-up is read from CHANNEL_HANGUP_COMPLETE alone: it follows
CHANNEL_HANGUP within one step of the switch's 20 ms clock (tests/captures) and says who sent the BYE; reading both
was two of the fourteen events a call cost the engine."""


def call_of(event: Event) -> str:
    """The call a channel event belongs to: an agent leg's events are its caller's (``hotline_call``, which the
    engine set at originate), so the legs of one call are handled in the switch's order; whose hang-up comes
    first is who ended the call."""
    call = event.get("variable_hotline_call")
    return call if tokens.is_uuid(call) else event.uuid


def from_event(event: Event) -> Fact | None:
    """The fact an ESL channel event states, or None for events the call model does not follow."""
    name, uuid = event.name, event.uuid
    if not uuid:
        return None
    if name == "CHANNEL_CREATE":
        return Created(uuid, event.get("variable_hotline_call"), event.get("variable_hotline_agent"),
                       event.get("variable_user_name") or event.get("variable_dialed_user"),
                       event.get("Caller-Destination-Number") or "", _ms(event))
    if name == "CHANNEL_ANSWER":
        return Answered(uuid, _ms(event))
    if name == "CHANNEL_PARK":
        referred = event.get("Caller-Destination-Number") if event.get("variable_sip_refer_to") else None
        return Parked(uuid, int(event.get("Event-Sequence") or 0), referred, _ms(event))
    if name in ("CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE"):
        peer = event.get("Other-Leg-Unique-ID") or ""
        seq = int(event.get("Event-Sequence") or 0)
        if name == "CHANNEL_BRIDGE":
            return Bridged(uuid, peer, seq, _ms(event), event.get("Other-Leg-Destination-Number") or "",
                           _ms(event, "Other-Leg-Channel-Created-Time"), _ms(event, "Other-Leg-Channel-Answered-Time"))
        return Unbridged(uuid, peer, seq)
    if name in ("CHANNEL_HOLD", "CHANNEL_UNHOLD"):
        return Held(uuid, name == "CHANNEL_HOLD", int(event.get("Event-Sequence") or 0),
                    _ms(event), _ms(event, "Caller-Channel-Last-Hold"))
    if name == "CHANNEL_HANGUP_COMPLETE":
        return HungUp(uuid, event.get("Hangup-Cause") or "NORMAL_CLEARING", event.get("variable_sip_hangup_disposition"),
                      _ms(event),
                      event.get("variable_endpoint_disposition") in ("BLIND_TRANSFER", "ATTENDED_TRANSFER")
                      or (event.get("variable_transfer_to") or "").startswith("att:"))
    return None


def _ms(event: Event, header: str = "Event-Date-Timestamp") -> int:
    """A time the switch stamps in microseconds, in ms (0 when absent or not a number)."""
    value = event.get(header) or ""
    return int(value) // 1000 if value.isdigit() else 0


def originate_result(uuid: str, output: str) -> OriginateResult:
    """The BACKGROUND_JOB body of ``originate``: ``+OK <uuid>`` or ``-ERR <CAUSE>``."""
    if output.startswith("+OK"):
        return OriginateResult(uuid)
    words = output.removeprefix("-ERR").split()
    return OriginateResult(uuid, words[0] if words else "FAILED")


TALKING_STATES = ("ACTIVE", "HELD", "UNHELD")
"""Channel call states of an answered channel."""


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel as the switch shows it whole (``uuid_dump <uuid> json``): reconciliation reads the variables the
    engine wrote on it, which tell what it was doing with the call."""

    uuid: str
    direction: str
    destination: str
    callstate: str
    application: str
    """The application it runs, or ran last (``current_application``): ``park`` while parked."""
    created_ms: int
    caller_number: str
    variables: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dump(cls, dump: dict[str, object]) -> "Channel":
        values = {name: str(value) for name, value in dump.items()}
        created_us = values.get("Caller-Channel-Created-Time", "")
        return cls(values.get("Unique-ID", ""), values.get("Call-Direction", ""),
                   values.get("Caller-Destination-Number", ""), values.get("Channel-Call-State", ""),
                   values.get("variable_current_application", ""),
                   int(created_us) // 1000 if created_us.isdigit() else 0,
                   values.get("Caller-Caller-ID-Number", ""), values)

    @property
    def answered(self) -> bool:
        return self.callstate in TALKING_STATES

    def var(self, name: str) -> str | None:
        return self.variables.get(f"variable_{name}") or None

    def ms_var(self, name: str) -> int | None:
        """A time the engine wrote on the channel (digits only, else None)."""
        value = self.var(name) or ""
        return int(value) if value.isdigit() else None
