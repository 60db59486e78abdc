"""Shared orchestration for the results notebooks (paper Sections 4.1, 4.2, 4.5: Tables 4, 5 and 7).

This module computes nothing new: it wires the stages together so that every
results notebook asks for the same evaluation items, the same adapters, the
same rewrites and the same scores, and therefore hits the same caches
(training runs in :mod:`srllm.training`, generations in :mod:`srllm.generation`,
scores in :mod:`srllm.scoring`). A notebook calls, in order:

1. :func:`resolve_profile` - the profile, optionally with another model or seed;
2. :func:`eval_items` - the texts of one evaluation set (``cmd_test``,
   ``toxigen`` or ``bold``);
3. :func:`method_outputs` - one method's outputs on that set (``original``,
   the prompted baselines, ``prefix``, ``sr_llm``, the encoder-decoder models);
4. :func:`unsafe_rates` / :func:`group_rates` / :func:`retention_scores` -
   plain DataFrames of scores;
5. :func:`table4_side_by_side` / :func:`table5_side_by_side` /
   :func:`table7_side_by_side` - our numbers beside the paper's
   (through :func:`srllm.report.side_by_side`), with a note on each row.

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
Table 5. :func:`paper_column_scorers` picks, for each of those columns, the
real scorer when it can run here (API key set, model reachable) and otherwise
the stand-in the notebook asks for (``offline-proxy`` by default), and says so
in every row's note.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from srllm.errors import SrllmError
from srllm.perf import log_work

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

# Sentence ends used to cut a BOLD continuation after its last complete sentence.
_SENTENCE_END = (".", "!", "?")


# --------------------------------------------------------------------------- profile


def resolve_profile(profile: Any = "cpu", model: str | None = None, seed: int | None = None) -> Any:
    """The profile (a :class:`srllm.profiles.Profile` or its name), with another model or seed if given.

    ``model=None`` / ``seed=None`` keep the profile's own (the notebooks' defaults), so that the
    training runs and generations of the other notebooks are reused.
    """
    from srllm.profiles import Profile, get_profile

    prof = profile if isinstance(profile, Profile) else get_profile(str(profile))
    overrides: dict[str, Any] = {}
    if model is not None and model != prof.model:
        overrides["model"] = model
    if seed is not None and seed != prof.seed:
        overrides["seed"] = int(seed)
    return prof.replace(**overrides) if overrides else prof


def _prof(profile: Any) -> Any:
    return resolve_profile(profile)


# --------------------------------------------------------------------------- evaluation items


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
    prof = _prof(profile)
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
    from srllm.data.sources import profile_splits

    test = profile_splits(prof, "cmd")["test"]
    return [EvalItem(r.id, r.text, r.target_category or "other", tuple(r.biased_words)) for r in test]


def toxigen_subset(records: Sequence[Any], per_group: int | None, seed: int) -> list[Any]:
    """At most ``per_group`` records of each target group, chosen by a seeded hash of their ids.

    Groups come in the order of :data:`srllm.data.TOXIGEN_GROUPS`, and within a group in
    hash order, so the subset does not depend on the file's row order.
    """
    from srllm.cache import stable_hash
    from srllm.data import TOXIGEN_GROUPS

    by_group: dict[str, list[Any]] = {}
    for r in records:
        by_group.setdefault(r.target_group, []).append(r)
    out: list[Any] = []
    for group in [g for g in TOXIGEN_GROUPS if g in by_group] + sorted(set(by_group) - set(TOXIGEN_GROUPS)):
        ranked = sorted(by_group[group], key=lambda r: stable_hash(seed, r.id))
        out.extend(ranked if per_group is None else ranked[:per_group])
    return out


def _toxigen_items(prof: Any) -> list[EvalItem]:
    from srllm.data.sources import load_dataset_for

    picked = toxigen_subset(load_dataset_for(prof, "toxigen").records, prof.data.max_toxigen_per_group, prof.seed)
    return [EvalItem(r.id, r.text, r.target_group) for r in picked]


def bold_prompts(prof: Any) -> list[Any]:
    """The BOLD prompts used under ``prof``: up to ``max_bold_prompts``, split evenly over
    :data:`BOLD_DOMAINS_USED` (the first domains take the remainder)."""
    from srllm.data.bold import load_bold

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
    from srllm.generation import generate_texts, generation_cache_path, load_for_generation

    prof = _prof(profile)
    lm = load_for_generation(prof.model, None, prof.device)
    n_new = prof.generate.max_new_tokens
    path = generation_cache_path(prof.model, None, "plain-continuation", n_new)
    return generate_texts(lm.model, lm.tokenizer, list(prompts), max_new_tokens=n_new,
                          batch_size=prof.generate.batch_size, cache_path=path, desc="BOLD continuations",
                          progress=progress)


def _bold_items(prof: Any) -> list[EvalItem]:
    from srllm.cache import stable_hash

    prompts = bold_prompts(prof)
    conts = bold_continuations([p.prompt for p in prompts], prof)
    return [EvalItem(f"bold-{stable_hash(p.domain, p.group, p.name, p.prompt, length=10)}",
                     complete_sentences(p.prompt, c), f"{p.domain}/{p.group}", (), p.prompt)
            for p, c in zip(prompts, conts)]


# --------------------------------------------------------------------------- methods


ADAPTER_METHODS: dict[str, str] = {"sr_llm": "qlora", "prefix": "prefix"}
"""Methods that need a trained adapter, and the :func:`srllm.training.train` method that makes it."""


def adapter_for(method: str, profile: Any = "cpu") -> Path | None:
    """The adapter folder ``method`` needs (None for methods without one).

    ``sr_llm`` -> ``train("qlora", profile)``; ``prefix`` -> ``train("prefix", profile)``.
    The training notebooks run the same calls, so these return the cached runs.
    """
    from srllm.generation.baselines import get_baseline

    get_baseline(method)  # unknown method: clear error
    if method not in ADAPTER_METHODS:
        return None
    from srllm.training import train

    return train(ADAPTER_METHODS[method], _prof(profile)).adapter_dir


_OUTPUTS_MEMO: dict[tuple[str, str, Any], Any] = {}


def method_outputs(method: str, dataset: str, profile: Any = "cpu", progress: bool = True) -> Any:
    """One method's outputs on one evaluation set, as a :class:`srllm.generation.baselines.BaselineResult`.

    ``original`` returns the items' texts; the prompted methods, ``prefix`` and ``sr_llm``
    rewrite them with the profile's model (cached); the encoder-decoder baselines return
    ``status="not_run"`` with the reason when their weights cannot be had here.
    """
    from srllm.generation.baselines import get_baseline, run_baseline

    b = get_baseline(method)
    prof = _prof(profile)
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


# --------------------------------------------------------------------------- scorers


@dataclass(frozen=True)
class ScorerChoice:
    """A scorer by name, whether it can run here, and why (not)."""

    name: str
    available: bool
    is_proxy: bool
    reason: str
    stands_in_for: str | None = None  # paper column key when this scorer replaces the paper's scorer
    instance: Any = field(default=None, compare=False, repr=False)  # a ready Scorer object, if given one

    @property
    def description(self) -> str:
        return SCORER_DESCRIPTIONS.get(self.name, self.name)

    def note(self) -> str:
        """The note for a table row scored by this choice (empty when it is the paper's own scorer)."""
        if not self.available:
            return f"not run: scorer {self.name} unavailable ({self.reason})"
        if self.stands_in_for is None:
            return "proxy scorer: " + self.description if self.is_proxy else ""
        label = PAPER_SCORER_LABELS[self.stands_in_for]
        kind = "proxy" if self.is_proxy else "stand-in"
        return f"{kind}: {self.description} in place of {label}"


_SCORER_INSTANCES: dict[str, Any] = {}


def _availability(name: str) -> dict[str, Any]:
    from srllm.scoring import available_scorers

    hf = (name[3:],) if name.startswith("hf:") else ()
    rows = {r["name"]: r for r in available_scorers(hf_models=hf)}
    if name not in rows:
        raise SrllmError(f"unknown scorer {name!r}; known: offline-proxy, perspective, openai-moderation, hf:<id>")
    return rows[name]


def scorers_for(names: Iterable[str], profile: Any = None) -> list[ScorerChoice]:
    """One :class:`ScorerChoice` per name: available here or not, with the reason.

    ``profile`` is accepted for symmetry with the other calls; scorer availability
    does not depend on it.
    """
    out = []
    for name in names:
        row = _availability(name)
        out.append(ScorerChoice(name, bool(row["available"]), bool(row["is_proxy"]), str(row["reason"])))
    return out


def scorer_status(names: Iterable[str] = ("offline-proxy", "perspective", "openai-moderation",
                                          "hf:tomh/toxigen_roberta")) -> pd.DataFrame:
    """A table of scorers: ``scorer``, ``status`` (``available`` / ``not run``), ``is_proxy``, ``reason``."""
    rows = [{"scorer": c.name, "status": "available" if c.available else "not run", "is_proxy": c.is_proxy,
             "reason": c.reason} for c in scorers_for(names)]
    return pd.DataFrame(rows, columns=["scorer", "status", "is_proxy", "reason"])


def paper_column_scorers(columns: Sequence[str], preferred: str = "offline-proxy") -> dict[str, ScorerChoice]:
    """For each paper scorer column (``perspective``, ``openai``, ``toxigen_roberta``), the scorer we use.

    The paper's own scorer when it can run here; otherwise ``preferred`` (the notebooks'
    ``scorer`` parameter), marked as standing in for the paper's.
    """
    out: dict[str, ScorerChoice] = {}
    for col in columns:
        if col not in PAPER_SCORERS:
            raise SrllmError(f"unknown paper scorer column {col!r}; choose from {sorted(PAPER_SCORERS)}")
        real = scorers_for([PAPER_SCORERS[col]])[0]
        if real.available:
            out[col] = real
        else:
            c = scorers_for([preferred])[0]
            out[col] = ScorerChoice(c.name, c.available, c.is_proxy, c.reason, stands_in_for=col)
    return out


def as_choice(scorer: Any) -> ScorerChoice:
    """A :class:`ScorerChoice` from a scorer name, a choice, or a ready :class:`srllm.scoring.Scorer` object."""
    from srllm.scoring import Scorer

    if isinstance(scorer, ScorerChoice):
        return scorer
    if isinstance(scorer, Scorer):
        return ScorerChoice(scorer.name, True, bool(scorer.is_proxy), "scorer object given", instance=scorer)
    if isinstance(scorer, str):
        return scorers_for([scorer])[0]
    raise SrllmError(f"a scorer must be a name, a ScorerChoice or a Scorer, not {type(scorer).__name__}")


def get_scorer_instance(name: str) -> Any:
    """One scorer object per name for the whole session (the offline proxy loads models once)."""
    if name not in _SCORER_INSTANCES:
        from srllm.scoring import get_scorer

        _SCORER_INSTANCES[name] = get_scorer(name)
    return _SCORER_INSTANCES[name]


def score_outputs(result: Any, scorer: Any) -> list[Any] | None:
    """Scores of a method's outputs (``scorer``: a name, a :class:`ScorerChoice` or a
    :class:`srllm.scoring.Scorer`); None when the method did not run."""
    if not result.ok:
        return None
    if isinstance(scorer, ScorerChoice):
        sc = scorer.instance if scorer.instance is not None else get_scorer_instance(scorer.name)
    else:
        sc = get_scorer_instance(scorer) if isinstance(scorer, str) else scorer
    return sc.score(list(result.outputs))


RATE_COLUMNS = ("method", "dataset", "scorer", "is_proxy", "n", "unsafe_rate", "mean_p_unsafe", "status", "reason")


def unsafe_rates(methods: Sequence[str], datasets: Sequence[str], scorers: Sequence[Any],
                 profile: Any = "cpu", progress: bool = True) -> pd.DataFrame:
    """Long table: one row per method x dataset x scorer.

    ``unsafe_rate``: percent of outputs flagged (the "toxic generation %" of Tables 4 and 7);
    ``mean_p_unsafe``: mean probability in percent (Table 5's "averaged probabilities").
    A method or scorer that cannot run gives ``status="not_run"``, NaN rates and the reason.
    ``scorers``: names, :class:`ScorerChoice` objects or :class:`srllm.scoring.Scorer` objects.
    """
    prof = _prof(profile)
    choices = [as_choice(s) for s in scorers]
    rows = []
    for dataset in datasets:
        for method in methods:
            result = method_outputs(method, dataset, prof, progress=progress)
            for c in choices:
                row = {"method": method, "dataset": dataset, "scorer": c.name, "is_proxy": c.is_proxy,
                       "n": 0, "unsafe_rate": math.nan, "mean_p_unsafe": math.nan, "status": "ok", "reason": ""}
                if not result.ok:
                    row.update(status="not_run", reason=result.reason or "not run")
                elif not c.available:
                    row.update(status="not_run", reason=f"scorer {c.name} unavailable: {c.reason}")
                else:
                    scores = score_outputs(result, c)
                    row.update(n=len(scores), unsafe_rate=100.0 * sum(s.flag for s in scores) / len(scores),
                               mean_p_unsafe=100.0 * sum(s.p_unsafe for s in scores) / len(scores))
                rows.append(row)
    return pd.DataFrame(rows, columns=list(RATE_COLUMNS))


GROUP_COLUMNS = ("method", "group", "scorer", "is_proxy", "n", "mean_p_unsafe", "unsafe_rate", "status", "reason")


def group_rates(methods: Sequence[str], scorer: Any, profile: Any = "cpu",
                dataset: str = "toxigen", progress: bool = True) -> pd.DataFrame:
    """Per-group scores of each method on ``dataset`` (Table 5: ToxiGen target groups).

    Long table with ``mean_p_unsafe`` (percent; what Table 5 reports) and ``unsafe_rate``
    (percent flagged) per method and group; methods or scorers that cannot run give one
    ``not_run`` row per group with the reason.
    """
    prof = _prof(profile)
    c = as_choice(scorer)
    items = eval_items(dataset, prof)
    groups = list(dict.fromkeys(it.group for it in items))
    rows = []
    for method in methods:
        result = method_outputs(method, dataset, prof, progress=progress)
        scores = None
        reason = ""
        if not result.ok:
            reason = result.reason or "not run"
        elif not c.available:
            reason = f"scorer {c.name} unavailable: {c.reason}"
        else:
            scores = score_outputs(result, c)
        for g in groups:
            row = {"method": method, "group": g, "scorer": c.name, "is_proxy": c.is_proxy, "n": 0,
                   "mean_p_unsafe": math.nan, "unsafe_rate": math.nan, "status": "not_run", "reason": reason}
            if scores is not None:
                mine = [s for it, s in zip(items, scores) if it.group == g]
                row.update(n=len(mine), status="ok", reason="",
                           mean_p_unsafe=100.0 * sum(s.p_unsafe for s in mine) / len(mine),
                           unsafe_rate=100.0 * sum(s.flag for s in mine) / len(mine))
            rows.append(row)
    return pd.DataFrame(rows, columns=list(GROUP_COLUMNS))


# --------------------------------------------------------------------------- knowledge retention


@dataclass(frozen=True)
class RetentionResult:
    """Knowledge retention of one method on one set: per-item scores in [0, 1], or why there are none.

    ``status``: ``ok``, ``not_run`` (the method did not run) or ``not_applicable``
    (``original``: nothing was rewritten; the paper prints N/A).
    """

    method: str
    dataset: str
    status: str
    scores: tuple[float, ...] | None = None
    reason: str = ""
    measure: str = "offline retention proxy (MiniLM cosine + content-word recall; srllm.metrics.retention)"

    @property
    def mean_percent(self) -> float | None:
        if not self.scores:
            return None
        return 100.0 * sum(self.scores) / len(self.scores)


def retention_scores(method: str, dataset: str, profile: Any = "cpu", progress: bool = True) -> RetentionResult:
    """Knowledge retention of ``method``'s rewrites against the items' texts (Section 3.4, Table 7).

    Uses :func:`srllm.metrics.retention.knowledge_retention` (an offline proxy for DeepEval's
    judge); CMD items' ``biased_words`` are not counted as knowledge to retain.
    """
    from srllm.metrics.retention import knowledge_retention

    if method == "original":
        return RetentionResult(method, dataset, "not_applicable",
                               reason="no rewrite: retention compares an original with its rewrite")
    prof = _prof(profile)
    result = method_outputs(method, dataset, prof, progress=progress)
    if not result.ok:
        return RetentionResult(method, dataset, "not_run", reason=result.reason or "not run")
    items = eval_items(dataset, prof)
    t0 = time.perf_counter()
    scores = knowledge_retention([it.text for it in items], list(result.outputs),
                                 [list(it.biased_words) for it in items])
    log_work("scoring", time.perf_counter() - t0, desc=f"retention ({method}, {dataset})", rows=len(items))
    return RetentionResult(method, dataset, "ok", tuple(float(s) for s in scores))


def retention_frame(results: Iterable[RetentionResult]) -> pd.DataFrame:
    """Long table of retention results: ``method``, ``dataset``, ``n``, ``retention`` (mean, percent),
    ``status``, ``reason``."""
    rows = [{"method": r.method, "dataset": r.dataset, "n": len(r.scores or ()), "retention": r.mean_percent,
             "status": r.status, "reason": r.reason} for r in results]
    frame = pd.DataFrame(rows, columns=["method", "dataset", "n", "retention", "status", "reason"])
    frame["retention"] = frame["retention"].astype(float)
    return frame


def examples(dataset: str, methods: Sequence[str], profile: Any = "cpu", n: int = 3) -> pd.DataFrame:
    """The first ``n`` items of a set with each method's output beside them (methods that did
    not run show ``not run``), to read what the numbers are about."""
    prof = _prof(profile)
    items = eval_items(dataset, prof)[:n]
    cols: dict[str, list[str]] = {"group": [it.group for it in items]}
    for method in methods:
        res = method_outputs(method, dataset, prof)
        cols[method] = list(res.outputs[:n]) if res.ok else ["not run"] * len(items)
    return pd.DataFrame(cols, index=pd.Index([it.id for it in items], name="id"))


# --------------------------------------------------------------------------- notes


def model_label(name: str) -> str:
    return SHORT_MODEL_NAMES.get(name, name)


def model_note(profile: Any) -> str:
    """'SmolLM2-135M vs Llama-3.2-1B' when the profile's model is not the paper's."""
    prof = _prof(profile)
    if prof.model == PAPER_MODEL:
        return ""
    return f"model: {model_label(prof.model)} vs {model_label(PAPER_MODEL)}"


def data_note(dataset: str, n: int) -> str:
    """How our evaluation set differs from the paper's (sizes from :mod:`srllm.paper`)."""
    from srllm import paper

    if dataset == "cmd_test":
        return f"data: CMD sample test split ({n}) vs CMD test ({paper.TABLE1.split['test']:,})"
    if dataset == "toxigen":
        return f"data: ToxiGen-style sample ({n}) vs ToxiGen v2 ({paper.EVAL_DATASETS['toxigen']['size']})"
    if dataset == "bold":
        return f"data: BOLD prompts + base-model continuations ({n}) vs BOLD ({paper.EVAL_DATASETS['bold']['size']:,})"
    raise SrllmError(f"unknown evaluation set {dataset!r}")


def method_note(method: str, profile: Any) -> str:
    """What produced our row (the paper's rows use other, larger models)."""
    prof = _prof(profile)
    m = model_label(prof.model)
    return {
        "original": "ours: the texts before any rewrite",
        "zero_shot": f"ours: {m} prompted, no demonstration",
        "two_shot": f"ours: {m} prompted with 2 demonstrations",
        "five_shot": f"ours: {m} prompted with 5 demonstrations",
        "prefix": f"ours: {m} + prefix-tuned adapter",
        "sr_llm": f"ours: {m} + QLoRA adapter (SR_LLM)",
    }.get(method, f"ours: {method}")


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def setup_summary(profile: Any, choices: dict[str, ScorerChoice] | None = None) -> pd.DataFrame:
    """One row per comparison caveat (model, each evaluation set, each scorer), for display above a table."""
    prof = _prof(profile)
    rows = [{"what": "model", "ours": prof.model, "paper": "Llama-3.2-1B-Instruct (Table 4 also other models)"}]
    for ds in DATASETS:
        rows.append({"what": f"data: {ds}", "ours": data_note(ds, len(eval_items(ds, prof))), "paper": ""})
    for col, c in (choices or {}).items():
        rows.append({"what": f"scorer: {PAPER_SCORER_LABELS[col]}", "ours": c.note() or c.name,
                     "paper": PAPER_SCORER_LABELS[col]})
    return pd.DataFrame(rows, columns=["what", "ours", "paper"])


# --------------------------------------------------------------------------- side-by-side tables


def _rate_lookup(rates: pd.DataFrame, value: str = "unsafe_rate") -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(r["method"], r["dataset"], r["scorer"]): {"value": r[value], "status": r["status"],
                                                       "reason": r["reason"], "n": r["n"]}
            for r in rates.to_dict("records")}


