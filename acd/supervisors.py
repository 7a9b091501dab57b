"""Supervisors as a capability of the engine: ``POST /supervise/<agent>/<action>`` to listen to an agent's call,
whisper, barge, take it over, end it (强拆) or stop listening, with the same rules however it is reached (the API,
``hotline supervise``, the console): a supervisor token, the agent within its teams or queues, and an audit entry
for every attempt. Listening needs a token naming a supervisor: it is their phone (``acd.supervisors``) that rings.
"""

from __future__ import annotations

from acd import scope
from acd.agents import AgentStateError
from acd.queueing import Queueing
from acd.supervision import MODES
from calls.legs import LegStateError
from config import Settings
from engine.capability import Hub, Request

ACTIONS = (*MODES, "takeover", "hangup", "stop")


class Supervisors:
    def __init__(self, settings: Settings, queueing: Queueing) -> None:
        self.settings = settings
        self.queueing = queueing

    def attach(self, hub: Hub) -> None:
        self.hub = hub
        hub.route("POST", "/supervise/{agent}/{action}", self._act)

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
