"""Every answered call recorded, both legs in one two-channel WAV (caller left, agent right), from the moment the
agent is bridged; the file is referenced from the call's record.

It is started with the ``uuid_record`` API on the caller's leg rather than the ``record_session`` application,
because an application queued behind the music on hold would only start when the music stops; the API starts it
at once. ``RECORD_STEREO`` keeps each party on its own channel, which quality review and ASR need.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import structlog

from calls.notices import Connecting, Consulting
from config.schema import Recorder as RecorderConfig
from engine.capability import Hub
from esl import EslError, SwitchLink, tokens

log = structlog.get_logger(__name__)


class Recorder:
    def __init__(self, link: SwitchLink, folder: Path) -> None:
        self.link = link
        self.folder = folder.resolve()

    def start(self, call_id: str, leg: str | None = None, part: str = "") -> str:
        """Start recording the call (on the caller's leg), or a part of it on ``leg``, named ``<call>-<part>``;
        returns the file FreeSWITCH writes (a folder per day)."""
        uuid = tokens.uuid(leg or call_id)
        name = tokens.uuid(call_id) + (f"-{part}" if part else "")
        path = self.folder / dt.date.today().strftime("%Y%m%d") / f"{name}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.link.api(f"uuid_setvar {uuid} RECORD_STEREO true")
        self.link.api(f"uuid_record {uuid} start {path}")
        return str(path)

    def stop(self, leg: str) -> None:
        self.link.api(f"uuid_record {tokens.uuid(leg)} stop all")


class Recording:
    """Recording as a capability: started as the agent is bridged; a failure to start is logged, never fatal."""

    def __init__(self, config: RecorderConfig) -> None:
        self.config = config
        self._starting: dict[str, bool] = {}
        """Units whose consultation recording is being started -> whether it is still wanted."""

    def attach(self, hub: Hub) -> None:
        self.hub = hub
        self.recorder = Recorder(hub.link, Path(self.config.folder))
        if self.config.enabled:
            hub.on(Connecting, self._connecting)
            hub.on(Consulting, self._consulting)

    def _connecting(self, connecting: Connecting) -> None:
        try:
            self.hub.book.note(connecting.call_id, recording=self.recorder.start(connecting.call_id))
        except EslError as exc:
            log.warning("call.recording_failed", uuid=connecting.call_id, error=str(exc))

    def _consulting(self, consulting: Consulting) -> None:
        """A consultation, which the caller's recording does not hear, on the unit's leg from its answer until
        it goes on with the caller (or into the room), or hangs up. An agent quick to complete can ask for the
        stop while the start's commands are still on the wire: the start then stops it itself."""
        unit = consulting.unit
        try:
            if not consulting.on:
                if unit in self._starting:
                    self._starting[unit] = False
                else:
                    self.recorder.stop(unit)
                return
            self._starting[unit] = True
            try:
                path = self.recorder.start(consulting.call_id, unit, f"consult-{unit[:8]}")
            finally:
                wanted = self._starting.pop(unit)
            self.hub.book.consult_recorded(consulting.call_id, path)
            if not wanted:
                self.recorder.stop(unit)
        except EslError as exc:
            log.warning("call.recording_failed", uuid=consulting.call_id, leg=unit, error=str(exc))
