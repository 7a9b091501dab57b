"""Supervisors as a capability of the engine: ``POST /supervise/<agent>/<action>`` to listen to an agent's call,
whisper, barge, take it over, end it (强拆) or stop listening, with the same rules however it is reached (the API,
``hotline supervise``, a code dialled from the supervisor's phone): a supervisor, the agent within their teams or
queues, and an audit entry for every attempt. Listening over the API needs a token naming a supervisor: it is
their phone (``acd.supervisors``) that rings; dialled from the phone (*31 and the agent's number), it is that
call that listens, the supervisor known by the SIP user FreeSWITCH authenticated, never by caller ID.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from acd import feature_codes, phones, scope
from acd.agents import AgentStateError
from acd.queueing import Queueing
from acd.supervision import MODES
from calls.legs import LegStateError
from config import Settings
from engine.capability import Hub, Request
from esl import Event

ACTIONS = (*MODES, "takeover", "hangup", "stop")


@dataclass(frozen=True, slots=True)
class PhoneRequest:
    """A code dialled from a supervisor's phone, as the API's rules see a request."""

    supervisor: str
    role: str = "supervisor"
    agent: str = ""
    params: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, object]:
        return {}


class Supervisors:
    def __init__(self, settings: Settings, queueing: Queueing) -> None:
        self.settings = settings
        self.queueing = queueing
        self._phones = {user: name for name, supervisor in settings.acd.supervisors.items()
                        if (user := phones.sip_user(supervisor.contact)) is not None}
        """Supervisors by their phone's SIP user."""

    def attach(self, hub: Hub) -> None:
        self.hub = hub
        hub.route("POST", "/supervise/{agent}/{action}", self._act)
        hub.on("CHANNEL_PARK", self._dialled)

    def _dialled(self, event: Event) -> list[object]:
        """A supervisor's phone dialled a supervisor's code (parked by the rendered dialplan)."""
        supervisor = self._phones.get(event.get("variable_user_name") or "")
        asked = feature_codes.parse_supervisor(self.settings.acd, event.get("Caller-Destination-Number") or "")
        if supervisor is None or asked is None:
            return []
        mode, agent_id = asked
        if agent_id not in self.queueing.core.agents:
            self.queueing.answer_code(event.uuid, "code_refused")
            return []

        def listen(request: Request, agent: str, action: str) -> tuple[int, object]:
            if not scope.allows(self.settings, request, agent, self.queueing.queue_of(agent)):
                return 403, {"error": f"agent {agent} is not in your teams or queues"}
            try:
                self.hub.run(self.queueing.connector.supervise_from_phone(supervisor, event.uuid, agent, action))
            except (LegStateError, ValueError) as exc:
                return 409, {"error": str(exc)}
            return 200, {}

        status, _ = self.queueing.audited(PhoneRequest(supervisor), agent_id, mode, listen)
        if status != 200:
            self.queueing.answer_code(event.uuid, "code_refused")
        return []

    def _act(self, request: Request) -> tuple[int, object]:
        agent_id, action = request.params["agent"], request.params["action"]
        if agent_id not in self.queueing.core.agents:
            return 404, {"error": f"no agent {agent_id!r}"}
        return self.queueing.audited(request, agent_id, action, self._carry_out)

    def _carry_out(self, request: Request, agent_id: str, action: str) -> tuple[int, object]:
        if request.role not in ("supervisor", "engineer"):
            return 403, {"error": "supervising takes a supervisor's token"}
        if action not in ACTIONS:
            return 404, {"error": f"unknown action {action!r}; one of {', '.join(ACTIONS)}"}
        if not scope.allows(self.settings, request, agent_id, self.queueing.queue_of(agent_id)):
            return 403, {"error": f"agent {agent_id} is not in your teams or queues"}
        connector, supervisor = self.queueing.connector, request.supervisor
        if action != "hangup" and not supervisor:
            return 403, {"error": f"{action} rings a supervisor's phone: use a token naming one (acd.supervisors)"}
        try:
            if action in MODES:
                contact = self.settings.acd.supervisors[supervisor].contact
                effects = connector.supervise(supervisor, contact, agent_id, action)
            elif action == "takeover":
                effects = connector.take_over(supervisor, agent_id)
            elif action == "stop":
                effects = connector.stop_supervising(supervisor, agent_id)
            else:
                effects = connector.force_hangup(supervisor or scope.actor(request), agent_id)
        except (AgentStateError, LegStateError, ValueError) as exc:
            return 409, {"error": str(exc)}
        self.hub.run(effects)
        return 200, {"agent": agent_id, "action": action,
                     "supervisors": connector.supervisors_of().get(agent_id, [])}
