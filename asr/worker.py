"""An ASR worker process: takes the oldest recording from the backlog, transcribes it, stores the dialogue and any
keyword flags, and tells its engine what it did; then the next. Started by asr.pool (``python -m asr.worker``),
one core each.

Its engine writes the settings as the first line of stdin (JSON: the store's URL holds a password, which the
command line would show to every user of the machine), then a line whenever recordings join the backlog; the
worker answers on stdout, one JSON line per recording done or failed. Without a wake-up it looks at the backlog
every ``IDLE_S`` anyway (rows due for a retry, rows another engine queued). It ends when stdin closes.
"""

from __future__ import annotations

import json
import select
import sys
import time
from dataclasses import asdict
from typing import IO, Any

from asr.transcribe import TranscribeError, Transcriber, as_text, flags
from tickets.store import TicketStore
from tickets.transcripts import Job, Transcripts

IDLE_S = 10.0


def now_ms() -> int:
    return int(time.time() * 1000)


def work(settings: dict[str, Any], wake: IO[str], tell: IO[str]) -> None:
    """Drain the backlog until ``wake`` closes."""
    backlog = Transcripts(TicketStore(settings["store"]))
    transcriber = Transcriber(settings["model"], settings["vocabulary"])
    _say(tell, {"ready": True})
    while True:
        try:
            job = backlog.claim(now_ms())
        except Exception as exc:  # the store is down: the backlog waits in it, and so does this worker
            print(f"asr.worker: ticket store unreachable: {str(exc).splitlines()[0]}", file=sys.stderr, flush=True)
            job = None
        if job is not None:
            _run(job, backlog, transcriber, settings, tell)
        elif not _idle(wake):
            return


def _run(job: Job, backlog: Transcripts, transcriber: Transcriber, settings: dict[str, Any], tell: IO[str]) -> None:
    try:
        dialogue = transcriber.dialogue(job.path, job.kind)
    except (TranscribeError, OSError, RuntimeError) as exc:  # vosk says RuntimeError on what it cannot decode
        final = backlog.failed(job, str(exc), settings["attempts"], now_ms())
        _say(tell, {"call_id": job.call_id, "kind": job.kind, "failed": str(exc), "final": final})
        return
    heard = [asdict(flag) for flag in flags(dialogue, settings["keywords"])]
    backlog.done(job, [asdict(u) for u in dialogue], as_text(dialogue), heard, now_ms())
    _say(tell, {"call_id": job.call_id, "kind": job.kind, "utterances": len(dialogue), "flags": heard})


def _idle(wake: IO[str]) -> bool:
    """Wait for a wake-up line or ``IDLE_S``; False once the engine closed the pipe."""
    ready, _, _ = select.select([wake], [], [], IDLE_S)
    return not ready or wake.readline() != ""


def _say(tell: IO[str], message: dict[str, Any]) -> None:
    tell.write(json.dumps(message, ensure_ascii=False) + "\n")
    tell.flush()


def main() -> None:
    work(json.loads(sys.stdin.readline()), sys.stdin, sys.stdout)


if __name__ == "__main__":
    main()
