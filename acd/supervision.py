"""What supervisors (班长) do to agents' calls: listen (silent monitor), whisper (the agent hears them, the caller
does not), barge (a three-way call), switch between these while listening, take the call over, and end it
(强拆). FreeSWITCH's own means carry them: ``eavesdrop`` on the agent's leg with its whisper mixes and keys,
``intercept``, and ``uuid_kill``.

A part of acd.connector.Connector, like acd.call_control: pure, intentions and facts in, effects out. Who may act
on which agent (teams, queues) and the audit log are the API's (acd.queueing), which calls these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from calls.book import Call, CallBook, Stage
from calls.commands import Eavesdrop, Intercept, Kill, Originate, SetVars
from calls.facts import Channel
from calls.legs import Leg, LegState, LegStateError, Role
from calls.notices import AgentLeft

if TYPE_CHECKING:
    from acd.connector import Effect

MODES = ("listen", "whisper", "barge")
RING_S = 30
"""How long a supervisor's phone rings to listen in."""


class Supervision:
    """The supervision half of the connector (see the module's docstring)."""

    book: CallBook
    new_uuid: Callable[[], str]
    _conversation: Callable[[str], Leg]

    def supervise(self, supervisor: str, contact: str, agent_id: str, mode: str) -> list[Effect]:
        """Listen in on the agent's call in ``mode``: the supervisor's phone (``contact``) is rung, then eavesdrops
        on the agent's leg; already listening, it switches mode. LegStateError if the agent is in no call."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        call = self._supervised_call(agent_id)
        leg = self._supervisor_leg(call, supervisor)
        if leg is not None:
            call.supervised[leg.uuid] = mode
            return [Eavesdrop(leg.uuid, "", mode)] if leg.outcome == "answered" else []
        leg = self.book.add(call, Leg(self.new_uuid(), Role.SUPERVISOR, supervisor))
        call.supervised[leg.uuid] = mode
        return [Originate(leg.uuid, contact, RING_S, {"hotline_call": call.id, "hotline_supervisor": supervisor})]

    def supervise_from_phone(self, supervisor: str, uuid: str, agent_id: str, mode: str) -> list[Effect]:
        """The supervisor's phone dialled a supervisor's code for the agent: that call of theirs listens in. A
        second one on the same call is refused (switch modes on the first)."""
        call = self._supervised_call(agent_id)
        if self._supervisor_leg(call, supervisor) is not None:
            raise LegStateError(f"{supervisor} listens to agent {agent_id}'s call already: switch modes there")
        leg = self.book.add(call, Leg(uuid, Role.SUPERVISOR, supervisor, LegState.ANSWERED))
        call.supervised[leg.uuid] = mode
        marks = SetVars(uuid, {"hotline_call": call.id, "hotline_supervisor": supervisor})  # as the API's legs have
        return [marks, *self._supervisor_answered(call, leg)]

    def adopt_supervisor(self, channel: Channel) -> list[Effect]:
        """After a restart: a supervisor's leg the switch still has. One still ringing is hung up (nobody would move
        it into the call now); one listening in on a call the engine follows is that call's again, in the mode it
        was last put in; any other answered one (talking with a caller it took over) is left to talk."""
        if not channel.answered:
            return [Kill(channel.uuid)]
        found = self.book.get(channel.var("hotline_call") or "")
        supervisor = channel.var("hotline_supervisor") or ""
        if found is None or channel.application != "eavesdrop":
            return []
        leg = self.book.add(found, Leg(channel.uuid, Role.SUPERVISOR, supervisor, LegState.ANSWERED,
                                       outcome="answered"))
        found.supervised[leg.uuid] = channel.var("hotline_supervise") or "listen"
        return []

    def take_over(self, supervisor: str, agent_id: str) -> list[Effect]:
        """The supervisor, listening on their phone, takes the caller from the agent (the agent goes to
        wrap-up)."""
        call = self._supervised_call(agent_id)
        leg = self._supervisor_leg(call, supervisor)
        if leg is None or leg.outcome != "answered":
            raise LegStateError("listen to the call first: taking it over moves your listening phone into it")
        call.taken_over_by = supervisor
        return [Intercept(leg.uuid, call.id)]

    def force_hangup(self, supervisor: str, agent_id: str) -> list[Effect]:
        """End the agent's call (强拆): the caller's leg, which takes the others with it."""
        call = self._supervised_call(agent_id)
        self.book.ending(call.id, "supervisor")
        call.record.forced_by = supervisor
        call.caller.ending()
        return [Kill(call.id, "NORMAL_CLEARING")]

    def stop_supervising(self, supervisor: str, agent_id: str) -> list[Effect]:
        """The supervisor stops listening (their phone is hung up)."""
        call = self._supervised_call(agent_id)
        leg = self._supervisor_leg(call, supervisor)
        if leg is None or call.taken_over_by == supervisor:
            raise LegStateError(f"{supervisor} is not listening to agent {agent_id}'s call")
        leg.ending()
        return [Kill(leg.uuid)]

    def supervisors_of(self) -> dict[str, list[dict[str, str]]]:
        """Who listens to each agent's call, and how (for the floor)."""
        views: dict[str, list[dict[str, str]]] = {}
        for call in self.book.calls.values():
            agent = call.legs.get(call.agent_leg or "")
            for uuid, mode in call.supervised.items():
                leg = call.legs.get(uuid)
                if agent is not None and leg is not None and leg.up:
                    views.setdefault(agent.party, []).append({"supervisor": leg.party, "mode": mode})
        return views

    def _supervised_call(self, agent_id: str) -> Call:
        leg = self._conversation(agent_id)
        return self.book.find(leg.uuid)[0]  # type: ignore[index]

    @staticmethod
    def _supervisor_leg(call: Call, supervisor: str) -> Leg | None:
        return next((leg for leg in call.legs.values()
                     if leg.role is Role.SUPERVISOR and leg.party == supervisor and leg.up), None)

    def _supervisor_answered(self, call: Call, leg: Leg) -> list[Effect]:
        """The supervisor's phone answered (into park): it eavesdrops on the agent's leg, or, the call over or its
        agent gone meanwhile, is hung up."""
        agent = call.legs.get(call.agent_leg or "")
        if leg.outcome is not None or not leg.up or leg.ended_by_engine:
            return []
        if agent is None or not agent.up or not call.caller.up:
            leg.ending()
            return [Kill(leg.uuid)]
        leg.outcome = "answered"
        return [Eavesdrop(leg.uuid, agent.uuid, call.supervised.get(leg.uuid, "listen"))]

    def _supervisor_gone(self, call: Call, leg: Leg) -> list[Effect]:
        """A supervisor's phone hung up: nothing changes for the call, unless they had taken it over and the
        caller is still there (then, as after an agent, the survey)."""
        call.supervised.pop(leg.uuid, None)
        if call.taken_over_by == leg.party and call.caller.up and call.stage is Stage.CONNECTED:
            if leg.hung_up_by_party:
                self.book.ending(call.id, "supervisor")
            call.stage = Stage.AFTER
            return [AgentLeft(call.id)]
        return []
