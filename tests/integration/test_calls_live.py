"""Real calls through a live FreeSWITCH: sipp citizens and agents, the engine in this process, records checked
field by field against what sipp did. Timings come from the scenarios (ring and talk times); the checks allow
for signalling and scheduling on top of them, never less than the scenario takes."""

from __future__ import annotations

import contextlib
import os
import time
import wave
from pathlib import Path
from typing import Callable, Iterator

import gevent
import pytest

import config
from engine.process import Engine
from calls.record import CallTimeline
from engine.link import switch_link
from esl import EslError

AGENT_PORT, AGENT_MEDIA, CITIZEN_PORT, CITIZEN_MEDIA = 5091, 6091, 5071, 6071
SECOND_AGENT_PORT, SECOND_AGENT_MEDIA = 5092, 6092


@pytest.fixture
def live_engine(tmp_path: Path) -> Iterator[Callable[..., Engine]]:
    started: list[Engine] = []

    def make(logged_in: bool = True, agents: tuple[int, ...] = (AGENT_PORT,), queue: dict | None = None,
             thresholds: list[int] | None = None, **ivr: object) -> Engine:
        """Agents a1, a2, ... on sipp phones at ``agents`` ports, offered top-down (a1 first)."""
        settings = config.Settings.model_validate({
            "centre": {"name": "live test", "service_numbers": ["12345"]},
            "switch": {"host": os.environ["HOTLINE_FS_HOST"], "port": int(os.environ.get("HOTLINE_FS_PORT", "8021")),
                       "password": os.environ["HOTLINE_FS_PASSWORD"]},
            "acd": {"agents": {f"a{n}": {"contact": f"sofia/external/agent@127.0.0.1:{port}",
                                         "skills": {"general": 5}, "auto_login": logged_in}
                               for n, port in enumerate(agents, 1)},
                    "queues": {"general": {"skill": "general", "wrap_up": 0, "ring_timeout": 15,
                                           "strategy": "top-down", **(queue or {})}},
                    "service_level": {"thresholds": thresholds or [15, 20, 30]}},
            "ivr": {"prompts": {"choice": {"text": "请按1。"}, "survey_intro": {"text": "请评价。"},
                                "survey_attitude": {"text": "满意请按2。"}, "survey_thanks": {"text": "谢谢。"}},
                    "tenants": {"default": {"greeting": []}}, "prompt_cache": str(tmp_path / "prompts"),
                    "voicemail": {"folder": str(tmp_path / "voicemail")}, **ivr},
            "recorder": {"folder": str(tmp_path / "recordings")},
            "tickets": {"url": f"sqlite:///{tmp_path}/tickets.db", "spool_dir": str(tmp_path / "spool")},
        })
        anywhere = config.Endpoint("127.0.0.1", 0)  # free ports: not a configurable value, so set after loading
        settings = settings.model_copy(update={
            "telemetry": settings.telemetry.model_copy(update={"listen": anywhere}),
            "acd": settings.acd.model_copy(update={"api": settings.acd.api.model_copy(update={"listen": anywhere})})})
        engine = Engine(settings, switch_link(settings))
        engine.start()
        started.append(engine)
        engine.link.wait_connected(10)
        return engine

    yield make
    for engine in started:
        for uuid in [leg.uuid for _, leg in engine.book.legs()]:  # a failed test leaves no call on the switch
            with contextlib.suppress(EslError):
                engine.link.api(f"uuid_kill {uuid}")
        engine.stop()


def records(engine: Engine, count: int) -> list[CallTimeline]:
    """The test's calls, once the engine has handled their hang-ups and stored their records."""
    deadline = time.monotonic() + 15
    while len(engine.records) < count and time.monotonic() < deadline:
        gevent.sleep(0.05)  # the hang-up events are on their way from the switch
    assert engine.writer.flush(15)
    assert len(engine.records) == count
    return sorted(engine.records, key=lambda record: record.switch_entry_ms)


def only_record(engine: Engine) -> CallTimeline:
    return records(engine, 1)[0]


def call(sipp, tmp_path: Path, steps: list[tuple[str, int]], name: str = "citizen", hangs_up: bool = True):
    return sipp.run(sipp.citizen(steps, hangs_up), tmp_path, name, CITIZEN_PORT, CITIZEN_MEDIA,
                    target="127.0.0.1:5080")


def test_answered_within_the_threshold_and_recorded(live_engine, sipp, tmp_path: Path) -> None:
    engine = live_engine()
    agent = sipp.run(sipp.agent(ring_ms=1000), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA)
    citizen = sipp.run(sipp.citizen([("", 800), ("1", 0), ("", 6000)]), tmp_path, "citizen", CITIZEN_PORT,
                       CITIZEN_MEDIA, target="127.0.0.1:5080")
    assert citizen.wait() == 0, citizen.log.read_text(errors="replace") if citizen.log.exists() else "sipp failed"
    assert agent.wait() == 0
    record = only_record(engine)
    assert (record.caller_number, record.called_number, record.agent) == ("13800138000", "12345", "a1")
    assert (record.exit_reason, record.hangup_side, record.ivr_path) == ("answered", "caller", ["menu:main", "key:1"])
    [offer] = record.offers
    assert offer.result == "answered" and offer.ring_end_ms - offer.ring_start_ms >= 900  # sipp rang 1,000 ms
    assert record.switch_entry_ms <= record.queue_entry_ms <= offer.ring_start_ms <= record.answered_ms
    assert 900 <= record.wait_ms < 20_000  # answered within 20 s; ring time counts as waiting
    assert engine.queueing.core.service_level.total("general").answered == 1
    with wave.open(record.recording) as audio:
        seconds = audio.getnframes() / audio.getframerate()
        assert audio.getnchannels() == 2 and 2.0 <= seconds <= (record.hangup_ms - record.answered_ms) / 1000 + 0.5


