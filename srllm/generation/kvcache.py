"""Key/value caches for batched greedy decoding: left padding, a peft prefix as a filled cache, a
preallocated buffer layer that avoids copying every layer's cache at every step, and the attention
kernel one-token decoding steps use."""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Iterator


def left_pad(rows: list[list[int]], pad_id: int) -> tuple[Any, Any]:
    """Token id rows as one left-padded ``(ids, attention_mask)`` tensor pair.

    Left, so every row's last token sits in the last column where decoding continues.
    """
    # Hand-written rather than tokenizer.pad: the ids are already tokenised once
    # up front and this avoids changing the shared tokenizer's padding side.
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
            mask[i, width - len(r):] = 1
    return ids, mask


def device_of(model: Any) -> Any:
    """The device of ``model``'s parameters (where its inputs must go)."""
    try:
        return next(model.parameters()).device
    except StopIteration:  # pragma: no cover - a model always has parameters
        return "cpu"


def prefix_tokens(model: Any) -> int:
    """Number of virtual tokens when ``model`` is a peft prefix-tuning model, else 0."""
    cfg = getattr(model, "active_peft_config", None)
    if cfg is None or str(getattr(cfg, "peft_type", "")).upper().split(".")[-1] != "PREFIX_TUNING":
        return 0
    return int(cfg.num_virtual_tokens)


def new_cache(base: Any, model: Any, n_virtual: int) -> Any:
    """An empty key/value cache for ``base``; with prefix-tuning (``n_virtual`` > 0) instead the
    learned prefix as a filled cache for one row, so decoding follows it as in training (Li & Liang 2021).
    """
    if n_virtual:
        # peft's learned prefix, as a filled cache for one row (positions 0..n_virtual-1).
        return model.get_prompt(batch_size=1)
    from transformers import DynamicCache

    return DynamicCache(config=base.config)


def full_attention_cache(cache: Any) -> bool:
    """True when every layer of ``cache`` is a plain full-attention ``DynamicLayer``.

    The hand-written batched decoder assumes such layers; without a prefix, a model whose
    cache has other layers (sliding window, static) falls back to transformers' ``generate``.
    """
    from transformers.cache_utils import DynamicLayer

    return all(type(layer) is DynamicLayer for layer in getattr(cache, "layers", [None]))


@functools.lru_cache(maxsize=1)
def _buffer_layer_class() -> type:
    """A transformers ``DynamicLayer`` that writes into a preallocated buffer instead of concatenating.

    Hand-written because neither stock layer fits batched CPU decoding:
    ``DynamicLayer.update`` concatenates, so every decoding step copies the whole
    cache of every layer; ``StaticLayer`` preallocates, but attention then runs
    over its full length at every step. This layer preallocates (growing by
    doubling if ever needed) and hands attention a view of the filled part only.
    """
    from transformers.cache_utils import DynamicLayer

    class BufferLayer(DynamicLayer):
        def __init__(self, capacity: int) -> None:
            super().__init__()
            self.capacity = int(capacity)
            self.length = 0

        def lazy_initialization(self, key_states: Any, value_states: Any) -> None:
            self._allocate(key_states, value_states, key_states.shape[0])

        def _allocate(self, key_like: Any, value_like: Any, batch: int) -> None:
            # Uninitialised: every position is written before attention reads it (update writes
            # from position 0 on; reserve zeroes the positions it marks filled). Zeroing the whole
            # buffer here took about a second per batch of 64 on a 2-core machine.
            self.device = key_like.device
            h = key_like.shape[1]
            self._k = key_like.new_empty((batch, h, self.capacity, key_like.shape[-1]))
            self._v = value_like.new_empty((batch, h, self.capacity, value_like.shape[-1]))
            self.is_initialized = True

        def _views(self) -> None:
            self.keys, self.values = self._k[:, :, :self.length], self._v[:, :, :self.length]

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            end = self.length + key_states.shape[-2]
            if end > self.capacity:  # not reached when the capacity was computed right; kept correct anyway
                self.capacity = max(end, 2 * self.capacity)
                k, v = self._k, self._v
                self.lazy_initialization(k, v)
                self._k[:, :, :self.length], self._v[:, :, :self.length] = k[:, :, :self.length], v[:, :, :self.length]
            self._k[:, :, self.length:end] = key_states
            self._v[:, :, self.length:end] = value_states
            self.length = end
            self._views()
            return self.keys, self.values

        def get_seq_length(self) -> int:
            return self.length

        def reserve(self, like: Any, batch: int, length: int) -> None:
            """Allocate ``batch`` rows shaped like ``like`` (b, heads, t, dim), zero the first ``length``
            positions and mark them filled; :meth:`write` then fills them group by group."""
            self.capacity = max(self.capacity, length)
            self._allocate(like, like, batch)
            # Zeros where no group writes (a short group's left padding): masked out, but it must
            # be finite, since attention multiplies it by a zero weight.
            self._k[:, :, :length] = 0
            self._v[:, :, :length] = 0
            self.length = length
            self._views()

        def write(self, rows: Any, start: int, keys: Any, values: Any) -> None:
            """Copy ``keys``/``values`` (len(rows), heads, t, dim) into ``rows`` at positions start..start+t."""
            end = start + keys.shape[-2]
            self._k[rows, :, start:end] = keys
            self._v[rows, :, start:end] = values

        def truncate(self, length: int) -> None:
            """Forget every position from ``length`` on (a rejected draft's keys and values)."""
            self.length = min(self.length, int(length))
            self._views()

        def batch_select_indices(self, indices: Any) -> None:
            if self.is_initialized:
                self._k, self._v = self._k[indices], self._v[indices]
                self._views()

    return BufferLayer


