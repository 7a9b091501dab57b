"""The engine builds its decision core from the configuration file."""

from __future__ import annotations

from pathlib import Path

import config
from acd.queueing import distributor_from
from acd.queues import Overflow, Strategy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nanning-12345.yaml"


def test_example_centre_becomes_a_core() -> None:
    core = distributor_from(config.load(EXAMPLE))
    assert set(core.queues) == {"general", "business", "dialect", "emergency"}
    general = core.queues["general"]
    assert general.min_level == 3 and general.widening[0].after_s == 20 and general.widening[0].min_level == 1
    assert general.on_timeout == Overflow("voicemail", "") and general.sticky_window_s == 86400
    assert core.queues["emergency"].strategy is Strategy.RING_ALL
    assert core.agents["1004"].skills == {"general": 7, "business": 9, "dialect": 4}
    assert core.policy["not_registered"].limit == 1 and core.policy["failed"].reason == "offer_failed"
    assert core.service_level.quick_abandon_ms == 5000
