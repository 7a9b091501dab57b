"""The ``ivr:`` section: prompts, menus, tenants (operation centres), business hours, emergency, survey.

A menu tree is checked as a whole when it loads: every target exists, every menu is reachable from a tenant,
no loop traps a caller, every queue is one the ACD has. Checks that need the ACD's queues run on ``Settings``
(``problems_with(acd_queues)``), the rest here.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal, Union, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, model_validator

from config.section import Section

Key = Annotated[str, Field(pattern=r"^[0-9*#]$")]
Digits = Annotated[str, Field(pattern=r"^[0-9]{3,20}$")]
Trunk = Annotated[str, Field(pattern=r"^(sofia/gateway/[A-Za-z0-9_.-]+|loopback|sofia/[a-z]+/[^/\s${}]*)$")]
"""Where an outside number is dialled: ``<trunk>/<number>``."""
Seconds = Annotated[float, Field(gt=0, le=60)]
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError("expected a lower-case name: a letter, then letters, digits, _ or - (at most 32)")
    return value


Name = Annotated[str, AfterValidator(_name)]


def _sound_file(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_./:-]+\.(wav|mp3)", value) or ".." in value:
        raise ValueError("expected a sound file path of letters, digits and _ . / : - ending in .wav or .mp3 "
                         "(FreeSWITCH takes application arguments split on spaces)")
    return value


class Prompt(Section):
    """What the caller hears: the text, spoken by text-to-speech unless a recorded ``file`` is given."""

    text: Annotated[str, Field(min_length=1, max_length=500)]
    file: Annotated[str, AfterValidator(_sound_file)] | None = None


# --- what a key does ---------------------------------------------------------------------------------------


class ToMenu(Section):
    do: Literal["menu"]
    menu: Name


class ToQueue(Section):
    do: Literal["queue"]
    queue: Name
    priority: Annotated[int, Field(ge=0, le=9)] = 0


class ToEmergency(Section):
    """The emergency queue at top priority (``ivr.emergency``)."""

    do: Literal["emergency"]


class ToNumber(Section):
    """An outside number through ``ivr.trunk`` with the tenant's caller ID: 110, a department's hotline."""

    do: Literal["number"]
    number: Digits


class ToVoicemail(Section):
    do: Literal["voicemail"]


class ToLookup(Section):
    """Self-service: the caller keys in a ticket number and hears its status."""

    do: Literal["lookup"]


class ToHangup(Section):
    do: Literal["hangup"]
    prompt: Name = "goodbye"


class Back(Section):
    do: Literal["back"]


class Repeat(Section):
    do: Literal["repeat"]


Action = Annotated[Union[ToMenu, ToQueue, ToEmergency, ToNumber, ToVoicemail, ToLookup, ToHangup, Back, Repeat],
                   Field(discriminator="do")]
Exit = Union[ToQueue, ToEmergency, ToNumber, ToVoicemail, ToLookup, ToHangup]
"""Actions that take the caller out of the menus."""
EXITS = get_args(Exit)


class Menu(Section):
    """One node: its prompt, what each key does, and what happens on silence or a wrong key.

    A wrong key or silence plays ``invalid``/``timeout`` and asks again, at most ``retries`` times; then
    ``default`` runs, which (GB/T 33358: never force a menu on a caller) reaches a human unless set otherwise.
    """

    prompt: Name
    keys: dict[Key, Action] = {}
    timeout: Seconds = 5
    retries: Annotated[int, Field(ge=0, le=5)] = 0
    invalid: Name = "invalid"
    timeout_prompt: Name = "no_input"
    default: Action | None = None
    """None: the tenant's human queue."""


# --- when the centre is open ---------------------------------------------------------------------------


def _span(value: str) -> str:
    match = re.fullmatch(r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])", value)
    if not match or value[:5] >= value[6:] or (value[6:8] == "24" and value[9:] != "00"):
        raise ValueError('expected "HH:MM-HH:MM" with the start before the end, e.g. "08:30-12:00" or "00:00-24:00"')
    return value


