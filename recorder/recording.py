"""Every answered call recorded, both legs in one two-channel WAV (caller left, agent right), from the moment the
agent is bridged (or from the caller's answer, the IVR included, with recorder.include_ivr), in a folder per tenant (分中心) and day (the centre's); the file is referenced from the call's
record, and archived (recorder.archive) once the call has ended.

It is started with the ``uuid_record`` API on the caller's leg rather than the ``record_session`` application,
because an application queued behind the music on hold would only start when the music stops; the API starts it
at once. ``RECORD_STEREO`` keeps each party on its own channel, which quality review and ASR need.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog

import gevent
from gevent.threadpool import ThreadPool

from calls.notices import Connecting, Consulting, Finished, RecordingsKept
from config.schema import Recorder as RecorderConfig
from engine.capability import Hub
from engine.reconcile import Reconciled
from recorder.archive import ARCHIVERS, CODEC, archive, purge, recordings_of
from tickets.store import TicketStore, off_hub
from esl import EslError, Event, SwitchLink, tokens

log = structlog.get_logger(__name__)
PURGE_EVERY_S = 6 * 3600


class Recorder:
    def __init__(self, link: SwitchLink, folder: Path, zone: ZoneInfo) -> None:
        self.link = link
        self.folder = folder.resolve()
        self.zone = zone

    def start(self, call_id: str, tenant: str | None, leg: str | None = None, part: str = "") -> str:
        """Start recording the call (on the caller's leg), or a part of it on ``leg``, named ``<call>-<part>``;
        returns the file FreeSWITCH writes, in ``<folder>/<tenant>/<YYYY-MM-DD>/``."""
        uuid = tokens.uuid(leg or call_id)
        name = tokens.uuid(call_id) + (f"-{part}" if part else "")
        day = dt.datetime.now(self.zone).strftime("%Y-%m-%d")
        path = self.folder / tokens.word(tenant or "centre") / day / f"{name}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.link.api(f"uuid_setvar {uuid} RECORD_STEREO true")
        self.link.api(f"uuid_record {uuid} start {path}")
        return str(path)

    def stop(self, leg: str) -> None:
        self.link.api(f"uuid_record {tokens.uuid(leg)} stop all")


class Recording:
    """Recording as a capability: started as the agent is bridged; a failure to start is logged, never fatal."""

    def __init__(self, config: RecorderConfig, timezone: str, tickets: TicketStore, transcribe: bool = False) -> None:
        self.config = config
        self.transcribe = transcribe
        """Archived recordings join the ASR backlog (asr.enabled)."""
        self.zone = ZoneInfo(timezone)
        self.tickets = tickets
        self._starting: dict[str, bool] = {}
        """Units whose consultation recording is being started -> whether it is still wanted."""

    def attach(self, hub: Hub) -> None:
        self.hub = hub
        self.recorder = Recorder(hub.link, Path(self.config.folder), self.zone)
        self._purging: gevent.Greenlet | None = None
        self.archiving: list[gevent.Greenlet] = []
        """Archives under way (tests and shutdown wait for them)."""
        self._archivers = ThreadPool(ARCHIVERS)
        self._in_hand: set[Path] = set()
        """WAVs being archived, left alone by any later ask (the start's scan finds the WAVs of calls that
        reconciliation finished just before; two ffmpeg runs on one file would race for its Opus)."""
        if self.config.enabled:
            hub.on(Connecting, self._connecting)
            hub.on(Consulting, self._consulting)
            if self.config.include_ivr:
                hub.on("CHANNEL_ANSWER", self._answered)
        hub.on(Finished, self._finished)
        hub.on(Reconciled, self._left_over)

    def _tenant(self, call_id: str) -> str | None:
        call = self.hub.book.get(call_id)
        return call.record.tenant if call is not None else None

    def _finished(self, finished: Finished) -> None:
        """The call is over: its recordings are archived, on a greenlet of their own."""
        record = finished.record
        if found := recordings_of(record):
            self._archive([(Path(path), record.call_id, kind, record.tenant) for path, kind in found])

    def stop(self) -> None:
        """The purge ends, and the archiving threads once their file is done (a WAV not archived yet stays for the
        next start)."""
        if self._purging is not None:
            self._purging.kill()
        self._archivers.kill()

    def _purge_forever(self) -> None:
        """The retention policy, applied at start and every PURGE_EVERY_S, off the hub."""
        while True:
            off_hub(purge, self.tickets, self.config, self.hub.clock())
            gevent.sleep(PURGE_EVERY_S)

    def _left_over(self, reconciled: Reconciled) -> None:
        """At start, WAVs a previous engine left unarchived (it stopped first), of calls that are over; and the
        retention policy starts."""
        if not reconciled.view.first:
            return
        self._purging = gevent.spawn(self._purge_forever)
        folder = Path(self.config.folder).resolve()
        found = [(wav, wav.stem[:36], "consult" if "-consult-" in wav.stem else "call", wav.parent.parent.name)
                 for wav in folder.glob("*/*/*.wav")
                 if wav.stem[:36] not in self.hub.book.calls]
        if found:
            log.info("recordings.left_over", count=len(found))
            self._archive(found)

    def _archive(self, files: list[tuple[Path, str, str, str | None]]) -> None:
        """Archive ``files`` (WAV, call, kind, tenant) on a greenlet; any already being archived is left to that."""
        files = [file for file in files if file[0] not in self._in_hand]
        if not files:
            return
        self._in_hand.update(wav for wav, *_ in files)

        def run() -> None:
            try:
                store()
            finally:
                self._in_hand.difference_update(wav for wav, *_ in files)

        def store() -> None:
            done = [self._archivers.apply(archive, (wav, call_id, kind, tenant, self.hub.clock()))
                    for wav, call_id, kind, tenant in files]
            for item in done:
                if item.problem:
                    log.error("recordings.problem", path=item.path, call=item.call_id, problem=item.problem)
            if off_hub(self.tickets.save_recordings, done, self.transcribe) is None:
                return  # the store is down (logged): the WAVs stay, and the next start archives them again
            if self.transcribe:
                self.hub.run([RecordingsKept(call_id) for call_id in dict.fromkeys(item.call_id for item in done)])
            for (wav, *_), item in zip(files, done):
                if item.codec == CODEC:
                    try:
                        wav.unlink(missing_ok=True)
                    except OSError as exc:  # the switch's user owns the folder: both files stay, the row names the Opus
                        log.warning("recordings.wav_kept", path=str(wav), error=str(exc))
        self.archiving = [g for g in self.archiving if not g.dead] + [gevent.spawn(run)]

    def _answered(self, event: Event) -> None:
        """recorder.include_ivr: a caller's leg answered (by the IVR) is recorded from then on."""
        call = self.hub.book.get(event.uuid)
        if call is not None and call.id == event.uuid and call.record.recording is None:
            self._start(call.id)

    def _connecting(self, connecting: Connecting) -> None:
        call = self.hub.book.get(connecting.call_id)
        if not (self.config.include_ivr and call is not None and call.record.recording):  # else recorded already
            self._start(connecting.call_id)

    def _start(self, call_id: str) -> None:
        try:
            self.hub.book.note(call_id, recording=self.recorder.start(call_id, self._tenant(call_id)))
        except EslError as exc:
            log.warning("call.recording_failed", uuid=call_id, error=str(exc))

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
                path = self.recorder.start(consulting.call_id, self._tenant(consulting.call_id), unit,
                                           f"consult-{unit[:8]}")
            finally:
                wanted = self._starting.pop(unit)
            self.hub.book.consult_recorded(consulting.call_id, path)
            if not wanted:
                self.recorder.stop(unit)
        except EslError as exc:
            log.warning("call.recording_failed", uuid=consulting.call_id, leg=unit, error=str(exc))
