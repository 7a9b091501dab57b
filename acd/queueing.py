"""The ACD as a capability of the engine: queues, agents and their legs, driven by the switch's facts.

It plugs the decision core (distributor) and the call model (connector) into the hub: facts and DTMF in,
commands and notices out; its timers on one greenlet; agents' feature codes; the agent API (``/agents``,
``/queues``); its journal sections (``agents``, ``callers``). On every reconciliation it settles its own legs with
the switch (vanished, answered, bridged), takes back conversations the switch still bridges and agents' own
calls, hangs up agent legs that belong to no call, and on the first one restores the journalled agents and
today's figures from the ticket store.
"""

from __future__ import annotations

import json
from typing import Callable, Iterable, get_args

import gevent
import structlog
from gevent.event import Event as Flag

from acd import agents as agents_module
from acd import distributor, feature_codes, phones, queues, scope
from acd.agents import AgentStateError
from acd.connector import Connector, Effect
from acd.distributor import Distributor
from acd.service_level import TENANT, ServiceLevel
from calls.book import Stage, ThreeWay
from calls.commands import CALL_KEY_EVENT, Kill
from calls.facts import (Answered, BridgeResult, Bridged, Created, Held, HungUp, OriginateResult, Parked, Unbridged)
from calls.legs import Leg, LegState, LegStateError, Role
from calls.notices import AgentMoved, Audited, Finished, ToQueue
from calls.record import CallTimeline
from calls.targets import TargetError, resolve
from config import Settings
from config.acd import Acd, CallAction
from engine.capability import Hub, Request
from engine.reconcile import Channel, LinkLost, Reconciled, Reconciling, SwitchView
from esl import EslError, Event, tokens
from tickets.audit import AuditEntry, ordered_id

log = structlog.get_logger(__name__)

CALL_ACTIONS: tuple[str, ...] = get_args(CallAction)
"""What an agent does to their own conversation (acd.connector.Connector): hold, resume, mute, unmute; transfer (blind),
consult, three_way (the agent stays) and linkage (a directory entry, by its mode) with the target in the body
(``{"to": "queue:general" | "agent:1002" | "110" | "<number>"}``); complete, cancel or join a consultation;
leave a three-way call; drop its unit; hangup (挂机, the toolbar's hang-up)."""
ACTIONS = ("login", "ready", "not_ready", "logout", *CALL_ACTIONS)
FACTS = (Created, Answered, Parked, Bridged, Unbridged, Held, HungUp, OriginateResult, BridgeResult)


