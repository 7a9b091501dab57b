"""The simulation drives the real decision core; in M/M/c conditions it must reproduce Erlang C."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from acd.simulate import Scenario, erlang_c, erlang_c_service_level, run

MMC = dict(agents=10, calls_per_hour=160.0, handle_s=180.0, patience_s=None, hours=400.0, seed=1)
"""8 erlangs on 10 agents, no abandonment, no wrap-up, instant answer: the Erlang C assumptions."""
TOLERANCE = 0.03
"""Seeded 400-hour runs fall within 0.015 of the formula; last-in-first-out lands about 0.13 away."""


def test_erlang_c_formula_known_value() -> None:
    assert erlang_c(10, 8.0) == pytest.approx(0.40918, abs=1e-5)


def test_twenty_second_service_level_matches_erlang_c() -> None:
    report = run(Scenario(**MMC))
    expected = erlang_c_service_level(10, 160.0, 180.0, 20)
    assert report.totals.abandoned == 0 and report.totals.answered == report.totals.requests
    assert abs(report.totals.levels(20)["answered_within"] - expected) < TOLERANCE
    asa_s = report.totals.wait_ms_total / report.totals.answered / 1000
    assert asa_s == pytest.approx(erlang_c(10, 8.0) * 180 / 2, rel=0.1)


def test_the_check_can_tell_a_wrong_queue_discipline() -> None:
    """Negative control: serving the newest caller first keeps the mean wait but breaks the service level."""
    report = run(Scenario(**MMC, last_in_first_out=True))
    expected = erlang_c_service_level(10, 160.0, 180.0, 20)
    assert abs(report.totals.levels(20)["answered_within"] - expected) > TOLERANCE


def test_a_day_of_a_thirty_agent_centre() -> None:
    report = run(Scenario(agents=30, calls_per_hour=500, hours=8, patience_s=120, seed=7))
    totals = report.totals
    assert totals.requests == totals.answered + totals.abandoned
    assert 0 < totals.abandoned < totals.requests * 0.1
    assert 0.6 < report.occupancy < 0.95
    levels = totals.levels(20)
    assert levels["hotline_12345"] == totals.answered_within[20] / (totals.requests - totals.quick_abandons)
    assert levels["answered_within"] == totals.answered_within[20] / totals.answered
    assert any(line.startswith("20秒接通率 (12345: answered within 20 s") for line in report.lines())


def exact_erlang_c(agents: int, erlangs: int) -> Fraction:
    """The textbook formula in exact rational arithmetic, every term scaled by c! so it stays an integer."""
    scale = math.factorial(agents)
    waiting = Fraction(erlangs**agents * agents, agents - erlangs)
    return waiting / (sum(erlangs**k * (scale // math.factorial(k)) for k in range(agents)) + waiting)


@pytest.mark.parametrize("agents, erlangs", [(1, 0), (2, 1), (10, 8), (30, 25), (150, 140), (171, 160), (300, 280),
                                             (1000, 950), (1000, 999)])
def test_erlang_c_matches_the_exact_formula_at_any_size(agents: int, erlangs: int) -> None:
    """Against the textbook formula in exact rationals, at every size: in floats it overflows past 170 agents."""
    exact = float(exact_erlang_c(agents, erlangs))
    assert erlang_c(agents, float(erlangs)) == pytest.approx(exact, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("agents", [150, 300, 1000])
@pytest.mark.parametrize("load", [0.01, 0.5, 0.9, 0.999])
def test_erlang_c_service_level_is_a_probability_for_large_centres(agents: int, load: float) -> None:
    level = erlang_c_service_level(agents, agents * load * 3600 / 180, 180.0, 20)
    assert math.isfinite(level) and 0.0 <= level <= 1.0
