"""What the exercises share: the workshop's texts, running a participant's prompt, scoring rewrites.

The exercise modules (:mod:`srllm.workshop.exercise1_instruction` ...) build on these;
see :mod:`srllm.workshop` for the overview.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from srllm.errors import SrllmError
from srllm.generation import load_for_generation
from srllm.labels import field_of, is_unsafe
from srllm.metrics.similarity import cosine_similarity
from srllm.profiles import resolve
from srllm.prompts import INSTRUCTION, format_prompt
from srllm.scoring import get_scorer

WORKSHOP_SEED = 42
N_TEXTS = 6

# A rewrite whose MiniLM cosine to its original is below this has lost the
# original's subject. Chosen from the bundled data: the CMD sample's safe
# variations sit at a median of 0.91 from their originals (95 % above 0.6),
# hand-written rewrites that rephrase more freely around 0.5-0.7, while a
# refusal ("I cannot help with that") or an unrelated pleasant sentence sits
# near 0.
MIN_SIMILARITY = 0.5

# What the exercise-1 cell holds before the participant edits it: deliberately
# vague, so that there is something to improve (see the instructor notes).

# Openings that show the model chatted instead of rewriting.
CHATTY = re.compile(r"^\s*(sure|certainly|of course|here is|here's|i can|i cannot|i can't|i'm sorry|"
                     r"as an ai|the text|this text|rewritten text)", re.IGNORECASE)


def reference_instruction() -> str:
    """The instruction the rest of the book uses (:data:`srllm.prompts.INSTRUCTION`)."""
    return INSTRUCTION


# --------------------------------------------------------------------------- texts


def _biased_and_toxic(record: Any) -> bool:
    """Labelled biased AND (mildly or highly) toxic: the workshop's choice among unsafe texts.

    The exercises rewrite such texts: each has both a stereotype and hostile
    wording to remove, so a participant's instruction has something to show.
    (Every such record is unsafe in the paper's sense, :func:`srllm.labels.is_unsafe`.)
    """
    return field_of(record, "bias") == "Yes" and field_of(record, "toxicity") in ("Mild", "High")


def workshop_texts(records: Sequence[Any], n: int = N_TEXTS, seed: int = WORKSHOP_SEED) -> list[Any]:
    """``n`` unsafe records with a safe variation, spread over as many target groups as possible.

    Unsafe in the paper's sense (:func:`srllm.labels.is_unsafe`) and, among
    those, labelled both biased and toxic, so that each text has a stereotype
    and hostile wording to remove.

    Deterministic for a given ``records`` and ``seed``: records are shuffled by
    the seed and taken round-robin over their ``target_category``, so six texts
    do not all target the same group. Pass the test split, so that exercise 2's
    demonstrations (drawn from the train split) never include them.
    """
    if n <= 0:
        raise SrllmError(f"workshop_texts: n must be positive, got {n}")
    usable = [r for r in records if is_unsafe(r) and _biased_and_toxic(r) and field_of(r, "safe_variation") and field_of(r, "text")]
    if len(usable) < n:
        raise SrllmError(f"workshop_texts: asked for {n} unsafe texts with a safe variation, "
                         f"the records hold only {len(usable)}")
    rng = random.Random(seed)
    order = list(range(len(usable)))
    rng.shuffle(order)
    by_group: dict[str, list[Any]] = {}
    for i in order:
        by_group.setdefault(str(field_of(usable[i], "target_category") or "other"), []).append(usable[i])
    groups = list(by_group)
    picked: list[Any] = []
    while len(picked) < n:
        for g in groups:
            if by_group[g] and len(picked) < n:
                picked.append(by_group[g].pop(0))
    return picked


# --------------------------------------------------------------------------- running a prompt


@dataclass(frozen=True)
class RewriteRun:
    """Rewrites of ``texts`` by one prompt set-up, in input order."""

    texts: tuple[str, ...]
    rewrites: tuple[str, ...]
    instruction: str
    shots: int
    longest_prompt_tokens: int
    model: str
    adapter_dir: str | None
    seconds: float


def rewrite_texts(texts: Sequence[str], *, instruction: str | None = None, shots: Sequence[Any] = (),
                  profile: Any = "cpu", adapter_dir: Any = None, max_new_tokens: int | None = None,
                  progress: bool = True) -> RewriteRun:
    """Rewrite ``texts`` with the profile's model (plus an adapter) and a given instruction.

    :func:`srllm.generation.rewrite` always uses the book's instruction; the
    workshop needs the participant's own, so this builds the prompts with
    :func:`srllm.prompts.format_prompt` and decodes them with
    :func:`srllm.generation.generate_texts` (greedy, cached by prompt text, so a
    rerun with the same instruction costs nothing). ``shots`` are
    :class:`srllm.prompts.Shot` demonstrations shared by every prompt.
    ``max_new_tokens``: the decoding length (default: the profile's), e.g.
    longer for a whole job ad.
    """
    texts = [str(t) for t in texts]
    if not texts:
        raise SrllmError("rewrite_texts needs at least one text")
    instruction = reference_instruction() if instruction is None else instruction
    if not isinstance(instruction, str) or not instruction.strip():
        raise SrllmError("the instruction is empty: write what the model should do with each text")
    prof = resolve(profile)
    lm = load_for_generation(prof.model, adapter_dir, prof.device)
    prompts = [format_prompt(t, prof.prompt_format, lm.tokenizer, instruction=instruction.strip(), shots=list(shots))
               for t in texts]
    longest = max(len(lm.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts)
    settings = prof.generate
    n_new = settings.max_new_tokens if max_new_tokens is None else max_new_tokens
    t0 = time.perf_counter()
    out = lm.generate(prompts, cache_format=prof.prompt_format, max_new_tokens=n_new, batch_size=settings.batch_size,
                      desc=f"rewrite ({len(shots)}-shot)", progress=progress)
    return RewriteRun(tuple(texts), tuple(out), instruction.strip(), len(shots), longest, prof.model,
                      lm.adapter_dir, time.perf_counter() - t0)


# --------------------------------------------------------------------------- scoring rewrites


@dataclass(frozen=True)
class RewriteScores:
    """Safety and content kept for one set of (original, rewrite) pairs; rates are fractions."""

    unsafe_before: float
    unsafe_after: float
    similarity: float
    success: float  # share of rewrites that are not flagged AND keep the content (cosine >= MIN_SIMILARITY)
    p_unsafe_before: tuple[float, ...]
    p_unsafe_after: tuple[float, ...]
    similarities: tuple[float, ...]
    scorer: str
    is_proxy: bool


_SCORERS: dict[str, Any] = {}


def shared_scorer(name: Any) -> Any:
    """A scorer by name (one object per name and process: building the offline
    proxy loads or trains its bias classifier, which five exercises should do
    once), or a :class:`srllm.scoring.Scorer` passed through."""
    if not isinstance(name, str):
        if not hasattr(name, "score"):
            raise SrllmError(f"scorer must be a name such as 'offline-proxy' or a Scorer, not {name!r}")
        return name
    if name not in _SCORERS:
        _SCORERS[name] = get_scorer(name)
    return _SCORERS[name]


def check_pairs(originals: Sequence[str], rewrites: Sequence[str], what: str) -> None:
    """Raise :class:`SrllmError` unless there is one string rewrite per original, and at least one.

    ``what`` names the caller in the message.
    """
    if len(originals) != len(rewrites):
        raise SrllmError(f"{what}: {len(originals)} originals but {len(rewrites)} rewrites; "
                         "give one rewrite per text, in the same order")
    if not originals:
        raise SrllmError(f"{what}: no texts to check")
    for i, r in enumerate(rewrites):
        if not isinstance(r, str):
            raise SrllmError(f"{what}: rewrite {i} is {type(r).__name__}, not a string")


def score_rewrites(originals: Sequence[str], rewrites: Sequence[str], *, scorer: Any = "offline-proxy",
                   min_similarity: float = MIN_SIMILARITY) -> RewriteScores:
    """Unsafe rate before and after, mean similarity and the share of safe, faithful rewrites."""
    originals, rewrites = [str(o) for o in originals], list(rewrites)
    check_pairs(originals, rewrites, "score_rewrites")
    sc = shared_scorer(scorer)
    before = sc.score(originals)
    # An empty rewrite cannot be scored by every component; it is unsafe to
    # count it as safe, and it keeps no content either.
    after = sc.score([r if r.strip() else "(empty)" for r in rewrites])
    sims = [float(s) if r.strip() else 0.0 for s, r in zip(cosine_similarity(originals, rewrites), rewrites)]
    ok = [(not a.flag) and s >= min_similarity and r.strip() != "" for a, s, r in zip(after, sims, rewrites)]
    n = len(originals)
    return RewriteScores(
        unsafe_before=sum(b.flag for b in before) / n,
        unsafe_after=sum(a.flag for a in after) / n,
        similarity=sum(sims) / n,
        success=sum(ok) / n,
        p_unsafe_before=tuple(b.p_unsafe for b in before),
        p_unsafe_after=tuple(a.p_unsafe for a in after),
        similarities=tuple(sims),
        scorer=sc.name,
        is_proxy=bool(getattr(sc, "is_proxy", False)),
    )


def pct(x: float | None) -> str:
    """A share as a whole percent (``0.42`` -> ``42%``); ``n/a`` for None or NaN."""
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f}%"


def verdict(passed: bool) -> str:
    """How an exercise report states its result: ``PASSED`` or ``NOT YET``."""
    return "PASSED" if passed else "NOT YET"
