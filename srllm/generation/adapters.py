"""Finding a trained adapter: the profile's own run (by its settings hash) or the newest finished run."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from srllm.cache import cache_dir
from srllm.profiles import resolve
from srllm.training.runs import profile_run_name

def adapter_type(adapter_dir: str | os.PathLike) -> str:
    """The peft type of an adapter folder (``LORA``, ``PREFIX_TUNING``, ...)."""
    cfg = json.loads((Path(adapter_dir) / "adapter_config.json").read_text(encoding="utf-8"))
    return str(cfg.get("peft_type", "")).upper()


FINISHED_STATUSES = ("finished", "complete", "completed", "done", "ok", "success")


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


def _manifest_model(manifest: dict[str, Any]) -> str | None:
    for key in ("model", "model_name", "base_model"):
        if isinstance(manifest.get(key), str):
            return manifest[key]
    for key in ("profile", "config"):
        sub = manifest.get(key)
        if isinstance(sub, dict):
            found = _manifest_model(sub)
            if found:
                return found
    return None


def _matches_model(adapter: Path, manifest: dict[str, Any], model_name: str) -> bool:
    named = _manifest_model(manifest)
    if named is not None:
        return named == model_name
    try:
        base = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, json.JSONDecodeError):
        return False
    return bool(base) and (base == model_name or Path(base).name == model_name)


def latest_adapter(model_name: str | None = None, runs_dir: str | os.PathLike | None = None, *,
                   kind: str | None = None) -> Path | None:
    """The adapter of the newest finished training run under ``cache_dir()/runs``.

    A run counts when its folder has a ``manifest.json`` (with a finished status,
    where the manifest records one) and a peft adapter; with ``model_name``, only
    runs trained on that base model count; with ``kind`` (``LORA`` or ``PREFIX_TUNING``),
    only adapters of that peft type. Newest by the manifest's ``finished_at`` (else its
    modification time).
    """
    root = Path(runs_dir) if runs_dir is not None else cache_dir() / "runs"
    if not root.is_dir():
        return None
    found: list[tuple[float, Path]] = []
    for manifest_path in root.glob("*/manifest.json"):
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # a run still being written, or not a run record
        if not isinstance(manifest, dict):
            continue
        status = manifest.get("status")
        if isinstance(status, str) and status.lower() not in FINISHED_STATUSES:
            continue
        adapter = _adapter_folder(manifest_path.parent, manifest)
        if adapter is None:
            continue
        if model_name is not None and not _matches_model(adapter, manifest, model_name):
            continue
        if kind is not None:
            try:
                if adapter_type(adapter) != kind.upper():
                    continue
            except (OSError, json.JSONDecodeError):
                continue
        found.append((_finished_at(manifest, manifest_path), adapter))
    return max(found)[1] if found else None


def _finished_at(manifest: dict[str, Any], path: Path) -> float:
    """When a run finished: its manifest's ``finished_at`` (ISO time) where readable, else the file's mtime."""

    stamp = manifest.get("finished_at")
    if isinstance(stamp, str):
        try:
            return datetime.fromisoformat(stamp).timestamp()
        except ValueError:
            pass
    return path.stat().st_mtime


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