def _num(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def table4_side_by_side(rates: pd.DataFrame, choices: dict[str, ScorerChoice], profile: Any = "cpu",
                        datasets: Sequence[str] = DATASETS) -> pd.DataFrame:
    """Table 4 beside ours: index (paper row, test set, scorer column).

    ``rates``: :func:`unsafe_rates` of :data:`TABLE4_METHODS`; ``choices``: from
    :func:`paper_column_scorers` for ``("perspective", "openai")``. Every paper row
    appears; the rows we do not reproduce (other, hosted or larger models) say why.
    """
    from srllm import paper
    from srllm.report import side_by_side

    prof = _prof(profile)
    look = _rate_lookup(rates)
    ours_by_row = {v: k for k, v in TABLE4_PAPER_ROW.items()}
    ours: dict[tuple[str, str, str], float | None] = {}
    paper_vals: dict[tuple[str, str, str], float | None] = {}
    notes: dict[tuple[str, str, str], str] = {}
    for row in paper.TABLE4:
        method = ours_by_row.get(row.key)
        for ds in datasets:
            for col, c in choices.items():
                key = (row.model, DATASET_LABELS[ds], PAPER_SCORER_LABELS[col])
                paper_vals[key] = row.score(ds, col)
                if method is None:
                    ours[key] = None
                    notes[key] = ("not run: " + _unreproduced_reason(row))
                    continue
                hit = look.get((method, ds, c.name))
                if hit is None:
                    ours[key] = None
                    notes[key] = f"not run: {method} on {ds} with {c.name} was not computed"
                    continue
                ours[key] = _num(hit["value"])
                if hit["status"] != "ok":
                    notes[key] = _join(method_note(method, prof), f"not run: {hit['reason']}")
                else:
                    notes[key] = _join(method_note(method, prof), c.note(), model_note(prof) if method != "original"
                                       else "", data_note(ds, int(hit["n"])))
    return side_by_side(ours, paper_vals, notes=notes, index_names=("model", "test set", "scorer"), keep="paper")


def _unreproduced_reason(row: Any) -> str:
    """Why a paper row has no value of ours (without the row's name: tables give it once per group of rows)."""
    if row.method == "prompted-2shot" and row.key in ("gpt35_p", "gpt4_p"):
        return "hosted paid models; no API model generates rewrites here"
    if row.method == "instruction-fine-tuned":
        return "not fine-tuned here (larger base models); our SR_LLM row stands for SR_LLM Llama3.2"
    return "larger models not run offline; our prompted row stands for Llama3.2 Instruct"


def table5_side_by_side(groups: pd.DataFrame, choice: ScorerChoice, profile: Any = "cpu") -> pd.DataFrame:
    """Table 5 beside ours: index (group, method), mean toxicity probability in percent.

    ``groups``: :func:`group_rates` of :data:`TABLE5_METHODS` on ``toxigen``.
    """
    from srllm import paper
    from srllm.report import side_by_side

    prof = _prof(profile)
    look = {(r["method"], r["group"]): r for r in groups.to_dict("records")}
    ours_by_col = {v: k for k, v in TABLE5_PAPER_METHOD.items()}
    ours: dict[tuple[str, str], float | None] = {}
    paper_vals: dict[tuple[str, str], float | None] = {}
    notes: dict[tuple[str, str], str] = {}
    for g, g_label in paper.TABLE5_GROUP_LABELS.items():
        for pm in paper.TABLE5_METHODS:
            key = (g_label, paper.TABLE5_METHOD_LABELS[pm])
            paper_vals[key] = paper.TABLE5[g][pm]
            method = ours_by_col.get(pm)
            if method is None:
                ours[key] = None
                notes[key] = f"not run: {paper.TABLE5_METHOD_LABELS[pm]} is not available offline"
                continue
            r = look.get((method, g))
            if r is None:
                ours[key] = None
                notes[key] = f"not run: no item of group {g} in our sample"
                continue
            ours[key] = _num(r["mean_p_unsafe"])
            if r["status"] != "ok":
                notes[key] = _join(method_note(method, prof), f"not run: {r['reason']}")
            else:
                notes[key] = _join(method_note(method, prof), choice.note(),
                                   model_note(prof) if method != "original" else "", f"n={int(r['n'])}")
    return side_by_side(ours, paper_vals, notes=notes, index_names=("group", "method"), keep="paper")


def table7_side_by_side(rates: pd.DataFrame, retention: dict[tuple[str, str], RetentionResult],
                        choice: ScorerChoice, profile: Any = "cpu") -> pd.DataFrame:
    """Table 7 beside ours: index (method, column) with the paper's four columns.

    ``rates``: :func:`unsafe_rates` of :data:`TABLE7_METHODS` on :data:`TABLE7_DATASETS`
    with ``choice`` (the stand-in for OpenAI moderation); ``retention``:
    ``{(method, dataset): retention_scores(...)}``.
    """
    from srllm import paper
    from srllm.report import side_by_side

    prof = _prof(profile)
    look = _rate_lookup(rates)
    ours: dict[tuple[str, str], float | None] = {}
    paper_vals: dict[tuple[str, str], float | None] = {}
    notes: dict[tuple[str, str], str] = {}
    for row in paper.TABLE7:
        method = row.key
        for ds in TABLE7_DATASETS:
            pre = TABLE7_COLUMN_PREFIX[ds]
            for metric in ("openai", "knowledge_retention"):
                col = f"{pre}_{metric}"
                key = (row.label, col)
                paper_vals[key] = row.as_dict()[col]
                printed = row.notes.get(col, "")
                if metric == "openai":
                    hit = look.get((method, ds, choice.name))
                    if hit is None or hit["status"] != "ok":
                        ours[key] = None
                        why = hit["reason"] if hit else "not computed"
                        notes[key] = _join(method_note(method, prof), f"not run: {why}", printed)
                    else:
                        ours[key] = _num(hit["value"])
                        notes[key] = _join(method_note(method, prof), choice.note(),
                                           model_note(prof) if method != "original" else "",
                                           data_note(ds, int(hit["n"])), printed)
                else:
                    ret = retention.get((method, ds))
                    if ret is None or ret.status != "ok":
                        ours[key] = None
                        why = ret.reason if ret else "not computed"
                        label = "n/a" if ret is not None and ret.status == "not_applicable" else "not run"
                        notes[key] = _join(f"{label}: {why}", printed)
                    else:
                        ours[key] = ret.mean_percent
                        notes[key] = _join(method_note(method, prof),
                                           "proxy: offline retention (MiniLM cosine + content-word recall) "
                                           "in place of DeepEval with GPT-4", model_note(prof),
                                           data_note(ds, len(ret.scores or ())), printed)
    return side_by_side(ours, paper_vals, notes=notes, index_names=("method", "column"), keep="paper")


def headline(table: pd.DataFrame, key: tuple[Any, ...], column: str = "ours") -> float | None:
    """One value of a side-by-side table (None when missing), for ``myst_nb.glue``."""
    v = table.loc[key, column]
    return None if pd.isna(v) else round(float(v), 2)


_SHORT_DATASET = {"cmd_test": "cmd", "toxigen": "toxigen", "bold": "bold"}


def table4_headlines(table4: pd.DataFrame, column: str = "openai") -> dict[str, Any]:
    """Glue-ready numbers of Table 4 (one scorer column): ``t4_<method>_<cmd|toxigen|bold>_unsafe`` (ours)
    and ``t4_paper_<method>_<set>_unsafe`` for each of our methods, None where missing."""
    from srllm import paper

    out: dict[str, Any] = {}
    label = PAPER_SCORER_LABELS[column]
    for method, row_key in TABLE4_PAPER_ROW.items():
        model = paper.table4_row(row_key).model
        for ds in DATASETS:
            key = (model, DATASET_LABELS[ds], label)
            if key not in table4.index:
                continue
            out[f"t4_{method}_{_SHORT_DATASET[ds]}_unsafe"] = headline(table4, key)
            out[f"t4_paper_{method}_{_SHORT_DATASET[ds]}_unsafe"] = headline(table4, key, "paper")
    return out


def table4_plot_frame(table4: pd.DataFrame, column: str = "openai") -> pd.DataFrame:
    """Long frame for a grouped bar chart of Table 4: ``source`` (ours/paper), ``method`` (our method's
    label), ``test set``, ``unsafe %``; only the paper rows that our methods stand for."""
    from srllm import paper
    from srllm.generation.baselines import get_baseline

    label = PAPER_SCORER_LABELS[column]
    rows = []
    for method, row_key in TABLE4_PAPER_ROW.items():
        model = paper.table4_row(row_key).model
        for ds in DATASETS:
            key = (model, DATASET_LABELS[ds], label)
            if key not in table4.index:
                continue
            for source in ("ours", "paper"):
                rows.append({"source": source, "method": get_baseline(method).label, "test set": DATASET_LABELS[ds],
                             "unsafe %": table4.loc[key, source]})
    return pd.DataFrame(rows, columns=["source", "method", "test set", "unsafe %"])


def table5_means(table5: pd.DataFrame) -> pd.DataFrame:
    """Mean over the groups of :func:`table5_side_by_side`, per paper method: ``ours``, ``paper``,
    ``difference``, ``groups`` (groups with a value of ours). Ours is NaN when no group has a value."""
    frame = table5[["ours", "paper"]].groupby(level="method", sort=False).mean()
    frame["difference"] = frame["ours"] - frame["paper"]
    frame["groups"] = table5["ours"].notna().groupby(level="method", sort=False).sum().astype(int)
    return frame


def table5_headlines(means: pd.DataFrame) -> dict[str, Any]:
    """Glue-ready group means: ``t5_mean_<method>`` (ours) and ``t5_paper_mean_<method>`` for our methods."""
    from srllm import paper

    out: dict[str, Any] = {}
    for method, pm in TABLE5_PAPER_METHOD.items():
        label = paper.TABLE5_METHOD_LABELS[pm]
        if label in means.index:
            out[f"t5_mean_{method}"] = headline(means, label)
            out[f"t5_paper_mean_{method}"] = headline(means, label, "paper")
    return out


def table5_grids(table5: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ours, paper) as group x method grids for a heat map. Ours keeps only methods with a value,
    its columns named after our methods (``Baseline (2-shots)``, ``SR_LLM``...), not the paper's models."""
    from srllm import paper
    from srllm.generation.baselines import get_baseline

    ours = table5["ours"].unstack("method")
    paper_grid = table5["paper"].unstack("method")
    groups = list(dict.fromkeys(table5.index.get_level_values("group")))
    methods = list(dict.fromkeys(table5.index.get_level_values("method")))
    ours = ours.reindex(index=groups, columns=methods).dropna(axis=1, how="all")
    ours_label = {paper.TABLE5_METHOD_LABELS[pm]: get_baseline(m).label for m, pm in TABLE5_PAPER_METHOD.items()}
    ours = ours.rename(columns=ours_label)
    paper_grid = paper_grid.reindex(index=groups, columns=methods)
    return ours, paper_grid


def table7_headlines(table7: pd.DataFrame) -> dict[str, Any]:
    """Glue-ready Table 7 numbers for each method: ``t7_<method>_<cmd|toxigen>_unsafe``,
    ``t7_<method>_<cmd|toxigen>_retention`` (ours), the same with ``t7_paper_``, and
    ``t7_<method>_retention`` (ours, our test set) as the short name for the headline."""
    from srllm import paper

    out: dict[str, Any] = {}
    for row in paper.TABLE7:
        for ds in TABLE7_DATASETS:
            pre = TABLE7_COLUMN_PREFIX[ds]
            for metric, short in (("openai", "unsafe"), ("knowledge_retention", "retention")):
                key = (row.label, f"{pre}_{metric}")
                if key not in table7.index:
                    continue
                out[f"t7_{row.key}_{pre}_{short}"] = headline(table7, key)
                out[f"t7_paper_{row.key}_{pre}_{short}"] = headline(table7, key, "paper")
        if f"t7_{row.key}_cmd_retention" in out:
            out[f"t7_{row.key}_retention"] = out[f"t7_{row.key}_cmd_retention"]
            out[f"t7_paper_{row.key}_retention"] = out[f"t7_paper_{row.key}_cmd_retention"]
    return out


def table7_plot_frame(table7: pd.DataFrame) -> pd.DataFrame:
    """Long frame for a scatter of Table 7: ``source``, ``method``, ``test set``, ``unsafe %``, ``retention %``."""
    from srllm import paper

    rows = []
    for row in paper.TABLE7:
        for ds in TABLE7_DATASETS:
            pre = TABLE7_COLUMN_PREFIX[ds]
            u, r = (row.label, f"{pre}_openai"), (row.label, f"{pre}_knowledge_retention")
            if u not in table7.index or r not in table7.index:
                continue
            for source in ("ours", "paper"):
                rows.append({"source": source, "method": row.label, "test set": DATASET_LABELS[ds],
                             "unsafe %": table7.loc[u, source], "retention %": table7.loc[r, source]})
    return pd.DataFrame(rows, columns=["source", "method", "test set", "unsafe %", "retention %"])


# --------------------------------------------------------------------------- task success (a17's measure)

SUCCESS_COLUMNS = ("method", "dataset", "n", "success", "status", "reason")
SUCCESS_LABEL = "task success %"


def task_inputs(dataset: str, profile: Any = "cpu") -> list[int]:
    """Positions of the items whose input needs a rewrite: on our test set the records labelled
    biased or toxic (:func:`srllm.metrics.task_success.biased_inputs`); every item elsewhere."""
    prof = _prof(profile)
    items = eval_items(dataset, prof)
    if dataset != "cmd_test":
        return list(range(len(items)))
    from srllm.data.sources import profile_splits
    from srllm.metrics.task_success import biased_inputs

    biased = {r.id for r in biased_inputs(profile_splits(prof, "cmd")["test"])}
    return [i for i, it in enumerate(items) if it.id in biased]


def task_success_rates(methods: Sequence[str], datasets: Sequence[str], scorer: Any,
                       profile: Any = "cpu") -> pd.DataFrame:
    """Task success (:mod:`srllm.metrics.task_success`) of each rewriting method on each set, in percent.

    One row per method and set, over :func:`task_inputs`; the scorer decides "still unsafe"
    (the same stand-in as the unsafe rates beside it). The original texts are not a rewrite
    and get no row; a method that did not run gets ``status="not_run"``.
    """
    from srllm.metrics.task_success import task_success

    prof = _prof(profile)
    choice = as_choice(scorer)
    sc = choice.instance if choice.instance is not None else get_scorer_instance(choice.name)
    rows = []
    for dataset in datasets:
        keep = task_inputs(dataset, prof)
        items = eval_items(dataset, prof)
        for method in methods:
            if method == "original":
                continue
            result = method_outputs(method, dataset, prof, progress=False)
            row = {"method": method, "dataset": dataset, "n": len(keep), "success": math.nan, "status": "ok",
                   "reason": ""}
            if not result.ok:
                row.update(status="not_run", reason=result.reason or "not run", n=0)
            elif not choice.available:
                row.update(status="not_run", reason=f"scorer {choice.name} unavailable: {choice.reason}", n=0)
            elif keep:
                res = task_success([items[i].text for i in keep], [result.outputs[i] for i in keep], scorer=sc)
                row["success"] = 100.0 * res.success_rate
            rows.append(row)
    return pd.DataFrame(rows, columns=list(SUCCESS_COLUMNS))


def _with_success(table: pd.DataFrame, success: pd.DataFrame | None, key_of: Any, group_level: str) -> pd.DataFrame:
    """``table`` with one more column group per test set, ``task success %`` (ours only; the paper has none).

    ``key_of(method, dataset)`` gives the table's index key (without the last level) for our method.
    """
    if success is None or success.empty:
        return table
    ours = {}
    for r in success.to_dict("records"):
        if r["status"] == "ok":
            ours[key_of(r["method"], r["dataset"])] = r["success"]
    rows, index = [], []
    last_group = None
    names = list(table.index.names)
    for key, rec in zip(table.index, table.to_dict("records")):
        group = key[:-1]
        if last_group is not None and group != last_group:
            index.append((*last_group, SUCCESS_LABEL))
            rows.append({"ours": ours.get(last_group, math.nan), "paper": math.nan, "difference": math.nan,
                         "note": "our measure; the paper has none"})
        index.append(key)
        rows.append(rec)
        last_group = group
    if last_group is not None:
        index.append((*last_group, SUCCESS_LABEL))
        rows.append({"ours": ours.get(last_group, math.nan), "paper": math.nan, "difference": math.nan,
                     "note": "our measure; the paper has none"})
    return pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=names))