def _dates(value: str) -> str:
    first, _, last = value.partition("..")
    try:
        start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last or first)
    except ValueError:
        raise ValueError('expected a date "2026-10-01" or a range "2026-10-01..2026-10-08"') from None
    if end < start:
        raise ValueError("the range ends before it starts")
    return value


def zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a known IANA time zone such as Asia/Shanghai") from None
    return value


Span = Annotated[str, AfterValidator(_span)]
Dates = Annotated[str, AfterValidator(_dates)]


class Hours(Section):
    """Opening hours by the Chinese calendar: weekdays, weekends, public holidays (法定节假日) and the weekend
    days worked instead (调休), which keep weekday hours."""

    weekdays: list[Span] = ["00:00-24:00"]
    weekends: list[Span] = ["00:00-24:00"]
    holidays: list[Dates] = []
    holiday_hours: list[Span] = []
    makeup_days: list[Dates] = []
    timezone: Annotated[str, AfterValidator(zone)] = "Asia/Shanghai"


class AfterHours(Section):
    """What a caller hears when the centre is closed, then: a message (voicemail), an overflow number, or goodbye."""

    prompt: Name = "after_hours"
    then: Literal["voicemail", "number", "hangup"] = "voicemail"
    number: Annotated[str, Field(pattern=r"^([0-9]{3,20})?$")] = ""

    @model_validator(mode="after")
    def _number_when_needed(self) -> "AfterHours":
        if self.then == "number" and not self.number:
            raise ValueError("then: number needs the overflow number in `number`")
        return self


# --- tenants, and the rest ----------------------------------------------------------------------------------


class Tenant(Section):
    """An operation centre (分中心): the numbers and caller regions it answers, its menus, queues and hours."""

    numbers: list[Digits] = []
    """Called numbers (DNIS) it answers; empty: every service number no other tenant lists."""
    regions: list[Annotated[str, Field(min_length=2)]] = []
    """Caller regions (the phonenumbers zh description, matched as a prefix: "广西壮族自治区南宁市"); empty: any."""
    greeting: list[Name] = ["welcome", "recording_notice"]
    """Played before the first menu."""
    menu: Name = "main"
    queue: Name = "general"
    """The human queue: where silence and a menu's missing default lead."""
    queues: list[Name] = []
    """The queues its menus may send callers to; empty: any."""
    caller_id: Annotated[str, Field(pattern=r"^[0-9]{3,20}$")] = "12345"
    """Shown on calls it places (a transfer to 110 or to a department)."""
    hours: Hours = Hours()
    after_hours: AfterHours = AfterHours()


class Emergency(Section):
    """Life and safety first: these callers, or the emergency key, go to ``queue`` at top priority."""

    queue: Name = "general"
    priority: Annotated[int, Field(ge=0, le=9)] = 9
    callers: list[Digits] = []
    from_110: Annotated[str, Field(pattern=r"^([0-9]{3,20})?$")] = ""
    """The number 110 transfers callers in on (联动): they skip the menus for ``queue`` at ``priority``."""


class Blacklist(Section):
    """A blocked caller (entries managed with ``hotline blacklist``) is rejected with ``cause`` or hears ``prompt``."""

    action: Literal["reject", "message"] = "message"
    cause: Literal["CALL_REJECTED", "USER_BUSY", "NO_ROUTE_DESTINATION"] = "CALL_REJECTED"
    prompt: Name = "blocked"


SATISFACTION = ("非常满意", "满意", "基本满意", "不满意", "非常不满意")
"""The 好差评 five-level scale."""


class Dimension(Section):
    name: Literal["attitude", "efficiency", "result"]
    prompt: Name


class Survey(Section):
    """After the agent hangs up first, the caller rates the call with one key per dimension; silence is 'not rated'."""

    enabled: bool = True
    intro: Name = "survey_intro"
    dimensions: Annotated[list[Dimension], Field(min_length=1, max_length=3)] = [
        Dimension(name="attitude", prompt="survey_attitude")]
    keys: dict[Key, Literal[SATISFACTION]] = dict(zip("12345", SATISFACTION))  # type: ignore[valid-type]
    timeout: Seconds = 8
    thanks: Name = "survey_thanks"


