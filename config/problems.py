"""What a configuration error looks like to an operator: file, line, key path, and what to change."""

from __future__ import annotations

from dataclasses import dataclass

KeyPath = tuple[str | int, ...]


def dotted(path: KeyPath) -> str:
    """``("centre", "service_numbers", 0)`` -> ``centre.service_numbers[0]``: the form the docs and errors use."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a configuration file, located so an editor can jump to it."""

    file: str
    line: int | None
    key: str
    message: str
    column: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.key}: {self.message}"


class ConfigError(Exception):
    """Every problem found in one configuration file, reported together so one edit-check cycle fixes them all."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))
