"""The greedy next token without the whole float32 output layer: screened in bfloat16, decided in float32.

Greedy decoding needs only the arg-max of the output layer, not its 49,152 logits
(SmolLM2). On the book's 2-core CPU that layer runs at 138 GFLOP/s in float32 (its
113 MB weight does not stay in cache) and takes about a quarter of every decoding
step; in bfloat16 it is about five times faster, but bfloat16 logits pick another
token in about 1 step in 100. So the layer is computed in two passes:

1. all logits in bfloat16;
2. for the ``k`` tokens with the highest upper bounds (below), the logits again in
   float32 from the float32 weight rows.

Rounding ``h`` and a weight row ``w_j`` to bfloat16 (8 significant bits, unit
roundoff ``u = 2**-8``) and the result back to bfloat16 moves a logit by at most
about ``3u * |h| * |w_j|`` (Cauchy-Schwarz; the products are summed in float32), so
``bfloat16 logit + SCREEN_SLACK * |h| * |w_j|`` is an upper bound on token ``j``'s
float32 logit. When the best candidate's float32 logit is above the highest upper
bound outside the candidates, it is the arg-max of the whole float32 layer, and the
row is *certified*. A row that is not (a very flat distribution) tries 512
candidates, then the whole float32 layer. The tokens are therefore those of the
float32 layer, except where two logits are equal to float32 rounding (the same
caveat as batching: the candidates' products are summed in another order). On
SmolLM2's decoding steps the measured error is about a tenth of the bound, and no
row of the benchmark's 3,117 needed more than the first 32 candidates.

Used only where it pays and is safe: a float32 output layer without bias on a CPU
with native bfloat16, for a model whose logits are the plain output layer
(``model_type`` listed in :data:`PLAIN_HEAD_MODEL_TYPES`; no soft-capping or scaling).
Written here because neither transformers nor torch offers a screened arg-max.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from srllm.models import cpu_bf16_supported

#: Candidates per row: first the 32 with the highest upper bounds; rows not certified then try 512.
SCREEN_KS = (32, 512)
#: Bound on the gap between a bfloat16 and a float32 logit, per unit of ``norm(h) * norm(w_j)``: three
#: units of bfloat16 roundoff (inputs and output rounded) plus a margin for float32 summation.
SCREEN_SLACK = 3.25 * 2.0 ** -8
#: Architectures whose logits are exactly ``lm_head(final hidden state)``.
PLAIN_HEAD_MODEL_TYPES = ("llama",)

# Where a screened head is kept: on the output layer it was made from, so that it lives exactly as long
# as the model (a module-level cache kept the float32 weight and its bfloat16 copy, ~170 MB for
# SmolLM2, alive after the model itself was freed).
_ATTR = "_srllm_screened_head"


@dataclass
class ScreenedHead:
    """The output layer's weight in float32 and bfloat16, and the norm of each of its rows."""

    weight: Any  # (vocab, hidden) float32
    weight_bf16: Any
    row_norms: Any  # (vocab,) float32: |w_j|

    @classmethod
    def for_model(cls, model: Any) -> "ScreenedHead | None":
        """A screened head for ``model`` (a causal LM), or None where the plain float32 layer must be used.

        It is made once per output layer and reused while the weight is unchanged (same tensor, same
        version); it is stored on the layer, so it is freed with the model.
        """
        import torch

        config = getattr(model, "config", None)
        head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
        weight = getattr(head, "weight", None)
        if (config is None or getattr(config, "model_type", None) not in PLAIN_HEAD_MODEL_TYPES
                or getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None)
                or not isinstance(head, torch.nn.Linear) or head.bias is not None
                or not isinstance(weight, torch.Tensor) or weight.dtype != torch.float32
                or weight.device.type != "cpu" or not cpu_bf16_supported()):
            return None
        key = (id(weight), weight.data_ptr(), weight._version)
        kept = getattr(head, _ATTR, None)
        if kept is None or kept[0] != key:
            w = weight.detach()
            kept = (key, cls(weight=w, weight_bf16=w.to(torch.bfloat16), row_norms=w.norm(dim=1)))
            object.__setattr__(head, _ATTR, kept)  # a plain attribute, not a registered buffer or submodule
        return kept[1]

    def next_tokens(self, hidden: Any, stats: dict[str, Any] | None = None) -> Any:
        """Arg-max token of the float32 output layer for each row of ``hidden`` (rows, hidden_size)."""
        import torch

        with torch.no_grad():  # integer tokens out; the weights may have been converted under inference_mode
            return self._next_tokens(hidden.detach().float(), stats)

    def _next_tokens(self, hidden: Any, stats: dict[str, Any] | None) -> Any:
        import torch

        vocab = self.weight.shape[0]
        approx = (hidden.to(torch.bfloat16) @ self.weight_bf16.T).float()
        # an upper bound on every float32 logit: bfloat16 logit + SCREEN_SLACK * |h| * |w_j|
        upper = approx.addcmul_((SCREEN_SLACK * hidden.norm(dim=-1, keepdim=True)), self.row_norms.view(1, -1))
        tokens = torch.empty(hidden.shape[0], dtype=torch.long, device=hidden.device)
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        for k in SCREEN_KS:
            k = min(k, vocab - 1)
            every = rows.numel() == hidden.shape[0]  # the first pass: no gather (a copy of all the logits) needed
            top, idx = (upper if every else upper[rows]).topk(k + 1, dim=-1)
            idx = idx[:, :k]
            exact = torch.einsum("bd,bkd->bk", hidden if every else hidden[rows], self.weight[idx])
            best = exact.max(dim=-1).values
            certified = best > top[:, k]  # no token outside the k candidates can reach ``best``
            # the smallest token id among equal best candidates, as torch.argmax over the whole layer picks
            pick = torch.where(exact == best.unsqueeze(-1), idx, torch.full_like(idx, vocab)).min(dim=-1).values
            tokens[rows[certified]] = pick[certified]
            rows = rows[~certified]
            if stats is not None:
                stats[f"screen_uncertified_k{k}"] = stats.get(f"screen_uncertified_k{k}", 0) + int(rows.numel())
            if not rows.numel():
                break
        if rows.numel():
            tokens[rows] = (hidden[rows] @ self.weight.T).argmax(dim=-1)
        if stats is not None:
            stats["screened_rows"] = stats.get("screened_rows", 0) + int(hidden.shape[0])
        return tokens