class Voicemail(Section):
    """留言: a beep, then up to ``max_seconds``; the caller joins the callback list."""

    prompt: Name = "voicemail"
    max_seconds: Annotated[int, Field(ge=5, le=600)] = 120
    folder: Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]+$")] = "var/hotline/voicemail"


class Lookup(Section):
    """Self-service ticket status: the caller keys in a ticket number ending with #."""

    prompt: Name = "lookup_number"
    not_found: Name = "lookup_not_found"
    max_digits: Annotated[int, Field(ge=4, le=32)] = 20
    timeout: Seconds = 15


class SafetyNet(Section):
    """The switch's own fallback for a caller no engine takes within ``after`` seconds (the engine down, or cut
    off from the switch): rendered into FreeSWITCH's dialplan by ``hotline switch-conf render``. Until then the
    caller hears ringback; then ``prompt``, and either ``number`` (through ``ivr.trunk``) or goodbye."""

    enabled: bool = True
    after: Annotated[int, Field(ge=5, le=600)] = 20
    prompt: Name = "safety_net"
    then: Literal["number", "hangup"] = "hangup"
    number: Annotated[str, Field(pattern=r"^([0-9]{3,20})?$")] = ""

    @model_validator(mode="after")
    def _number(self) -> "SafetyNet":
        if self.then == "number" and not self.number:
            raise ValueError("number: then: number needs the number to send callers to")
        return self


DEFAULT_PROMPTS = {
    "welcome": "您好，欢迎致电12345政务服务便民热线。",
    "recording_notice": "为保证服务质量，您的通话将被录音。",
    "choice": "人工服务请按1或直接等待；查询工单办理进度请按3；留言请按8；紧急求助请按9。",
    "invalid": "您的输入有误。",
    "no_input": "我们没有收到您的按键。",
    "goodbye": "感谢您的来电，再见。",
    "after_hours": "现在是非工作时间。",
    "blocked": "您的号码暂时无法接入本热线。",
    "voicemail": "请在提示音后留言，按井号键结束。",
    "lookup_number": "请输入工单编号，以井号键结束。",
    "lookup_not_found": "没有查到这个工单编号。",
    "status_received": "您的工单已受理，正在转交承办单位。",
    "status_processing": "您的工单正在办理中。",
    "status_done": "您的工单已办结。",
    "status_visited": "您的工单已办结并已回访。",
    "survey_intro": "请对本次服务进行评价。",
    "survey_attitude": "对服务态度，非常满意请按1，满意请按2，基本满意请按3，不满意请按4，非常不满意请按5。",
    "survey_efficiency": "对办理效率，非常满意请按1，满意请按2，基本满意请按3，不满意请按4，非常不满意请按5。",
    "survey_result": "对办理结果，非常满意请按1，满意请按2，基本满意请按3，不满意请按4，非常不满意请按5。",
    "survey_thanks": "感谢您的评价，再见。",
    "emergency_transfer": "正在为您转接110，请稍候。",
    "transfer": "正在为您转接，请稍候。",
    "transfer_failed": "转接未成功，正在为您转回人工服务，请稍候。",
    "linkage_no_answer": "对方暂时无法接通，请继续与话务员通话。",
    "callback": "坐席繁忙，我们已记下您的号码，将尽快给您回电，再见。",
    "busy_goodbye": "坐席繁忙，请您稍后再拨，再见。",
    "safety_net": "系统繁忙，请您稍后再拨，给您带来不便，敬请谅解。",
    "code_login": "已签入。",
    "code_ready": "已示闲。",
    "code_not_ready": "已示忙。",
    "code_logout": "已签出。",
    "code_refused": "操作未成功。",
}
"""code_*: what an agent's or supervisor's phone hears after dialling a feature code (done, or refused)."""
ANNOUNCED_UP_TO = 20
DEFAULT_PROMPTS.update({f"position_{n}": f"您前面还有{n}位来电，" for n in range(1, ANNOUNCED_UP_TO + 1)})
DEFAULT_PROMPTS.update({f"wait_{n}": f"预计等待{n}分钟，请耐心等候。" for n in range(1, ANNOUNCED_UP_TO + 1)})
"""Queue announcements have a prompt per number 1..20 (position and minutes of wait); beyond, the 20th."""
_BUILT_IN = {name: Prompt(text=text) for name, text in DEFAULT_PROMPTS.items()}
"""Validated once: a call asks for prompts by name several times, and a model built per ask was validated per ask."""
TICKET_STATUSES = ("received", "processing", "done", "visited")