def _success_footnote(success: pd.DataFrame | None) -> str:
    if success is None or success.empty:
        return ""
    from srllm.metrics.task_success import DEFAULT_THRESHOLD

    return (f"{SUCCESS_LABEL}: our measure, not the paper's (srllm.metrics.task_success): the share of rewrites "
            "that change the input, are no echo or refusal, are not flagged by the same scorer and keep the "
            f"content (MiniLM cosine ≥ {DEFAULT_THRESHOLD}, chosen on the dev split); on our test set over the "
            "inputs labelled biased or toxic, elsewhere over every item.")


# --------------------------------------------------------------------------- tables as the paper prints them


def _not_run_footnote(table: pd.DataFrame, row_level: str) -> str:
    """One line naming, once, why the rows without a value of ours are empty."""
    reasons: dict[str, list[str]] = {}
    for row, sub in table.groupby(level=row_level, sort=False):
        if sub["ours"].notna().any():
            continue
        note = next((n for n in sub["note"] if isinstance(n, str) and n), "not run here")
        why = note.split("not run: ", 1)[-1]
        reasons.setdefault(why, []).append(str(row))
    if not reasons:
        return ""
    return "– : not run here. " + " ".join(f"{', '.join(rows)}: {why}." for why, rows in reasons.items())


def _scorer_footnotes(choices: dict[str, ScorerChoice]) -> list[str]:
    notes = []
    for col, c in choices.items():
        n = c.note()
        notes.append(f"{PAPER_SCORER_LABELS[col]} column{' (Perspective)' if col == 'perspective' else ''}"
                     f"{' (OpenAI)' if col == 'openai' else ''}: " + (n if n else f"{c.name} (the paper's scorer)"))
    return notes