def test_abandoned_while_queued(live_engine, sipp, tmp_path: Path) -> None:
    engine = live_engine(logged_in=False)
    citizen = sipp.run(sipp.citizen([("", 800), ("1", 0), ("", 2500)]), tmp_path, "citizen", CITIZEN_PORT,
                       CITIZEN_MEDIA, target="127.0.0.1:5080")
    assert citizen.wait() == 0
    record = only_record(engine)
    assert (record.exit_reason, record.hangup_side, record.offers, record.recording) == ("abandoned", "caller", [], None)
    assert record.hangup_ms - record.queue_entry_ms >= 2000  # sipp waited 2.5 s after its key


def test_the_caller_rates_the_call_after_the_agent_hangs_up(live_engine, sipp, tmp_path: Path) -> None:
    engine = live_engine()
    agent = sipp.run(sipp.agent(ring_ms=500, talk_ms=1500), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA)
    citizen = sipp.run(sipp.citizen([("", 800), ("1", 0), ("", 4500), ("2", 0)], hangs_up=False), tmp_path,
                       "citizen", CITIZEN_PORT, CITIZEN_MEDIA, target="127.0.0.1:5080")
    assert citizen.wait() == 0 and agent.wait() == 0
    record = only_record(engine)
    assert (record.hangup_side, record.survey) == ("agent", {"attitude": "满意"})


def test_answered_after_the_threshold_counts_against_it(live_engine, sipp, tmp_path: Path) -> None:
    engine = live_engine(thresholds=[2])
    agent = sipp.run(sipp.agent(ring_ms=3000), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA)
    assert call(sipp, tmp_path, [("", 800), ("1", 0), ("", 5000)]).wait() == 0 and agent.wait() == 0
    record = only_record(engine)
    assert record.exit_reason == "answered" and record.wait_ms >= 2900
    levels = engine.queueing.core.service_level.total("general").levels(2)
    assert levels["answered_within"] == 0.0


def test_a_busy_agent_is_passed_over_for_the_next(live_engine, sipp, tmp_path: Path) -> None:
    engine = live_engine(agents=(AGENT_PORT, SECOND_AGENT_PORT))
    busy = sipp.run(sipp.busy_agent(), tmp_path, "busy", AGENT_PORT, AGENT_MEDIA)
    second = sipp.run(sipp.agent(ring_ms=500), tmp_path, "agent2", SECOND_AGENT_PORT, SECOND_AGENT_MEDIA)
    assert call(sipp, tmp_path, [("", 800), ("1", 0), ("", 4000)]).wait() == 0
    assert busy.wait() == 0 and second.wait() == 0
    record = only_record(engine)
    assert [(o.agent, o.result) for o in record.offers] == [("a1", "busy"), ("a2", "answered")]
    assert record.agent == "a2" and engine.queueing.core.agents["a1"].missed_in_a_row == {"busy": 1}


def test_a_not_ready_agent_is_skipped(live_engine, sipp, tmp_path: Path) -> None:
    engine = live_engine(agents=(AGENT_PORT, SECOND_AGENT_PORT))
    engine.queueing.command("a1", "not_ready", "meal")
    second = sipp.run(sipp.agent(ring_ms=500), tmp_path, "agent2", SECOND_AGENT_PORT, SECOND_AGENT_MEDIA)
    assert call(sipp, tmp_path, [("", 800), ("1", 0), ("", 3000)]).wait() == 0 and second.wait() == 0
    record = only_record(engine)
    assert [o.agent for o in record.offers] == ["a2"] and record.agent == "a2"


def test_wrap_up_is_respected_before_the_next_offer(live_engine, sipp, tmp_path: Path) -> None:
    engine = live_engine(queue={"wrap_up": 3})
    agent = sipp.run(sipp.agent(ring_ms=300), tmp_path, "agent", AGENT_PORT, AGENT_MEDIA, calls=2)
    assert call(sipp, tmp_path, [("", 800), ("1", 0), ("", 2000)], name="first").wait() == 0
    assert call(sipp, tmp_path, [("", 800), ("1", 0), ("", 6000)], name="second").wait() == 0
    assert agent.wait() == 0
    first, second = records(engine, 2)
    assert second.offers[0].ring_start_ms - first.hangup_ms >= 3000  # 3 s of 话后处理 first
    assert second.agent == "a1" and second.exit_reason == "answered"


def test_an_agent_who_does_not_answer_loses_the_call_to_the_next(live_engine, sipp, tmp_path: Path) -> None:
    engine = live_engine(agents=(AGENT_PORT, SECOND_AGENT_PORT), queue={"ring_timeout": 2})
    silent = sipp.run(sipp.unanswered_agent(), tmp_path, "silent", AGENT_PORT, AGENT_MEDIA)
    second = sipp.run(sipp.agent(ring_ms=500), tmp_path, "agent2", SECOND_AGENT_PORT, SECOND_AGENT_MEDIA)
    assert call(sipp, tmp_path, [("", 800), ("1", 0), ("", 6000)]).wait() == 0
    assert silent.wait() == 0 and second.wait() == 0
    record = only_record(engine)
    first, answered = record.offers
    assert (first.agent, first.result, answered.agent, answered.result) == ("a1", "no_answer", "a2", "answered")
    assert first.ring_end_ms - first.ring_start_ms >= 1000  # FreeSWITCH counts originate_timeout in epoch seconds
    assert engine.queueing.core.agents["a1"].missed_in_a_row == {"no_answer": 1}
