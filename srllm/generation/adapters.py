"""Finding a trained adapter: the profile's own run, by its settings hash (never the newest run by age)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from srllm.cache import cache_dir
from srllm.profiles import resolve
from srllm.training.runs import profile_run_name


def adapter_type(adapter_dir: str | os.PathLike) -> str:
    """The peft type of an adapter folder (``LORA``, ``PREFIX_TUNING``, ...)."""
    cfg = json.loads((Path(adapter_dir) / "adapter_config.json").read_text(encoding="utf-8"))
    return str(cfg.get("peft_type", "")).upper()


def _adapter_folder(run: Path, manifest: dict[str, Any]) -> Path | None:
    candidates = []
    for key in ("adapter_dir", "adapter", "adapter_path"):
        v = manifest.get(key)
        if isinstance(v, str) and v:
            p = Path(v)
            candidates.append(p if p.is_absolute() else run / p)
    candidates += [run / "adapter", run / "final", run]
    for c in candidates:
        if (c / "adapter_config.json").exists():
            return c
    return None


def profile_adapter(profile: Any = "cpu", method: str | None = None) -> tuple[Path | None, Path]:
    """The adapter of the profile's own training run for ``method`` (default the profile's
    ``train.method``, SR_LLM's QLoRA) and that run's folder, found by its settings hash
    (:func:`srllm.training.runs.profile_run_name`); ``(None, folder)`` when that run has not finished."""
    prof = resolve(profile)
    run = cache_dir() / "runs" / profile_run_name(prof, method)
    try:
        manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None, run
    if not isinstance(manifest, dict) or manifest.get("status") != "finished":
        return None, run
    return _adapter_folder(run, manifest), run


def how_to_train(profile: Any = "cpu", method: str | None = None) -> str:
    """One sentence: which run is missing and the command that trains it."""
    prof = resolve(profile)
    m = method or prof.train.method
    name = "SR_LLM" if m in ("qlora", "lora", "dense") else "prefix-tuning"
    return (f"no finished {name} run for profile '{prof.name}' yet; train it with "
            f"`srllm train --profile {prof.name} --method {m}` (the run notebook 02 of the book trains)")

