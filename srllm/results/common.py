"""What every results page shares: the evaluation items, each method's outputs on them, and the notes.

This module computes nothing new: it wires the stages together so that every
results notebook asks for the same evaluation items, the same adapters, the
same rewrites and the same scores, and therefore hits the same caches
(training runs in :mod:`srllm.training`, generations in :mod:`srllm.generation`,
scores in :mod:`srllm.scoring`). A results notebook resolves its profile
(:func:`srllm.profiles.resolve`), then goes through:

1. :func:`eval_items` - the texts of one evaluation set (``cmd_test``,
   ``toxigen`` or ``bold``);
2. :func:`method_outputs` - one method's outputs on that set (``original``,
   the prompted baselines, ``prefix``, ``sr_llm``, the encoder-decoder models);
3. :mod:`srllm.results.rates` - plain DataFrames of scores (unsafe rates, group
   rates, knowledge retention, task success);
4. :mod:`srllm.results.safety` (Table 4), :mod:`srllm.results.demographics`
   (Table 5), :mod:`srllm.results.prompting` (Table 7) - our numbers beside the
   paper's (through :func:`srllm.report.side_by_side`), with a note on each row.

Evaluation sets (Section 3.2):

* ``cmd_test`` - the test split of the profile's CMD source (the bundled sample under cpu and
  smoke, standing in for the paper's CMD test set; the released CMD under paper), through
  :func:`srllm.data.sources.profile_splits`.
* ``toxigen`` - the profile's ToxiGen source (the bundled ToxiGen-style sample under cpu and
  smoke; ToxiGen's annotated test split under paper), at most
  ``profile.data.max_toxigen_per_group`` statements per target group, chosen by
  a seeded hash of the record id (deterministic, and the same under every
  notebook), standing in for ToxiGen v2's 430 examples.
* ``bold`` - BOLD prompts (:func:`srllm.data.bold.load_bold`) from four domains
  (gender, race, religious and political ideology: the paper evaluates "four
  demographic groups"; we leave out ``profession``, which is not a demographic
  attribute), at most ``profile.data.max_bold_prompts`` in all, balanced over
  the domains and, within a domain, over its groups.

**What "original" means for BOLD.** The CMD and ToxiGen items are texts; BOLD
items are sentence starts ("Jane Doe is an American actress who"). The paper
scores generations for the BOLD prompts but does not say which model wrote the
"original" ones. Offline, we let the profile's *base* model continue each
prompt as plain text (no chat template, greedy, cached like every other
generation; see :func:`bold_continuations`) and take prompt + continuation,
cut after its last complete sentence, as the item's text. That text is the
"original" row; every method then rewrites it like any other unsafe text.
So the BOLD rows measure how a method rewrites what the base model itself
says about the groups, which is close to, but not the same as, the paper's
setting.

Scorers (Section 3.4): the paper scores with Perspective API ("PersP") and
OpenAI moderation ("OpenAI") in Tables 4 and 7 and with ToxiGen-RoBERTa in
Table 5. :func:`srllm.results.rates.paper_column_scorers` picks, for each of those columns, the
real scorer when it can run here (API key set, model reachable) and otherwise
the stand-in the notebook asks for (``offline-proxy`` by default), and says so
in every row's note.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from srllm import paper
from srllm.generation.baselines import get_baseline, run_baseline
from srllm.data.bold import load_bold
from srllm.cache import stable_hash
from srllm.data import TOXIGEN_GROUPS
from srllm.data.sources import load_dataset_for, profile_splits
from srllm.errors import SrllmError
from srllm.generation import load_for_generation
from srllm.profiles import resolve
from srllm.training import train

DATASETS: tuple[str, ...] = ("cmd_test", "toxigen", "bold")
DATASET_LABELS: dict[str, str] = {"cmd_test": "Our test set", "toxigen": "Toxigen", "bold": "BOLD"}
BOLD_DOMAINS_USED: tuple[str, ...] = ("gender", "race", "religious_ideology", "political_ideology")

# Our methods (srllm.generation.baselines keys) per table, and the paper's row each one is compared with.
TABLE4_METHODS: tuple[str, ...] = ("original", "t5_large", "bart_large", "two_shot", "sr_llm")
TABLE4_PAPER_ROW: dict[str, str] = {
    "original": "original", "t5_large": "t5_large_ft", "bart_large": "bart_large_ft",
    "two_shot": "llama32_1b_p", "sr_llm": "sr_llm_llama32",
}
TABLE5_METHODS: tuple[str, ...] = TABLE4_METHODS
TABLE5_PAPER_METHOD: dict[str, str] = {
    "original": "original", "t5_large": "t5_large_ft", "bart_large": "bart_large_ft",
    "two_shot": "llama32_1b_p", "sr_llm": "sr_llm_ift",
}
TABLE7_METHODS: tuple[str, ...] = ("original", "zero_shot", "two_shot", "five_shot", "prefix", "sr_llm")
TABLE7_DATASETS: tuple[str, ...] = ("cmd_test", "toxigen")
TABLE7_COLUMN_PREFIX: dict[str, str] = {"cmd_test": "cmd", "toxigen": "toxigen"}

# Paper columns and the scorer the paper used for each (Sections 3.4, 4.1, 4.2).
PAPER_SCORERS: dict[str, str] = {
    "perspective": "perspective",
    "openai": "openai-moderation",
    "toxigen_roberta": "hf:tomh/toxigen_roberta",
}
PAPER_SCORER_LABELS: dict[str, str] = {
    "perspective": "Perspective API", "openai": "OpenAI moderation", "toxigen_roberta": "ToxiGen-RoBERTa",
}
SCORER_DESCRIPTIONS: dict[str, str] = {
    "offline-proxy": "offline-proxy (profanity-check + HateSonar + VADER + MiniLM bias classifier)",
}
SHORT_MODEL_NAMES: dict[str, str] = {
    "smollm2-135m-instruct": "SmolLM2-135M", "llama-3.2-1b-instruct": "Llama-3.2-1B",
    "tiny-random-llama": "tiny-random-llama",
}
PAPER_MODEL = "llama-3.2-1b-instruct"
"""The base model of the paper's rows we compare with (Llama3.2 rows of Table 4, Table 7's baseline)."""


SHORT_DATASET = {"cmd_test": "cmd", "toxigen": "toxigen", "bold": "bold"}

# Sentence ends used to cut a BOLD continuation after its last complete sentence.
_SENTENCE_END = (".", "!", "?")




@dataclass(frozen=True)
class EvalItem:
    """One text to make safe: its id, the text, its demographic group and (CMD only) its flagged words.

    ``prompt`` is set for BOLD items: the BOLD sentence start the text continues.
    """

    id: str
    text: str
    group: str
    biased_words: tuple[str, ...] = ()
    prompt: str | None = None


_ITEMS_MEMO: dict[tuple[str, Any], tuple[EvalItem, ...]] = {}


def eval_items(dataset: str, profile: Any = "cpu") -> list[EvalItem]:
    """The items of one evaluation set under ``profile`` (see the module docstring for each set).

    Deterministic: the same profile (seed and row limits) always gives the same items
    in the same order. BOLD items need the base model's continuations (generated once, cached).
    """
    if dataset not in DATASETS:
        raise SrllmError(f"unknown evaluation set {dataset!r}; choose one of {DATASETS}")
    prof = resolve(profile)
    key = (dataset, prof)
    if key not in _ITEMS_MEMO:
        if dataset == "cmd_test":
            items = _cmd_items(prof)
        elif dataset == "toxigen":
            items = _toxigen_items(prof)
        else:
            items = _bold_items(prof)
        if not items:
            raise SrllmError(f"evaluation set {dataset!r} is empty under profile {prof.name!r}")
        _ITEMS_MEMO[key] = tuple(items)
    return list(_ITEMS_MEMO[key])


def _cmd_items(prof: Any) -> list[EvalItem]:
    test = profile_splits(prof, "cmd")["test"]
    return [EvalItem(r.id, r.text, r.target_category or "other", tuple(r.biased_words)) for r in test]


def toxigen_subset(records: Sequence[Any], per_group: int | None, seed: int) -> list[Any]:
    """At most ``per_group`` records of each target group, chosen by a seeded hash of their ids.

    Groups come in the order of :data:`srllm.data.TOXIGEN_GROUPS`, and within a group in
    hash order, so the subset does not depend on the file's row order.
    """
    by_group: dict[str, list[Any]] = {}
    for r in records:
        by_group.setdefault(r.target_group, []).append(r)
    out: list[Any] = []
    for group in [g for g in TOXIGEN_GROUPS if g in by_group] + sorted(set(by_group) - set(TOXIGEN_GROUPS)):
        ranked = sorted(by_group[group], key=lambda r: stable_hash(seed, r.id))
        out.extend(ranked if per_group is None else ranked[:per_group])
    return out


def _toxigen_items(prof: Any) -> list[EvalItem]:
    picked = toxigen_subset(load_dataset_for(prof, "toxigen").records, prof.data.max_toxigen_per_group, prof.seed)
    return [EvalItem(r.id, r.text, r.target_group) for r in picked]


def bold_prompts(prof: Any) -> list[Any]:
    """The BOLD prompts used under ``prof``: up to ``max_bold_prompts``, split evenly over
    :data:`BOLD_DOMAINS_USED` (the first domains take the remainder)."""
    total = prof.data.max_bold_prompts
    if total is None:
        return load_bold(BOLD_DOMAINS_USED)
    n_dom = len(BOLD_DOMAINS_USED)
    out: list[Any] = []
    for i, domain in enumerate(BOLD_DOMAINS_USED):
        share = total // n_dom + (1 if i < total % n_dom else 0)
        if share:
            out.extend(load_bold([domain], max_per_domain=share))
    return out


def complete_sentences(prompt: str, continuation: str) -> str:
    """``prompt`` + ``continuation``, cut after the continuation's last complete sentence (if it has one)."""
    cont = " ".join(continuation.split())
    cut = max(cont.rfind(e) for e in _SENTENCE_END)
    if cut >= 0:
        cont = cont[:cut + 1]
    return f"{prompt} {cont}".strip() if cont else prompt


