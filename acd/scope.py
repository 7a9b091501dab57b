"""Who may act on which agent through the API, and what the audit log calls them: an agent only on themselves; a
supervisor token naming a supervisor (acd.supervisors) on the agents of their teams and the calls of their
queues; a supervisor token naming none, and an engineer's, on anyone."""

from __future__ import annotations

from config import Settings
from engine.capability import Request


def actor(request: Request) -> str:
    """As the audit log names who acted."""
    if request.role == "supervisor" and request.supervisor:
        return f"supervisor:{request.supervisor}"
    return request.role if request.role != "agent" else f"agent:{request.agent}"


def allows(settings: Settings, request: Request, agent_id: str, queue: str | None) -> bool:
    """Whether ``request``'s token may act on agent ``agent_id``, whose call (if any) came through ``queue``."""
    if request.role == "agent":
        return request.agent == agent_id
    if request.role != "supervisor" or not request.supervisor:
        return True
    supervisor = settings.acd.supervisors[request.supervisor]
    agent = settings.acd.agents.get(agent_id)
    return supervisor.centre or (agent is not None and agent.team in supervisor.teams) or \
        (queue is not None and queue in supervisor.queues)