def buffer_cache(base: Any, capacity: int) -> Any:
    """A cache for ``base`` whose layers write into preallocated buffers of ``capacity`` positions.

    Avoids copying every layer's cache at every decoding step (the buffer layer is described in this module).
    """
    from transformers import DynamicCache

    cache = DynamicCache(config=base.config)
    layer = _buffer_layer_class()
    n = len(cache.layers) or base.config.num_hidden_layers
    cache.layers = [layer(capacity) for _ in range(n)]
    return cache


def one_token_attention(query: Any, key: Any, value: Any, mask: Any, scaling: float, shared: int = 0) -> Any:
    """Attention of one query token per row over a batch's cache, with grouped-query heads and a shared start.

    ``query`` (rows, heads, 1, dim); ``key``/``value`` (rows, kv_heads, length, dim); ``mask`` None, or
    boolean (True: attend) or additive, broadcastable to (rows, 1, 1, length); ``shared``: how many
    leading cache positions hold the same keys and values in every row and are visible to every row
    (the prompt start that :func:`srllm.generation.decoding._greedy_batch` encodes once). Returns
    (rows, 1, heads, dim), the layout transformers' attention functions return.

    The same softmax over the same scores as ``scaled_dot_product_attention``, computed so that a
    decoding step reads less memory, which is what bounds it on a CPU: the query heads that share a
    key/value head are stacked as rows of one product (no copy of the keys per query head); the
    scale multiplies the scores, not the whole key cache (PyTorch's plain kernel scales the keys:
    a read and a write of every cached key at every step); and the shared start's keys and values
    are read once for the whole batch, as one matrix product over all rows' queries, instead of
    once per row. Computing a shared prefix's attention once for the batch is the idea of
    Hydragen (Juravsky et al. 2024); here the shared and own scores go through one softmax, so no
    partial results are merged. Same result up to float summation order.
    """
    import torch

    rows, heads, _, dim = query.shape
    kv_heads = key.shape[1]
    group = heads // kv_heads
    q = query.reshape(rows, kv_heads, group, dim)
    own = torch.matmul(q, key[:, :, shared:].transpose(-1, -2))  # (rows, kv_heads, group, length - shared)
    if shared:
        # every row's queries against the one copy of the shared start: (kv_heads, rows * group, shared)
        q_all = q.transpose(0, 1).reshape(kv_heads, rows * group, dim)
        common = torch.matmul(q_all, key[0, :, :shared].transpose(-1, -2))
        scores = torch.cat([common.view(kv_heads, rows, group, shared).transpose(0, 1), own], dim=-1)
    else:
        scores = own
    scores.mul_(scaling)
    if mask is not None:
        if mask.dtype == torch.bool:
            scores.masked_fill_(~mask, float("-inf"))
        else:
            scores.add_(mask)
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(value.dtype)
    out = torch.matmul(weights[..., shared:], value[:, :, shared:])
    if shared:
        w_all = weights[..., :shared].transpose(0, 1).reshape(kv_heads, rows * group, shared)
        out += torch.matmul(w_all, value[0, :, :shared]).view(kv_heads, rows, group, dim).transpose(0, 1)
    return out.reshape(rows, heads, 1, dim).transpose(1, 2).contiguous()


@contextlib.contextmanager
def decode_attention(device: Any, shared: int = 0) -> Iterator[None]:
    """Context for one-token decoding steps: on CPU, the model's attention runs :func:`one_token_attention`.

    Installed in place of transformers' "sdpa" attention function for the steps inside the
    context, for one-token queries only (prefill keeps the library's function) and restored on
    exit. ``shared``: leading cache positions identical and visible in every row (0: none).
    Measured on a 2-core AMD EPYC with SmolLM2-135M on the 64 prompts of
    ``benchmarks/bench_generate.py`` (one batch, a 75-token shared start), the two taking turns in
    one process three times: 18.7, 21.6 and 22.6 s with PyTorch's plain kernel, 17.7, 21.3 and
    19.6 s with this one, the same 64 outputs (the machine's speed drifted during the runs).
    Elsewhere (CUDA, or a model not on "sdpa" attention) nothing changes.
    """
    if getattr(device, "type", str(device)) != "cpu":
        yield
        return
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    library = ALL_ATTENTION_FUNCTIONS["sdpa"]

    def attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, dropout: float = 0.0,
                  scaling: float | None = None, is_causal: bool | None = None, **kwargs: Any) -> tuple[Any, None]:
        if query.shape[2] != 1 or dropout or kwargs.get("softcap") is not None or kwargs.get("position_bias") is not None:
            return library(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                           is_causal=is_causal, **kwargs)
        scale = scaling if scaling is not None else query.shape[-1] ** -0.5
        return one_token_attention(query, key, value, attention_mask, scale, shared), None

    # transformers' interface keeps per-instance overrides apart from the registered functions
    had_override = "sdpa" in getattr(ALL_ATTENTION_FUNCTIONS, "_local_mapping", {})
    ALL_ATTENTION_FUNCTIONS["sdpa"] = attention
    try:
        yield
    finally:
        if had_override:
            ALL_ATTENTION_FUNCTIONS["sdpa"] = library
        else:
            del ALL_ATTENTION_FUNCTIONS["sdpa"]
