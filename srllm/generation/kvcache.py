"""Key/value caches for batched greedy decoding: left padding, a peft prefix as a filled cache, a
preallocated buffer layer that avoids copying every layer's cache at every step, and the attention
kernel one-token decoding steps use."""

from __future__ import annotations

import functools
from typing import Any


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


def decode_attention(device: Any, padded: bool = True) -> Any:
    """Context for one-token decoding steps: on CPU, with a padding mask, PyTorch's plain ("math") attention kernel.

    With one query token per row the CPU flash-attention kernel that
    ``scaled_dot_product_attention`` picks is built for long queries: at batch 64
    with 250 cached tokens it took 44 of 158 ms of a step, and the plain kernel
    (two matrix products and a softmax) takes the step from about 197 to 173 ms
    (at batch 32 with 160 cached tokens the two are even). Without padding
    (``padded=False``) transformers drops the mask and asks for grouped-query
    attention, which the plain kernel does more slowly (143 vs 125 ms at batch 32),
    so the default kernel stays. Same computation, other float summation order.
    Prefill keeps the default kernel; elsewhere (CUDA) nothing changes.
    """
    import contextlib

    if not padded or getattr(device, "type", str(device)) != "cpu":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel(SDPBackend.MATH)
