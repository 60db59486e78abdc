"""Per-token log-probabilities of texts under a causal language model.

Shared by the StereoSet intrasentence scorer (Section 4.3) and by perplexity
(Section 5.3). Every token of a text is scored, including the first one, which
is conditioned on a start token, as the StereoSet authors do for GPT-2 (they
feed ``<|endoftext|>`` and read the first token's probability from its output).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
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


def _encode(model: Any, tokenizer: Any, texts: Sequence[str], start_token: int | str | None,
            max_length: int | None, name: Callable[[int], str] = "text {}".format) -> list[list[int]]:
    """Token ids of each text (no special tokens) after the start token, each checked: a string, at
    least one token to predict, no longer than ``max_length`` (default: the model's limit). An error
    names the text by ``name(index)``."""
    start = start_token_id(tokenizer, start_token)
    limit = max_length or getattr(getattr(model, "config", None), "max_position_embeddings", None)
    encoded: list[list[int]] = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise SrllmError(f"{name(i)} is {type(text).__name__}, not a string")
        ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
        if start is not None:
            ids = [start] + ids
        if len(ids) < 2:  # nothing to predict: an empty text (or one token without a start token)
            raise SrllmError(f"{name(i)} ({text[:40]!r}) has too few tokens to score")
        if limit is not None and len(ids) > limit:
            raise SrllmError(f"{name(i)} has {len(ids)} tokens (with the start token), more than the model's "
                             f"limit of {limit}; shorten it or pass a larger max_length")
        encoded.append(ids)
    return encoded


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
    encoded = _encode(model, tokenizer, texts, start_token, max_length)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    out: list[np.ndarray | None] = [None] * len(encoded)
    device = _model_device(model)
    with _scoring(model, len(encoded), progress, desc) as done:
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
            done(len(idx))
    return [a for a in out if a is not None]


@contextlib.contextmanager
def _scoring(model: Any, total: int, progress: bool, desc: str) -> Iterator[Callable[[int], None]]:
    """Evaluation mode and no autograd for a scoring loop, a terminal progress bar (never in quiet
    mode), and the model's training mode restored afterwards; yields ``done(n)`` for the bar."""
    import torch

    bar = None
    if progress and not is_quiet():
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, unit="text")
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with torch.inference_mode():
            yield (bar.update if bar is not None else (lambda n: None))
    finally:
        if bar is not None:
            bar.close()
        if was_training:
            model.train()


@dataclass(frozen=True)
class PackedGroup:
    """A group of texts packed into one row: their shared start once, then each text's own tokens.

    ``ids`` and ``positions`` are the row's tokens and position ids (each text's own tokens
    continue from the shared start's end, as if the text were alone); ``owner[k]`` is -1 for a
    shared token and ``i`` for a token of text ``i``; ``reads[i][j]`` is the row index whose
    logits predict token ``j + 1`` of text ``i``, and ``targets[i]`` those tokens.
    """

    ids: list[int]
    positions: list[int]
    owner: list[int]
    reads: list[list[int]]
    targets: list[list[int]]


def pack_group(encoded: Sequence[Sequence[int]]) -> PackedGroup:
    """Pack token sequences that share their first tokens (tree attention over one row)."""
    shortest = min(len(e) for e in encoded)
    n = 0
    while n < shortest - 1 and all(e[n] == encoded[0][n] for e in encoded):  # every text keeps >= 1 own token
        n += 1
    ids, positions, owner = list(encoded[0][:n]), list(range(n)), [-1] * n
    reads, targets = [], []
    for i, e in enumerate(encoded):
        first = len(ids)
        ids += e[n:]
        positions += range(n, len(e))
        owner += [i] * (len(e) - n)
        rows = list(range(n)) + list(range(first, first + len(e) - n))  # row of each of the text's tokens
        reads.append(rows[:-1])
        targets.append(list(e[1:]))
    return PackedGroup(ids, positions, owner, reads, targets)