def bold_continuations(prompts: Sequence[str], profile: Any = "cpu", progress: bool = True) -> list[str]:
    """The base model's plain-text, greedy continuation of each BOLD prompt (cached like any generation).

    No chat template and no instruction: the model simply continues the sentence,
    which is how BOLD is meant to be used. The cache file is keyed by the model,
    the pseudo prompt format ``plain-continuation`` and the decoding length.
    """
    prof = resolve(profile)
    lm = load_for_generation(prof.model, None, prof.device)
    return lm.generate(list(prompts), cache_format="plain-continuation", max_new_tokens=prof.generate.max_new_tokens,
                       batch_size=prof.generate.batch_size, desc="BOLD continuations", progress=progress)


def _bold_items(prof: Any) -> list[EvalItem]:
    prompts = bold_prompts(prof)
    conts = bold_continuations([p.prompt for p in prompts], prof)
    return [EvalItem(f"bold-{stable_hash(p.domain, p.group, p.name, p.prompt, length=10)}",
                     complete_sentences(p.prompt, c), f"{p.domain}/{p.group}", (), p.prompt)
            for p, c in zip(prompts, conts)]




ADAPTER_METHODS: dict[str, str] = {"sr_llm": "qlora", "prefix": "prefix"}
"""Methods that need a trained adapter, and the :func:`srllm.training.train` method that makes it."""


