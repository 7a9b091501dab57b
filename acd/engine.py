"""The engine process: its link to FreeSWITCH, its telemetry, and the path every call takes.

Calls reach the engine parked (``park`` in the dialplan, events over inbound ESL) rather than through the
``socket`` application, so a call survives an engine restart: it stays parked in FreeSWITCH and the new
process picks it up. The path: the IVR (ivr.call_flow: tenant, blacklist, hours, menus), then a queue with
music on hold until the ACD bridges an agent, then the survey if the agent hangs up first.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import gevent
import structlog
from gevent.event import Event as Flag

from acd import agents, distributor, feature_codes, queues
from acd.agents import AgentStateError
from acd.api import AgentApi
from acd.distributor import Announce
from acd.live_state import Journal, RedisState
from acd.runtime import AcdRuntime, wall_ms
from acd.service_level import ServiceLevel
from acd.tracking import CallTimeline, CallTracker, NoTimelineJournal
from config import Settings
from config.acd import Acd
from config.ivr import ANNOUNCED_UP_TO
from esl import EslError, Event, SwitchLink, tokens
from ivr.call_flow import CallFlow
from ivr.prompts import PromptLibrary
from ivr.survey import run_survey
from recorder.recording import Recorder
from telemetry.http import TelemetryServer
from tickets.region import caller_region
from tickets.store import TicketStore
from tickets.writer import RecordWriter

log = structlog.get_logger(__name__)


class Engine:
    """Owns the link and the telemetry server; hands each new call on a service number to the IVR."""

    def __init__(self, settings: Settings, link: SwitchLink) -> None:
        self.settings = settings
        self.link = link
        self.journal = RedisState(settings.state.redis_url, settings.state.prefix) \
            if settings.state.backend == "redis" else None
        self.records: list[CallTimeline] = []
        self.tickets = TicketStore(settings.tickets.url)
        self.writer: RecordWriter | None = None
        self.acd = AcdRuntime(distributor_from(settings.acd, self.journal), link,
                              tracker=CallTracker(self._finished, self.journal or NoTimelineJournal()),
                              on_agent_left=self._agent_left, announcement=self._announcement,
                              before_bridge=self._record)
        self.recorder = Recorder(link, Path(settings.recorder.folder))
        self.prompts = PromptLibrary(Path(settings.ivr.prompt_cache))
        self.flow = CallFlow(settings.ivr, link, self.prompts, self.tickets, self.acd.tracker, self._to_queue,
                             caller_region)
        self.api = AgentApi(settings.acd, self.acd, wall_ms)
        self.telemetry = TelemetryServer(settings.telemetry.listen, self.health)
        self.stopped = Flag()
        from_110 = [settings.ivr.emergency.from_110] if settings.ivr.emergency.from_110 else []
        self._service_numbers = frozenset([*settings.centre.service_numbers, *from_110])
        link.on("CHANNEL_PARK", self._on_park)
        self.recovered = Flag()
        if self.journal is not None:
            link.on_connected(self._recover)
        else:
            self.recovered.set()

    def start(self) -> None:
        self.tickets.migrate()
        ivr = self.settings.ivr
        generated = self.prompts.prepare(ivr.prompt(name) for name in sorted(ivr.prompt_names()))
        log.info("engine.prompts_ready", generated=generated, cache=self.settings.ivr.prompt_cache)
        self.writer = RecordWriter(self.tickets, Path(self.settings.tickets.spool_dir))
        self.telemetry.start()
        self.api.start()
        self.link.start()
        for agent_id, agent in self.settings.acd.agents.items():
            if agent.auto_login:
                self.acd.login(agent_id)
        log.info("engine.started", centre=self.settings.centre.name, switch=f"{self.link.address[0]}:{self.link.address[1]}",
                 telemetry=f"{self.telemetry.address[0]}:{self.telemetry.address[1]}")

    def stop(self) -> None:
        if self.writer is not None:
            self.writer.flush(5)
            self.writer.close()
        if self.journal is not None:
            self.journal.close()
        self.acd.stop()
        self.api.stop()
        self.link.stop()
        self.telemetry.stop()
        self.stopped.set()
        log.info("engine.stopped")

    def health(self) -> tuple[bool, str]:
        if self.link.connected.is_set():
            return True, ""
        return False, f"no ESL link to FreeSWITCH at {self.link.address[0]}:{self.link.address[1]}"

    def _on_park(self, event: Event) -> None:
        """A new call on a service number goes through the IVR to a queue; an agent's call may be a feature code.
        Runs on the call's own greenlet. A call parked again after its agent left (for the survey) is known."""
        dialled = event.get("Caller-Destination-Number") or ""
        uuid = event.uuid
        if dialled not in self._service_numbers:
            agent = self.acd.phones.get(event.get("variable_user_name") or "", "")  # who FreeSWITCH authenticated
            command = feature_codes.parse(self.settings.acd, agent, dialled)
            if command is not None:
                self._agent_command(uuid, command)
            return
        if uuid in self.acd.tracker.calls:
            return
        caller = event.get("Caller-Caller-ID-Number") or ""
        created_us = event.get("Caller-Channel-Created-Time") or ""
        self.acd.tracker.entered(uuid, caller, dialled, int(created_us) // 1000 if created_us.isdigit() else wall_ms())
        try:
            self.flow.run(uuid, caller, dialled)
        except EslError as exc:
            log.info("call.ivr_ended", uuid=uuid, error=str(exc))  # mostly: the caller hung up in the menus
            self.acd.tracker.ending(uuid, "system")
            self._hangup_quietly(uuid)

    def _to_queue(self, uuid: str, queue: str, caller: str, priority: int = 0) -> None:
        """Into the ACD with music on hold; the caller's leg outlives the agent's when a survey follows."""
        try:
            if self.settings.ivr.survey.enabled:
                self.link.execute(uuid, "set", "park_after_bridge=true")
            self.link.execute(uuid, "playback", self.settings.acd.queues[queue].music_on_hold)
        except EslError as exc:
            log.warning("call.queue_failed", uuid=uuid, error=str(exc))
            self.acd.tracker.ending(uuid, "system")
            self._hangup_quietly(uuid)
            return
        log.info("call.queued", uuid=uuid, queue=queue, priority=priority)
        self.acd.enqueue(uuid, queue, caller, priority)

    def _announcement(self, announce: Announce) -> list[str]:
        """Position and estimated wait in whole minutes (at least one), each capped at the prompts there are."""
        caller = self.acd.core.callers.get(announce.call_id)
        if caller is None:
            return []
        minutes = max(1, -(-announce.estimated_wait_s // 60))
        return [self.flow.sound(f"position_{min(announce.position, ANNOUNCED_UP_TO)}"),
                self.flow.sound(f"wait_{min(minutes, ANNOUNCED_UP_TO)}"),
                self.settings.acd.queues[caller.queue].music_on_hold]

    def _record(self, call_id: str) -> None:
        """Recording starts as the agent is bridged; a failure to start it is logged, never fatal to the call."""
        if not self.settings.recorder.enabled:
            return
        try:
            self.acd.tracker.note(call_id, recording=self.recorder.start(call_id))
        except EslError as exc:
            log.warning("call.recording_failed", uuid=call_id, error=str(exc))

    def _agent_left(self, call_id: str) -> None:
        """The agent hung up first: the caller, kept on the line, rates the call, then the call ends."""
        if not self.settings.ivr.survey.enabled:
            return
        gevent.spawn(self._survey, call_id)

    def _survey(self, call_id: str) -> None:
        try:
            ratings = run_survey(self.link, call_id, self.settings.ivr.survey, self.flow.sound)
        except EslError:
            return  # the caller hung up during it: their call's record says not rated
        self.acd.tracker.note(call_id, survey=ratings)
        self._hangup_quietly(call_id)

    def _hangup_quietly(self, uuid: str) -> None:
        try:
            self.link.hangup(uuid, "NORMAL_TEMPORARY_FAILURE")
        except EslError:
            pass  # the call or the link is already gone

    def _finished(self, timeline: CallTimeline) -> None:
        """A call ended: its record goes to the spool (then the ticket store) and to the log."""
        if timeline.queue_entry_ms is None and timeline.exit_reason == "system_failure":
            self.acd.core.service_level.lost_in_switch += 1  # 呼损: lost before distribution
        if self.writer is not None:
            self.writer.push(timeline)
        self.records.append(timeline)
        del self.records[:-1000]
        log.info("call.record", **{k: v for k, v in asdict(timeline).items() if k != "offers"},
                 offers=[asdict(offer) for offer in timeline.offers], wait_ms=timeline.wait_ms)

    def _recover(self) -> None:
        """Once, on the first link: take back agents and the callers FreeSWITCH still holds parked."""
        if self.recovered.is_set() or self.journal is None:
            return
        agents, callers = self.journal.load()
        timelines = self.journal.load_calls()
        saved_legs = self.journal.load_legs()
        legs = {agent: leg for agent, leg in saved_legs.items() if self._exists(leg["uuid"])}
        for agent in saved_legs.keys() - legs.keys():
            self.journal.leg_gone(agent)
        alive = {call_id for call_id in {*timelines, *(str(c["call_id"]) for c in callers)} if self._exists(call_id)}
        for caller in callers:
            if caller["call_id"] not in alive:
                self.journal.caller_gone(str(caller["call_id"]))
        self.acd.restore(agents, [caller for caller in callers if caller["call_id"] in alive], legs)
        for call_id, timeline in timelines.items():
            self.acd.tracker.restore(timeline)
            if call_id not in alive:
                self.acd.tracker.hung_up(call_id, None, None)  # ended while no engine ran: its record still goes in
            elif timeline.queue_entry_ms is None and timeline.answered_ms is None:  # was in the IVR: to a human
                self.acd.tracker.ivr(call_id, "restarted", wall_ms())
                tenant = self.settings.ivr.tenants.get(timeline.tenant or "") or next(iter(self.settings.ivr.tenants.values()))
                gevent.spawn(self._to_queue, call_id, tenant.queue, timeline.caller_number)
        log.info("engine.recovered", agents=len(agents), callers=len(callers), calls=len(timelines),
                 alive=len(alive))
        self.recovered.set()

    def _exists(self, call_id: str) -> bool:
        try:
            return self.link.api(f"uuid_exists {tokens.uuid(call_id)}").strip() == "true"
        except (EslError, ValueError):
            return False

    def _agent_command(self, uuid: str, command: feature_codes.AgentCommand) -> None:
        """Carry out a feature code, confirm it with a prompt and hang up."""
        try:
            self.acd.command(command.agent, command.action, command.reason)
            prompt, outcome = f"ivr/agent-{command.action}.wav", "done"
        except (AgentStateError, ValueError) as exc:
            prompt, outcome = "ivr/agent-refused.wav", str(exc)
        log.info("agent.feature_code", agent=command.agent, action=command.action, reason=command.reason,
                 outcome=outcome)
        try:
            self.link.execute(uuid, "answer", wait_complete=True)
            self.link.execute(uuid, "playback", prompt, wait_complete=True)
            self.link.hangup(uuid)
        except EslError as exc:
            log.info("agent.feature_code_prompt_failed", agent=command.agent, error=str(exc))


def distributor_from(acd: Acd, journal: Journal | None = None) -> distributor.Distributor:
    """The decision core as configured: queues, agents (logged out until they log in), policies."""
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
    core = distributor.Distributor(specs, policy, ServiceLevel(tuple(acd.service_level.thresholds),
                                                               acd.service_level.quick_abandon), journal=journal)
    for agent_id, agent in acd.agents.items():
        core.add_agent(agents.Agent(agent_id, agent.contact, dict(agent.skills)))
    return core
