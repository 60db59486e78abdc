"""Cache locations and content hashes shared by every stage.

Each stage writes its outputs under a folder named by a hash of its inputs, so
that a rerun with unchanged inputs finds its earlier result and skips the work.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

from srllm.errors import SrllmError


def cache_dir() -> Path:
    """Root of every cached artefact: ``$SRLLM_CACHE`` or ``~/.cache/srllm``."""
    root = Path(os.environ.get("SRLLM_CACHE") or Path.home() / ".cache" / "srllm")
    root.mkdir(parents=True, exist_ok=True)
    return root


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def stable_hash(*parts: Any, length: int = 16) -> str:
    """Hex digest of JSON-serialisable parts (dataclasses allowed), order-stable."""
    payload = json.dumps([_jsonable(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:length]


def file_hash(path: str | os.PathLike, length: int = 16) -> str:
    """Hex digest of a file's bytes (streamed, so large files are fine)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:length]


def adapter_fingerprint(adapter_dir: str | os.PathLike) -> str:
    """Content hash of a peft adapter folder: its ``adapter_config.json`` and ``adapter_model*``
    weight files, the files loading the adapter reads (a tokenizer copy beside them does not count).

    The one fingerprint of an adapter: generation caches, a run started from an adapter
    (``init_adapter``) and StereoSet predictions are keyed by it.
    """
    d = Path(adapter_dir)
    if not d.is_dir():
        raise SrllmError(f"adapter folder not found: {d}")
    if not (d / "adapter_config.json").is_file():
        raise SrllmError(f"{d} is not a peft adapter folder: adapter_config.json is missing")
    files = sorted(f for f in d.iterdir() if f.is_file() and (f.name == "adapter_config.json"
                                                               or f.name.startswith("adapter_model")))
    return stable_hash([(f.name, file_hash(f)) for f in files])


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write a file so that an interrupted run never leaves half of it behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_folder(target: str | os.PathLike, save: Callable[[Path], Any]) -> Path:
    """Fill a folder so that an interrupted run never leaves half of it behind.

    ``save(tmp)`` writes everything into ``<target>.partial`` (emptied first,
    in case an earlier run was interrupted there); only when it returns is the
    old ``target`` removed and the new one moved into its place. The folder
    counterpart of :func:`atomic_write_text`, for saved models, adapters and
    dataset copies.
    """
    import shutil

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    save(tmp)
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)
    return target
