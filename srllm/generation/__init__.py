"""Generation: safe rewrites by the methods of Section 4.5, decoded greedily in batches and cached row by row.

* :mod:`~srllm.generation.methods` - :func:`rewrite`, the one entry point from texts to rewrites;
* :mod:`~srllm.generation.debiasing` - :func:`debias`, one text with the profile's SR_LLM run;
* :mod:`~srllm.generation.adapters` - finding a trained adapter (the profile's own run, or the newest);
* :mod:`~srllm.generation.loading` - a base model and adapter loaded for decoding;
* :mod:`~srllm.generation.decoding` - :func:`generate_texts`, batched greedy decoding;
* :mod:`~srllm.generation.kvcache`, :mod:`~srllm.generation.batching` - its caches and batch size;
* :mod:`~srllm.generation.cache` - the row-by-row generation cache;
* :mod:`~srllm.generation.baselines` - every method of Tables 4, 5 and 7 behind one interface.

Typical use::

    from srllm.generation import rewrite
    rewrite(["Women are too emotional to lead."], method="two_shot", profile="cpu")
"""

from srllm.generation.adapters import adapter_type, how_to_train, profile_adapter
from srllm.generation.batching import pick_batch_size, resolve_batch_size
from srllm.generation.cache import generation_cache_path, read_cache
from srllm.generation.debiasing import DebiasResult, debias, debias_detail
from srllm.generation.decoding import generate_texts, stop_token_ids
from srllm.generation.loading import LoadedModel, load_for_generation
from srllm.generation.methods import METHODS, SHOTS, build_prompts, default_shots_pool, rewrite, text_of

__all__ = [
    "adapter_type", "how_to_train", "profile_adapter", "pick_batch_size", "resolve_batch_size",
    "generation_cache_path", "read_cache", "DebiasResult", "debias", "debias_detail",
    "generate_texts", "stop_token_ids", "LoadedModel", "load_for_generation", "METHODS", "SHOTS", "build_prompts",
    "default_shots_pool", "rewrite", "text_of",
]
