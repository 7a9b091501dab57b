"""What a vosk model folder must hold, checked before any worker loads it: a missing or wrong folder is a
configuration error the operator reads at start, not a crash in a worker process later."""

from __future__ import annotations

import re
from pathlib import Path

DEFAULT_RATE = 16_000
"""Kaldi's default ``--sample-frequency``, which vosk models use when their mfcc.conf does not name one."""


def model_problem(folder: str, vocabulary: bool = False) -> str | None:
    """Why ``folder`` cannot serve as the recogniser's model (None: it can). ``vocabulary``: the configuration
    limits recognition to a word list, which only a model with a runtime graph (Gr.fst and HCLr.fst) can do."""
    root = Path(folder)
    if not root.is_dir():
        return (f"no folder {folder!r}: download a vosk model (the production one is Chinese, vosk-model-small-cn-0.22 "
                "or vosk-model-cn-0.22 from https://alphacephei.com/vosk/models) and unpack it there")
    graph = root / "graph"
    missing = [name for name in ("am/final.mdl", "conf/mfcc.conf") if not (root / name).is_file()]
    dynamic = (graph / "Gr.fst").is_file() and (graph / "HCLr.fst").is_file()
    if not dynamic and not (graph / "HCLG.fst").is_file():
        missing.append("graph/HCLG.fst (or graph/Gr.fst and graph/HCLr.fst)")
    if missing:
        return f"{folder!r} is not a vosk model: it has no {', '.join(missing)}"
    if vocabulary and not dynamic:
        return (f"{folder!r} has a static graph (HCLG.fst): asr.vocabulary needs a model with a runtime graph "
                "(graph/Gr.fst and graph/HCLr.fst, as vosk's small models have); remove asr.vocabulary or change model")
    return None


def sample_rate(folder: str) -> int:
    """The rate the model's features are computed at (mfcc.conf), which the audio is resampled to."""
    found = re.search(r"^--sample-frequency=(\d+)", (Path(folder) / "conf" / "mfcc.conf").read_text(), re.M)
    return int(found.group(1)) if found else DEFAULT_RATE
