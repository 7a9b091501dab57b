"""Reading the YAML file while remembering the line of every key, so errors can point at it.

PyYAML's ``safe_load`` throws the node marks away; composing the node tree first keeps them. The same
walk catches duplicate keys, which PyYAML would otherwise resolve silently in favour of the last one.
"""

from __future__ import annotations

import bisect
import functools

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from config.problems import ConfigError, KeyPath, Problem, dotted

_NAME_TAGS = ("tag:yaml.org,2002:str", "tag:yaml.org,2002:merge")
"""Key tags that are names: plain text, and ``<<`` merging an anchored mapping."""


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed configuration file: its data, the 1-based line of each key path, and structural problems."""

    file: str
    data: Any
    lines: dict[KeyPath, int]
    problems: list[Problem]

    def line_of(self, path: KeyPath) -> int:
        """The line of ``path``; for a key that is absent, the line of its nearest present parent."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)


def read(path: Path) -> Document:
    """Parse ``path``; raises ConfigError if it cannot be read or is not valid YAML."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(file, None, "(file)", f"cannot read the file: {exc}")]) from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_syntax_problem(file, exc)]) from None
    finally:
        loader.dispose()
    lines: dict[KeyPath, int] = {}
    problems: list[Problem] = []
    if root is not None:
        _walk(root, (), lines, problems, file)
    return Document(file, data, lines, problems)


def _line(mark: yaml.Mark) -> int:
    """The line an editor shows: YAML also breaks lines at NEL, U+2028 and U+2029, editors only at LF."""
    if mark.buffer is None:
        return mark.line + 1
    return bisect.bisect_left(_line_feeds(mark.buffer), mark.index) + 1


@functools.lru_cache(maxsize=4)
def _line_feeds(text: str) -> list[int]:
    """Where each LF is, found once per file (counting them afresh for every key took minutes on a large file)."""
    return [at for at, char in enumerate(text) if char == "\n"]


def _syntax_problem(file: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    what = "; ".join(part for part in (exc.context, exc.problem) if part)
    line, column = (_line(mark), mark.column + 1) if mark else (None, None)
    return Problem(file, line, "(syntax)", f"invalid YAML: {what}", column)


def _walk(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], problems: list[Problem], file: str) -> None:
    lines.setdefault(path, _line(node.start_mark))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_path = (*path, str(key_node.value))
            line = _line(key_node.start_mark)
            if key_path in lines:
                problems.append(Problem(file, line, dotted(key_path),
                                        f"duplicate key: it was already set on line {lines[key_path]}, "
                                        "and YAML would silently keep only the last value"))
                continue
            lines[key_path] = line
            if key_node.tag not in _NAME_TAGS:
                kind = key_node.tag.rsplit(":", 1)[-1]
                problems.append(Problem(file, line, dotted(key_path),
                                        f"YAML reads the key {key_node.value!r} as {kind}, not as a name: "
                                        "quote it or correct it"))
            _walk(value_node, key_path, lines, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, problems, file)
