"""Live state outside the process: what other processes read (``hotline status``) and what a restarted engine
takes back that the switch cannot tell it: agents' states, and the records of live calls so far (so a call that
ends while no engine runs still gets its record, its end marked unknown).

Sections, each a map of key to JSON text: ``agents`` (every agent's state), ``callers`` (who waits where),
``calls`` (live calls' records), ``engine`` (its heartbeat: when it was last seen, whether its switch link was up,
whether it stopped), so a reader can tell live figures from those of an engine that died.

Writes are queued and flushed by one greenlet as soon as the hub has run what was ready, so the changes one wake-up
of the engine makes (a call's record changes three or four times in some) are written once, in one write, and a
value given as a function (a record's ``to_json``) is serialised then, once. Two stores, one behaviour: a folder on
the engine's disk (the embedded default: the batch appended to one log on the hub, microseconds, so what the engine
knew when it was killed is there for the next one) or Redis (a hash per section, for several hosts: the batch goes
through gevent's threadpool, so Redis's latency never blocks call handling). While a store fails, the changes wait
and are retried.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import gevent
import orjson
import redis
import structlog
from gevent.event import Event as Flag

from calls.journal import Value
from config.schema import State

log = structlog.get_logger(__name__)

ENGINE = "engine"
Batch = dict[tuple[str, str], str | None]


@dataclass(frozen=True, slots=True)
class EngineSeen:
    """The engine's last heartbeat: when, whether its link to the switch was up, and whether it stopped."""

    seen_ms: int
    link_up: bool
    stopped: bool


