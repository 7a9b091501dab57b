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
class KeepCaller:
    """Keep the caller's leg ``uuid`` up when its agent's leg goes (``park_after_bridge``), marked with where it
    is being transferred (``hotline_transfer``; ``hotline_transferred`` becomes true once a queue has them
    again) for an engine that takes the call back after a restart."""

    uuid: str
    transfer: str


Command = Originate | Bridge | Kill | Hold | KeepCaller