def _default_menus() -> dict[str, Menu]:
    return {"main": Menu(prompt="choice", keys={
        "1": ToQueue(do="queue", queue="general"), "3": ToLookup(do="lookup"), "8": ToVoicemail(do="voicemail"),
        "9": ToEmergency(do="emergency")})}


class Ivr(Section):
    prompts: dict[Name, Prompt] = {}
    """Additions to and replacements of DEFAULT_PROMPTS."""
    menus: dict[Name, Menu] = Field(default_factory=_default_menus)
    tenants: dict[Name, Tenant] = {"default": Tenant()}
    trunk: Trunk = "sofia/gateway/pstn"
    """Where outside numbers go: ``<trunk>/<number>``."""
    emergency: Emergency = Emergency()
    blacklist: Blacklist = Blacklist()
    survey: Survey = Survey()
    voicemail: Voicemail = Voicemail()
    lookup: Lookup = Lookup()
    safety_net: SafetyNet = SafetyNet()
    prompt_cache: Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]+$")] = "var/hotline/prompts"

    def prompt(self, name: str) -> Prompt:
        """A prompt by name, the configured one or the built-in default."""
        return self.prompts[name] if name in self.prompts else _BUILT_IN[name]

    def prompt_names(self) -> set[str]:
        """Every prompt a call can play: configured and built in."""
        return {*DEFAULT_PROMPTS, *self.prompts}

    @model_validator(mode="after")
    def _tree(self) -> "Ivr":
        problems = tree_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def references(menu: Menu) -> list[tuple[str, Action]]:
    """Every action of a menu with its key path below the menu: ``keys.1``, ``default``."""
    found: list[tuple[str, Action]] = [(f"keys.{key}", action) for key, action in menu.keys.items()]
    if menu.default is not None:
        found.append(("default", menu.default))
    return found


def menu_children(ivr: Ivr) -> dict[str, list[str]]:
    """The menus each menu's keys and default lead to."""
    return {name: [a.menu for _, a in references(menu) if isinstance(a, ToMenu)] for name, menu in ivr.menus.items()}


def tree_problems(ivr: Ivr) -> list[str]:
    """Missing targets, unknown prompts, unreachable menus and loops with no way out, each with its key path."""
    problems: list[str] = []
    prompts = {*DEFAULT_PROMPTS, *ivr.prompts}
    for name, menu in ivr.menus.items():
        for field, prompt in (("prompt", menu.prompt), ("invalid", menu.invalid), ("timeout_prompt", menu.timeout_prompt)):
            if prompt not in prompts:
                problems.append(f"ivr.menus.{name}.{field}: no prompt named {prompt!r}")
        for path, action in references(menu):
            if isinstance(action, ToMenu) and action.menu not in ivr.menus:
                problems.append(f"ivr.menus.{name}.{path}.menu: no menu named {action.menu!r} "
                                f"(menus: {', '.join(sorted(ivr.menus))})")
            if isinstance(action, ToHangup) and action.prompt not in prompts:
                problems.append(f"ivr.menus.{name}.{path}.prompt: no prompt named {action.prompt!r}")
    named = [("ivr.blacklist.prompt", ivr.blacklist.prompt), ("ivr.survey.intro", ivr.survey.intro),
             ("ivr.survey.thanks", ivr.survey.thanks), ("ivr.voicemail.prompt", ivr.voicemail.prompt),
             ("ivr.lookup.prompt", ivr.lookup.prompt), ("ivr.lookup.not_found", ivr.lookup.not_found),
             ("ivr.safety_net.prompt", ivr.safety_net.prompt)]
    named += [(f"ivr.survey.dimensions[{n}].prompt", d.prompt) for n, d in enumerate(ivr.survey.dimensions)]
    problems += [f"{path}: no prompt named {name!r}" for path, name in named if name not in prompts]
    for name, tenant in ivr.tenants.items():
        for n, prompt in enumerate(tenant.greeting):
            if prompt not in prompts:
                problems.append(f"ivr.tenants.{name}.greeting[{n}]: no prompt named {prompt!r}")
        if tenant.menu not in ivr.menus:
            problems.append(f"ivr.tenants.{name}.menu: no menu named {tenant.menu!r}")
        if tenant.after_hours.prompt not in prompts:
            problems.append(f"ivr.tenants.{name}.after_hours.prompt: no prompt named {tenant.after_hours.prompt!r}")
    if problems:
        return problems  # the graph checks below assume every target exists
    children = menu_children(ivr)
    reachable = _reachable([t.menu for t in ivr.tenants.values()], children)
    for name in ivr.menus:
        if name not in reachable:
            problems.append(f"ivr.menus.{name}: unreachable: no tenant's menu leads to it")
    trapped = sorted(name for name in reachable if not _way_out(name, ivr, children))
    if trapped:
        problems.append(f"ivr.menus.{', '.join(trapped)}: a loop with no way out: no key, default or back leads "
                        "to a queue, a number, voicemail, lookup or hang-up")
    return problems


