"""Training on a batch whose prompts start alike: the shared prompt start computed once, not once per row.

Every training prompt of a method has the same start (the chat template's system
turn and the instruction, about 70 of the 145 tokens of an average cpu-profile
example), and the loss of Eq. (1) is on the response tokens only. A batch of B rows
therefore computes the same prompt start B times in the forward pass and again in
the backward pass.

:func:`shared_start_len` finds how many leading tokens every row of a batch shares
(labels -100 there, so no loss term sits in it); :func:`prompt_start_cache` runs that
start once, for one row, and hands its keys and values, expanded to the batch, to the
forward pass over the rest of each row as a key/value cache (with the attention mask
and positions of the whole sequence). Autograd sums the gradients that flow back
through the expanded keys and values over the rows, which is what the B separate
copies received, so the loss and every gradient are those of the full batch, up to
float summation order (tested). This is the KV-cache reuse that the generation side
does for a shared prompt start (:mod:`srllm.generation.decoding`), applied to training.

It applies only where computing the start once changes nothing but float order:
no dropout on its activations (a LoRA dropout above 0 draws one mask per row, which a
shared start cannot reproduce; the Llama-architecture models used here have no attention
or hidden-state dropout), no gradient checkpointing (which recomputes the
forward without a cache), no prefix-tuning (whose learned prefix already
occupies the cache), and one process (see :func:`shareable`).
"""

from __future__ import annotations

from typing import Any

# Shortest shared start worth a separate forward pass: the generation side's bound.
from srllm.generation.decoding import MIN_SHARED_TOKENS
from srllm.training.model import causal_lm


def shared_start_len(input_ids: Any, labels: Any, attention_mask: Any | None = None) -> int:
    """Leading positions that every row of the batch shares and that carry no loss term.

    Also stops one position before the earliest label: the logits at the last shared
    position would predict a label, and they are not computed in the pass over the rest.
    Returns 0 for a batch of one row or when fewer than :data:`MIN_SHARED_TOKENS`
    positions qualify.
    """
    if input_ids.dim() != 2 or input_ids.shape[0] < 2:
        return 0
    same = (input_ids == input_ids[:1]).all(dim=0)
    if attention_mask is not None:
        same &= attention_mask.bool().all(dim=0)
    differs = (~same).nonzero()
    n = int(differs[0]) if len(differs) else input_ids.shape[1]
    labelled = (labels != -100).any(dim=0).nonzero()
    if len(labelled):
        # the label at position p is predicted by the logits at p - 1, which must lie in the rest
        n = min(n, int(labelled[0]) - 1)
    n = min(n, input_ids.shape[1] - 1)  # every row keeps at least one position of its own
    return n if n >= MIN_SHARED_TOKENS else 0


def shareable(model: Any) -> bool:
    """Whether ``model`` (the one the Trainer passes to ``compute_loss``) exposes its decoder.

    Under several processes the Trainer passes a ``DistributedDataParallel`` wrapper, whose own
    forward must run for its gradient synchronisation; the shared start is then not used.
    """
    base = causal_lm(model)
    return hasattr(base, "get_decoder")


def prompt_start_cache(model: Any, input_ids: Any, n: int) -> Any:
    """Keys and values of the first ``n`` positions of row 0, computed once and expanded to every row.

    ``model`` is the (peft-wrapped) causal LM being trained; its decoder runs without
    the output layer, since no loss term lies in the shared start. The returned cache
    keeps the autograd graph, so gradients reach the shared start's LoRA weights.
    """
    from transformers import DynamicCache

    base = causal_lm(model)
    decoder = base.get_decoder()
    out = decoder(input_ids=input_ids[:1, :n], cache=DynamicCache(config=base.config), use_cache=True)
    b = input_ids.shape[0]
    cache = DynamicCache(config=base.config)
    for i, layer in enumerate(out.cache.layers):
        cache.update(layer.keys.expand(b, -1, -1, -1), layer.values.expand(b, -1, -1, -1), i)
    return cache


def applies(cfg: Any) -> bool:
    """Whether :class:`~srllm.training.TrainConfig` ``cfg`` may compute a batch's shared prompt start once
    (see the module docstring for why each condition)."""
    lora_dropout = float((cfg.lora or {}).get("dropout") or 0.0) if cfg.method in ("qlora", "lora") else 0.0
    return cfg.method in ("qlora", "lora", "dense") and lora_dropout == 0.0 and not cfg.gradient_checkpointing
