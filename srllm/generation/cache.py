"""The generation cache: one JSONL file per key-set, one line per finished row, so an interrupted run resumes.

A cache file belongs to one key-set (model, adapter, prompt format, decoding
settings: see :func:`generation_cache_path`) and each line is keyed by the
prompt text and the number of new tokens (:func:`row_key`), so a rerun after an
interruption only generates the rows that are missing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from srllm.cache import cache_dir, stable_hash
from srllm.errors import SrllmError

# Bumped whenever post-processing or the cache line layout changes, so old lines are not reused.
# Bumped whenever post-processing or the cache line layout changes, so old lines are not reused.
CACHE_VERSION = 3


def decoding_settings(max_new_tokens: int) -> dict[str, Any]:
    """The decoding settings that enter every cache key (greedy, Appendix C)."""
    return {"strategy": "greedy", "do_sample": False, "num_beams": 1, "max_new_tokens": int(max_new_tokens),
            "cache_version": CACHE_VERSION}


def generation_cache_path(model_id: str, adapter_id: str | None, prompt_format: str, max_new_tokens: int,
                          root: str | os.PathLike | None = None) -> Path:
    """The JSONL cache file of one key-set: model, adapter, prompt format, decoding settings."""
    key = stable_hash({"model": model_id, "adapter": adapter_id, "prompt_format": prompt_format,
                       "decoding": decoding_settings(max_new_tokens)})
    base = Path(root) if root is not None else cache_dir() / "generations"
    return base / f"{key}.jsonl"


def row_key(prompt: str, max_new_tokens: int) -> str:
    """Key of one cache line: the full prompt text and the decoding length."""
    return stable_hash(prompt, int(max_new_tokens), CACHE_VERSION, length=24)


def read_cache(path: str | os.PathLike) -> dict[str, str]:
    """Finished rows of a cache file as ``{row key: output}``.

    A run killed while writing can leave an unterminated last line; it is cut off
    here (the file is truncated to its last complete line) so that the next append
    starts on a fresh line. Any other unreadable line is an error naming the line.
    """
    path = Path(path)
    if not path.exists():
        return {}
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        print(f"generate: dropping an unfinished last line of {path} (interrupted write); it will be regenerated",
              file=sys.stderr)
        with open(path, "r+b") as fh:
            fh.truncate(cut)
        data = data[:cut]
    out: dict[str, str] = {}
    for n, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out[row["key"]] = row["output"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise SrllmError(f"generation cache {path}, line {n}: unreadable ({exc}); delete the file to regenerate")
    return out

