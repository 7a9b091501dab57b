"""The engine refuses to start ASR on a folder that is not a vosk model, naming the file, the key and what is
missing; a vocabulary needs a model with a runtime graph."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import config
from asr.model import sample_rate
from config.problems import ConfigError

MINIMAL = "centre: {name: t}\nswitch: {password: a-strong-password-1}\n"


def problems(tmp_path: Path, asr: str) -> list[str]:
    path = tmp_path / "hotline.yaml"
    path.write_text(MINIMAL + asr, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        config.load(path)
    return [f"{p.file}:{p.line}: {p.key}: {p.message}" for p in refused.value.problems]


def test_a_missing_folder_or_one_that_is_not_a_model_is_refused_saying_what_to_do(tmp_path: Path) -> None:
    [missing] = problems(tmp_path, f"asr: {{enabled: true, model: {tmp_path}/vosk-model-small-cn-0.22}}\n")
    assert missing.startswith(f"{tmp_path}/hotline.yaml:3: asr.model: no folder ") and "download a vosk model" in missing
    (tmp_path / "model" / "am").mkdir(parents=True)
    [wrong] = problems(tmp_path, f"asr: {{enabled: true, model: {tmp_path}/model}}\n")
    assert wrong.endswith("is not a vosk model: it has no am/final.mdl, conf/mfcc.conf, graph/HCLG.fst (or "
                          "graph/Gr.fst and graph/HCLr.fst); got " + repr(f"{tmp_path}/model"))


def test_a_vocabulary_needs_a_runtime_graph(tmp_path: Path, ko_model: str) -> None:
    static = tmp_path / "static"
    shutil.copytree(ko_model, static, ignore=shutil.ignore_patterns("*.fst", "final.mdl", "final.ie", "final.dubm"))
    for name in ("am/final.mdl", "graph/HCLG.fst"):
        (static / name).write_bytes(b"")
    [refused] = problems(tmp_path, f"asr: {{enabled: true, vocabulary: [네], model: {static}}}\n")
    assert "has a static graph (HCLG.fst): asr.vocabulary needs a model with a runtime graph" in refused
    loaded = tmp_path / "ok.yaml"
    loaded.write_text(MINIMAL + f"asr: {{enabled: true, vocabulary: [네], model: {ko_model}}}\n", encoding="utf-8")
    assert config.load(loaded).asr.vocabulary == ["네"] and sample_rate(ko_model) == 16_000


def test_asr_off_needs_no_model(tmp_path: Path) -> None:
    path = tmp_path / "hotline.yaml"
    path.write_text(MINIMAL + "asr: {enabled: false, model: /nowhere}\n", encoding="utf-8")
    assert config.load(path).asr.enabled is False
