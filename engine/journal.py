"""Live state in Redis: what other processes read (``hotline status``) and what a restarted engine takes back.

Each section is one Redis hash, ``<prefix>:<section>``, of JSON text by key: ``agents`` (every agent's state),
``callers`` (who waits where), ``calls`` (live calls' records so far). The engine also beats into
``<prefix>:engine`` (when it was last seen, whether its switch link is up), so a reader can tell live figures
from the stale ones of an engine that stopped. Writes are queued and flushed by one greenlet through gevent's
threadpool, so Redis latency never blocks call handling; a burst of changes to one key is written once, and
while Redis is down they wait and are retried.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import gevent
import redis
import structlog
from gevent.event import Event as Flag

log = structlog.get_logger(__name__)

ENGINE = "engine"


@dataclass(frozen=True, slots=True)
class EngineSeen:
    """The engine's last heartbeat: when, whether its link to the switch was up, and whether it stopped."""

    seen_ms: int
    link_up: bool
    stopped: bool


class RedisJournal:
    def __init__(self, url: str, prefix: str = "hotline") -> None:
        self.redis = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)
        self.prefix = prefix
        self._pending: dict[tuple[str, str], str | None] = {}
        self._wake = Flag()
        self._idle = Flag()
        self._idle.set()
        self._flusher = gevent.spawn(self._flush_forever)

    def put(self, section: str, key: str, value: str) -> None:
        self._queue((section, key), value)

    def drop(self, section: str, key: str) -> None:
        self._queue((section, key), None)

    def beat(self, now_ms: int, link_up: bool, stopped: bool = False) -> None:
        """The engine is alive (or, with ``stopped``, has stopped cleanly)."""
        for name, value in (("seen_ms", str(now_ms)), ("link_up", str(int(link_up))), ("stopped", str(int(stopped)))):
            self._queue((ENGINE, name), value)

    def load(self, section: str) -> dict[str, dict]:
        """Every key of ``section`` with its JSON value. Blocking: start-up and other processes only."""
        return {key: json.loads(value) for key, value in self.redis.hgetall(self._key(section)).items()}

    def engine_seen(self) -> EngineSeen | None:
        """The engine's last heartbeat, or None if no engine ever beat here. Blocking."""
        values = self.redis.hgetall(self._key(ENGINE))
        if not values:
            return None
        return EngineSeen(int(values["seen_ms"]), values["link_up"] == "1", values["stopped"] == "1")

    def flush(self, timeout: float) -> bool:
        """Wait until every queued change is in Redis (tests, shutdown)."""
        if self._pending:
            self._wake.set()
        return self._idle.wait(timeout)

    def close(self) -> None:
        self.flush(5)
        self._flusher.kill()

    def _key(self, section: str) -> str:
        return f"{self.prefix}:{section}"

    def _queue(self, key: tuple[str, str], value: str | None) -> None:
        self._pending[key] = value
        self._idle.clear()
        self._wake.set()

    def _flush_forever(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, {}
            try:
                gevent.get_hub().threadpool.apply(self._write, (batch,))
            except redis.RedisError as exc:
                log.warning("journal.write_failed", error=str(exc), changes=len(batch))
                for key, value in batch.items():
                    self._pending.setdefault(key, value)
                gevent.sleep(1)
                self._wake.set()
                continue
            if not self._pending:
                self._idle.set()

    def _write(self, batch: dict[tuple[str, str], str | None]) -> None:
        pipe = self.redis.pipeline(transaction=True)
        for (section, field), value in batch.items():
            if value is None:
                pipe.hdel(self._key(section), field)
            else:
                pipe.hset(self._key(section), field, value)
        pipe.execute()
