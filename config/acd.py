"""The ``acd:`` section: agents, skill queues (技能组), not-ready reasons, no-answer policy, service level.

Cross-references are checked at load (an overflow to an unknown queue, a queue whose skill no agent has) so
a broken centre fails at start, not on the first caller.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, model_validator

from config.addresses import Endpoint, PrivateListenAddress
from config.section import Section

Seconds0 = Annotated[float, Field(ge=0)]
Level = Annotated[int, Field(ge=1, le=10)]

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_CONTACT = re.compile(r"(user/[A-Za-z0-9_.-]+(@[A-Za-z0-9_.-]+)?|sofia/[A-Za-z0-9_.-]+/[A-Za-z0-9_.@:+*#-]+|loopback/[0-9*#]+)")


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError("expected a lower-case name: a letter, then letters, digits, _ or - (at most 32)")
    return value


def _contact(value: str) -> str:
    if not _CONTACT.fullmatch(value):
        raise ValueError('expected a dial string such as "user/1001", "user/1001@hotline" or '
                         '"sofia/internal/1001@10.0.0.5"; no spaces, quotes, braces or $')
    return value


Name = Annotated[str, AfterValidator(_name)]


def _sip_password(secret: SecretStr) -> SecretStr:
    if len(secret.get_secret_value()) < 10 or not secret.get_secret_value().isprintable():
        raise ValueError("a SIP password needs at least 10 printable characters: registrations are attacked all day")
    return secret


class Overflow(Section):
    """Where a caller goes when the queue cannot keep them: another queue (``target``), voicemail, the callback
    list (told they will be called back), an outside number (``target``, through ``ivr.trunk``), or a message and
    goodbye. Every one of them but another queue puts the caller on the callback list."""

    action: Literal["queue", "voicemail", "callback", "number", "announce-hangup"] = "announce-hangup"
    target: str = ""

    @model_validator(mode="after")
    def _target(self) -> "Overflow":
        if self.action == "number" and not re.fullmatch(r"[0-9]{3,20}", self.target):
            raise ValueError("target: an overflow to a number needs the number (3-20 digits)")
        if self.action == "queue" and not self.target:
            raise ValueError("target: an overflow to a queue needs the queue's name")
        return self


class Widening(Section):
    after: Annotated[float, Field(gt=0)]
    min_level: Level


class Sticky(Section):
    """首问负责: a repeat caller within ``window`` seconds waits up to ``wait`` seconds for their last agent."""

    window: Seconds0 = 0
    wait: Seconds0 = 0


class Queue(Section):
    skill: Name
    min_level: Level = 1
    strategy: Literal["longest-idle", "round-robin", "fewest-calls", "least-talk-time", "top-down", "random",
                      "ring-all", "highest-skill-first"] = "longest-idle"
    widening: list[Widening] = []
    max_waiting: Annotated[int, Field(ge=0)] = 0
    max_wait: Seconds0 = 0
    on_full: Overflow = Overflow()
    on_timeout: Overflow = Overflow()
    on_no_agents: Overflow | None = None
    wrap_up: Seconds0 = 15
    ring_timeout: Annotated[float, Field(gt=0)] = 20
    sticky: Sticky = Sticky()
    announce_every: Seconds0 = 0
    exit_key: Annotated[str, Field(pattern=r"^[0-9*#]?$")] = ""
    on_exit: Overflow = Overflow(action="voicemail")
    music_on_hold: str = "local_stream://moh"


def _display_name(value: str) -> str:
    if any(ch in value for ch in "${}\n\r") or len(value) > 64:
        raise ValueError("a display name of at most 64 characters without $ { } or line breaks "
                         "(FreeSWITCH would expand ${...} in it)")
    return value


class Agent(Section):
    name: Annotated[str, AfterValidator(_display_name)] = ""
    contact: Annotated[str, AfterValidator(_contact)]
    skills: dict[Name, Level]
    auto_login: bool = False
    """Log in ready when the engine starts (a demo or a fixed desk); agents otherwise log in themselves."""
    sip_password: Annotated[SecretStr, AfterValidator(_sip_password)] | None = None
    """For a ``user/<id>`` contact: rendered into FreeSWITCH's directory by ``hotline switch-conf render``."""
    team: Name | None = None
    """The team (班组) whose supervisors may watch and act on this agent."""


