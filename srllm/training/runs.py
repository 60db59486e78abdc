"""Run folders: the finished run's record (:class:`RunResult`), locking, checkpoints, and finding a run again.

``<cache>/runs/<method>-<hash>/``
    ``config.json``    the resolved :class:`~srllm.training.config.TrainConfig` and the data hash (written first)
    ``checkpoints/``   Trainer checkpoints every ``save_steps`` (removed once the run has finished)
    ``adapter/``       the trained peft adapter (qlora, lora, prefix)
    ``merged/``        adapter merged into full-precision base weights (qlora, lora), or the dense model
    ``sessions.json``  wall time and power of every session (a resumed run has several)
    ``manifest.json``  the run record, written last with ``"status": "finished"``
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

from srllm.cache import atomic_write_text, cache_dir
from srllm.errors import SrllmError
from srllm.profiles import resolve
from srllm.training.config import TrainConfig, run_hash
from srllm.training.pairs import data_hash, default_records, to_pairs

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


CONFIG = "config.json"


SESSIONS = "sessions.json"


@dataclass(frozen=True)
class RunResult:
    """A finished training run: its folder, config and run record."""

    run_dir: Path
    method: str
    run_hash: str
    config: dict[str, Any]
    manifest: dict[str, Any]
    reused: bool

    @property
    def model(self) -> str:
        """The base model the run trained."""
        return self.config["model"]

    @property
    def adapter_dir(self) -> Path | None:
        """The trained adapter's folder, None when the run saved none (dense fine-tuning)."""
        d = self.manifest.get("adapter_dir")
        return self.run_dir / d if d else None

    @property
    def merged_dir(self) -> Path | None:
        """The full model's folder: dense fine-tuning's, or the base with the adapter merged in when asked; else None."""
        d = self.manifest.get("merged_dir")
        return self.run_dir / d if d else None

    @property
    def log_history(self) -> list[dict[str, Any]]:
        """The trainer's log entries (losses by step) as recorded in the manifest."""
        return list(self.manifest.get("log_history", []))

    @property
    def final_train_loss(self) -> float | None:
        """The training loss the run ended with, None when not recorded."""
        return self.manifest.get("final_train_loss")

    @property
    def final_eval_loss(self) -> float | None:
        """The best evaluation loss (the trainer's best metric, else the last evaluation), None when there was none."""
        return self.manifest.get("best_eval_loss")

    def loss_curves(self) -> dict[str, list[tuple[int, float]]]:
        """``{"train": [(step, loss)], "eval": [(step, eval_loss)]}`` from a Trainer log history."""
        """``{"train": [(step, loss)], "eval": [(step, eval_loss)]}`` for plotting."""
        return loss_curves(self.log_history)

    def summary(self) -> dict[str, Any]:
        """A flat row for tables: method, steps, time, losses, energy."""
        m = self.manifest
        e = m.get("energy", {})
        return {"method": self.method, "model": self.model, "device": m.get("device", {}).get("device"),
                "steps": m.get("global_step"), "epochs": m.get("epoch"), "train_rows": m.get("data", {}).get("train_used"),
                "wall_minutes": round(m.get("wall_seconds", 0.0) / 60.0, 2),
                "first_eval_loss": m.get("first_eval_loss"), "best_eval_loss": m.get("best_eval_loss"),
                "final_train_loss": m.get("final_train_loss"), "energy_kwh": e.get("energy_kwh"),
                "kg_co2e": e.get("kg_co2e"), "power_source": ", ".join(e.get("power_sources", [])),
                "tokens_per_s": (m.get("throughput") or {}).get("tokens_per_s"),
                "padding_share": (m.get("throughput") or {}).get("padding_share"),
                "reused": self.reused, "run_dir": str(self.run_dir)}


