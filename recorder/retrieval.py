"""Recordings retrieved over the engine's API, for complaints and audits: ``GET /recordings/<call>`` lists a call's
archived files, ``GET /recordings/<call>/<kind>`` streams one with HTTP range requests (so a browser's player can
seek). Supervisors within their teams and queues (the call's agent or queue) and engineers only; every retrieval,
refused or not, is in the audit log."""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

from acd import scope
from calls.notices import Audited
from config import Settings
from engine.api import STATUS, Raw
from engine.capability import Hub, Request
from tickets.audit import AuditEntry
from tickets.store import TicketStore, off_hub

TYPES = {"opus": "audio/ogg", "wav": "audio/wav"}
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class Retrieval:
    def __init__(self, settings: Settings, tickets: TicketStore) -> None:
        self.settings = settings
        self.tickets = tickets

    def attach(self, hub: Hub) -> None:
        self.hub = hub
        hub.route("GET", "/recordings/{call}", self._list)
        hub.route("GET", "/recordings/{call}/{kind}", self._get)

    def _allowed(self, request: Request, call_id: str) -> tuple[int, object] | None:
        """A refusal, or None: the token is a supervisor's (within scope) or an engineer's, and the call exists."""
        if request.role not in ("supervisor", "engineer"):
            return 403, {"error": "recordings are for supervisors' and engineers' tokens"}
        record = off_hub(self.tickets.get, call_id)
        if record is None:
            return 404, {"error": f"no call {call_id!r} in the ticket store"}
        if not scope.allows(self.settings, request, record.agent or "", record.queue):
            return 403, {"error": f"call {call_id} is not in your teams or queues"}
        return None

    def _list(self, request: Request) -> tuple[int, object]:
        call_id = request.params["call"]
        refused = self._allowed(request, call_id)
        return refused or (200, [asdict(item) for item in off_hub(self.tickets.recordings, call_id) or []])

    def _get(self, request: Request) -> tuple[int, object]:
        call_id, kind = request.params["call"], request.params["kind"]
        answer = self._allowed(request, call_id) or self._file(request, call_id, kind)
        status, body = answer
        result = "done" if status in (200, 206) else str(body.get("error")) if isinstance(body, dict) else STATUS[status]
        ranged = str(request.environ.get("HTTP_RANGE", ""))  # type: ignore[attr-defined]
        self.hub.run([Audited(AuditEntry(self.hub.clock(), scope.actor(request), "recording", None, call_id, result,
                                         f"{kind} {ranged}".strip()))])
        return answer

    def _file(self, request: Request, call_id: str, kind: str) -> tuple[int, object]:
        found = [item for item in off_hub(self.tickets.recordings, call_id) or [] if item.kind == kind]
        if not found or found[-1].purged_ms is not None or not Path(found[-1].path).exists():
            why = "purged by the retention policy" if found and found[-1].purged_ms else "missing"
            return 404, {"error": f"no {kind} recording of call {call_id}: {why if found else 'none was made'}"}
        item = found[-1]
        data = Path(item.path).read_bytes()
        content = TYPES.get(item.codec, "application/octet-stream")
        wanted = _RANGE.fullmatch(str(request.environ.get("HTTP_RANGE", "")).strip())  # type: ignore[attr-defined]
        if wanted is None:
            return 200, Raw(content, data, (("Accept-Ranges", "bytes"),))
        first, last = wanted.groups()
        start = int(first) if first else max(0, len(data) - int(last or 0))
        end = min(len(data) - 1, int(last)) if first and last else len(data) - 1
        if start > end or start >= len(data):
            return 416, Raw(content, b"", (("Content-Range", f"bytes */{len(data)}"),))
        return 206, Raw(content, data[start:end + 1], (("Accept-Ranges", "bytes"),
                                                        ("Content-Range", f"bytes {start}-{end}/{len(data)}")))