class Supervisor(Section):
    """A supervisor (班长): the phone they listen on, and what they may see and act on. A call is theirs to
    watch if its agent is in one of ``teams`` or it came through one of ``queues``."""

    name: Annotated[str, AfterValidator(_display_name)] = ""
    contact: Annotated[str, AfterValidator(_contact)]
    """Their SIP phone, rung to listen in (``user/1901``, or a dial string)."""
    teams: list[Name] = []
    queues: list[Name] = []
    centre: bool = False
    """Every team and queue (a duty manager, 值班长)."""

    @model_validator(mode="after")
    def _scoped(self) -> "Supervisor":
        if not (self.teams or self.queues or self.centre):
            raise ValueError("a supervisor needs teams, queues, or centre: true (what they may watch and act on)")
        return self


class CausePolicy(Section):
    delay: Seconds0
    limit: Annotated[int, Field(ge=0)] = 0


class ServiceLevel(Section):
    thresholds: list[Annotated[int, Field(gt=0)]] = [15, 20, 30]
    quick_abandon: Seconds0 = 5
    callback_hours: Annotated[float, Field(gt=0, le=720)] = 24
    """漏接回拨率 counts a missed call as called back when it was within this many hours of its end."""


class FeatureCodes(Section):
    """Codes agents dial from their softphone; ``not_ready`` may be followed by a reason's number (*222 = meal).
    Supervisors dial ``listen``, ``whisper`` or ``barge`` followed by the agent's number (*311001)."""

    login: Annotated[str, Field(pattern=r"^\*[0-9]{1,4}$")] = "*20"
    ready: Annotated[str, Field(pattern=r"^\*[0-9]{1,4}$")] = "*21"
    not_ready: Annotated[str, Field(pattern=r"^\*[0-9]{1,4}$")] = "*22"
    logout: Annotated[str, Field(pattern=r"^\*[0-9]{1,4}$")] = "*23"
    listen: Annotated[str, Field(pattern=r"^\*[0-9]{1,4}$")] = "*31"
    whisper: Annotated[str, Field(pattern=r"^\*[0-9]{1,4}$")] = "*32"
    barge: Annotated[str, Field(pattern=r"^\*[0-9]{1,4}$")] = "*33"

    @model_validator(mode="after")
    def _distinct(self) -> "FeatureCodes":
        """A code that begins another could not be told from it (``*22`` is followed by reasons' numbers, the
        supervisors' codes by agents')."""
        codes = self.model_dump()
        for name, code in codes.items():
            for other, longer in codes.items():
                if other != name and longer.startswith(code):
                    raise ValueError(f"{other} {longer!r} begins with {name} {code!r}: a phone could not tell them apart")
        return self


CallAction = Literal["hold", "resume", "mute", "unmute", "transfer", "consult", "complete", "cancel", "join",
                     "three_way", "linkage", "leave", "drop", "hangup"]
"""What an agent does to their own call (acd.queueing, acd.connector.Connector)."""
TARGETED = ("transfer", "consult", "three_way", "linkage")
"""The call actions that name a target (calls.targets)."""


class CallKey(Section):
    """A key the agent presses during a call (``*`` then the digit), bound on their leg with bind_meta_app: the
    switch swallows it (the caller hears nothing) and tells the engine, which acts as the toolbar would."""

    action: CallAction
    to: str = ""
    """The target of transfer, consult, three_way and linkage (checked against the directory at load)."""

    @model_validator(mode="after")
    def _target(self) -> "CallKey":
        if (self.action in TARGETED) != bool(self.to):
            raise ValueError(f"{self.action} {'needs' if self.action in TARGETED else 'takes no'} target (to:)")
        return self