class Journal:
    """Queued, coalesced writes; a store implements ``_write`` (a batch, run on a thread) and ``_read`` (a
    section), or ``_store`` to store a batch on the hub."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str], Value | None] = {}
        self._wake = Flag()
        self._idle = Flag()
        self._idle.set()
        self._flusher = gevent.spawn(self._flush_forever)

    def put(self, section: str, key: str, value: Value) -> None:
        self._queue((section, key), value)

    def drop(self, section: str, key: str) -> None:
        self._queue((section, key), None)

    def beat(self, now_ms: int, link_up: bool, stopped: bool = False) -> None:
        """The engine is alive (or, with ``stopped``, has stopped cleanly)."""
        for name, value in (("seen_ms", str(now_ms)), ("link_up", str(int(link_up))), ("stopped", str(int(stopped)))):
            self._queue((ENGINE, name), value)

    def load(self, section: str) -> dict[str, dict]:
        """Every key of ``section`` with its JSON value. Blocking: start-up and other processes only."""
        return {key: json.loads(value) for key, value in self._read(section).items()}

    def engine_seen(self) -> EngineSeen | None:
        """The engine's last heartbeat, or None if no engine ever beat here. Blocking."""
        values = self._read(ENGINE)
        if "seen_ms" not in values:
            return None
        return EngineSeen(int(values["seen_ms"]), values.get("link_up") == "1", values.get("stopped") == "1")

    def flush(self, timeout: float) -> bool:
        """Wait until every queued change is stored (tests, shutdown)."""
        if self._pending:
            self._wake.set()
        return self._idle.wait(timeout)

    def close(self) -> None:
        self.flush(5)
        self._flusher.kill()

    def _queue(self, key: tuple[str, str], value: Value | None) -> None:
        self._pending[key] = value
        self._idle.clear()
        self._wake.set()

    def _flush_forever(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            batch = {key: value() if callable(value) else value for key, value in self._pending.items()}
            self._pending = {}
            try:
                self._store(batch)
            except (OSError, redis.RedisError) as exc:
                log.warning("journal.write_failed", error=str(exc), changes=len(batch))
                for key, value in batch.items():
                    self._pending.setdefault(key, value)
                gevent.sleep(1)
                self._wake.set()
                continue
            if not self._pending:
                self._idle.set()

    def _store(self, batch: Batch) -> None:
        """Off the hub, so a slow store never blocks call handling."""
        gevent.get_hub().threadpool.apply(self._write, (batch,))

    def _write(self, batch: Batch) -> None:
        raise NotImplementedError

    def _read(self, section: str) -> dict[str, str]:
        raise NotImplementedError


class FolderJournal(Journal):
    """``<folder>/journal.log``: one JSON line ``[section, key, value]`` appended per key changed (``null``: dropped), the
    last line of a key winning; a line cut short by a kill is ignored. Once the log holds four times what is live
    (and over ``COMPACT_AT`` bytes) it is rewritten with the live keys only (written, then renamed), so it stays
    small however long the engine runs; a reader (``hotline status``) always sees a whole log."""

    LOG = "journal.log"
    COMPACT_AT = 1 << 20

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / self.LOG
        self._live: dict[tuple[str, str], bytes] = {}
        self._live_bytes = 0
        self._log_bytes = 0
        self._log: BinaryIO | None = None
        super().__init__()

    def _store(self, batch: Batch) -> None:
        """On the hub: an append to the page cache costs less than the trip to a thread."""
        if self._log is None:
            self._log = self._open()
        lines = {key: self._line(key, value) for key, value in batch.items()}
        data = b"".join(lines.values())
        self._log.write(data)
        self._log_bytes += len(data)
        for key, value in batch.items():
            self._keep(key, None if value is None else lines[key])
        if self._log_bytes > max(self.COMPACT_AT, 4 * self._live_bytes):
            self._log = self._compact(self._log)

    def _read(self, section: str) -> dict[str, str]:
        return {key: value for (kept, key), value in _replay(self.path).items() if kept == section}

    @staticmethod
    def _line(key: tuple[str, str], value: str | None) -> bytes:
        return orjson.dumps([*key, value]) + b"\n"

    def _keep(self, key: tuple[str, str], line: bytes | None) -> None:
        """``line``: the key's log line, kept for compaction (None: the key is dropped)."""
        old = self._live.pop(key, None)
        self._live_bytes -= len(old) if old is not None else 0
        if line is not None:
            self._live[key] = line
            self._live_bytes += len(line)

    def _open(self) -> BinaryIO:
        """Take up the log a previous engine left (what is live in it), to append to it after its last whole
        line (a line it was killed in the middle of is cut off)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        log_file = open(self.path, "ab+", buffering=0)
        log_file.seek(0)
        data = log_file.read()
        for key, value in _live_in(data).items():
            self._keep(key, self._line(key, value))
        self._log_bytes = data.rfind(b"\n") + 1
        log_file.truncate(self._log_bytes)
        return log_file

    def _compact(self, old: BinaryIO) -> BinaryIO:
        temporary = self.path.with_name(f".{self.LOG}.tmp")
        temporary.write_bytes(b"".join(self._live.values()))
        os.replace(temporary, self.path)
        old.close()
        self._log_bytes = self._live_bytes
        return open(self.path, "ab", buffering=0)


def _replay(path: Path) -> dict[tuple[str, str], str]:
    try:
        return _live_in(path.read_bytes())
    except FileNotFoundError:
        return {}


def _live_in(data: bytes) -> dict[tuple[str, str], str]:
    """What a journal log says is live: the last value of each key, dropped keys left out."""
    live: dict[tuple[str, str], str] = {}
    for line in data.splitlines(keepends=True):
        try:
            section, key, value = orjson.loads(line[:-1] if line.endswith(b"\n") else b"")
        except (orjson.JSONDecodeError, ValueError, TypeError):
            continue  # cut short by a kill, or not ours
        if value is None:
            live.pop((section, key), None)
        else:
            live[(section, key)] = value
    return live


class RedisJournal(Journal):
    """``<prefix>:<section>``: one Redis hash per section."""

    def __init__(self, url: str, prefix: str = "hotline") -> None:
        self.redis = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)
        self.prefix = prefix
        super().__init__()

    def _write(self, batch: Batch) -> None:
        pipe = self.redis.pipeline(transaction=True)
        for (section, field), value in batch.items():
            if value is None:
                pipe.hdel(f"{self.prefix}:{section}", field)
            else:
                pipe.hset(f"{self.prefix}:{section}", field, value)
        pipe.execute()

    def _read(self, section: str) -> dict[str, str]:
        return self.redis.hgetall(f"{self.prefix}:{section}")


def journal_for(state: State) -> Journal:
    """The journal ``state`` configures."""
    if state.backend == "redis":
        return RedisJournal(state.redis_url, state.prefix)
    return FolderJournal(Path(state.folder))