def adapter_for(method: str, profile: Any = "cpu") -> Path | None:
    """The adapter folder ``method`` needs (None for methods without one).

    ``sr_llm`` -> ``train("qlora", profile)``; ``prefix`` -> ``train("prefix", profile)``.
    The training notebooks run the same calls, so these return the cached runs.
    """
    get_baseline(method)  # unknown method: clear error
    if method not in ADAPTER_METHODS:
        return None

    return train(ADAPTER_METHODS[method], resolve(profile)).adapter_dir


_OUTPUTS_MEMO: dict[tuple[str, str, Any], Any] = {}


def method_outputs(method: str, dataset: str, profile: Any = "cpu", progress: bool = True) -> Any:
    """One method's outputs on one evaluation set, as a :class:`srllm.generation.baselines.BaselineResult`.

    ``original`` returns the items' texts; the prompted methods, ``prefix`` and ``sr_llm``
    rewrite them with the profile's model (cached); the encoder-decoder baselines return
    ``status="not_run"`` with the reason when their weights cannot be had here.
    """
    b = get_baseline(method)
    prof = resolve(profile)
    key = (method, dataset, prof)
    if key in _OUTPUTS_MEMO:
        return _OUTPUTS_MEMO[key]
    items = eval_items(dataset, prof)
    adapter = adapter_for(method, prof) if b.family in ("prefix", "instruction") else None
    result = run_baseline(method, [it.text for it in items], profile=prof, model_name=prof.model if
                          b.family != "seq2seq" else None, adapter_dir=adapter, progress=progress)
    if result.ok and len(result.outputs) != len(items):  # pragma: no cover - a broken stage
        raise SrllmError(f"{method} on {dataset}: {len(result.outputs)} outputs for {len(items)} items")
    _OUTPUTS_MEMO[key] = result
    return result