def loss_curves(log_history: Sequence[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """Training and evaluation loss as ``(step, loss)`` points, read from a trainer log history."""
    train = [(int(h["step"]), float(h["loss"])) for h in log_history if "loss" in h and "step" in h]
    ev = [(int(h["step"]), float(h["eval_loss"])) for h in log_history if "eval_loss" in h and "step" in h]
    return {"train": train, "eval": ev}


def load_run(run_dir: str | os.PathLike) -> RunResult:
    """The :class:`RunResult` of a finished run folder (raises when it has not finished)."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    if manifest is None:
        raise SrllmError(f"{run_dir} holds no finished training run (no {MANIFEST} with status 'finished')")
    return RunResult(run_dir, manifest["method"], manifest["run_hash"], manifest["config"], manifest, reused=True)


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    """The run folder's manifest when the run finished, else None (missing, unreadable or unfinished)."""
    try:
        m = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return m if isinstance(m, dict) and m.get("status") == "finished" else None


def runs_dir() -> Path:
    """The folder under the srllm cache where training runs are kept (created if missing)."""
    d = cache_dir() / "runs"
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """One trainer per run folder; a second process waits, then finds the finished run."""
    import fcntl

    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another process is training %s; waiting for it", run_dir)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    """The newest complete checkpoint (its trainer_state.json, written last, parses), or None."""
    if not ckpt_dir.is_dir():
        return None
    found = []
    for d in ckpt_dir.glob("checkpoint-*"):
        try:
            step = int(d.name.split("-", 1)[1])
            json.loads((d / "trainer_state.json").read_text(encoding="utf-8"))
        except (ValueError, OSError, json.JSONDecodeError):
            continue  # a checkpoint cut short by an interruption
        found.append((step, d))
    return max(found)[1] if found else None


def prune_incomplete_checkpoints(ckpt_dir: Path, keep: Path | None) -> None:
    """Remove checkpoints newer than ``keep`` (all numbered ones when ``keep`` is None).

    Such checkpoints were cut short by an interruption; removing them lets training resume from ``keep``.
    """
    if not ckpt_dir.is_dir():
        return
    for d in ckpt_dir.glob("checkpoint-*"):
        if keep is not None and d.name == keep.name:
            continue
        try:
            step = int(d.name.split("-", 1)[1])
        except ValueError:
            continue
        if keep is None or step > int(keep.name.split("-", 1)[1]):
            log.warning("removing incomplete checkpoint %s", d)
            shutil.rmtree(d, ignore_errors=True)


def utc_now() -> str:
    """The current UTC time as an ISO 8601 string to the second, for run records."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def profile_run_name(profile: Any = "cpu", method: str | None = None) -> str:
    """The run folder name (``<method>-<hash>``) that ``train(method, profile)`` uses with the
    profile's own settings and default data: how the book's SR_LLM run is found again by
    its settings, never by age (a workshop or sweep run has other settings, so another name)."""
    prof = resolve(profile)
    d_train, d_eval, _ = default_records(prof)
    cfg = TrainConfig.from_profile(prof, method)
    train_pairs, _ = to_pairs(d_train, "train")
    eval_pairs, _ = to_pairs(d_eval, "eval")
    return f"{cfg.method}-{run_hash(cfg, data_hash(train_pairs, eval_pairs))}"


def find_profile_run(profile: Any = "cpu", method: str | None = None,
                     root: str | os.PathLike | None = None) -> RunResult | None:
    """The finished run of ``train(method, profile)`` under ``root`` (default the cache's runs/), or None."""
    run_dir = (Path(root) if root is not None else runs_dir()) / profile_run_name(profile, method)
    return load_run(run_dir) if read_manifest(run_dir) is not None else None


def claim_folder(run_dir: Path, cfg: TrainConfig, h: str, dhash: str, fresh: bool) -> None:
    """Record which run this folder holds; refuse to mix two different runs in one folder."""
    cfg_path = run_dir / CONFIG
    if cfg_path.exists() and not fresh:
        try:
            held = json.loads(cfg_path.read_text(encoding="utf-8")).get("run_hash")
        except (OSError, json.JSONDecodeError):
            held = None
        if held is not None and held != h:
            raise SrllmError(f"{run_dir} holds a different training run (hash {held}, this one is {h}); "
                             "choose another output folder or remove it")
    if fresh:
        for name in ("checkpoints", "adapter", "merged", SESSIONS, MANIFEST):
            p = run_dir / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    atomic_write_text(cfg_path, json.dumps({"run_hash": h, "data_hash": dhash, "config": cfg.to_dict()}, indent=2))


def checkpoint_step(checkpoint: str | None) -> int | None:
    """The step number of a ``checkpoint-<step>`` path, None for no path or another name."""
    if not checkpoint:
        return None
    try:
        return int(Path(checkpoint).name.split("-", 1)[1])
    except (ValueError, IndexError):
        return None