def _reachable(roots: list[str], children: dict[str, list[str]]) -> set[str]:
    seen, stack = set(), list(roots)
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(children[name])
    return seen


def _way_out(start: str, ivr: Ivr, children: dict[str, list[str]]) -> bool:
    """Whether a caller in ``start`` can leave the menus. A menu without a default leaves for the human queue on
    silence; ``back`` returns to any menu that leads here."""
    parents = {name: [p for p, kids in children.items() if name in kids] for name in ivr.menus}
    seen, stack = set(), [start]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        menu = ivr.menus[name]
        if menu.default is None or any(isinstance(a, EXITS) for _, a in references(menu)):
            return True
        stack.extend(children[name])
        if any(isinstance(a, Back) for _, a in references(menu)):
            stack.extend(parents[name])
    return False


def centre_problems(ivr: Ivr, queues: set[str], service_numbers: list[str]) -> list[str]:
    """What the menus need from the rest of the configuration: the ACD's queues and the centre's numbers."""
    problems = []
    if ivr.emergency.queue not in queues:
        problems.append(f"ivr.emergency.queue: no queue named {ivr.emergency.queue!r} (queues: {', '.join(sorted(queues))})")
    children = menu_children(ivr)
    for name, menu in ivr.menus.items():
        for path, action in references(menu):
            if isinstance(action, ToQueue) and action.queue not in queues:
                problems.append(f"ivr.menus.{name}.{path}.queue: no queue named {action.queue!r} "
                                f"(queues: {', '.join(sorted(queues))})")
    for name, tenant in ivr.tenants.items():
        for field, queue in (("queue", tenant.queue), *((f"queues[{n}]", q) for n, q in enumerate(tenant.queues))):
            if queue not in queues:
                problems.append(f"ivr.tenants.{name}.{field}: no queue named {queue!r}")
        for n, number in enumerate(tenant.numbers):
            if number not in service_numbers:
                problems.append(f"ivr.tenants.{name}.numbers[{n}]: {number} is not one of centre.service_numbers")
        if tenant.queues and tenant.menu in ivr.menus:
            allowed = {tenant.queue, *tenant.queues}
            for menu_name in sorted(_reachable([tenant.menu], children)):
                for path, action in references(ivr.menus[menu_name]):
                    if isinstance(action, ToQueue) and action.queue not in allowed:
                        problems.append(f"ivr.menus.{menu_name}.{path}.queue: {action.queue!r} is not one of "
                                        f"tenant {name}'s queues")
    for number in service_numbers:
        if not any(not t.regions for _, t in serving(ivr, number)):
            problems.append(f"ivr.tenants: no tenant answers {number} for callers of every region "
                            "(give one tenant for it no `regions`)")
    return problems


def serving(ivr: Ivr, called: str) -> list[tuple[str, Tenant]]:
    """The tenants that answer a called number: those listing it, else those listing no numbers."""
    listing = [(name, t) for name, t in ivr.tenants.items() if called in t.numbers]
    return listing or [(name, t) for name, t in ivr.tenants.items() if not t.numbers]
