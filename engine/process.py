"""The engine process: the link to FreeSWITCH, the hub and its capabilities, the API, telemetry and the journal.

Calls reach the engine parked (``park`` in the dialplan, events over inbound ESL) rather than through the
``socket`` application, so a call belongs to FreeSWITCH and survives the engine: the next process finds it by
reconciling with the switch. The path of a call: ivr.front_door takes it and runs the IVR, acd.queueing puts it
through to an agent, recorder.recording records the conversation, ivr.survey asks the caller to rate it, and the
book hands its record to the ticket store's writer.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import gevent
import orjson
import redis
import structlog
from gevent.event import Event as Flag

from acd.floor import Floor
from asr.pool import Transcription
from acd.queueing import Queueing
from acd.supervisors import Supervisors
from calls.book import CALLS, CallBook
from console.web import Console
from calls.clock import Clock
from calls.notices import AgentMoved, Audited, Finished
from calls.record import CallTimeline
from config import Settings
from engine.api import EngineApi
from engine.capability import Hub
from engine.commands import SwitchCommands
from engine.journal import journal_for
from engine.reconcile import Reconciled, Reconciler, Reconciling
from esl import SwitchLink
from ivr.front_door import FrontDoor
from ivr.survey import Survey
from recorder.recording import Recording
from recorder.retrieval import Retrieval
from switch_conf import directory
from telemetry.http import TelemetryServer
from tickets.agent_states import StateChange
from tickets.store import TicketStore
from tickets.writer import RecordWriter

log = structlog.get_logger(__name__)

HEARTBEAT_S = 5.0
"""How often the engine tells the journal it is alive (``hotline status`` shows how long ago it last did)."""


class Engine:
    def __init__(self, settings: Settings, link: SwitchLink) -> None:
        self.settings = settings
        self.link = link
        self.clock = Clock()
        self.journal = journal_for(settings.state)
        saved_agents, saved_records = self._saved()
        self.records: deque[CallTimeline] = deque(maxlen=1000)
        """The newest finished records, for the demo and tests (all of them go to the ticket store)."""
        self.tickets = TicketStore(settings.tickets.url)
        self.writer: RecordWriter | None = None
        self.book = CallBook(lambda record: self.hub.run([Finished(record)]), self.journal)
        self.hub = Hub(settings, link, self.book, self.clock, self.journal)
        self.queueing = Queueing(settings, saved_agents, self._today, lambda name: self.front_door.flow.sound(name))
        self.front_door = FrontDoor(settings, self.tickets)
        self.recording = Recording(settings.recorder, settings.centre.timezone, self.tickets, settings.asr.enabled)
        self.transcription = Transcription(settings, self.tickets)
        for capability in (SwitchCommands(), Reconciler(saved_records), self.queueing,
                           Supervisors(settings, self.queueing), Floor(settings, self.queueing), Console(),
                           self.front_door,
                           Survey(settings.ivr.survey, lambda name: self.front_door.flow.sound(name)),
                           self.recording, Retrieval(settings, self.tickets), self.transcription):
            capability.attach(self.hub)
        self.hub.on(Finished, self._store)
        self.hub.on(Audited, self._audit)
        self.hub.on(AgentMoved, self._agent_moved)
        self.reconciled = Flag()
        """Set once the engine has reconciled with the switch after starting."""
        self.hub.on(Reconciled, lambda _: self.reconciled.set())
        self.hub.on(Reconciling, self._check_directory)
        self.refused: str | None = None
        """Why the engine stopped itself at start (agents' SIP users that are someone else's in the switch)."""
        self.api = EngineApi(settings.acd.api, self.hub.routes)
        self.telemetry = TelemetryServer(settings.telemetry.listen, self.health)
        self.stopped = Flag()
        self._beat: gevent.Greenlet | None = None

    def start(self) -> None:
        self.tickets.migrate()
        log.info("engine.prompts_ready", generated=self.front_door.prepare(), cache=self.settings.ivr.prompt_cache)
        self.writer = RecordWriter(self.tickets, Path(self.settings.tickets.spool_dir))
        self.writer.flush(5)  # what the spool holds counts in today's figures
        self.telemetry.start()
        self.api.start()
        self.queueing.start()
        self.front_door.blacklist.start()
        self.link.start()
        self.transcription.start()
        self._beat = gevent.spawn(self._heartbeat)
        log.info("engine.started", centre=self.settings.centre.name,
                 switch=f"{self.link.address[0]}:{self.link.address[1]}",
                 telemetry=f"{self.telemetry.address[0]}:{self.telemetry.address[1]}")

    def stop(self) -> None:
        """Intake first (requests, then the switch's events), then the capabilities, and only then the record
        spool and the journal, so that whatever the last events and the link's loss change is still written."""
        if self._beat is not None:
            self._beat.kill()
        self.api.stop()
        self.link.stop()
        self.queueing.stop()
        self.recording.stop()
        self.transcription.stop()
        self.front_door.blacklist.stop()
        if self.writer is not None:
            self.writer.flush(5)
            self.writer.close()
        self.journal.beat(self.clock(), link_up=False, stopped=True)
        self.journal.close()
        self.telemetry.stop()
        self.stopped.set()
        log.info("engine.stopped")

    def health(self) -> tuple[bool, str]:
        """Healthy only with the link up and reconciled; otherwise degraded, and why (no call is offered)."""
        host, port = self.link.address
        if not self.link.connected.is_set():
            return False, f"degraded: no ESL link to FreeSWITCH at {host}:{port}; no call is offered until it is back"
        if self.queueing.core.paused:
            return False, "degraded: reconciling with FreeSWITCH; no call is offered until it is done"
        return True, ""

    def _check_directory(self, reconciling: Reconciling) -> None:
        """At start, ask the switch whether each agent's SIP user is the one rendered for them; one that is
        someone else's (a stock example user) stops the engine: that agent's phone would keep a password nobody
        chose."""
        if not reconciling.view.first:
            return
        for agent in directory.unrendered(self.settings):
            log.warning("engine.agent_without_sip_user", agent=agent)
        findings = directory.check(self.settings, self.link.api)
        for finding in findings:
            log.error("engine.agent_sip_user", agent=finding.agent, user=finding.user, problem=str(finding))
        collisions = [str(finding) for finding in findings if finding.collides]
        if collisions and self.refused is None:
            self.refused = "\n".join(collisions)
            gevent.spawn(self.stop)

    def _audit(self, audited: Audited) -> None:
        """A supervisor's action: to the spool (then the audit log) and to the log."""
        if self.writer is not None:
            self.writer.entry(audited.entry)
        log.info("supervisor.audit", **orjson.loads(orjson.dumps(audited.entry)))

    def _agent_moved(self, moved: AgentMoved) -> None:
        """An agent's state change: to the spool (then the store's agent_states, which the report reads)."""
        if self.writer is not None:
            self.writer.entry(StateChange(moved.at_ms, moved.agent, moved.state, moved.reason))

    def _store(self, finished: Finished) -> None:
        """A call ended: its record goes to the spool (then the ticket store) and to the log."""
        record = finished.record
        if self.writer is not None:
            self.writer.push(record)
        self.records.append(record)
        log.info("call.record", **orjson.loads(record.to_json()), wait_ms=record.wait_ms)

    def _saved(self) -> tuple[dict[str, dict], dict[str, CallTimeline]]:
        """The journalled agents and live records of a previous process (nothing if the store cannot be read:
        the switch still tells which calls live and where their callers wait)."""
        try:
            records = {call_id: CallTimeline.from_dict(value) for call_id, value in self.journal.load(CALLS).items()}
            return self.journal.load("agents"), records
        except (OSError, ValueError, redis.RedisError) as exc:
            log.warning("engine.journal_unreadable", error=str(exc))
            return {}, {}

    def _today(self) -> list[CallTimeline]:
        """Today's finished calls from the ticket store, so the live figures are the whole day's after a restart."""
        day = self.queueing.core.service_level.day_start(self.clock())
        try:
            return self.tickets.since(day)
        except Exception as exc:  # the store down must not stop the engine: today's figures start from now
            log.warning("engine.today_unreadable", error=str(exc).splitlines()[0])
            return []

    def _heartbeat(self) -> None:
        while True:
            self.journal.beat(self.clock(), self.link.connected.is_set())
            gevent.sleep(HEARTBEAT_S)

