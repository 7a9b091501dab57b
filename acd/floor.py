"""The floor as supervisors watch it (the web console's data): each agent's state, reason and time in it, the call
they are on and who listens to it; each queue now and today; today's volume and service level by half hour in the
centre's time zone. ``GET /floor`` answers it once; ``GET /floor/events`` streams it (server-sent events) whenever
it changes, so the browser never polls. A supervisor token naming a supervisor sees their teams' agents (and
agents on their queues' calls) and their queues; other supervisor and engineer tokens see everything.
"""

from __future__ import annotations

import json
import time
from collections import deque
from typing import Iterator

import gevent

from acd import scope
from acd.queueing import Queueing
from calls.notices import KeywordHeard
from config import Settings
from engine.api import Raw
from engine.capability import Hub, Request

SLOT_MS = 1_800_000
"""The chart's half hour."""
WATCH_S = 0.25
"""How often a stream looks for a change: a quarter of the second within which the console must show one."""
ALERTS_KEPT = 100
"""Keyword alerts the floor shows (newest first)."""
KEEP_ALIVE_S = 15.0
"""A comment line this often keeps proxies and the browser from closing a quiet stream."""


class Floor:
    def __init__(self, settings: Settings, queueing: Queueing) -> None:
        self.settings = settings
        self.queueing = queueing
        self.alerts: deque[KeywordHeard] = deque(maxlen=ALERTS_KEPT)
        """Keyword alerts from the transcripts since the engine started, newest last."""

    def attach(self, hub: Hub) -> None:
        self.hub = hub
        hub.on(KeywordHeard, self.alerts.append)
        hub.route("GET", "/floor", lambda request: self._watched(request) or (200, self.snapshot(request)))
        hub.route("GET", "/floor/events", lambda request: self._watched(request) or self._events(request))

    @staticmethod
    def _watched(request: Request) -> tuple[int, object] | None:
        """The floor is for supervisors and engineers: an agent's token is refused."""
        return (403, {"error": "the floor is for supervisors' and engineers' tokens"}) \
            if request.role not in ("supervisor", "engineer") else None

    def snapshot(self, request: Request) -> dict[str, object]:
        """The floor within ``request``'s scope, at the engine's clock (``at_ms``)."""
        acd, queueing = self.settings.acd, self.queueing
        listening = queueing.connector.supervisors_of()
        agents = []
        for view in queueing.agent_views():
            agent_id, call = str(view["id"]), view["call"]
            record = self.hub.book.get(str(call["call"])) if isinstance(call, dict) else None
            queue = record.record.queue if record is not None else None
            if not scope.allows(self.settings, request, agent_id, queue):
                continue
            configured = acd.agents.get(agent_id)
            if isinstance(call, dict):
                call = {**call, "answered_ms": record.record.answered_ms if record is not None else None, "queue": queue}
            agents.append({**view, "call": call, "name": configured.name if configured else "",
                           "team": configured.team if configured else None, "listening": listening.get(agent_id, [])})
        supervisor = acd.supervisors.get(request.supervisor) if request.role == "supervisor" else None
        shown = [q for q in queueing.queue_views() if supervisor is None or not supervisor.queues
                 or q["queue"] in supervisor.queues]
        alerts = [{"call": a.call_id, "agent": a.agent, "queue": a.queue, "caller": a.caller, "at_ms": a.at_ms,
                   "words": [f["word"] for f in a.flags], "categories": sorted({str(f["category"]) for f in a.flags})}
                  for a in reversed(self.alerts) if scope.allows(self.settings, request, a.agent or "", a.queue)]
        return {"at_ms": self.hub.clock(), "centre": self.settings.centre.name, "agents": agents, "queues": shown,
                "tenants": queueing.tenant_views(), "alerts": alerts,
                "reasons": list(acd.reasons), "can_listen": bool(request.supervisor),
                "timezone": self.settings.centre.timezone,
                "thresholds": list(acd.service_level.thresholds), "chart": self._chart([str(q["queue"]) for q in shown])}

    def _chart(self, queues: list[str]) -> dict[str, list]:
        """Today by half hour, midnight to now: requests for a human, and the share of them answered within 20 s
        (the 12345 form; the first threshold if 20 s is not configured), None where nobody asked."""
        levels = self.queueing.core.service_level
        thresholds = self.settings.acd.service_level.thresholds
        threshold = 20 if 20 in thresholds else thresholds[0]
        now = self.hub.clock()
        day = levels.day_start(now)
        starts = range(day, now + 1, SLOT_MS)
        counts = [levels.across("30min", start, queues) for start in starts]
        # A slot that ended more than the threshold ago holds no undecided caller: the line is scanned for the
        # last slot or two only, not 48 times each quarter second.
        core, decided_before = self.queueing.core, now - threshold * 1000
        undecided = [core.undecided(queues, (start, start + SLOT_MS), now, threshold)
                     if start + SLOT_MS > decided_before else 0 for start in starts]
        return {"start_ms": list(starts), "requests": [c.requests for c in counts], "threshold_s": [threshold],
                "service_level": [c.levels(threshold, waiting)["hotline_12345"] for c, waiting in zip(counts, undecided)]}

    def _events(self, request: Request) -> tuple[int, Raw]:
        return 200, Raw("text/event-stream; charset=utf-8", self._stream(request))

    def _stream(self, request: Request) -> Iterator[bytes]:
        """The snapshot at once, then again whenever anything but its clock changes."""
        shown, quiet_since = "", time.monotonic()
        while True:
            snapshot = self.snapshot(request)
            compared = json.dumps({**snapshot, "at_ms": None, "chart": None}, ensure_ascii=False, sort_keys=True)
            if compared != shown or time.monotonic() - quiet_since > KEEP_ALIVE_S:
                shown, quiet_since = compared, time.monotonic()
                yield f"event: floor\ndata: {json.dumps(snapshot, ensure_ascii=False)}\n\n".encode()
            gevent.sleep(WATCH_S)
