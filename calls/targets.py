"""Where an agent may send a caller, read from what they typed (toolbar, CLI, API) and checked before anything
reaches the switch: ``queue:<name>``, ``agent:<id>``, a linkage directory key (``110``, ``housing``) or a plain
number. Anything else is refused with a message saying what would have been accepted."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from config import Settings

_NUMBER = re.compile(r"[0-9]{3,20}")


class TargetError(ValueError):
    """Not a target this centre knows; nothing was sent."""


@dataclass(frozen=True, slots=True)
class Target:
    kind: Literal["queue", "agent", "directory", "number"]
    name: str
    """The queue, the agent, the directory key, or the number itself."""
    number: str = ""
    trunk: str = ""
    caller_id: str = ""
    mode: Literal["handover", "three_way"] = "handover"

    @property
    def label(self) -> str:
        """As the record and the toolbar show it: ``queue:general``, ``agent:1002``, ``110``, ``number:0771...``."""
        return self.name if self.kind == "directory" else f"{self.kind}:{self.name}"

    @property
    def outside(self) -> bool:
        """Dialled through a trunk (a directory entry or a number), not a queue or agent of the centre's."""
        return self.kind in ("directory", "number")

    @property
    def dial(self) -> str:
        """The dial string of a unit outside: its number through its trunk."""
        return f"{self.trunk}/{self.number}"


def resolve(text: str, settings: Settings) -> Target:
    kind, colon, name = text.partition(":")
    if colon and kind == "queue":
        if name not in settings.acd.queues:
            raise TargetError(f"no queue named {name!r} (queues: {', '.join(sorted(settings.acd.queues))})")
        return Target("queue", name)
    if colon and kind == "agent":
        if name not in settings.acd.agents:
            raise TargetError(f"no agent {name!r} in acd.agents")
        return Target("agent", name)
    caller_id = settings.centre.service_numbers[0]
    if (entry := settings.linkage.directory.get(text)) is not None:
        return Target("directory", text, entry.number, entry.trunk or settings.ivr.trunk, entry.caller_id or caller_id,
                      entry.mode)
    if _NUMBER.fullmatch(text):
        return Target("number", text, text, settings.ivr.trunk, caller_id)
    shown = repr(text[:40]) + ("..." if len(text) > 40 else "")
    raise TargetError(f"transfer target {shown} is none of queue:<name>, agent:<id>, a linkage directory entry "
                      f"({', '.join(sorted(settings.linkage.directory))}) or a plain number of 3-20 digits")
