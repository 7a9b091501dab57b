"""Real calls through a live FreeSWITCH: sipp citizens and agents, the engine in this process, records checked
field by field against what sipp did. Timings come from the scenarios (ring and talk times); the checks allow
for signalling and scheduling on top of them, never less than the scenario takes."""

from __future__ import annotations

from pathlib import Path

from live import (AGENT_MEDIA, AGENT_PORT, CITIZEN_MEDIA, CITIZEN_PORT, SECOND_AGENT_MEDIA, SECOND_AGENT_PORT,
                      archived, call, only_record, records)

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
    assert record.wait_ms == record.answered_ms - record.queue_entry_ms  # ring time counts as waiting
    assert record.wait_ms >= offer.ring_end_ms - offer.ring_start_ms
    assert engine.queueing.core.service_level.total("general").answered == 1
    kept, channels = archived(engine, record.call_id)  # the WAV, compressed to Opus after the call
    seconds = kept.duration_ms / 1000
    assert channels == 2 and 2.0 <= seconds <= (record.hangup_ms - record.answered_ms) / 1000 + 0.5


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
    [left], [joined] = first.parties, second.parties
    # 3 s of 话后处理 first, both ends by the switch's clock: the agent's first leg gone, the next one created (the
    # offer's ring_start_ms is the engine's clock: against the switch's hang-up stamp it once read 2,990 ms)
    assert joined.joined_ms - left.left_ms >= 3000
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