class Queueing:
    def __init__(self, settings: Settings, saved_agents: dict[str, dict], today: Callable[[], Iterable[CallTimeline]]
                 = lambda: (), sound: Callable[[str], str] = str) -> None:
        """``saved_agents``: the journalled agents' states; ``today``: the ticket store's records of today;
        ``sound``: a prompt's file by its name (the IVR's prompts)."""
        self.settings = settings
        self.sound = sound
        self._saved_agents = saved_agents
        self._today = today
        self._wake = Flag()
        self._waiting_for: int | None = None
        """The due time the timer greenlet sleeps until (None: no timer)."""
        self._timers: gevent.Greenlet | None = None

    def attach(self, hub: Hub) -> None:
        self.hub = hub
        self.core = distributor_from(self.settings, hub.journal)
        self.core.moved = lambda t: hub.run([AgentMoved(t.agent, t.new.value, t.reason, t.at_ms)])
        self.connector = Connector(self.core, hub.book, hub.clock, feature_codes.numbers(self.settings.acd),
                                   unit_ring_s=self.settings.linkage.answer_timeout,
                                   survey=self.settings.ivr.survey.enabled,
                                   resolve=lambda text: resolve(text, self.settings),
                                   call_keys=tuple(sorted(self.settings.acd.call_keys)))
        self.connector.pause()  # until the first reconciliation has seen the switch
        for fact in FACTS:
            hub.on(fact, self._woken(self.connector.apply))
        hub.on(ToQueue, self._woken(self.connector.enqueue))
        hub.on(Finished, self._finished)
        hub.on(LinkLost, lambda _: self.connector.pause())
        hub.on(Reconciling, self._woken(self._reconcile))
        hub.on(Reconciled, self._woken(lambda _: self.connector.resume()))
        hub.on("DTMF", self._woken(self._key))
        hub.on(CALL_KEY_EVENT, self._woken(self._call_key))
        hub.on("CHANNEL_PARK", self._feature_code)
        for name in phones.EVENTS:
            hub.on(name, self._woken(self._registration))
        hub.route("GET", "/agents", self._agents)
        hub.route("POST", "/agents/{agent}/{action}", self._act)
        hub.route("GET", "/queues", lambda request: (200, self.queue_views()))
        hub.route("GET", "/tenants", lambda request: (200, self.tenant_views()))

    def start(self) -> None:
        for record in self._today():
            self.core.service_level.count(record)
        for agent_id, agent in self.settings.acd.agents.items():
            if agent.auto_login and agent_id not in self._saved_agents:
                self.command(agent_id, "login")
        self._timers = gevent.spawn(self._run_timers)

    def stop(self) -> None:
        if self._timers is not None:
            self._timers.kill()

    def command(self, agent_id: str, action: str, reason: str = "") -> None:
        """An agent's own request (feature code, toolbar, CLI); AgentStateError if the state forbids it."""
        effects = self.connector.command(agent_id, action, reason)
        self._rearm()
        self.hub.run(effects)

    # --- the decision core's clock --------------------------------------------------------------------------

    def _woken(self, handler: Callable[[object], list[Effect]]) -> Callable[[object], list[Effect]]:
        """Run ``handler``, then wake the timer greenlet if it brought the next timer forward."""
        def handle(message: object) -> list[Effect]:
            try:
                return handler(message)
            finally:
                self._rearm()
        return handle

    def _rearm(self) -> None:
        """Wake the timer greenlet only when the next timer falls before the one it sleeps until: waking it after
        every fact was a fifth of the engine's greenlet switches per call."""
        due = self.core.next_due()
        if due is not None and (self._waiting_for is None or due < self._waiting_for):
            self._wake.set()

    def _run_timers(self) -> None:
        while True:
            due = self._waiting_for = self.core.next_due()
            self._wake.clear()
            delay = None if due is None else max(0.0, (due - self.hub.clock()) / 1000)
            self._wake.wait(delay)
            if due is not None and self.hub.clock() >= due:
                self.hub.run(self.connector.tick())

    # --- switch events ----------------------------------------------------------------------------------------

    def _key(self, event: Event) -> list[Effect]:
        return self.connector.key_pressed(event.uuid, event.get("DTMF-Digit") or "")

    def _call_key(self, event: Event) -> list[object]:
        """An agent pressed an in-call key (``*<digit>``, acd.call_keys): the action as from the toolbar; one
        that does not apply now (resume while not held) is logged and nothing is done."""
        found = self.hub.book.find(event.uuid)
        key = self.settings.acd.call_keys.get(event.get("hotline_key") or "")
        if found is None or found[1].role is not Role.AGENT or key is None:
            return []
        try:
            return self.call_action(found[1].party, key.action, key.to)
        except (AgentStateError, LegStateError, ValueError) as exc:
            log.info("agent.call_key_refused", agent=found[1].party, action=key.action, error=str(exc))
            return []

    def _registration(self, event: Event) -> list[Effect]:
        registration = phones.registration_of(event)
        return self.connector.registration(registration) if registration is not None else []

    def _finished(self, finished: Finished) -> None:
        record = finished.record
        if record.queue_entry_ms is None:  # 呼损 (lost in the switch) counts here; the rest live, but for
            self.core.service_level.count(record)
        elif record.answered_ms is not None and record.queue in self.core.queues:  # what only the end tells
            self.core.service_level.handled(record.queue, record.queue_entry_ms, record.held_ms, record.consult_ms,
                                            record.tenant)

    def _feature_code(self, event: Event) -> None:
        """An agent dialled a feature code: carry it out, confirm it with a prompt, hang up."""
        agent = self.connector.phones.agents.get(event.get("variable_user_name") or "", "")  # who FreeSWITCH authenticated
        command = feature_codes.parse(self.settings.acd, agent, event.get("Caller-Destination-Number") or "")
        if command is None:
            return
        try:
            self.command(command.agent, command.action, command.reason)
            prompt, outcome = f"code_{command.action}", "done"
        except (AgentStateError, ValueError) as exc:
            prompt, outcome = "code_refused", str(exc)
        log.info("agent.feature_code", agent=command.agent, action=command.action, reason=command.reason,
                 outcome=outcome)
        self.answer_code(event.uuid, prompt)

    def answer_code(self, uuid: str, prompt: str) -> None:
        """A feature code's own call is answered with the prompt named ``prompt`` (done, or refused), then hung up."""
        link = self.hub.link
        try:
            link.execute(uuid, "answer", acknowledged=False)  # the prompt runs after it; its reply tells
            link.execute(uuid, "playback", tokens.app_argument(self.sound(prompt)), wait_complete=True)
            link.hangup(uuid)
        except EslError as exc:
            log.info("agent.feature_code_prompt_failed", uuid=uuid, error=str(exc))

    # --- reconciliation ---------------------------------------------------------------------------------------

    def _reconcile(self, reconciling: Reconciling) -> list[Effect]:
        view, book = reconciling.view, self.hub.book
        up = {leg.uuid for _, leg in book.legs() if leg.up}
        effects = self.connector.registrations(self._registrations(view))
        effects += self.connector.reconcile(view.details)
        view.fixed["legs_gone_unseen"] += len(up - {leg.uuid for _, leg in book.legs() if leg.up})
        view.fixed["legs_hung_up"] += sum(isinstance(effect, Kill) for effect in effects)
        on_call: dict[str, str] = {}
        supervising = []
        for channel in view.unknown(book):
            agent = channel.var("hotline_agent")
            if channel.var("hotline_supervisor") is not None:
                supervising.append(channel)  # once the conversations are taken back
                continue
            if channel.var("hotline_unit") is not None and view.details(channel.var("hotline_call") or "") is None:
                effects.append(Kill(channel.uuid, "ORIGINATOR_CANCEL"))  # a third party whose caller is gone: its
                view.fixed["orphan_legs_hung_up"] += 1  # call finished while its legs' hang-ups were cut off
                continue
            if agent is None:
                effects += self.connector.apply(
                    Created(channel.uuid, user=channel.var("user_name") or channel.var("dialed_user"),
                            dialled=channel.destination))
                continue
            caller = view.details(channel.var("hotline_call") or "")
            if caller is not None and caller.var("bridge_to") == channel.uuid and agent in self.core.agents \
                    and book.find(caller.uuid) is None:
                on_call[agent] = self._adopt_conversation(view, caller, channel, agent)
                view.fixed["conversations_adopted"] += 1
            elif caller is not None and channel.application == caller.application == "conference" \
                    and agent in self.core.agents:
                on_call[agent] = self._adopt_room_member(view, caller, channel, agent)
                view.fixed["rooms_adopted"] += 1
            else:
                effects.append(Kill(channel.uuid, "ORIGINATOR_CANCEL"))
                view.fixed["orphan_legs_hung_up"] += 1
        for channel in supervising:
            ringing = self.connector.adopt_supervisor(channel)
            view.fixed["supervisors_hung_up" if ringing else "supervisors_kept"] += 1
            effects += ringing
        if on_call or self._saved_agents:
            self.core.restore(self._saved_agents, self.hub.clock(), on_call)
            self._saved_agents = {}  # taken back once, even if this reconciliation is cut short
        return effects

    @staticmethod
    def _registrations(view: SwitchView) -> list[tuple[str, str]]:
        """Every registration the switch holds (``show registrations``: user and Call-ID), replacing the events
        missed while the link was down."""
        rows = json.loads(view.link.api("show registrations as json")).get("rows", [])
        return [(row.get("reg_user", ""), row.get("token", "")) for row in rows]

    def _adopt_conversation(self, view: SwitchView, caller: Channel, channel: Channel, agent: str) -> str:
        """A conversation the switch still bridges after a restart: followed to its end, its agent on the call.
        Returns the queue it came from."""
        record = view.records.get(caller.uuid) or CallTimeline(
            caller.uuid, caller.caller_number, caller.destination, caller.created_ms,
            queue=caller.var("hotline_queue"), queue_entry_ms=caller.ms_var("hotline_entered"),
            agent=agent, exit_reason="answered")
        call = self.hub.book.restore(record, LegState.BRIDGED, Stage.CONNECTED)
        call.caller.peer = channel.uuid
        self.hub.book.add(call, Leg(channel.uuid, Role.AGENT, agent, LegState.BRIDGED, peer=call.id,
                                    outcome="answered"))
        call.agent_leg = channel.uuid
        queue = record.queue if record.queue in self.core.queues else next(iter(self.core.queues))
        if record.queue_entry_ms is not None and record.answered_ms is not None:
            self.core.service_level.request(queue, record.queue_entry_ms, record.tenant)
            self.core.service_level.answered(queue, record.queue_entry_ms, record.answered_ms, record.tenant)
        return queue

    def _adopt_room_member(self, view: SwitchView, caller: Channel, channel: Channel, agent: str) -> str:
        """An agent still in a three-way room with their caller after a restart: on the call until they leave."""
        book = self.hub.book
        record = view.records.get(caller.uuid) or CallTimeline(
            caller.uuid, caller.caller_number, caller.destination, caller.created_ms, agent=agent,
            exit_reason="answered")
        call = book.get(caller.uuid) or book.restore(record, LegState.ANSWERED, Stage.CONNECTED)
        call.stage, call.agent_leg = Stage.CONNECTED, channel.uuid
        call.three_way = call.three_way or ThreeWay(f"hotline-{caller.uuid}", "", agent_leaves=False)
        book.add(call, Leg(channel.uuid, Role.AGENT, agent, LegState.ANSWERED, outcome="answered"))
        return call.record.queue if call.record.queue in self.core.queues else next(iter(self.core.queues))

    # --- the agent API ------------------------------------------------------------------------------------------

    def _agents(self, request: Request) -> tuple[int, object]:
        calls = self.connector.conversations()
        return 200, [self._agent_view(a, calls) for a in self.core.agents
                     if scope.allows(self.settings, request, a, self.call_queue(calls.get(a)))]

    def call_queue(self, conversation: dict[str, object] | None) -> str | None:
        """The queue of the call an agent is on (``conversation``: theirs, from Connector.conversations), if any:
        one lookup, so listing every agent for a scope is one pass over the book, not one per agent."""
        call = self.hub.book.get(str(conversation["call"])) if conversation else None
        return call.record.queue if call is not None else None

    def queue_of(self, agent_id: str) -> str | None:
        """The queue of the call the agent is on, if any."""
        return self.call_queue(self.connector.conversations().get(agent_id))

    def audited(self, request: Request, agent_id: str, action: str,
                act: Callable[[Request, str, str], tuple[int, object]]) -> tuple[int, object]:
        """``act`` on the agent; what a supervisor or engineer did, on which call, and what came of it, to the
        audit log (an agent acting on themselves is not audited). Returns what ``act`` answered."""
        call = (self.connector.conversations().get(agent_id) or {}).get("call")
        asked_ms = self.hub.clock()
        made = ordered_id(asked_ms)
        status, body = answer = act(request, agent_id, action)
        if request.role != "agent":
            result = "done" if status == 200 else str(body.get("error", status)) if isinstance(body, dict) else str(status)
            detail = str(request.body().get("reason") or request.body().get("to") or "")
            self.hub.run([Audited(AuditEntry(asked_ms, scope.actor(request), action, agent_id, call,  # type: ignore[arg-type]
                                             result, detail, made))])
        return answer

    def _act(self, request: Request) -> tuple[int, object]:
        agent_id, action = request.params["agent"], request.params["action"]
        if agent_id not in self.core.agents:
            return 404, {"error": f"no agent {agent_id!r}"}
        return self.audited(request, agent_id, action, self._act_on)

    def _act_on(self, request: Request, agent_id: str, action: str) -> tuple[int, object]:
        if not scope.allows(self.settings, request, agent_id, self.queue_of(agent_id)):
            return 403, {"error": "an agent token acts only on its own agent" if request.role == "agent" else
                         f"agent {agent_id} is not in your teams or queues"}
        if action not in ACTIONS:
            return 404, {"error": f"unknown action {action!r}; one of {', '.join(ACTIONS)}"}
        reason = ""
        if action == "not_ready":
            reason = str(request.body().get("reason", ""))
            if reason not in self.settings.acd.reasons:
                return 400, {"error": f"reason must be one of {', '.join(self.settings.acd.reasons)}"}
        try:
            if action in CALL_ACTIONS:
                self.hub.run(self.call_action(agent_id, action, str(request.body().get("to", ""))))
            else:
                self.command(agent_id, action, reason)
        except TargetError as exc:
            return 400, {"error": str(exc)}
        except (AgentStateError, LegStateError, ValueError) as exc:
            return 409, {"error": str(exc)}
        return 200, self._agent_view(agent_id, self.connector.conversations())

    def call_action(self, agent_id: str, action: str, to: str = "") -> list[object]:
        """Carry out a call action (CALL_ACTIONS) for the agent: TargetError, LegStateError or AgentStateError
        if it cannot be, before anything is sent."""
        connector = self.connector
        if action in ("hold", "resume", "mute", "unmute"):
            return connector.call_control(agent_id, action)
        if action == "leave":
            return connector.leave(agent_id)
        if action == "drop":
            return connector.drop(agent_id)
        if action == "hangup":
            return connector.hang_up(agent_id)
        if action in ("complete", "cancel", "join"):
            return connector.finish_consult(agent_id, action)
        target = resolve(to, self.settings)
        if action == "transfer":
            return connector.transfer(agent_id, target)
        if action == "consult":
            return connector.consult(agent_id, target)
        if action == "linkage" and target.kind != "directory":
            raise TargetError(f"linkage is to a directory entry ({', '.join(sorted(self.settings.linkage.directory))})")
        return connector.three_way(agent_id, target, agent_leaves=action == "linkage" and target.mode == "handover")

    def _agent_view(self, agent_id: str, calls: dict[str, dict[str, object]]) -> dict[str, object]:
        """An agent as the toolbar shows them, with their call (``calls``: Connector.conversations) if any."""
        agent = self.core.agents[agent_id]
        return {"id": agent.id, "state": agent.state.value, "reason": agent.reason, "since_ms": agent.since_ms,
                "calls_answered": agent.calls_answered, "registered": agent.registered, "call": calls.get(agent_id)}

    def agent_views(self) -> list[dict[str, object]]:
        """Every agent as the toolbar shows them, with their call."""
        calls = self.connector.conversations()
        return [self._agent_view(agent_id, calls) for agent_id in self.core.agents]

    def queue_views(self) -> list[dict[str, object]]:
        """Each queue now and today (the centre's day): callers waiting, the longest wait, answered, abandoned,
        transfers in, average hold and consultation, and the 12345 answer rate at each threshold, over the calls
        decided for it."""
        return [{"queue": name, **self._line_view(name)} for name in self.core.queues]

    def tenant_views(self) -> list[dict[str, object]]:
        """The same for each operation centre (分中心) configured, over its callers in every queue."""
        return [{"tenant": name, **self._line_view(TENANT + name)} for name in self.settings.ivr.tenants]

    def _line_view(self, key: str) -> dict[str, object]:
        core, now = self.core, self.hub.clock()
        waiting, today = core.waiting_under(key), core.service_level.today(key, now)
        return {"waiting": len(waiting), "longest_wait_s": round((now - min(waiting, default=now)) / 1000, 1),
                "answered_today": today.answered, "abandoned_today": today.abandoned,
                "transfers_in_today": today.transfers_in,
                "average_hold_s_today": round(today.held_ms_total / max(1, today.answered) / 1000, 1),
                "average_consult_s_today": round(today.consult_ms_total / max(1, today.answered) / 1000, 1),
                **{f"answered_within_{t}s_today": core.answered_within_today(key, t, now)
                   for t in core.service_level.thresholds_s}}


