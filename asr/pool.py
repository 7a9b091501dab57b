"""ASR as an engine capability: ``asr.workers`` worker processes (asr.worker) draining the transcription backlog,
each woken when recordings join it, each started again if it dies. What they report is logged, and a keyword
heard is told to the supervisors (KeywordHeard, which the console shows; at start, today's again). The engine's hub only reads their
lines: the decoding and recognition, seconds of CPU per call, happen in the workers.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import gevent
import structlog
from gevent import subprocess
from gevent.event import Event

from acd.floor import ALERTS_KEPT
from calls.notices import KeywordHeard, RecordingsKept
from config import Settings
from engine.capability import Hub
from tickets.store import TicketStore, off_hub
from tickets.transcripts import Transcripts

log = structlog.get_logger(__name__)
RESTART_S = 5.0
"""The pause before a worker that died is started again (a model that fails to load must not spin)."""


class Transcription:
    def __init__(self, settings: Settings, tickets: TicketStore) -> None:
        self.settings = settings
        self.tickets = tickets
        self.workers: list[subprocess.Popen] = []
        self._minders: list[gevent.Greenlet] = []
        self.ready = Event()
        """Set once every worker has loaded the model (tests wait on it)."""
        self._loaded = 0

    def attach(self, hub: Hub) -> None:
        self.hub = hub
        if self.settings.asr.enabled:
            hub.on(RecordingsKept, lambda _: self._wake())

    def start(self) -> None:
        if self.settings.asr.enabled:
            self._minders = [gevent.spawn(self._mind, n) for n in range(self.settings.asr.workers)]
            self._minders.append(gevent.spawn(self._recall))

    def stop(self) -> None:
        """Stop minding the workers, then close their stdin (each ends after the recording in hand) and wait for
        them. The list is taken first: a minder killed takes its worker off ``workers`` on the way out."""
        workers = list(self.workers)
        gevent.killall(self._minders)
        for worker in workers:
            worker.stdin.close()
        for worker in workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()

    def _wake(self) -> None:
        for worker in self.workers:
            try:
                worker.stdin.write(b"\n")
                worker.stdin.flush()
            except OSError:  # it died: its minder starts another, which looks at the backlog first
                pass

    def _mind(self, number: int) -> None:
        """Run worker ``number``, reading its reports, and start it again whenever it ends."""
        asr = self.settings.asr
        settings = {"store": self.settings.tickets.url, "model": asr.model, "vocabulary": asr.vocabulary,
                    "keywords": asr.keywords, "attempts": asr.attempts}
        while True:
            worker = subprocess.Popen([sys.executable, "-m", "asr.worker"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE)
            self.workers.append(worker)
            try:
                worker.stdin.write(json.dumps(settings).encode() + b"\n")
                worker.stdin.flush()
                for line in worker.stdout:
                    self._heard(number, json.loads(line))
                code = worker.wait()
            finally:
                self.workers.remove(worker)
            log.error("asr.worker_ended", worker=number, code=code)
            gevent.sleep(RESTART_S)

    def _heard(self, number: int, report: dict) -> None:
        if report.get("ready"):
            self._loaded += 1
            if self._loaded >= self.settings.asr.workers:
                self.ready.set()
            log.info("asr.worker_ready", worker=number)
        elif "failed" in report:
            (log.error if report["final"] else log.warning)("asr.transcription_failed", worker=number, **report)
        else:
            log.info("asr.transcribed", worker=number, call=report["call_id"], kind=report["kind"],
                     utterances=report["utterances"], flags=len(report["flags"]))
            if report["flags"]:
                self._alert(report)

    def _alert(self, report: dict) -> None:
        heard = self._heard_in(report["call_id"], report["flags"], self.hub.clock())
        log.warning("asr.keyword_heard", call=heard.call_id, agent=heard.agent, queue=heard.queue,
                    words=[flag["word"] for flag in heard.flags])
        self.hub.run([heard])

    def _recall(self) -> None:
        """Today's alerts (the centre's day) from the store, oldest first, so a restarted engine's console still
        shows them."""
        zone = ZoneInfo(self.settings.centre.timezone)
        midnight = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        found = off_hub(Transcripts(self.tickets).search, "", int(midnight.timestamp() * 1000), True, ALERTS_KEPT)
        self.hub.run([self._heard_in(t.call_id, t.flags, t.done_ms or 0) for t in reversed(found or [])])

    def _heard_in(self, call_id: str, flags: list[dict], at_ms: int) -> KeywordHeard:
        record = off_hub(self.tickets.get, call_id)  # None: not stored yet, or the store is down
        return KeywordHeard(call_id, record.agent if record else None, record.queue if record else None,
                            record.caller_number if record else "", tuple(flags), at_ms)