def table4_view(table4: pd.DataFrame, choices: dict[str, ScorerChoice], profile: Any = "cpu",
                success: pd.DataFrame | None = None) -> Any:
    """Table 4 as the paper prints it: methods x (test set, scorer), ours beside the paper's (a Styler).

    Provenance once below the table: which of the paper's rows our methods stand for, the
    model, each test set's size against the paper's, each scorer column's scorer (and
    whether it is a proxy), and why the other rows are empty.
    """
    from srllm import paper
    from srllm.report import paper_table

    prof = _prof(profile)
    stands = "; ".join(f"{paper.table4_row(r).model}: {method_note(m, prof)}" for m, r in TABLE4_PAPER_ROW.items()
                       if paper.table4_row(r).model in table4.index.get_level_values("model")
                       and table4.xs(paper.table4_row(r).model, level="model")["ours"].notna().any())
    footnotes = [f"Rows with a value of ours: {stands}." if stands else "",
                 model_note(prof) and model_note(prof).replace("model: ", "Model: ") + ".",
                 *(data_note(ds, len(eval_items(ds, prof))).replace("data: ", f"{DATASET_LABELS[ds]}: ")
                   for ds in dict.fromkeys(table4.index.get_level_values("test set").map(
                       {v: k for k, v in DATASET_LABELS.items()}))),
                 *_scorer_footnotes(choices), _success_footnote(success), _not_run_footnote(table4, "model")]
    model_of = {m: paper.table4_row(r).model for m, r in TABLE4_PAPER_ROW.items()}
    shown = _with_success(table4, success, lambda m, d: (model_of.get(m, m), DATASET_LABELS[d]), "test set")
    # short column heads so that the paper's six columns and ours fit the page; the notes use the full names
    shown = shown.rename(index={PAPER_SCORER_LABELS["perspective"]: "Perspective",
                                PAPER_SCORER_LABELS["openai"]: "OpenAI", SUCCESS_LABEL: "success %"}, level="scorer")
    return paper_table(shown, "model", ["test set", "scorer"], footnotes=footnotes,
                       caption="Table 4: texts judged unsafe (%), before and after each method; ours beside the "
                               "paper's. Lower is safer.")