def group_mask(group: PackedGroup, width: int) -> Any:
    """``(width, width)`` boolean attention mask of a packed row: a token sees earlier shared tokens and earlier
    tokens of its own text; a padding position sees itself only (so no row of the softmax is empty)."""
    import torch

    owner = torch.full((width,), -2, dtype=torch.long)
    owner[:len(group.owner)] = torch.tensor(group.owner)
    idx = torch.arange(width)
    causal = idx[None, :] <= idx[:, None]
    same = (owner[None, :] == -1) | (owner[None, :] == owner[:, None])
    mask = causal & same & (owner[None, :] != -2) & (owner[:, None] != -2)
    mask[idx, idx] = True
    return mask


def grouped_token_logprobs(model: Any, tokenizer: Any, groups: Sequence[Sequence[str]], *, batch_size: int = 8,
                           start_token: int | str | None = "auto", max_length: int | None = None,
                           progress: bool = False, desc: str = "scoring") -> list[list[np.ndarray]]:
    """:func:`token_logprobs` of texts that come in groups sharing their first tokens, each group's shared
    start computed once.

    StereoSet's intrasentence candidates of one item differ only from the blank on, so
    on the cpu profile's 400 items 42% of the tokens scored one text at a time are a shared
    start computed three times. Here each group is one row (:func:`pack_group`): the shared
    start, then every text's own tokens, with position ids continuing from the start and a
    4-D attention mask (:func:`group_mask`) by which a text's tokens see only the shared
    start and the text's own earlier tokens, so each text is scored as if alone (tree
    attention; equal to :func:`token_logprobs` up to float rounding, tested).
    ``batch_size`` counts groups. Returns ``result[g][i]``: the log-probabilities of text
    ``i`` of group ``g``, in input order.
    """
    import torch

    if batch_size < 1:
        raise SrllmError(f"batch_size must be >= 1, got {batch_size}")
    empty = [gi for gi, g in enumerate(groups) if not g]
    if empty:
        raise SrllmError(f"group {empty[0]} has no texts")
    where = [(gi, ti) for gi, g in enumerate(groups) for ti in range(len(g))]
    flat = _encode(model, tokenizer, [t for g in groups for t in g], start_token, max_length,
                   name=lambda i: "group {} text {}".format(*where[i]))
    packed, k = [], 0
    for g in groups:
        packed.append(pack_group(flat[k:k + len(g)]))
        k += len(g)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    order = sorted(range(len(packed)), key=lambda i: -len(packed[i].ids))
    out: list[list[np.ndarray]] = [[] for _ in packed]
    device = _model_device(model)
    with _scoring(model, len(flat), progress, desc) as done:
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            width = max(len(packed[i].ids) for i in idx)
            input_ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
            positions = torch.zeros((len(idx), width), dtype=torch.long)
            mask = torch.zeros((len(idx), 1, width, width), dtype=torch.bool)
            for row, i in enumerate(idx):
                p = packed[i]
                input_ids[row, :len(p.ids)] = torch.tensor(p.ids)
                positions[row, :len(p.ids)] = torch.tensor(p.positions)
                mask[row, 0] = group_mask(p, width)
            logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device),
                           position_ids=positions.to(device)).logits.float()
            lse = torch.logsumexp(logits, dim=-1)
            for row, i in enumerate(idx):
                for reads, targets in zip(packed[i].reads, packed[i].targets):
                    r, t = torch.tensor(reads, device=logits.device), torch.tensor(targets, device=logits.device)
                    out[i].append((logits[row, r, t] - lse[row, r]).double().cpu().numpy())
            done(sum(len(packed[i].reads) for i in idx))
    return out


def sentence_score(logprobs: np.ndarray) -> float:
    """Geometric mean of the token probabilities, ``exp(mean log p)``.

    This is the StereoSet authors' intrasentence score for GPT-2-style LMs
    (``2 ** (sum(log2 p) / n)``): length-normalised, so a longer candidate is not
    penalised for having more tokens.
    """
    return float(np.exp(np.mean(logprobs)))
