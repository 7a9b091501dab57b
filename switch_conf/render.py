"""Write FreeSWITCH configuration files from Settings: templates' ``{{name}}`` fields, XML-escaped, and the
generated parts (dialplan, directory) built as XML trees, so no value can break out of its attribute.

Rendering the switch's side from the same file the engine reads keeps the ESL password, address and ACL in
step; a hand-edited event_socket.conf.xml is how ``ClueCon`` on 0.0.0.0 ends up in production. Placeholders
are ``{{name}}`` rather than ``$name`` because FreeSWITCH's own ``${var}`` and ``$${var}`` must pass untouched.
"""

from __future__ import annotations

import ipaddress
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape

from acd import feature_codes
from acd.phones import sip_user
from calls.targets import resolve
from config import Settings
from ivr.front_door import NET_EXTENSION, NET_MARK
from ivr.prompts import PromptLibrary

TEMPLATES = Path(__file__).resolve().parent
EVENT_SOCKET = Path("autoload_configs", "event_socket.conf.xml")
PUBLIC_DIALPLAN = Path("dialplan", "public", "00_hotline.xml")
AGENT_DIALPLAN = Path("dialplan", "default", "00_hotline.xml")
DIRECTORY = Path("directory", "default", "hotline_agents.xml")
CONFERENCE_PROFILE = Path("hotline", "conference_profile.xml")
"""Not picked up by itself: conference.conf.xml includes it inside <profiles> (see the README)."""
_FIELD = re.compile(r"\{\{([a-z_]+)\}\}")


def render(settings: Settings, outdir: Path) -> list[Path]:
    """Render the engine's part of FreeSWITCH's configuration into ``outdir`` (the conf directory layout):
    the event socket, the inbound routes that park calls for the engine, the agents' feature codes, their SIP
    users, and the three-way conference profile. Returns the files written."""
    switch = settings.switch
    return [
        _write(EVENT_SOCKET, outdir, {
            "listen_ip": _listen_ip(switch.host),
            "listen_port": str(switch.port),
            "password": switch.password.get_secret_value(),
            "inbound_acl": switch.inbound_acl,
        }),
        _save(outdir / PUBLIC_DIALPLAN, _public_dialplan(settings)),
        _save(outdir / AGENT_DIALPLAN, _agent_dialplan(settings)),
        _save(outdir / DIRECTORY, _directory(settings)),
        _save(outdir / CONFERENCE_PROFILE, _conference_profile()),
    ]


def _extension(parent: ET.Element, name: str, numbers: list[str], actions: list[tuple[str, str]]) -> None:
    """An extension matching any of ``numbers`` (digits or feature codes, validated at load) exactly."""
    extension = ET.SubElement(parent, "extension", name=name)
    pattern = "|".join(re.escape(number) for number in numbers)
    condition = ET.SubElement(extension, "condition", field="destination_number", expression=f"^({pattern})$")
    for app, data in actions:
        ET.SubElement(condition, "action", application=app, **({"data": data} if data else {}))


def _referred(parent: ET.Element) -> None:
    """A hotline caller their agent's softphone transferred (a blind SIP REFER: FreeSWITCH sends the caller to
    the Refer-To number in the caller's own context, ``sip_refer_to`` set) is parked for the engine, which carries
    the transfer out; whatever number the phone named, the caller is never left to a missing route."""
    extension = ET.SubElement(parent, "extension", name=REFERRED_EXTENSION)
    ET.SubElement(extension, "condition", field="${hotline_queue}", expression=".")
    ET.SubElement(ET.SubElement(extension, "condition", field="${sip_refer_to}", expression="."), "action",
                  application="park")


