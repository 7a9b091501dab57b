"""Recordings kept like evidence. Once a call's record is complete, each of its recordings (the call's, and any
consultation's) is compressed to Opus by ffmpeg, a process of its own, so the engine's hub never does the work;
its size, duration and SHA-256 go to the ticket store's ``recordings`` table, and only then is the WAV removed. A
file that is missing or that ffmpeg cannot read is recorded with the problem, never skipped. WAVs an engine left
unarchived (it stopped first) are archived by the next one at start.

``archive`` blocks: the recorder runs it in threads of its own (``ARCHIVERS``), where the standard library starts
ffmpeg with vfork. gevent's subprocess forks the whole engine instead, on the hub: measured with
``bench/archive_spawn.py`` at the engine's 185 MB, 8.3 ms of the engine's CPU a recording and stalls of every call
up to 15.7 ms, against 1.1 ms and 5 ms.
"""

from __future__ import annotations

import hashlib
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import subprocess

import structlog

from calls.record import CallTimeline
from config.schema import Recorder

if TYPE_CHECKING:
    from tickets.store import TicketStore

log = structlog.get_logger(__name__)

ARCHIVERS = 2
"""ffmpeg runs at most this many at a time: the WAVs a restart finds left over wait their turn rather than start
hundreds of encoders at once beside the switch."""
CODEC = "opus"
DAY_MS = 86_400_000
FFMPEG = ("ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y")
OPUS = ("-c:a", "libopus", "-b:a", "32k", "-mapping_family", "255", "-application", "voip")
"""32 kb/s for both channels, an eighth of the 8 kHz 16-bit WAV, each channel coded on its own (mapping family 255:
no stereo coupling). Measured with the ASR tests' dialogue, both parties speaking at once: coupled stereo at 24 kb/s
let each channel bleed into the other and the citizen's transcript lost 3 of 5 words; coded apart at 32 kb/s, none
(and the file is smaller than coupled at 32 kb/s). Browsers (Chromium) and ffmpeg play it."""


@dataclass(frozen=True, slots=True)
class Archived:
    path: str
    """The file kept (the Opus file; the WAV when it could not be compressed), as stored."""
    call_id: str
    kind: str
    """call (the conversation, caller and agent) or consult (a consultation's own talk)."""
    tenant: str | None
    codec: str
    bytes: int
    duration_ms: int
    sha256: str
    archived_ms: int
    problem: str | None = None
    """Why the file could not be archived as it should (missing, unreadable): reported, never skipped."""
    purged_ms: int | None = None
    """When the retention policy deleted the file (the row stays: what was kept, and when it went)."""


def recordings_of(record: CallTimeline) -> list[tuple[str, str]]:
    """(path, kind) of every conversation recording a finished call has: the call's, and consultations'. (A
    voicemail message stays the WAV the callback list names.)"""
    if record.exit_reason == "voicemail":
        return []
    found = [(record.recording, "call")] if record.recording else []
    return found + [(t.recording, "consult") for t in record.transfers if t.recording]


def kept(path: str) -> Path:
    """Where a recording a record names is now: its archived Opus file once archived, else the WAV."""
    opus = Path(path).with_suffix(".opus")
    return opus if opus.exists() else Path(path)


def archive(wav: Path, call_id: str, kind: str, tenant: str | None, now_ms: int) -> Archived:
    """Compress ``wav`` to Opus beside it, check the result and hash it (the caller removes the WAV once the row is
    stored). Blocks: run it off the hub (the module says why). A WAV the switch never wrote, or that went while it
    was read, is an Archived naming the problem."""
    try:
        return _compressed(wav, call_id, kind, tenant, now_ms)
    except FileNotFoundError:
        return Archived(str(wav), call_id, kind, tenant, "wav", 0, 0, "", now_ms, "missing: the switch wrote no file")


def _compressed(wav: Path, call_id: str, kind: str, tenant: str | None, now_ms: int) -> Archived:
    size = wav.stat().st_size  # a missing WAV stops here, before ffmpeg is started for nothing
    duration_ms = _wav_ms(wav)
    target = wav.with_suffix(".opus")
    try:
        done = subprocess.run([*FFMPEG, "-i", str(wav), *OPUS, str(target)], capture_output=True, timeout=600)
        failed = done.returncode != 0 or not target.exists() or target.stat().st_size == 0
        said = done.stderr.decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired) as exc:  # no ffmpeg (apt install ffmpeg), or it hung
        failed, said = True, str(exc)
    if failed:
        problem = (said.strip().splitlines() or ["no output"])[-1][:200]
        target.unlink(missing_ok=True)
        return Archived(str(wav), call_id, kind, tenant, "wav", size, duration_ms, sha256(wav), now_ms,
                        f"not compressed: {problem}")
    return Archived(str(target), call_id, kind, tenant, CODEC, target.stat().st_size, duration_ms, sha256(target),
                    now_ms)


def expired(store: TicketStore, config: Recorder, now_ms: int) -> list[Archived]:
    """The archived recordings the retention policy says to delete now: older than their tenant's days."""
    shortest = min([config.retention_days, *config.retention.values()])  # no row younger than this can be due
    return [item for item in store.recordings(before_ms=now_ms - shortest * DAY_MS)
            if item.archived_ms < now_ms - config.retention.get(item.tenant or "", config.retention_days) * DAY_MS]


def purge(store: TicketStore, config: Recorder, now_ms: int) -> list[Archived]:
    """Delete what the retention policy says to, and mark each row purged (the row stays: what was kept, and
    when it went). Returns what was deleted."""
    gone = expired(store, config, now_ms)
    for item in gone:
        Path(item.path).unlink(missing_ok=True)
    if gone:
        store.purged([item.path for item in gone], now_ms)
        log.info("recordings.purged", count=len(gone), oldest_ms=gone[0].archived_ms, newest_ms=gone[-1].archived_ms)
    return gone


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _wav_ms(path: Path) -> int:
    """The WAV's length by its header (0 if the header is unreadable: ffmpeg then says why)."""
    try:
        with wave.open(str(path)) as audio:
            return audio.getnframes() * 1000 // audio.getframerate()
    except (wave.Error, EOFError, OSError):
        return 0