def table5_view(table5: pd.DataFrame, choice: ScorerChoice, profile: Any = "cpu") -> Any:
    """Table 5 as the paper prints it: ToxiGen groups x methods, ours beside the paper's (a Styler)."""
    from srllm.report import paper_table

    prof = _prof(profile)
    n = len(eval_items("toxigen", prof))
    footnotes = [model_note(prof) and model_note(prof).replace("model: ", "Model: ") + ".",
                 data_note("toxigen", n).replace("data: ", "Statements: ") + "; a handful per group.",
                 "Scorer: " + (choice.note() or choice.name) + ".", _not_run_footnote(table5.swaplevel(), "method")]
    return paper_table(table5, "group", "method", footnotes=footnotes,
                       caption="Table 5: mean toxicity probability (%) per ToxiGen target group; ours beside "
                               "the paper's.")


TABLE7_MEASURES: dict[str, str] = {"openai": "unsafe %", "knowledge_retention": "knowledge retention %"}


def table7_view(table7: pd.DataFrame, choice: ScorerChoice, profile: Any = "cpu",
                success: pd.DataFrame | None = None) -> Any:
    """Table 7 as the paper prints it: methods x (test set, measure), ours beside the paper's (a Styler)."""
    from srllm.report import paper_table

    prof = _prof(profile)
    label = {TABLE7_COLUMN_PREFIX[ds]: DATASET_LABELS[ds] for ds in TABLE7_DATASETS}
    keys = []
    for method, col in table7.index:
        pre, metric = col.split("_", 1)
        keys.append((method, label[pre], TABLE7_MEASURES[metric]))
    frame = table7.copy()
    frame.index = pd.MultiIndex.from_tuples(keys, names=["method", "test set", "measure"])
    printed = sorted({n.split("printed ", 1)[1] for n in table7["note"] if isinstance(n, str) and "printed " in n})
    footnotes = [model_note(prof) and model_note(prof).replace("model: ", "Model: ") + ".",
                 *(data_note(ds, len(eval_items(ds, prof))).replace("data: ", f"{DATASET_LABELS[ds]}: ")
                   for ds in TABLE7_DATASETS),
                 "Unsafe %: " + (choice.note() or choice.name) + ".",
                 "Knowledge retention: proxy (offline MiniLM cosine + content-word recall) in place of DeepEval "
                 "with GPT-4.",
                 ("Paper cells printed as " + ", ".join(printed) + " show –.") if printed else "",
                 _success_footnote(success), _not_run_footnote(frame, "method")]
    from srllm import paper

    label_of = {r.key: r.label for r in paper.TABLE7}
    frame = _with_success(frame, success, lambda m, d: (label_of.get(m, m), DATASET_LABELS[d]), "test set")
    return paper_table(frame, "method", ["test set", "measure"], footnotes=footnotes,
                       caption="Table 7: prompting versus fine-tuning; unsafe texts (%, lower is safer) and "
                               "knowledge retention (%, higher is better); ours beside the paper's.")


