"""The ``ivr:`` section: a menu tree is checked whole at load, each problem named by its key path."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import config

HEAD = "centre: {name: t, service_numbers: ['12345', '96333']}\nswitch: {password: a-strong-password-1}\n"


def text_of(found: list[config.Problem]) -> str:
    return " | ".join(str(p) for p in found)


def test_the_example_tree_loads_and_the_defaults_reach_a_human() -> None:
    ivr = config.defaults().ivr
    assert ivr.menus["main"].default is None and ivr.tenants["default"].queue == "general"


def test_missing_targets_and_unknown_queues_and_prompts(problems) -> None:
    found = text_of(problems(HEAD + """ivr:
  menus:
    main:
      prompt: nothing_here
      keys:
        "1": {do: menu, menu: ghost}
        "2": {do: queue, queue: nowhere}
        "3": {do: hangup, prompt: missing_bye}
"""))
    assert "ivr.menus.main.prompt: no prompt named 'nothing_here'" in found
    assert "ivr.menus.main.keys.1.menu: no menu named 'ghost'" in found
    assert "ivr.menus.main.keys.3.prompt: no prompt named 'missing_bye'" in found


def test_a_key_to_an_unknown_queue_is_named(problems) -> None:
    found = text_of(problems(HEAD + 'ivr:\n  menus:\n    main: {prompt: choice, keys: {"2": {do: queue, queue: nowhere}}}\n'))
    assert "ivr.menus.main.keys.2.queue: no queue named 'nowhere'" in found


def test_unreachable_menus_and_loops_with_no_way_out(problems) -> None:
    found = text_of(problems(HEAD + """ivr:
  menus:
    main: {prompt: choice, keys: {"1": {do: menu, menu: a}}}
    a: {prompt: choice, keys: {"1": {do: menu, menu: b}}, default: {do: menu, menu: b}}
    b: {prompt: choice, keys: {"1": {do: menu, menu: a}}, default: {do: repeat}}
    orphan: {prompt: choice}
"""))
    assert "ivr.menus.orphan: unreachable" in found
    assert "ivr.menus.a, b: a loop with no way out" in found
    assert "main" not in found.split("loop")[0].split("|")[-1]  # main itself has a way out (its default)


def test_back_counts_as_a_way_out_when_the_parent_has_one(write: Callable[[str, str], Path]) -> None:
    settings = config.load(write(HEAD + """ivr:
  menus:
    main: {prompt: choice, keys: {"1": {do: menu, menu: a}}}
    a: {prompt: choice, keys: {"*": {do: back}}, default: {do: repeat}}
"""))
    assert set(settings.ivr.menus) == {"main", "a"}


def test_duplicate_keys_are_refused_with_both_lines(problems) -> None:
    [problem] = problems(HEAD + """ivr:
  menus:
    main:
      prompt: choice
      keys:
        "1": {do: voicemail}
        "1": {do: lookup}
""")
    assert problem.line == 9 and "duplicate key" in problem.message and "line 8" in problem.message


def test_keys_are_phone_keys_and_numbers_are_digits(problems) -> None:
    found = text_of(problems(HEAD + """ivr:
  menus:
    main:
      prompt: choice
      keys:
        "12": {do: voicemail}
        "5": {do: number, number: "110;hangup"}
"""))
    assert "ivr.menus.main.keys.12" in found and "ivr.menus.main.keys.5.number.number" in found


def test_tenants_need_known_numbers_queues_and_a_regionless_fallback(problems) -> None:
    found = text_of(problems(HEAD + """ivr:
  tenants:
    guangxi: {numbers: ["12345", "77777"], regions: ["广西壮族自治区"], queue: general, queues: [general, vip]}
"""))
    assert "ivr.tenants.guangxi.numbers[1]: 77777 is not one of centre.service_numbers" in found
    assert "ivr.tenants.guangxi.queues[1]: no queue named 'vip'" in found
    assert "no tenant answers 12345 for callers of every region" in found


def test_hours_spans_dates_and_zone_are_checked(problems) -> None:
    found = text_of(problems(HEAD + """ivr:
  tenants:
    default:
      hours: {weekdays: ["18:00-08:00"], holidays: ["2026-10-08..2026-10-01"], timezone: Mars/Olympus}
"""))
    assert "ivr.tenants.default.hours.weekdays[0]" in found
    assert "ivr.tenants.default.hours.holidays[0]" in found
    assert "Mars/Olympus" in found


def test_prompt_files_cannot_carry_spaces_or_variables(problems) -> None:
    [problem] = problems(HEAD + 'ivr:\n  prompts:\n    welcome: {text: 您好, file: "/x/a b.wav ${system(id)}"}\n')
    assert problem.key == "ivr.prompts.welcome.file"
