"""``load``: YAML file -> validated Settings, or ConfigError naming file, line, key path and the fix."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import ErrorDetails

from config import source
from config.problems import ConfigError, KeyPath, Problem, dotted
from config.schema import Settings, defaults

_MAPPING_ERRORS = {"model_type", "model_attributes_type", "dict_type"}
_SCALARS = (bool, int, float)
MAX_BYTES = 1 << 20
"""A configuration file is tens of KiB: a file past this is a mistake (a log, a dump), refused unread."""
MAX_VALUES = 1_000_000
"""Values a document may hold once its aliases are expanded: more than a file of MAX_BYTES can spell out, so only
aliases nested in aliases ("billion laughs": 1 KiB that expands to gigabytes) reach it."""
MAX_DEPTH = 64
"""Nesting of mappings and lists: a hand-written file needs a dozen, and PyYAML composes recursively, so a few
hundred end in a RecursionError."""


def load(path: str | os.PathLike[str] | None) -> Settings:
    """Settings from ``path``, or the built-in demo defaults when ``path`` is None.

    Every problem in the file is collected before raising, so one run of ``hotline config check`` lists them all.
    """
    if path is None:
        return defaults()
    _refuse_costly(Path(path))
    document = source.read(Path(path))
    if not isinstance(document.data, dict):
        raise ConfigError([*document.problems, Problem(
            document.file, document.line_of(()), dotted(()),
            f"expected a mapping of sections ({', '.join(Settings.model_fields)}); got {_shown(document.data)}",
        )])
    try:
        settings = Settings.model_validate(document.data)
    except ValidationError as exc:
        # invalid_key (a key YAML read as a number or boolean) is already reported, at its line, by source.read
        found = [_problem(document, error) for error in exc.errors(include_url=False) if error["type"] != "invalid_key"]
        raise ConfigError(sorted([*document.problems, *found], key=lambda problem: problem.line or 0)) from None
    if document.problems:
        raise ConfigError(document.problems)
    return settings


def _refuse_costly(path: Path) -> None:
    """Raise ConfigError for a file that parsing would make costly (too large, too deep, aliases that expand
    exponentially), from its YAML events alone: nothing is composed or expanded before the refusal."""
    def refused(message: str) -> ConfigError:
        return ConfigError([Problem(str(path), None, "(file)", message)])

    try:
        with path.open("rb") as stream:
            head = stream.read(MAX_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise refused(f"cannot read the file: {exc}") from None
    if len(head) > MAX_BYTES:
        raise refused(f"larger than {MAX_BYTES // 1024} KiB: not a configuration file")
    sizes: dict[str, int] = {}  # values of each anchored node, aliases expanded
    open_nodes: list[list[Any]] = [[None, 0]]  # [anchor, values so far] of each mapping or list being read
    try:
        for event in yaml.parse(head, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                open_nodes.append([event.anchor, 1])
                if len(open_nodes) > MAX_DEPTH:
                    raise refused(f"mappings and lists nested more than {MAX_DEPTH} deep")
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                anchor, size = open_nodes.pop()
            elif isinstance(event, yaml.ScalarEvent):
                anchor, size = event.anchor, 1
            elif isinstance(event, yaml.AliasEvent):
                anchor, size = None, sizes.get(event.anchor, 1)
            else:
                continue
            if anchor is not None:
                sizes[anchor] = size
            open_nodes[-1][1] += size
            if open_nodes[-1][1] > MAX_VALUES:
                raise refused(f"its YAML aliases (*name) expand it past {MAX_VALUES:,} values "
                              "(a \"billion laughs\" file?): refused unexpanded")
    except yaml.YAMLError:
        pass  # source.read reports it, located


def _problem(document: source.Document, error: ErrorDetails) -> Problem:
    path: KeyPath = tuple(error["loc"])
    kind = error["type"]
    if kind == "missing":
        parent = f"under {dotted(path[:-1])}" if len(path) > 1 else "at the top level"
        message = f"required key is missing: add {path[-1]!r} {parent}"
    elif kind == "extra_forbidden":
        message = _unknown_key(path)
    elif kind in _MAPPING_ERRORS:
        message = f"expected a mapping with the keys {', '.join(_keys_at(path))}; got {_shown(error['input'])}"
    else:
        message = str(error["ctx"]["error"]) if kind == "value_error" else error["msg"]
        if kind == "string_type" and isinstance(error["input"], _SCALARS):
            message += "; put the value in quotes (unquoted, YAML reads it as a number or boolean)"
        if _annotation_at(path) is not SecretStr:
            message += f"; got {_shown(error['input'])}"
    return Problem(document.file, document.line_of(path), dotted(path), message)


def _unknown_key(path: KeyPath) -> str:
    allowed = _keys_at(path[:-1])
    guess = difflib.get_close_matches(str(path[-1]), allowed, n=1)
    hint = f" (did you mean {guess[0]!r}?)" if guess else ""
    return f"unknown key {path[-1]!r}{hint}; allowed here: {', '.join(allowed)}"


def _keys_at(path: KeyPath) -> list[str]:
    model = _annotation_at(path)
    return list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []


def _annotation_at(path: KeyPath) -> Any:
    """The declared type at a key path, following sub-models, lists and mappings (``None`` if unknown)."""
    annotation: Any = Settings
    for part in path:
        if get_origin(annotation) is None and isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            annotation = field.annotation
        elif get_args(annotation):
            annotation = get_args(annotation)[-1]
        else:
            return None
    return annotation


def _shown(value: object) -> str:
    if value is None:
        return "an empty value"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