# One colour per method on every page (seaborn's colour-blind palette, in the paper's method order);
# keyed by our method keys and by every label a page may show for the method.
_COLOUR_ORDER = ("original", "zero_shot", "two_shot", "five_shot", "prefix", "sr_llm", "t5_large", "bart_large",
                 "flan_t5_large")


def method_palette() -> dict[str, Any]:
    """``{method key or label: colour}``: the same colour for a method on every page and in every figure."""
    import seaborn as sns

    from srllm import paper
    from srllm.generation.baselines import get_baseline

    colours = dict(zip(_COLOUR_ORDER, sns.color_palette("colorblind", len(_COLOUR_ORDER))))
    out: dict[str, Any] = {}
    for key, colour in colours.items():
        out[key] = colour
        out[get_baseline(key).label] = colour
    for row in paper.TABLE7:
        out.setdefault(row.label, colours.get(row.key))
    for m, r in TABLE4_PAPER_ROW.items():
        out.setdefault(paper.table4_row(r).model, colours[m])
    for m, pm in TABLE5_PAPER_METHOD.items():
        out.setdefault(paper.TABLE5_METHOD_LABELS[pm], colours[m])
    return out


def _success_sentence(success: pd.DataFrame | None, dataset: str = "cmd_test") -> str:
    """One sentence of task success per method on ``dataset`` (empty without results)."""
    from srllm.generation.baselines import get_baseline
    from srllm.findings import fmt

    if success is None or success.empty:
        return ""
    ok = success[(success["dataset"] == dataset) & (success["status"] == "ok")]
    if ok.empty:
        return ""
    parts = [f"{get_baseline(r['method']).label} {fmt(r['success'], 1)}%" for r in ok.to_dict("records")]
    return (f"\n\nTask success on {DATASET_LABELS[dataset].lower()} (our measure: the rewrite changes the text, "
            f"is not flagged and keeps its content; the paper has no such figure): " + ", ".join(parts) + ".")