def distributor_from(settings: Settings, journal: object | None = None) -> Distributor:
    """The decision core as configured: queues, agents (logged out until they log in), policies."""
    acd: Acd = settings.acd
    specs = [queues.QueueSpec(
        name, q.skill, q.min_level, queues.Strategy(q.strategy),
        tuple(queues.Widening(w.after, w.min_level) for w in q.widening), q.max_waiting, q.max_wait,
        queues.Overflow(q.on_full.action, q.on_full.target), queues.Overflow(q.on_timeout.action, q.on_timeout.target),
        queues.Overflow(q.on_no_agents.action, q.on_no_agents.target) if q.on_no_agents else None,
        q.wrap_up, q.ring_timeout, q.sticky.window, q.sticky.wait, q.announce_every, q.exit_key,
        queues.Overflow(q.on_exit.action, q.on_exit.target),
    ) for name, q in acd.queues.items()]
    policy = {cause: distributor.CausePolicy(p.delay, p.limit, "offer_failed" if cause == "failed" else cause)
              for cause, p in acd.no_answer.items()}
    core = Distributor(specs, policy, ServiceLevel(tuple(acd.service_level.thresholds), acd.service_level.quick_abandon,
                                                   settings.centre.timezone), journal=journal)  # type: ignore[arg-type]
    for agent_id, agent in acd.agents.items():
        # a SIP user's phone counts as registered once the switch lists it (at the first reconciliation)
        core.add_agent(agents_module.Agent(agent_id, agent.contact, dict(agent.skills),
                                           registered=phones.sip_user(agent.contact) is None))
    return core
