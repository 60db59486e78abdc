"""A base model, with an adapter if given, loaded for decoding when first needed; the last two are kept in memory."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from srllm.cache import adapter_fingerprint
from srllm.errors import SrllmError
from srllm.generation.adapters import adapter_type
from srllm.generation.cache import generation_cache_path
from srllm.generation.decoding import generate_texts
from srllm.models import load_model, load_tokenizer, resolve_device


@dataclass(frozen=True)
class LoadedModel:
    """A model and tokenizer ready for decoding, with its adapter (folder, fingerprint, type) if one is given.

    The weights load on first use of :attr:`model`, not before: prompts need the tokenizer
    alone, and a call whose rows are all in the generation cache returns them without
    loading anything. A notebook that shows outputs an earlier notebook generated used
    to load up to three models (about 4 s each on 2 cores) to read its cached rows.
    """

    load: Callable[[], Any] = field(repr=False, compare=False)
    tokenizer: Any
    model_name: str
    adapter_dir: str | None
    adapter_id: str | None  # the adapter's fingerprint (srllm.cache.adapter_fingerprint)
    adapter_type: str | None

    @functools.cached_property
    def model(self) -> Any:
        """The model in evaluation mode (base with the adapter; LoRA folded into the weights), loaded once."""
        return self.load()

    def generate(self, prompts: Sequence[str], *, cache_format: str, max_new_tokens: int, batch_size: int | str,
                 cache: bool = True, desc: str = "generate", stats: dict[str, Any] | None = None,
                 progress: bool = True) -> list[str]:
        """Greedy outputs of ``prompts`` (:func:`srllm.generation.decoding.generate_texts`), cached row by
        row in the file of this model, adapter, ``cache_format`` (the prompt format, or a name for
        prompts built another way) and decoding length: the one place a generation's cache key is made.
        The model loads only if a row is not in the cache."""
        path = (generation_cache_path(self.model_name, self.adapter_id, cache_format, max_new_tokens)
                if cache else None)
        return generate_texts(lambda: self.model, self.tokenizer, prompts, max_new_tokens=max_new_tokens,
                              batch_size=batch_size, cache_path=path, desc=desc, stats=stats, progress=progress)


def _load_weights(model_name: str, adapter_dir: str | None, device: str) -> Any:
    model, _ = load_model(model_name, device=device)
    if adapter_dir is not None:
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, adapter_dir)
        except Exception as exc:  # shape mismatch, wrong base model, corrupt files
            raise SrllmError(f"cannot load adapter {adapter_dir} on model {model_name!r}: {exc}") from exc
        if adapter_type(adapter_dir) == "LORA":
            # Folding LoRA into the weights makes decoding as fast as the base model.
            model = model.merge_and_unload()
    model.eval()
    return model


@functools.lru_cache(maxsize=2)
def _load_cached(model_name: str, adapter_dir: str | None, adapter_id: str | None, device: str) -> LoadedModel:
    kind = adapter_type(adapter_dir) if adapter_dir is not None else None
    return LoadedModel(functools.partial(_load_weights, model_name, adapter_dir, device), load_tokenizer(model_name),
                       model_name, adapter_dir, adapter_id, kind)


def load_for_generation(model_name: str, adapter_dir: str | os.PathLike | None = None,
                        device: str = "cpu") -> LoadedModel:
    """Base model (plus adapter, if given) ready for decoding, its weights loaded on first use; the last two
    are kept in memory."""
    a_dir = str(Path(adapter_dir).resolve()) if adapter_dir is not None else None
    a_id = adapter_fingerprint(a_dir) if a_dir is not None else None
    return _load_cached(model_name, a_dir, a_id, resolve_device(device))

