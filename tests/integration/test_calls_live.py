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
from acd.engine import Engine
from acd.tracking import CallTimeline
from cli import switch_link
from esl import EslError

AGENT_PORT, AGENT_MEDIA, CITIZEN_PORT, CITIZEN_MEDIA = 5091, 6091, 5071, 6071


@pytest.fixture
def live_engine(tmp_path: Path) -> Iterator[Callable[..., Engine]]:
    started: list[Engine] = []

    def make(logged_in: bool = True, **ivr: object) -> Engine:
        settings = config.Settings.model_validate({
            "centre": {"name": "live test", "service_numbers": ["12345"]},
            "switch": {"host": os.environ["HOTLINE_FS_HOST"], "port": int(os.environ.get("HOTLINE_FS_PORT", "8021")),
                       "password": os.environ["HOTLINE_FS_PASSWORD"]},
            "acd": {"agents": {"a1": {"contact": f"sofia/external/agent@127.0.0.1:{AGENT_PORT}",
                                      "skills": {"general": 5}, "auto_login": logged_in}},
                    "queues": {"general": {"skill": "general", "wrap_up": 0, "ring_timeout": 15}}},
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
        for uuid in [*engine.acd.tracker.calls, *engine.acd.legs]:  # a failed test leaves no call on the switch
            with contextlib.suppress(EslError):
                engine.link.api(f"uuid_kill {uuid}")
        engine.stop()


def only_record(engine: Engine) -> CallTimeline:
    """The one call of the test, once the engine has handled its hang-up and stored its record."""
    deadline = time.monotonic() + 15
    while not engine.records and time.monotonic() < deadline:
        gevent.sleep(0.05)  # the hang-up event is on its way from the switch
    assert engine.writer.flush(15)
    [record] = engine.records
    return record


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
    assert engine.acd.core.service_level.total("general").answered == 1
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