def _token(secret: SecretStr) -> SecretStr:
    if len(secret.get_secret_value()) < 24 or not secret.get_secret_value().isprintable():
        raise ValueError("an API token needs at least 24 printable characters: it is all that guards agent control")
    return secret


class Token(Section):
    """A bearer token of the agent-control API: an agent acts only on themselves; a supervisor token naming a
    supervisor acts within their teams and queues (and listens on their phone), one naming none, and an engineer's,
    on anyone."""

    token: Annotated[SecretStr, AfterValidator(_token)]
    role: Literal["agent", "supervisor", "engineer"]
    agent: str = ""
    supervisor: str = ""


class Api(Section):
    """The local HTTP JSON API for agent toolbars, supervisors and the CLI."""

    listen: PrivateListenAddress = Endpoint("127.0.0.1", 9346)
    tokens: list[Token] = []


def _overflow_loops(queues: dict[str, Queue]) -> list[str]:
    """An overflow from a queue back to itself, directly or through others, would pass a caller round for ever."""
    leads = {name: {o.target for o in (q.on_full, q.on_timeout, q.on_no_agents, q.on_exit)
                    if o is not None and o.action == "queue" and o.target in queues} for name, q in queues.items()}
    problems = []
    for start in queues:
        seen, path = set(), [start]
        while path:
            name = path.pop()
            for target in leads[name]:
                if target == start:
                    problems.append(f"queues.{start}: its overflow leads back to it (through {name!r}); a caller "
                                    "would go round for ever: end the chain with voicemail, callback, a number or a message")
                elif target not in seen:
                    seen.add(target)
                    path.append(target)
    return problems


class Acd(Section):
    reasons: list[Name] = ["rest", "meal", "training", "meeting", "no_answer", "busy", "rejected",
                           "not_registered", "offer_failed"]
    """Not-ready reason codes (置忙原因); the no-answer policy's reasons must be among them."""
    queues: dict[Name, Queue] = {"general": Queue(skill="general")}
    agents: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")], Agent] = {}
    no_answer: dict[Literal["no_answer", "busy", "rejected", "not_registered", "failed"], CausePolicy] = {}
    service_level: ServiceLevel = ServiceLevel()
    feature_codes: FeatureCodes = FeatureCodes()
    call_keys: dict[Annotated[str, Field(pattern=r"^[0-9]$")], CallKey] = {}
    """In-call keys on agents' phones, ``*<digit>`` -> action (none by default: binding costs a command a call)."""
    supervisors: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")], Supervisor] = {}
    api: Api = Api()

    @model_validator(mode="after")
    def _references(self) -> "Acd":
        problems = []
        skills = {skill for agent in self.agents.values() for skill in agent.skills}
        for name, queue in self.queues.items():
            for field_name in ("on_full", "on_timeout", "on_no_agents", "on_exit"):
                overflow = getattr(queue, field_name)
                if overflow is not None and overflow.action == "queue" and overflow.target not in self.queues:
                    problems.append(f"queues.{name}.{field_name}.target: no queue named {overflow.target!r}")
            if self.agents and queue.skill not in skills:
                problems.append(f"queues.{name}.skill: no agent has the skill {queue.skill!r}")
        problems += _overflow_loops(self.queues)
        for n, token in enumerate(self.api.tokens):
            if token.role == "agent" and token.agent not in self.agents:
                problems.append(f"api.tokens.{n}.agent: an agent token must name a configured agent")
            if token.supervisor and (token.role != "supervisor" or token.supervisor not in self.supervisors):
                problems.append(f"api.tokens.{n}.supervisor: must name one of acd.supervisors, on a supervisor token")
        teams = {agent.team for agent in self.agents.values()}
        for name, supervisor in self.supervisors.items():
            problems += [f"supervisors.{name}.teams: no agent is in team {team!r}" for team in supervisor.teams
                         if team not in teams]
            problems += [f"supervisors.{name}.queues: no queue named {queue!r}" for queue in supervisor.queues
                         if queue not in self.queues]
        if problems:
            raise ValueError("; ".join(problems))
        return self
