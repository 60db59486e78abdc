"""Per-token log-probabilities of texts under a causal language model.

Shared by the StereoSet intrasentence scorer (Section 4.3) and by perplexity
(Section 5.3). Every token of a text is scored, including the first one, which
is conditioned on a start token, as the StereoSet authors do for GPT-2 (they
feed ``<|endoftext|>`` and read the first token's probability from its output).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from srllm.errors import SrllmError
from srllm.quiet import is_quiet

ENDOFTEXT = "<|endoftext|>"


def start_token_id(tokenizer: Any, start_token: int | str | None = "auto") -> int | None:
    """The token that every scored text is conditioned on.

    ``"auto"`` picks, in order: the special token the tokenizer itself puts in
    front of a text (Llama-3's ``<|begin_of_text|>``); ``<|endoftext|>`` when the
    vocabulary has it (GPT-2, SmolLM2: the document separator seen in
    pre-training, which is what the StereoSet authors used); the BOS token; the
    EOS token. An ``int`` is used as is, a ``str`` is looked up in the
    vocabulary, and ``None`` means no start token (the first token of each text
    is then not scored).
    """
    if start_token is None:
        return None
    if isinstance(start_token, int):
        return start_token
    vocab = tokenizer.get_vocab()
    if start_token != "auto":
        if start_token not in vocab:
            raise SrllmError(f"start token {start_token!r} is not in the tokenizer's vocabulary")
        return int(vocab[start_token])
    with_special = tokenizer("a", add_special_tokens=True)["input_ids"]
    without = tokenizer("a", add_special_tokens=False)["input_ids"]
    if len(with_special) > len(without) and with_special[0] in set(tokenizer.all_special_ids) \
            and with_special[1:1 + len(without)] == without:
        return int(with_special[0])
    if ENDOFTEXT in vocab:
        return int(vocab[ENDOFTEXT])
    for tid in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if tid is not None:
            return int(tid)
    raise SrllmError("the tokenizer has no BOS, EOS or <|endoftext|> token to condition the first token on; "
                     "pass start_token explicitly")


def _model_device(model: Any) -> Any:
    try:
        return next(model.parameters()).device
    except StopIteration:  # pragma: no cover - a model without parameters
        import torch

        return torch.device("cpu")


def token_logprobs(model: Any, tokenizer: Any, texts: Sequence[str], *, batch_size: int = 8,
                   start_token: int | str | None = "auto", max_length: int | None = None,
                   progress: bool = False, desc: str = "scoring") -> list[np.ndarray]:
    """Natural-log probability of each token of each text, in input order.

    ``result[i][j]`` is ``log p(token_j | start, token_0..token_{j-1})`` for text
    ``i``, tokenized without special tokens. Texts are batched (longest first,
    right padding, so positions are unaffected) and the order is restored.

    A text with no tokens, or longer than ``max_length`` tokens (default: the
    model's ``max_position_embeddings``), raises :class:`SrllmError` naming its
    index; nothing is truncated silently.
    """
    import torch

    if batch_size < 1:
        raise SrllmError(f"batch_size must be >= 1, got {batch_size}")
    start = start_token_id(tokenizer, start_token)
    limit = max_length or getattr(getattr(model, "config", None), "max_position_embeddings", None)
    encoded: list[list[int]] = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise SrllmError(f"text {i} is {type(text).__name__}, not a string")
        ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
        if start is not None:
            ids = [start] + ids
        if len(ids) < 2:  # nothing to predict: an empty text (or one token without a start token)
            raise SrllmError(f"text {i} ({text[:40]!r}) has too few tokens to score")
        if limit is not None and len(ids) > limit:
            raise SrllmError(f"text {i} has {len(ids)} tokens (with the start token), more than the model's "
                             f"limit of {limit}; shorten it or pass a larger max_length")
        encoded.append(ids)

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    out: list[np.ndarray | None] = [None] * len(encoded)
    device = _model_device(model)
    bar = None
    if progress and not is_quiet():
        from tqdm.auto import tqdm

        bar = tqdm(total=len(encoded), desc=desc, unit="text")
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with torch.inference_mode():
            for b in range(0, len(order), batch_size):
                idx = order[b:b + batch_size]
                width = max(len(encoded[i]) for i in idx)
                input_ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
                mask = torch.zeros((len(idx), width), dtype=torch.long)
                for row, i in enumerate(idx):
                    input_ids[row, :len(encoded[i])] = torch.tensor(encoded[i])
                    mask[row, :len(encoded[i])] = 1
                logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits
                logits = logits[:, :-1].float()
                targets = input_ids[:, 1:].to(logits.device)
                # log p(target) = logit[target] - logsumexp(logits): avoids a
                # full log_softmax copy of the (batch, length, vocab) tensor.
                lp = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
                lp = lp.double().cpu().numpy()
                for row, i in enumerate(idx):
                    out[i] = lp[row, :len(encoded[i]) - 1].copy()
                if bar is not None:
                    bar.update(len(idx))
    finally:
        if bar is not None:
            bar.close()
        if was_training:
            model.train()
    return [a for a in out if a is not None]


def sentence_score(logprobs: np.ndarray) -> float:
    """Geometric mean of the token probabilities, ``exp(mean log p)``.

    This is the StereoSet authors' intrasentence score for GPT-2-style LMs
    (``2 ** (sum(log2 p) / n)``): length-normalised, so a longer candidate is not
    penalised for having more tokens.
    """
    return float(np.exp(np.mean(logprobs)))
