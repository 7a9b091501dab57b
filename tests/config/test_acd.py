"""The ``acd:`` section: shapes, ranges, dial strings and cross-references, each located by key path."""

from __future__ import annotations

import pydantic
import pytest

import config
from config.acd import Acd

HEAD = "centre: {name: t}\nswitch: {password: a-strong-password-1}\n"


def test_cross_references_are_checked(problems) -> None:
    found = problems(HEAD + """acd:
  queues:
    general: {skill: general, on_timeout: {action: queue, target: missing}}
  agents:
    "1001": {contact: user/1001, skills: {business: 5}}
""")
    text = " | ".join(str(p) for p in found)
    assert "acd" in text
    assert "queues.general.on_timeout.target: no queue named 'missing'" in text
    assert "queues.general.skill: no agent has the skill 'general'" in text


def test_dial_string_injection_is_refused(problems) -> None:
    [problem] = problems(HEAD + 'acd:\n  agents:\n    "1001": {contact: "user/1001,execute_on_answer=x", skills: {general: 5}}\n')
    assert problem.key == "acd.agents.1001.contact" and problem.line == 5


def test_levels_are_one_to_ten(problems) -> None:
    [problem] = problems(HEAD + 'acd:\n  agents:\n    "1001": {contact: user/1001, skills: {general: 11}}\n')
    assert problem.key == "acd.agents.1001.skills.general" and "10" in problem.message


def test_defaults_give_one_general_queue() -> None:
    acd = config.defaults().acd
    assert list(acd.queues) == ["general"]
    assert acd.service_level.thresholds == [15, 20, 30]


def test_an_overflow_loop_between_queues_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="queues.a: its overflow leads back to it"):
        Acd.model_validate({"queues": {
            "a": {"skill": "s", "on_timeout": {"action": "queue", "target": "b"}},
            "b": {"skill": "s", "on_full": {"action": "queue", "target": "a"}}}})
    with pytest.raises(pydantic.ValidationError, match="target: an overflow to a number needs the number"):
        Acd.model_validate({"queues": {"a": {"skill": "s", "on_timeout": {"action": "number"}}}})