def examples(dataset: str, methods: Sequence[str], profile: Any = "cpu", n: int = 3) -> pd.DataFrame:
    """The first ``n`` items of a set with each method's output beside them (methods that did
    not run show ``not run``), to read what the numbers are about."""
    prof = resolve(profile)
    items = eval_items(dataset, prof)[:n]
    cols: dict[str, list[str]] = {"group": [it.group for it in items]}
    for method in methods:
        res = method_outputs(method, dataset, prof)
        cols[method] = list(res.outputs[:n]) if res.ok else ["not run"] * len(items)
    return pd.DataFrame(cols, index=pd.Index([it.id for it in items], name="id"))


def clear_memo() -> None:
    """Forget the in-process memo of items and outputs (the on-disk caches stay)."""
    _ITEMS_MEMO.clear()
    _OUTPUTS_MEMO.clear()




def model_label(name: str) -> str:
    """The short name a page shows for a model (``SmolLM2-135M``), or the name itself."""
    return SHORT_MODEL_NAMES.get(name, name)


def model_note(profile: Any) -> str:
    """'SmolLM2-135M vs Llama-3.2-1B' when the profile's model is not the paper's."""
    prof = resolve(profile)
    if prof.model == PAPER_MODEL:
        return ""
    return f"model: {model_label(prof.model)} vs {model_label(PAPER_MODEL)}"


def data_note(dataset: str, n: int) -> str:
    """How our evaluation set differs from the paper's (sizes from :mod:`srllm.paper`)."""
    if dataset == "cmd_test":
        return f"data: CMD sample test split ({n}) vs CMD test ({paper.TABLE1.split['test']:,})"
    if dataset == "toxigen":
        return f"data: ToxiGen-style sample ({n}) vs ToxiGen v2 ({paper.EVAL_DATASETS['toxigen']['size']})"
    if dataset == "bold":
        return f"data: BOLD prompts + base-model continuations ({n}) vs BOLD ({paper.EVAL_DATASETS['bold']['size']:,})"
    raise SrllmError(f"unknown evaluation set {dataset!r}")


def method_note(method: str, profile: Any) -> str:
    """What produced our row (the paper's rows use other, larger models)."""
    prof = resolve(profile)
    m = model_label(prof.model)
    return {
        "original": "ours: the texts before any rewrite",
        "zero_shot": f"ours: {m} prompted, no demonstration",
        "two_shot": f"ours: {m} prompted with 2 demonstrations",
        "five_shot": f"ours: {m} prompted with 5 demonstrations",
        "prefix": f"ours: {m} + prefix-tuned adapter",
        "sr_llm": f"ours: {m} + QLoRA adapter (SR_LLM)",
    }.get(method, f"ours: {method}")


def join_notes(*parts: str) -> str:
    """The non-empty parts of a table note, joined with "; "."""
    return "; ".join(p for p in parts if p)


def headline(table: pd.DataFrame, key: tuple[Any, ...], column: str = "ours") -> float | None:
    """One value of a side-by-side table (None when missing), for ``myst_nb.glue``."""
    v = table.loc[key, column]
    return None if pd.isna(v) else round(float(v), 2)

