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

from calls.notices import Connecting
from config.schema import Recorder as RecorderConfig
from engine.capability import Hub
from esl import EslError, SwitchLink, tokens

log = structlog.get_logger(__name__)


class Recorder:
    def __init__(self, link: SwitchLink, folder: Path) -> None:
        self.link = link
        self.folder = folder.resolve()

    def start(self, call_id: str) -> str:
        """Start recording the call; returns the file FreeSWITCH writes (a folder per day)."""
        uuid = tokens.uuid(call_id)
        path = self.folder / dt.date.today().strftime("%Y%m%d") / f"{uuid}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.link.api(f"uuid_setvar {uuid} RECORD_STEREO true")
        self.link.api(f"uuid_record {uuid} start {path}")
        return str(path)


class Recording:
    """Recording as a capability: started as the agent is bridged; a failure to start is logged, never fatal."""

    def __init__(self, config: RecorderConfig) -> None:
        self.config = config

    def attach(self, hub: Hub) -> None:
        self.hub = hub
        self.recorder = Recorder(hub.link, Path(self.config.folder))
        if self.config.enabled:
            hub.on(Connecting, self._connecting)

    def _connecting(self, connecting: Connecting) -> None:
        try:
            self.hub.book.note(connecting.call_id, recording=self.recorder.start(connecting.call_id))
        except EslError as exc:
            log.warning("call.recording_failed", uuid=connecting.call_id, error=str(exc))
