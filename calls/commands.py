"""What the call model asks of the switch; the engine carries these out over ESL and reports back as facts.

Every word that reaches a command line is validated there (esl.tokens); a command that fails because the link is
down reports nothing, so no agent or caller pays for the link: reconciliation finds the truth afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Originate:
    """Ring ``contact`` on a new leg ``uuid`` (background originate into ``park``); facts follow."""

    uuid: str
    contact: str
    ring_timeout_s: float
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Bridge:
    """Bridge the call's caller to the answered leg ``uuid``; a BridgeResult follows."""

    call_id: str
    uuid: str


@dataclass(frozen=True, slots=True)
class Kill:
    """End leg ``uuid`` now (``uuid_kill``: acted on whether it rings or talks)."""

    uuid: str
    cause: str = "NORMAL_CLEARING"


@dataclass(frozen=True, slots=True)
class Hold:
    """Put leg ``uuid`` on hold (``on``) or take it off (``uuid_hold [off]``): holding an agent's leg plays its
    caller the hold music; CHANNEL_HOLD and CHANNEL_UNHOLD follow."""

    uuid: str
    on: bool


@dataclass(frozen=True, slots=True)
class SetVars:
    """Set channel variables on leg ``uuid`` (``uuid_setvar_multi``): ``park_after_bridge`` keeps a leg up when
    its partner goes; ``hotline_*`` marks tell an engine taking the call back after a restart what was under way.
    Refused only if the leg has gone, whose hang-up then says so."""

    uuid: str
    variables: dict[str, str]


@dataclass(frozen=True, slots=True)
class ToConference:
    """Move leg ``uuid`` into the call's conference ``room`` (``uuid_transfer ... conference:room@hotline``), with
    member ``flags`` (endconf: the conference ends when this member leaves; mintwo: when fewer than two remain)."""

    uuid: str
    room: str
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Park:
    """Take leg ``uuid`` out of what it is in (a bridge, a conference) into ``park`` (``uuid_park``), where what
    is sent to it next runs (a survey, the queue's music)."""

    uuid: str


@dataclass(frozen=True, slots=True)
class Connect:
    """Bridge two answered legs of a call (``uuid_bridge``), such as the agent and a consulted unit: a leg either
    was bridged to before is displaced (parked, with park_after_bridge). A refusal is logged; the legs' own
    facts tell the rest."""

    uuid: str
    peer: str


@dataclass(frozen=True, slots=True)
class Mute:
    """Stop (``on``) or restore what leg ``uuid``'s phone sends (``uuid_audio ... start read mute 1`` / ``stop``):
    the agent's microphone, in a bridge or a room alike. The switch fires no event for it."""

    uuid: str
    on: bool


@dataclass(frozen=True, slots=True)
class Eavesdrop:
    """Leg ``uuid`` (a supervisor's phone) listens in on the agent's leg ``agent`` (``uuid_transfer ...
    eavesdrop:<agent> inline``), in ``mode``: listen, whisper (the agent hears the supervisor, the caller does not)
    or barge (both do); or, already listening, switches to ``mode`` (``agent`` empty): eavesdrop's own key for it
    (0, 2, 3), given as if the phone pressed it, which the supervisor's phone may do as well."""

    uuid: str
    agent: str
    mode: str


@dataclass(frozen=True, slots=True)
class Intercept:
    """Leg ``uuid`` (a supervisor's phone) takes the caller ``call_id`` over (``intercept``): bridged to them, the
    agent's leg hung up by the switch (PICKED_OFF)."""

    uuid: str
    call_id: str


CALL_KEY_EVENT = "hotline::call_key"
"""The event an agent's in-call key fires (its digit in ``hotline_key``), bound by BindKeys."""


@dataclass(frozen=True, slots=True)
class BindKeys:
    """Bind ``*<digit>`` on the agent's leg ``uuid`` (``bind_meta_app``, before it is bridged): the switch keeps
    the key from the caller and fires CALL_KEY_EVENT on the leg."""

    uuid: str
    digits: tuple[str, ...]


Command = (Originate | Bridge | Kill | Hold | SetVars | ToConference | Park | Connect | Mute | BindKeys | Eavesdrop
           | Intercept)