def _public_dialplan(settings: Settings) -> ET.Element:
    """Citizens' calls on the service numbers (and 110's hand-over number) are parked for the engine over inbound
    ESL: a parked call survives an engine restart, where a ``socket`` connection would die with the process.

    The safety net, for when no engine takes a call (down, restarting, cut off): the caller hears ringback
    (``ring_ready``) rather than silence, and FreeSWITCH's scheduler transfers the call after ``after`` seconds
    to the net's extension, which plays a message and sends the caller to the overflow number or says goodbye.
    The engine cancels that transfer (``sched_del``) the moment it takes the call."""
    root = ET.Element("include")
    _referred(root)
    _extension(root, "hotline_service_numbers", settings.centre.service_numbers, _parking(settings))
    if settings.ivr.emergency.from_110:
        _extension(root, "hotline_from_110", [settings.ivr.emergency.from_110], _parking(settings))
    net = settings.ivr.safety_net
    if net.enabled:
        prompt = PromptLibrary(Path(settings.ivr.prompt_cache)).path(settings.ivr.prompt(net.prompt))
        then = [("bridge", f"{settings.ivr.trunk}/{net.number}")] if net.then == "number" else []
        _extension(root, NET_EXTENSION, [NET_EXTENSION],
                   [("set", f"{NET_MARK}=fired"), ("answer", ""), ("playback", prompt), *then,
                    ("hangup", "NORMAL_CLEARING")])
    return root


def _parking(settings: Settings) -> list[tuple[str, str]]:
    net = settings.ivr.safety_net
    if not net.enabled:
        return [("park", "")]
    return [("ring_ready", ""), ("sched_transfer", f"+{net.after} {NET_EXTENSION} XML public"), ("park", "")]


def _agent_dialplan(settings: Settings) -> ET.Element:
    """Agents' softphones (the default context) park feature codes for the engine, and supervisors' theirs (a code
    and an agent's number); they may also dial the
    service numbers, to test the line as a citizen would, and the linkage directory's numbers, which go out
    through the entry's trunk with its caller ID, as the toolbar's transfers do: a softphone's own consultation
    with 110, followed by its attended transfer (REFER with Replaces), then reaches 110 the same way."""
    root = ET.Element("include")
    _referred(root)
    _extension(root, "hotline_feature_codes", sorted(feature_codes.numbers(settings.acd)), [("park", "")])
    supervising = ET.SubElement(root, "extension", name="hotline_supervisor_codes")
    ET.SubElement(ET.SubElement(supervising, "condition", field="destination_number",
                                expression=feature_codes.supervisor_pattern(settings.acd)), "action", application="park")
    _extension(root, "hotline_service_numbers", settings.centre.service_numbers, _parking(settings))
    for key in settings.linkage.directory:
        unit = resolve(key, settings)
        _extension(root, f"hotline_linkage_{key}", [unit.number],
                   [("set", f"effective_caller_id_number={unit.caller_id}"), ("bridge", unit.dial)])
    return root


def _directory(settings: Settings) -> ET.Element:
    """A SIP user per agent whose contact is ``user/<id>`` and who has a ``sip_password``."""
    root = ET.Element("include")
    for agent_id, agent in settings.acd.agents.items():
        user = sip_user(agent.contact)
        if user is None or agent.sip_password is None:
            continue
        element = ET.SubElement(root, "user", id=user)
        params = ET.SubElement(element, "params")
        ET.SubElement(params, "param", name="password", value=agent.sip_password.get_secret_value())
        variables = ET.SubElement(element, "variables")
        for name, value in (("user_context", "default"), ("effective_caller_id_number", user),
                            ("effective_caller_id_name", agent.name or agent_id), ("hotline_agent_id", agent_id)):
            ET.SubElement(variables, "variable", name=name, value=value)
    return root


REFERRED_EXTENSION = "hotline_referred"
CONFERENCE = "hotline"
"""The conference profile's name: each three-way call is a room of it, ``hotline-<caller's UUID>``."""


def _conference_profile() -> ET.Element:
    """The profile three-way calls (caller, agent, 110 or a department) and supervisor barge-in use."""
    profile = ET.Element("profile", name=CONFERENCE)
    for name, value in (("rate", "8000"), ("interval", "20"), ("energy-level", "100"), ("comfort-noise", "true"),
                        ("moh-sound", "local_stream://moh")):
        ET.SubElement(profile, "param", name=name, value=value)
    return profile


def _save(target: Path, root: ET.Element) -> Path:
    ET.indent(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    header = "<!-- Rendered by hotline (switch_conf/render.py) from the engine's configuration: change that and " \
             "render again. -->\n"
    target.write_text(header + ET.tostring(root, encoding="unicode") + "\n", encoding="utf-8")
    return target


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
