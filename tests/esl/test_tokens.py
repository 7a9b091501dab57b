"""Caller-derived words cannot shift arguments, add originate variables or ask for ${} expansion."""

from __future__ import annotations

import pytest

from esl import tokens
from esl.errors import UnsafeValue


@pytest.mark.parametrize("value", ["1000 XML internal", "12345\n", "", "1" * 33, "12a", None])
def test_numbers_are_digits_only(value: object) -> None:
    with pytest.raises(UnsafeValue):
        tokens.number(value)


def test_good_tokens_pass_unchanged() -> None:
    assert tokens.number("+8613800138000") == "+8613800138000"
    assert tokens.dtmf("12*#") == "12*#"
    assert tokens.uuid("6f1b2c3d-1111-4222-8333-944455556666")
    assert tokens.hangup_cause("NORMAL_CLEARING") == "NORMAL_CLEARING"


@pytest.mark.parametrize("value", ["1A", "1 2", "12\n", "%31"])
def test_dtmf_is_the_twelve_keys(value: str) -> None:
    with pytest.raises(UnsafeValue):
        tokens.dtmf(value)


@pytest.mark.parametrize("value", [
    "x,execute_on_answer=system rm", "a}user/9999", "${system(id)}", "a'b", 'a"b', "a[b]", "a|b", "a^b", "a\\b", "a b",
])
def test_originate_variable_injection_is_refused(value: str) -> None:
    with pytest.raises(UnsafeValue, match="inject"):
        tokens.originate("user/1001", {"origination_caller_id_name": value}, "&park()")


def test_originate_builds_the_block() -> None:
    line = tokens.originate("user/1001", {"origination_caller_id_number": "13800138000", "hotline_call": "abc"}, "&park()")
    assert line == "{origination_caller_id_number=13800138000,hotline_call=abc}user/1001 &park()"


@pytest.mark.parametrize("endpoint, target", [
    ("user/1001 XML", "&park()"), ("user/{x}", "&park()"), ("user/1001", "&park() XML"), ("user/1001", "&bridge(${x})"),
    ("user/1001", "9196 XML default"),
])
def test_originate_endpoint_and_target_must_be_plain(endpoint: str, target: str) -> None:
    with pytest.raises(UnsafeValue):
        tokens.originate(endpoint, {}, target)


def test_variable_names_are_checked() -> None:
    with pytest.raises(UnsafeValue):
        tokens.originate("user/1001", {"a=b,c": "1"}, "&park()")


def test_scrub_makes_display_text_safe() -> None:
    shown = tokens.scrub("张三, ${system(id)}\n'x'")
    assert tokens.variable_value(shown) == shown
    assert shown.startswith("张三")


def test_app_argument_refuses_expansion() -> None:
    with pytest.raises(UnsafeValue):
        tokens.app_argument("prompts/${system(id)}.wav")
    assert tokens.app_argument("1 4 3 5000 # ivr/welcome.wav") == "1 4 3 5000 # ivr/welcome.wav"
