"""The rewriting methods of Section 4.5: prompts of each method and :func:`rewrite`, the one entry point
that turns texts into safe rewrites (zero-/2-/5-shot prompting of the base model, prefix-tuned or
instruction fine-tuned SR_LLM)."""

from __future__ import annotations

import os
from typing import Any, Iterable, Sequence

from srllm.data.samples import load_sample
from srllm.data.sources import load_dataset_for, source_for
from srllm.data.splits import split_records
from srllm.errors import SrllmError
from srllm.generation.loading import load_for_generation
from srllm.profiles import resolve
from srllm.prompts import few_shot_prompts

METHODS = ("sr_llm", "zero_shot", "two_shot", "five_shot", "prefix")


SHOTS = {"zero_shot": 0, "two_shot": 2, "five_shot": 5, "sr_llm": 0, "prefix": 0}


def text_of(item: Any, i: int) -> str:
    """The text of item ``i``: a string itself, or its ``text`` key or attribute.

    A missing or blank text is a user error naming the item, rather than an empty rewrite.
    """
    if isinstance(item, str):
        text = item
    elif isinstance(item, dict):
        text = item.get("text")
    else:
        text = getattr(item, "text", None)
    if not isinstance(text, str) or not text.strip():
        raise SrllmError(f"item {i}: field 'text' is missing or empty")
    return text


def default_shots_pool(seed: int = 42) -> list[Any]:
    """The train split of the bundled CMD sample, where demonstrations come from."""
    return list(split_records(load_sample("cmd"), seed=seed)["train"])


def build_prompts(texts: Sequence[str], tokenizer: Any, *, method: str, prompt_format: str,
                  shots_pool: Sequence[Any] | None = None, seed: int = 42) -> list[str]:
    """Prompts of one method: its prompt format, with k demonstrations for k-shot prompting."""
    if method not in METHODS:
        raise SrllmError(f"unknown generation method {method!r}; choose one of {METHODS}")
    k = SHOTS[method]
    pool = (list(shots_pool) if shots_pool is not None else default_shots_pool(seed)) if k else []
    try:
        # The k demonstrations are drawn once (by seed) and shared by every prompt.
        return few_shot_prompts(list(texts), prompt_format, tokenizer, k=k, pool=pool, seed=seed)
    except ValueError as exc:
        raise SrllmError(f"{method}: {exc}") from None


def rewrite(records_or_texts: Iterable[Any], *, model_name: str | None = None,
            adapter_dir: str | os.PathLike | None = None, method: str = "sr_llm", profile: Any = "cpu",
            shots_pool: Sequence[Any] | None = None, seed: int | None = None,
            cache: bool = True, progress: bool = True, stats: dict[str, Any] | None = None) -> list[str]:
    """Safe rewrites of texts (or records with a ``text`` field) by one method of Section 4.5.

    ``method``: ``sr_llm`` (instruction fine-tuned adapter), ``prefix`` (prefix-tuned
    adapter), ``zero_shot``, ``two_shot`` or ``five_shot`` (the base model with k
    demonstrations drawn by ``seed`` from ``shots_pool``, default the train split of the profile's CMD).
    Decoding is greedy with the profile's ``generate`` settings; results are cached.
    """
    if method not in METHODS:
        raise SrllmError(f"unknown generation method {method!r}; choose one of {METHODS}")
    prof = resolve(profile)
    seed = prof.seed if seed is None else seed
    texts = [text_of(x, i) for i, x in enumerate(records_or_texts)]
    if method in ("sr_llm", "prefix") and adapter_dir is None:
        raise SrllmError(f"method {method!r} needs a trained adapter folder (adapter_dir=...); "
                         "train one with `srllm train` first")
    if method not in ("sr_llm", "prefix") and adapter_dir is not None:
        raise SrllmError(f"method {method!r} prompts the base model; do not pass an adapter")
    name = model_name or prof.model
    lm = load_for_generation(name, adapter_dir, prof.device)
    if method == "prefix" and lm.adapter_type != "PREFIX_TUNING":
        raise SrllmError(f"method 'prefix' needs a prefix-tuning adapter; {adapter_dir} is {lm.adapter_type}")
    if not texts:
        return []
    if shots_pool is None and SHOTS[method]:
        # Demonstrations come from the train split of the CMD the profile reads (issue 15); for the
        # bundled sample that is default_shots_pool's split.
        if source_for(prof, "cmd").kind != "sample":
            p_seed = prof if seed == prof.seed else prof.replace(seed=seed)
            shots_pool = load_dataset_for(p_seed, "cmd").splits["train"]
    prompts = build_prompts(texts, lm.tokenizer, method=method, prompt_format=prof.prompt_format,
                            shots_pool=shots_pool, seed=seed)
    return lm.generate(prompts, cache_format=prof.prompt_format, max_new_tokens=prof.generate.max_new_tokens,
                       batch_size=prof.generate.batch_size, cache=cache, desc=f"rewrite ({method})", stats=stats,
                       progress=progress)

