"""Whatever YAML an operator writes, loading ends in Settings or a ConfigError located inside the file."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import config

KEYS = st.sampled_from(["centre", "switch", "name", "password", "host", "port", "reconnect", "maximum", "events",
                        "listen", "telemetry", "log_format", "outbound_socket", "service_numbers", "typo"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10, 70000), st.floats(allow_nan=False),
                    st.text(max_size=20), st.sampled_from(["ALL", "ClueCon", "0.0.0.0:8084", "127.0.0.1:1"]))
DOCUMENTS = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
                         max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(DOCUMENTS)
def test_load_never_crashes_and_locates_every_problem(document: object) -> None:
    text = yaml.safe_dump(document, allow_unicode=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "fuzz.yaml")
        path.write_text(text, encoding="utf-8")
        try:
            config.load(path)
        except config.ConfigError as exc:
            lines = max(1, text.count("\n"))
            for problem in exc.problems:
                assert problem.file == str(path) and problem.key and problem.message
                assert problem.line is not None and 1 <= problem.line <= lines, str(problem)