def table4_findings(table4: pd.DataFrame, choice: ScorerChoice, profile: Any = "cpu", column: str = "openai",
                    success: pd.DataFrame | None = None) -> str:
    """The "What this build found" paragraph of the Table 4 page (Markdown; see :mod:`srllm.findings`)."""
    from srllm.findings import safety_findings

    prof = _prof(profile)
    return safety_findings(table4_headlines(table4, column), scorer=choice.name, is_proxy=choice.is_proxy,
                           model=model_label(prof.model), stands_for=PAPER_SCORER_LABELS[column],
                           datasets={_SHORT_DATASET[d]: DATASET_LABELS[d] for d in DATASETS}) + \
        _success_sentence(success)


def table5_findings(table5: pd.DataFrame, choice: ScorerChoice, profile: Any = "cpu") -> str:
    """The "What this build found" paragraph of the Table 5 page."""
    from srllm import paper
    from srllm.findings import demographics_findings

    prof = _prof(profile)
    ours = table5["ours"].unstack("method")
    orig, sr = (paper.TABLE5_METHOD_LABELS[TABLE5_PAPER_METHOD[m]] for m in ("original", "sr_llm"))
    both = ours[[orig, sr]].dropna() if {orig, sr} <= set(ours.columns) else ours.iloc[0:0]
    dropped = int((both[sr] < both[orig]).sum()) if len(both) else None
    return demographics_findings(table5_headlines(table5_means(table5)), groups_dropped=dropped, groups=len(both),
                                 scorer=choice.name, is_proxy=choice.is_proxy, model=model_label(prof.model))


def table7_findings(table7: pd.DataFrame, choice: ScorerChoice, profile: Any = "cpu",
                    success: pd.DataFrame | None = None) -> str:
    """The "What this build found" paragraph of the Table 7 page."""
    from srllm import paper
    from srllm.findings import prompting_findings

    prof = _prof(profile)
    return prompting_findings(table7_headlines(table7), scorer=choice.name, is_proxy=choice.is_proxy,
                              model=model_label(prof.model), methods={r.key: r.label for r in paper.TABLE7}) + \
        _success_sentence(success)


