"""The ``linkage:`` section: the directory of the units agents hand callers to (联动单位): 110, 119, 120, 122,
the other government hotlines and departments, each with its number, trunk, the caller ID it is shown and how a
call is handed over (国办发〔2022〕12号: clearly theirs, at once; unclear, a three-way call first)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from config.ivr import Digits, Trunk
from config.section import Section

_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def _key(value: str) -> str:
    if not _KEY.fullmatch(value):
        raise ValueError("a directory key is what agents type: lower-case letters, digits, _ or - (at most 32), "
                         'e.g. "110" or "housing"')
    return value


class Entry(Section):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    """Shown on the agent's toolbar and in the record."""
    number: Digits
    trunk: Trunk | None = None
    """None: ``ivr.trunk``."""
    caller_id: Digits | None = None
    """What the unit sees calling; None: the centre's first service number."""
    mode: Literal["handover", "three_way"] = "handover"
    """handover (一键转接): the agent leaves once the unit has the caller; three_way (三方通话): the agent stays
    until the unit answers, and the three agree who takes the request."""


def _default_directory() -> dict[str, Entry]:
    return {
        "110": Entry(name="公安 110", number="110", mode="three_way"),
        "119": Entry(name="消防 119", number="119"),
        "120": Entry(name="急救 120", number="120"),
        "122": Entry(name="交警 122", number="122"),
        "12315": Entry(name="市场监管 12315", number="12315", mode="three_way"),
        "12328": Entry(name="交通运输 12328", number="12328", mode="three_way"),
        "12366": Entry(name="税务 12366", number="12366", mode="three_way"),
    }


class Linkage(Section):
    directory: dict[Annotated[str, AfterValidator(_key)], Entry] = Field(default_factory=_default_directory)
    """Replaces the built-in directory when given (110, 119, 120, 122, 12315, 12328, 12366)."""
    answer_timeout: Annotated[float, Field(gt=0, le=300)] = 30
    """How long a unit rings in a three-way call before the caller is back with the agent alone."""
