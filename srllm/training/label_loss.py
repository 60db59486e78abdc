"""The training loss of Eq. (1) with the output layer applied only where a label is predicted.

The loss is on the response tokens only, yet a causal LM computes vocabulary logits
(49,152 wide for SmolLM2) at every position it is given, and the library's
``logits_to_keep`` can only keep a window that is the same for every row: from the
first position that predicts a label in *any* row. In a batch whose prompts differ in
length that window still holds most prompt positions (146 of 162 positions in a 12-row
dev batch of the cpu profile, where about a fifth predict a label); the output layer's
matrix product and the softmax over it took a quarter of an evaluation pass.

:func:`labelled_positions_loss` runs the model, gathers the hidden states of the
positions whose next token is a label, row by row, and applies the output layer and
the cross-entropy to those alone. Every loss term and gradient is the one the full
computation gives (tested against the library's loss); only positions that carry no
loss term are skipped. It is the loss that ``transformers``' ``ForCausalLMLoss`` computes
(``fixed_cross_entropy``): a sum divided by ``num_items_in_batch`` when the Trainer passes
it, else a mean over the labelled positions.

It applies to Llama-architecture causal LMs (:func:`applies_to`), whose logits are
exactly the output layer applied to the last hidden state: no logit scaling or
soft-capping that the shortcut would miss. The model's own forward runs (with
``output_hidden_states`` and one logit position per row), so whatever a peft wrapper
adds there, prefix-tuning's learned prefix included, is kept.
"""

from __future__ import annotations

from typing import Any

from srllm.training.model import causal_lm

IGNORE_INDEX = -100
# Causal-LM classes whose logits are the output layer applied to the decoder's last hidden state.
PLAIN_HEAD_MODEL_TYPES = ("llama",)


def applies_to(model: Any) -> bool:
    """Whether ``model`` (peft-wrapped or not) is a causal LM whose logits are the output layer applied to
    its last hidden state (a Llama-architecture model)."""
    base = causal_lm(model)
    return (getattr(getattr(base, "config", None), "model_type", None) in PLAIN_HEAD_MODEL_TYPES
            and hasattr(base, "get_output_embeddings") and base.get_output_embeddings() is not None)


def labelled_positions_loss(model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> Any:
    """Mean (or sum over ``num_items_in_batch``) cross-entropy of the labels, computed at labelled positions only.

    ``inputs`` is a Trainer batch (``input_ids``, ``attention_mask``, ``labels``, and the
    shared prompt start's ``cache`` and ``use_cache`` where one is used); ``labels`` is
    -100 where no loss term lies, aligned with ``input_ids`` (the logits at position
    ``p`` predict the label at ``p + 1``, as in the library's loss).
    """
    import torch.nn.functional as F

    base = causal_lm(model)
    labels = inputs["labels"]
    forward_inputs = {k: v for k, v in inputs.items() if k not in ("labels", "logits_to_keep")}
    # The last of the hidden states is the final norm's output, the output layer's input.
    hidden = model(**forward_inputs, output_hidden_states=True, logits_to_keep=1).hidden_states[-1]
    targets = labels[:, 1:]
    picked = targets != IGNORE_INDEX
    logits = base.get_output_embeddings()(hidden[:, :-1][picked]).float()
    if num_items_in_batch is None:
        return F.cross_entropy(logits, targets[picked], reduction="mean")
    total = F.cross_entropy(logits, targets[picked], reduction="sum")
    if hasattr(num_items_in_batch, "to"):
        num_items_in_batch = num_items_in_batch.to(total.device)
    return total / num_items_in_batch
