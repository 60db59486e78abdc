"""One text made safe: :func:`debias` with the profile's SR_LLM run, or the 2-shot prompt when none is trained."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srllm.errors import SrllmError
from srllm.generation.adapters import adapter_type, how_to_train, profile_adapter
from srllm.generation.methods import rewrite
from srllm.profiles import resolve


@dataclass(frozen=True)
class DebiasResult:
    """One rewritten text and how it was made: method, base model and the adapter used, if any.

    ``run`` names the training run the adapter came from; ``note`` says why no adapter was used.
    """

    text: str
    method: str
    model: str
    adapter_dir: str | None
    run: str | None = None  # the run folder's name (<method>-<settings hash>) when an adapter came from a run
    note: str | None = None  # why no adapter was used, and how to train one


def debias_detail(text: str, adapter_dir: str | os.PathLike | None = None, *, profile: Any = "cpu",
                  progress: bool = False, cache: bool = True) -> DebiasResult:
    """Rewrite one text and say how.

    With ``adapter_dir``, that adapter. Otherwise the profile's own SR_LLM run (found by
    its settings hash, see :func:`profile_adapter`; a workshop or sweep adapter is used
    only when named). When that run has not been trained, the base model with a 2-shot
    prompt, and ``note`` says how to train the run. ``cache=False`` neither reads nor writes
    the generation cache.
    """
    if not isinstance(text, str) or not text.strip():
        raise SrllmError("debias needs a non-empty text")
    prof = resolve(profile)
    run_name = note = None
    if adapter_dir is not None:
        adapter = Path(adapter_dir)
    else:
        adapter, run = profile_adapter(prof)
        if adapter is not None:
            run_name = run.name
        else:
            note = how_to_train(prof)
    if adapter is not None:
        method = "prefix" if adapter_type(adapter) == "PREFIX_TUNING" else "sr_llm"
        out = rewrite([text], model_name=prof.model, adapter_dir=adapter, method=method, profile=prof,
                      progress=progress, cache=cache)
    else:
        method = "two_shot"
        out = rewrite([text], model_name=prof.model, method=method, profile=prof, progress=progress, cache=cache)
    return DebiasResult(out[0], method, prof.model, str(adapter) if adapter is not None else None, run_name, note)


def debias(text: str, adapter_dir: str | os.PathLike | None = None, *, profile: Any = "cpu") -> str:
    """Safe rewrite of one text with the default model and the profile's SR_LLM run.

    Without that run the base model is prompted with two demonstrations (the paper's
    2-shot baseline); :func:`debias_detail` reports which was used.
    """
    return debias_detail(text, adapter_dir, profile=profile).text

