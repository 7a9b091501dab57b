"""The engine process: its link to FreeSWITCH, its telemetry, and the path every call takes.

Calls reach the engine parked (``park`` in the dialplan, events over inbound ESL) rather than through the
``socket`` application, so a call survives an engine restart: it stays parked in FreeSWITCH and the new
process picks it up. Today the path is the front door only; queues and agents join it with the ACD.
"""

from __future__ import annotations

from collections import Counter

import structlog
from gevent.event import Event as Flag

from config import Settings
from esl import EslError, Event, SwitchLink
from ivr.front_door import FrontDoor
from telemetry.http import TelemetryServer

log = structlog.get_logger(__name__)


class Engine:
    """Owns the link and the telemetry server; hands each new call on a service number to the front door."""

    def __init__(self, settings: Settings, link: SwitchLink) -> None:
        self.settings = settings
        self.link = link
        self.front_door = FrontDoor(link)
        self.telemetry = TelemetryServer(settings.telemetry.listen, self.health)
        self.stopped = Flag()
        self.keys: Counter[str] = Counter()
        self._service_numbers = frozenset(settings.centre.service_numbers)
        link.on("CHANNEL_PARK", self._on_park)

    def start(self) -> None:
        self.telemetry.start()
        self.link.start()
        log.info("engine.started", centre=self.settings.centre.name, switch=f"{self.link.address[0]}:{self.link.address[1]}",
                 telemetry=f"{self.telemetry.address[0]}:{self.telemetry.address[1]}")

    def stop(self) -> None:
        self.link.stop()
        self.telemetry.stop()
        self.stopped.set()
        log.info("engine.stopped")

    def health(self) -> tuple[bool, str]:
        if self.link.connected.is_set():
            return True, ""
        return False, f"no ESL link to FreeSWITCH at {self.link.address[0]}:{self.link.address[1]}"

    def _on_park(self, event: Event) -> None:
        """A new call on a service number: greet it. Runs on the call's own greenlet (esl.dispatch)."""
        if event.get("Caller-Destination-Number") not in self._service_numbers:
            return
        uuid = event.uuid
        try:
            key = self.front_door.greet(uuid)
            # No queue exists yet (issue 3): end the call cleanly instead of leaving it parked.
            self.link.hangup(uuid, "NORMAL_CLEARING")
            self.keys[key or "none"] += 1
            log.info("call.front_door_done", uuid=uuid, key=key or None)
        except EslError as exc:
            log.warning("call.front_door_failed", uuid=uuid, error=str(exc))