EXPLORER_COLUMNS = ("test set", "group", "id", "method", "original", "rewrite", "p_unsafe %", "unsafe")


def explorer_frame(profile: Any = "cpu", scorer: Any = "offline-proxy",
                   combos: Sequence[tuple[str, str]] | None = None) -> pd.DataFrame:
    """Every evaluation text with each method's rewrite and its score: the rewrite explorer's rows.

    One row per (test set, item, method), for the method/test-set pairs the results pages
    run (Table 4's methods on every set, Table 7's on its two), from the same cached
    outputs those pages use; methods that did not run here (e.g. T5 without the Hub) have
    no rows. ``p_unsafe %`` and ``unsafe`` come from ``scorer`` (the pages' stand-in).
    """
    prof = _prof(profile)
    choice = as_choice(scorer)
    if combos is None:
        combos = [(m, d) for d in DATASETS for m in TABLE4_METHODS]
        combos += [(m, d) for d in TABLE7_DATASETS for m in TABLE7_METHODS if (m, d) not in combos]
    from srllm.generation.baselines import get_baseline

    rows = []
    for method, dataset in combos:
        result = method_outputs(method, dataset, prof, progress=False)
        if not result.ok:
            continue
        scores = score_outputs(result, choice) if choice.available else None
        for k, (item, out) in enumerate(zip(eval_items(dataset, prof), result.outputs)):
            rows.append({"test set": DATASET_LABELS[dataset], "group": item.group, "id": item.id,
                         "method": get_baseline(method).label, "original": item.text, "rewrite": out,
                         "p_unsafe %": round(100.0 * scores[k].p_unsafe, 1) if scores else math.nan,
                         "unsafe": ("yes" if scores[k].flag else "no") if scores else ""})
    return pd.DataFrame(rows, columns=list(EXPLORER_COLUMNS))


def proxy_statement(choices: Iterable[ScorerChoice]) -> str:
    """What a page says, once, about the offline proxy when one of its columns uses it (Markdown).

    From :func:`srllm.scoring.bias.proxy_card`: what the proxy's bias classifier was trained on
    and its accuracy on held-out labelled texts (issue 14, item 2).
    """
    if not any(c.name == "offline-proxy" and c.available for c in choices):
        return "No column of this page is scored by the offline proxy."
    from srllm.scoring.bias import proxy_card

    return ("**The offline proxy.** " + proxy_card()["sentence"] + " Its levels are not those of the paper's "
            "scorers: compare directions between methods, not levels.")


def ordering_ablation_view(profile: Any = "cpu", dataset: str = "cmd_test",
                           methods: Sequence[str] = TABLE4_METHODS) -> tuple[Any, str]:
    """The ablation of the proxy's training data on one set: (table, one sentence).

    :func:`srllm.scoring.ablation.ordering_ablation` scores the methods' cached outputs with the
    proxy's bias classifier trained on the labelled texts only (now) and with SR_LLM's
    training targets added as unbiased (before); the table puts each method's unsafe rate and
    rank under both side by side, the sentence says whether the ordering changes.
    """
    from html import escape

    from srllm.generation.baselines import get_baseline
    from srllm.scoring.ablation import ordering_ablation
    from srllm.scoring.bias import CHOICES

    prof = _prof(profile)
    frame = ordering_ablation({get_baseline(m).label: method_outputs(m, dataset, prof, progress=False)
                               for m in methods}, seed=prof.seed)
    ran = frame[frame["status"] == "ok"].set_index("method")
    cols = {}
    for choice in CHOICES:
        label = "labelled texts only (now)" if choice == "labelled_only" else "with SR_LLM's targets (before)"
        cols[(label, "unsafe %")] = ran[f"unsafe_rate_{choice}"]
        cols[(label, "rank")] = ran[f"rank_{choice}"]
    table = pd.DataFrame(cols)
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["classifier trained on", None])
    same = frame.attrs.get("same_ordering")
    n = int(ran["n"].max()) if len(ran) else 0
    sentence = (f"On {DATASET_LABELS[dataset].lower()} ({n} texts), the ordering of the methods by unsafe rate "
                + ("is the same under both choices of the proxy's training data." if same else
                   "changes between the two choices of the proxy's training data."))
    caption = " ".join(f"{k}: {v}." for k, v in CHOICES.items())
    styler = table.style.format(precision=2, na_rep="–").set_caption(f"<small>{escape(caption)}</small>")
    return styler, sentence


def rates_view(rates: pd.DataFrame) -> Any:
    """The long table of :func:`unsafe_rates` or :func:`group_rates` as a page shows it (a Styler).

    Rows that ran, rates to 2 decimals; the methods that did not run are named once below
    the table with their reason instead of a row each.
    """
    from html import escape

    ok = rates[rates["status"] == "ok"].drop(columns=[c for c in ("status", "reason") if c in rates])
    reasons: dict[str, list[str]] = {}
    for r in rates[rates["status"] != "ok"].to_dict("records"):
        methods = reasons.setdefault(str(r["reason"]), [])
        if r["method"] not in methods:
            methods.append(r["method"])
    caption = " ".join(f"Not run: {', '.join(ms)} ({why})." for why, ms in reasons.items())
    styler = ok.style.format(precision=2, na_rep="–").hide(axis="index")
    if caption:
        styler = styler.set_caption(f"<small>{escape(caption)}</small>").set_table_styles(
            [{"selector": "caption", "props": "caption-side: bottom; text-align: left;"}])
    return styler


def clear_memo() -> None:
    """Forget the in-process memo of items and outputs (the on-disk caches stay)."""
    _ITEMS_MEMO.clear()
    _OUTPUTS_MEMO.clear()


__all__ = [
    "ADAPTER_METHODS", "BOLD_DOMAINS_USED", "DATASETS", "DATASET_LABELS", "EvalItem", "PAPER_SCORERS",
    "RetentionResult", "ScorerChoice", "TABLE4_METHODS", "TABLE4_PAPER_ROW", "TABLE5_METHODS",
    "TABLE5_PAPER_METHOD", "TABLE7_DATASETS", "TABLE7_METHODS", "adapter_for", "as_choice", "bold_continuations",
    "bold_prompts", "clear_memo", "complete_sentences", "data_note", "eval_items", "examples", "group_rates", "headline",
    "method_note", "method_outputs", "model_note", "paper_column_scorers", "resolve_profile", "retention_scores",
    "retention_frame", "score_outputs", "scorer_status", "scorers_for", "setup_summary", "table4_side_by_side", "table5_side_by_side",
    "table4_headlines", "table4_plot_frame", "table4_view", "table5_view", "table7_view", "rates_view",
    "explorer_frame", "method_palette", "ordering_ablation_view", "proxy_statement", "task_inputs", "task_success_rates", "table4_findings", "table5_findings", "table7_findings", "table5_grids", "table5_headlines", "table5_means", "table7_headlines", "table7_plot_frame", "table7_side_by_side", "toxigen_subset", "unsafe_rates",
]
