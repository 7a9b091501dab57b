"""Live ACD state outside the process: agents' states, waiting callers' places and live calls' timelines.

Other processes (the CLI, a wallboard) read it from Redis, and a restarted engine recovers from it: FreeSWITCH
keeps the calls parked while the engine is away, so callers get their place back (same queue entry time, so the
same position and the same service-level clock), agents their state, and every call its record. Writes are
queued and flushed by one greenlet through gevent's threadpool, so Redis latency never blocks call handling; a
burst of changes to one key is written once.
"""

from __future__ import annotations

import json
from typing import Protocol

import gevent
import redis
import structlog
from gevent.event import Event as Flag

from acd.agents import Agent
from acd.queues import Caller
from acd.tracking import CallTimeline

log = structlog.get_logger(__name__)


class Journal(Protocol):
    """What the distributor reports so its state can live elsewhere too."""

    def agent_changed(self, agent: Agent) -> None: ...
    def caller_waiting(self, caller: Caller) -> None: ...
    def caller_gone(self, call_id: str) -> None: ...
    def leg_answered(self, agent: str, uuid: str, call_id: str, queue: str) -> None: ...
    def leg_gone(self, agent: str) -> None: ...


class NoJournal:
    """The embedded default: live state is the distributor itself."""

    def agent_changed(self, agent: Agent) -> None:
        pass

    def caller_waiting(self, caller: Caller) -> None:
        pass

    def caller_gone(self, call_id: str) -> None:
        pass

    def leg_answered(self, agent: str, uuid: str, call_id: str, queue: str) -> None:
        pass

    def leg_gone(self, agent: str) -> None:
        pass


AGENT_FIELDS = ("state", "reason", "since_ms", "idle_since_ms", "calls_answered", "talk_ms", "wrap_up_until_ms")
CALLER_FIELDS = ("call_id", "queue", "number", "priority", "entered_ms", "seq", "original_position")


class RedisState:
    """Journal to Redis (``<prefix>:agents``, ``<prefix>:callers`` and ``<prefix>:calls`` hashes of JSON), and
    read it back."""

    def __init__(self, url: str, prefix: str = "hotline") -> None:
        self.redis = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)
        self.agents_key, self.callers_key = f"{prefix}:agents", f"{prefix}:callers"
        self.calls_key, self.legs_key = f"{prefix}:calls", f"{prefix}:legs"
        self._pending: dict[tuple[str, str], str | None] = {}
        self._wake = Flag()
        self._idle = Flag()
        self._idle.set()
        self._flusher = gevent.spawn(self._flush_forever)

    def agent_changed(self, agent: Agent) -> None:
        value = {name: getattr(agent, name) for name in AGENT_FIELDS}
        value["state"] = agent.state.value
        self._queue((self.agents_key, agent.id), json.dumps(value))

    def caller_waiting(self, caller: Caller) -> None:
        self._queue((self.callers_key, caller.call_id), json.dumps({name: getattr(caller, name) for name in CALLER_FIELDS}))

    def caller_gone(self, call_id: str) -> None:
        self._queue((self.callers_key, call_id), None)

    def leg_answered(self, agent: str, uuid: str, call_id: str, queue: str) -> None:
        self._queue((self.legs_key, agent), json.dumps({"uuid": uuid, "call_id": call_id, "queue": queue}))

    def leg_gone(self, agent: str) -> None:
        self._queue((self.legs_key, agent), None)

    def load_legs(self) -> dict[str, dict[str, str]]:
        """Each agent's answered leg when the journal was last written: agent -> {uuid, call_id, queue}.
        Blocking: startup only."""
        return {agent: json.loads(value) for agent, value in self.redis.hgetall(self.legs_key).items()}

    def call_changed(self, timeline: CallTimeline) -> None:
        self._queue((self.calls_key, timeline.call_id), timeline.to_json())

    def call_gone(self, call_id: str) -> None:
        self._queue((self.calls_key, call_id), None)

    def load_calls(self) -> dict[str, CallTimeline]:
        """The timelines of calls that were live when the journal was last written. Blocking: startup only."""
        return {call_id: CallTimeline.from_json(value) for call_id, value in self.redis.hgetall(self.calls_key).items()}

    def load(self) -> tuple[dict[str, dict[str, object]], list[dict[str, object]]]:
        """Agents' saved states by id, and the waiting callers in their original order. Blocking: startup only."""
        agents = {agent: json.loads(value) for agent, value in self.redis.hgetall(self.agents_key).items()}
        callers = sorted((json.loads(v) for v in self.redis.hgetall(self.callers_key).values()),
                         key=lambda c: (c["entered_ms"], c["seq"]))
        return agents, callers

    def flush(self, timeout: float) -> bool:
        """Wait until every queued change is in Redis (tests, shutdown)."""
        if self._pending:
            self._wake.set()
        return self._idle.wait(timeout)

    def close(self) -> None:
        self.flush(5)
        self._flusher.kill()

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
                log.warning("live_state.write_failed", error=str(exc), changes=len(batch))
                for key, value in batch.items():
                    self._pending.setdefault(key, value)
                gevent.sleep(1)
                self._wake.set()
                continue
            if not self._pending:
                self._idle.set()

    def _write(self, batch: dict[tuple[str, str], str | None]) -> None:
        pipe = self.redis.pipeline(transaction=True)
        for (key, field), value in batch.items():
            if value is None:
                pipe.hdel(key, field)
            else:
                pipe.hset(key, field, value)
        pipe.execute()
