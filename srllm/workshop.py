"""The workshop's exercises: their inputs, a way to run a participant's prompt, and the checks.

The workshop notebook (``notebooks/11_workshop.ipynb``, described in
``book/workshop.md``) asks participants to edit one cell per exercise and then
runs a *check* that scores their answer. The checks live here, not in the
notebook, so that they are tested and so that the notebook only orchestrates.

Every check takes plain data (the participant's instruction and the rewrites it
produced, their rewritten job ad, the rows they flagged ...) and returns a small
frozen dataclass with ``passed``, the numbers behind the verdict and a friendly
``message``; ``str(result)`` is what the check cell prints. The numbers come
from the project's own measures, the same ones the results chapters use:

* safety: the ``offline-proxy`` scorer of :mod:`srllm.scorers` (a proxy for the
  paper's Perspective / OpenAI moderation scores, Section 3.4);
* content kept: MiniLM cosine similarity, :mod:`srllm.metrics.similarity`
  (Section 5.3), and the offline knowledge retention of
  :mod:`srllm.metrics.retention` (Section 3.4);
* gender-coded words: :mod:`srllm.metrics.gender_coded` (Gaucher et al.'s
  lists, Section 5.3);
* ICAT: :func:`srllm.paper.icat` and :func:`srllm.paper.icat_failures` (Table 6).

Six texts, not the paper's thousands: the verdicts are teaching aids, and the
messages say so where a difference is within what one text can change.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from srllm.errors import SrllmError

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
STARTER_INSTRUCTION = "Make this text nicer."

# Openings that show the model chatted instead of rewriting.
_CHATTY = re.compile(r"^\s*(sure|certainly|of course|here is|here's|i can|i cannot|i can't|i'm sorry|"
                     r"as an ai|the text|this text|rewritten text)", re.IGNORECASE)


def reference_instruction() -> str:
    """The instruction the rest of the book uses (:data:`srllm.prompts.INSTRUCTION`)."""
    from srllm.prompts import INSTRUCTION

    return INSTRUCTION


# --------------------------------------------------------------------------- texts


def _get(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, Mapping) else getattr(item, key, None)


def is_unsafe_record(record: Any) -> bool:
    """True for a CMD record labelled biased AND (mildly or highly) toxic.

    The exercises rewrite these: each has both a stereotype and hostile wording
    to remove, so a participant's instruction has something to show.
    """
    return _get(record, "bias") == "Yes" and _get(record, "toxicity") in ("Mild", "High")


def workshop_texts(records: Sequence[Any], n: int = N_TEXTS, seed: int = WORKSHOP_SEED) -> list[Any]:
    """``n`` unsafe records with a safe variation, spread over as many target groups as possible.

    Deterministic for a given ``records`` and ``seed``: records are shuffled by
    the seed and taken round-robin over their ``target_category``, so six texts
    do not all target the same group. Pass the test split, so that exercise 2's
    demonstrations (drawn from the train split) never include them.
    """
    if n <= 0:
        raise SrllmError(f"workshop_texts: n must be positive, got {n}")
    usable = [r for r in records if is_unsafe_record(r) and _get(r, "safe_variation") and _get(r, "text")]
    if len(usable) < n:
        raise SrllmError(f"workshop_texts: asked for {n} unsafe texts with a safe variation, "
                         f"the records hold only {len(usable)}")
    rng = random.Random(seed)
    order = list(range(len(usable)))
    rng.shuffle(order)
    by_group: dict[str, list[Any]] = {}
    for i in order:
        by_group.setdefault(str(_get(usable[i], "target_category") or "other"), []).append(usable[i])
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

    :func:`srllm.generate.rewrite` always uses the book's instruction; the
    workshop needs the participant's own, so this builds the prompts with
    :func:`srllm.prompts.format_prompt` and decodes them with
    :func:`srllm.generate.generate_texts` (greedy, cached by prompt text, so a
    rerun with the same instruction costs nothing). ``shots`` are
    :class:`srllm.prompts.Shot` demonstrations shared by every prompt.
    ``max_new_tokens``: the decoding length (default: the profile's), e.g.
    longer for a whole job ad.
    """
    from srllm.generate import _resolve_profile, generate_texts, generation_cache_path, load_for_generation
    from srllm.prompts import format_prompt

    texts = [str(t) for t in texts]
    if not texts:
        raise SrllmError("rewrite_texts needs at least one text")
    instruction = reference_instruction() if instruction is None else instruction
    if not isinstance(instruction, str) or not instruction.strip():
        raise SrllmError("the instruction is empty: write what the model should do with each text")
    prof = _resolve_profile(profile)
    lm = load_for_generation(prof.model, adapter_dir, prof.device)
    prompts = [format_prompt(t, prof.prompt_format, lm.tokenizer, instruction=instruction.strip(), shots=list(shots))
               for t in texts]
    longest = max(len(lm.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts)
    settings = prof.generate
    n_new = settings.max_new_tokens if max_new_tokens is None else max_new_tokens
    path = generation_cache_path(prof.model, lm.adapter_id, prof.prompt_format, n_new)
    t0 = time.perf_counter()
    out = generate_texts(lm.model, lm.tokenizer, prompts, max_new_tokens=n_new,
                         batch_size=settings.batch_size, cache_path=path, desc=f"rewrite ({len(shots)}-shot)",
                         progress=progress)
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


def _scorer(name: Any) -> Any:
    """A scorer by name (one object per name and process: building the offline
    proxy loads or trains its bias classifier, which five exercises should do
    once), or a :class:`srllm.scorers.Scorer` passed through."""
    if not isinstance(name, str):
        if not hasattr(name, "score"):
            raise SrllmError(f"scorer must be a name such as 'offline-proxy' or a Scorer, not {name!r}")
        return name
    if name not in _SCORERS:
        from srllm.scorers import get_scorer

        _SCORERS[name] = get_scorer(name)
    return _SCORERS[name]


def _check_pairs(originals: Sequence[str], rewrites: Sequence[str], what: str) -> None:
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
    from srllm.metrics.similarity import cosine_similarity

    originals, rewrites = [str(o) for o in originals], list(rewrites)
    _check_pairs(originals, rewrites, "score_rewrites")
    sc = _scorer(scorer)
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


def _pct(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f}%"


def _verdict(passed: bool) -> str:
    return "PASSED" if passed else "NOT YET"


# --------------------------------------------------------------------------- exercise 1


@dataclass(frozen=True)
class InstructionCheck:
    """Exercise 1: is the participant's instruction safer than the originals and faithful to them?"""

    passed: bool
    unsafe_before: float
    unsafe_after: float
    similarity: float
    success: float
    reference_unsafe_after: float | None
    reference_similarity: float | None
    reference_success: float | None
    beats_reference: bool | None
    chatty: int
    message: str
    scores: RewriteScores | None = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        lines = [f"Exercise 1: {_verdict(self.passed)}",
                 f"  unsafe rate: {_pct(self.unsafe_before)} before -> {_pct(self.unsafe_after)} after your rewrites",
                 f"  similarity to the originals: {self.similarity:.2f} (want >= {MIN_SIMILARITY})",
                 f"  safe AND faithful rewrites: {_pct(self.success)}"]
        if self.reference_unsafe_after is not None:
            lines.append(f"  reference instruction: unsafe {_pct(self.reference_unsafe_after)}, similarity "
                         f"{self.reference_similarity:.2f}, safe and faithful {_pct(self.reference_success)}")
        if self.scores is not None and self.scores.is_proxy:
            lines.append("  (safety scored by the offline proxy, not by Perspective or OpenAI moderation)")
        lines.append(self.message)
        return "\n".join(lines)


def check_instruction(instruction: str, originals: Sequence[str], rewrites: Sequence[str],
                      reference_rewrites: Sequence[str] | None = None, *, scorer: Any = "offline-proxy",
                      min_similarity: float = MIN_SIMILARITY) -> InstructionCheck:
    """Score exercise 1: the rewrites an instruction produced, against the originals.

    Passes when the instruction is not empty, the rewrites are flagged less often
    than the originals (or never), and they stay on topic (mean MiniLM cosine of
    at least ``min_similarity``): safety alone is not enough, a refusal is safe.
    ``reference_rewrites`` (the book's instruction on the same texts) are scored
    alongside for comparison; beating them is reported but not required.
    """
    if not isinstance(instruction, str) or not instruction.strip():
        raise SrllmError("exercise 1: the instruction is empty; write one in the exercise-1 cell")
    s = score_rewrites(originals, rewrites, scorer=scorer, min_similarity=min_similarity)
    ref = score_rewrites(originals, reference_rewrites, scorer=scorer, min_similarity=min_similarity) \
        if reference_rewrites is not None else None
    chatty = sum(bool(_CHATTY.match(r)) for r in rewrites)
    empty = sum(not r.strip() for r in rewrites)
    safer = s.unsafe_after < s.unsafe_before or s.unsafe_after == 0.0
    faithful = s.similarity >= min_similarity
    passed = safer and faithful and empty == 0
    beats = None
    if ref is not None:
        beats = (s.success, -s.unsafe_after, s.similarity) > (ref.success, -ref.unsafe_after, ref.similarity)

    hints = []
    if empty:
        hints.append(f"{empty} rewrite(s) came back empty; the model may have stopped at once. Try a shorter, "
                     "more direct instruction.")
    if not safer:
        hints.append("Your rewrites are flagged as often as the originals. Name what to remove "
                     "(insults, generalisations about groups, threats).")
    if not faithful:
        hints.append("Your rewrites drift away from the originals. Ask the model to keep every fact, name "
                     "and number, and the author's point. A refusal is safe but useless.")
    if chatty:
        hints.append(f"{chatty} rewrite(s) start by chatting ('Sure! Here is ...'). Add 'Reply with the "
                     "rewritten text only.'")
    if passed:
        head = "Well done: your rewrites are safer and still about the same thing."
        if beats is False:
            head += " The reference instruction does a little better; compare the two."
        elif beats:
            head += " They beat the reference instruction on these six texts."
    else:
        head = "Not there yet."
    n = len(originals)
    note = f"(With {n} texts, one rewrite moves a rate by {100 / n:.0f} points.)"
    return InstructionCheck(passed, s.unsafe_before, s.unsafe_after, s.similarity, s.success,
                            ref.unsafe_after if ref else None, ref.similarity if ref else None,
                            ref.success if ref else None, beats, chatty,
                            " ".join([head] + hints + [note]), s)


# --------------------------------------------------------------------------- exercise 2


def record_id(record: Any) -> str:
    rid = _get(record, "id")
    if not isinstance(rid, str) or not rid:
        raise SrllmError(f"record has no id: {record!r}")
    return rid


def pick_example_ids(pool: Sequence[Any], k: int = 5, seed: int = WORKSHOP_SEED) -> list[str]:
    """Ids of ``k`` demonstrations drawn at random (by ``seed``) from ``pool``, as
    :func:`srllm.prompts.select_shots` draws them."""
    from srllm.prompts import select_shots

    shots = select_shots(pool, k, seed)
    by_text = {(_get(r, "text"), _get(r, "safe_variation")): record_id(r) for r in pool}
    return [by_text[(s.text, s.rewrite)] for s in shots]


def shots_from_ids(ids: Sequence[str], pool: Sequence[Any]) -> list[Any]:
    """The :class:`srllm.prompts.Shot` demonstrations of the records with these ids, in the given order."""
    from srllm.prompts import Shot

    by_id = {record_id(r): r for r in pool}
    out = []
    for i, rid in enumerate(ids):
        rec = by_id.get(rid)
        if rec is None:
            raise SrllmError(f"example id {rid!r} (position {i}) is not in the training split; "
                             "copy an id from the table of examples")
        if not _get(rec, "safe_variation"):
            raise SrllmError(f"example id {rid!r} has no safe variation to show the model")
        out.append(Shot(text=_get(rec, "text"), rewrite=_get(rec, "safe_variation")))
    return out


@dataclass(frozen=True)
class ShotsCheck:
    """Exercise 2: zero-, 2- and 5-shot prompting side by side (the layout of Table 7)."""

    passed: bool
    rows: tuple[dict[str, Any], ...]
    best: str | None
    problems: tuple[str, ...]
    message: str

    def table(self) -> Any:
        """The rows as a pandas DataFrame indexed by setting."""
        import pandas as pd

        return pd.DataFrame(list(self.rows)).set_index("setting")

    def __str__(self) -> str:
        lines = [f"Exercise 2: {_verdict(self.passed)}",
                 f"  {'setting':<10} {'unsafe':>7} {'similarity':>10} {'safe+faithful':>13} {'longest prompt':>15}"]
        for r in self.rows:
            tok = "" if r["longest_prompt_tokens"] is None else f"{r['longest_prompt_tokens']} tokens"
            lines.append(f"  {r['setting']:<10} {_pct(r['unsafe']):>7} {r['similarity']:>10.2f} "
                         f"{_pct(r['success']):>13} {tok:>15}")
        lines.append(self.message)
        return "\n".join(lines)


def check_shots(originals: Sequence[str], rewrites_by_setting: Mapping[str, Sequence[str]], *,
                example_ids: Sequence[str], train_ids: Iterable[str], test_ids: Iterable[str],
                prompt_tokens: Mapping[str, int] | None = None, scorer: Any = "offline-proxy",
                min_similarity: float = MIN_SIMILARITY) -> ShotsCheck:
    """Score exercise 2: the participant's example list and the three prompting settings.

    Passes when the example list is usable for a fair comparison: exactly five
    distinct ids (2-shot shows the first two, 5-shot all five), all from the
    training split and none of them one of the evaluated texts (a demonstration
    that is also a test text leaks its answer), and every setting rewrote every
    text. Which setting wins is for discussion, not for the verdict.
    """
    ids = list(example_ids)
    train, test = set(train_ids), set(test_ids)
    problems = []
    if len(ids) != 5:
        problems.append(f"the example list has {len(ids)} ids; give exactly 5 (2-shot uses the first two)")
    if len(set(ids)) != len(ids):
        problems.append("the example list repeats an id; each demonstration should be different")
    leaked = [i for i in ids if i in test]
    if leaked:
        problems.append(f"{', '.join(leaked)} {'is' if len(leaked) == 1 else 'are'} among the texts being "
                        "rewritten: a demonstration must not give away the answer")
    unknown = [i for i in ids if i not in train and i not in test]
    if unknown:
        problems.append(f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not in the training split")
    if not rewrites_by_setting:
        problems.append("no prompting setting has been run")
    rows = []
    for name, rewrites in rewrites_by_setting.items():
        if len(rewrites) != len(originals):
            problems.append(f"setting {name!r} has {len(rewrites)} rewrites for {len(originals)} texts")
            continue
        s = score_rewrites(originals, rewrites, scorer=scorer, min_similarity=min_similarity)
        rows.append({"setting": name, "unsafe": s.unsafe_after, "similarity": s.similarity, "success": s.success,
                     "longest_prompt_tokens": (prompt_tokens or {}).get(name)})
    passed = not problems
    best = max(rows, key=lambda r: (r["success"], -r["unsafe"], r["similarity"]))["setting"] if rows else None
    n = len(originals)
    if passed:
        msg = (f"Your example list is a fair one. On these {n} texts '{best}' does best. One rewrite moves a "
               f"rate by {100 / n:.0f} points, so rerun with another seed before trusting the order.")
    else:
        msg = "Fix the example list: " + "; ".join(problems) + "."
    return ShotsCheck(passed, tuple(rows), best, tuple(problems), msg)


# --------------------------------------------------------------------------- exercise 5


def table6_frame() -> Any:
    """Table 6 of the paper as printed (strings kept, e.g. the truncated ``"75."``), one row per model and domain."""
    import pandas as pd

    from srllm.paper import TABLE6

    return pd.DataFrame([{"model": r.model, "domain": r.domain, "LMS": r.lms_printed, "SS": r.ss_printed,
                          "ICAT": r.icat_printed} for r in TABLE6])


def _resolve_row(ref: Any) -> tuple[str, str]:
    """``(model key, domain)`` from a pair naming the model by key or by its printed name."""
    from srllm.paper import TABLE6

    if not (isinstance(ref, (tuple, list)) and len(ref) == 2):
        raise SrllmError(f"a Table 6 row is a pair (model, domain), e.g. ('SR_LLM (IFT)', 'race'); got {ref!r}")
    model, domain = (str(x).strip() for x in ref)
    for r in TABLE6:
        if model.lower() in (r.key.lower(), r.model.lower()) and domain.lower() == r.domain:
            return r.key, r.domain
    models = sorted({r.model for r in TABLE6})
    raise SrllmError(f"Table 6 has no row ({model!r}, {domain!r}); models: {models}; "
                     "domains: gender, profession, race, religion")


def _row_name(key: str, domain: str) -> str:
    from srllm.paper import table6_row

    return f"{table6_row(key, domain).model} / {domain}"


@dataclass(frozen=True)
class IcatAuditCheck:
    """Exercise 5: the participant's ICAT computations and the rows they flagged as inconsistent."""

    passed: bool
    computed_correctly: int
    computed_wrongly: tuple[tuple[str, str], ...]
    found: tuple[tuple[str, str], ...]
    false_alarms: tuple[tuple[str, str], ...]
    missed: tuple[tuple[str, str], ...]
    message: str

    def __str__(self) -> str:
        def fmt(rows: Sequence[tuple[str, str]]) -> str:
            return ", ".join(_row_name(k, d) for k, d in rows) or "none"

        return "\n".join([
            f"Exercise 5: {_verdict(self.passed)}",
            f"  ICAT values you computed correctly: {self.computed_correctly}",
            f"  inconsistent rows you found: {fmt(self.found)}",
            f"  rows you flagged that do follow the formula: {fmt(self.false_alarms)}",
            f"  inconsistent rows still to find: {len(self.missed)}",
            self.message,
        ])


def check_icat_audit(my_icat: Mapping[Any, float], flagged: Iterable[Any], *, min_computed: int = 3,
                     tolerance: float = 0.05) -> IcatAuditCheck:
    """Score exercise 5 against :func:`srllm.paper.icat` and :func:`srllm.paper.icat_failures`.

    ``my_icat`` maps Table 6 rows ``(model, domain)`` (model by key or printed
    name) to the participant's ICAT from the row's LMS and SS; ``flagged`` lists
    the rows they think do not satisfy the formula. Passes when at least
    ``min_computed`` values are right (within ``tolerance``), at least one
    inconsistent row is found and no consistent row is flagged.
    """
    from srllm.paper import icat, icat_failures, table6_row

    failures = icat_failures()
    right, wrong = 0, []
    for ref, value in my_icat.items():
        key = _resolve_row(ref)
        row = table6_row(*key)
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise SrllmError(f"your ICAT for {ref!r} is {value!r}, not a number") from None
        if abs(v - icat(row.lms, row.ss)) <= tolerance:
            right += 1
        else:
            wrong.append(key)
    flagged_keys = []
    for ref in flagged:
        key = _resolve_row(ref)
        if key not in flagged_keys:
            flagged_keys.append(key)
    found = tuple(k for k in flagged_keys if k in failures)
    false_alarms = tuple(k for k in flagged_keys if k not in failures)
    missed = tuple(sorted(failures - set(found)))
    passed = right >= min_computed and bool(found) and not false_alarms
    parts = []
    if right < min_computed:
        parts.append(f"Compute the ICAT of at least {min_computed} rows (you have {right} right): "
                     "ICAT = LMS * min(SS, 100 - SS) / 50.")
    if wrong:
        parts.append(f"Check your arithmetic for {', '.join(_row_name(k, d) for k, d in wrong)}.")
    if not found:
        parts.append("Flag the rows whose printed ICAT does not match your computation.")
    if false_alarms:
        gpt2 = ("gpt2_large_ft", "religion") in false_alarms
        parts.append("Some flagged rows do follow the formula to the paper's rounding"
                     + (" (GPT-2 religion's SS was printed as '75.': with the lost decimals it fits)" if gpt2
                        else "") + ".")
    if passed:
        parts.append(f"Well done: you found {len(found)} of the {len(failures)} inconsistent cells. "
                     "The reproducibility audit chapter lists them all.")
    return IcatAuditCheck(passed, right, tuple(wrong), found, false_alarms, missed, " ".join(parts))


# --------------------------------------------------------------------------- exercise 3


def loss_values(history: Sequence[Any]) -> list[float]:
    """Training losses in step order from floats, ``(step, loss)`` pairs or log dicts with a ``loss`` key.

    Trainer log histories mix training and evaluation entries; only entries
    with ``loss`` (training loss) are kept.
    """
    out: list[float] = []
    for i, h in enumerate(history):
        if isinstance(h, Mapping):
            if "loss" not in h:
                continue
            v = h["loss"]
        elif isinstance(h, (tuple, list)) and len(h) == 2:
            v = h[1]
        else:
            v = h
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise SrllmError(f"loss history entry {i} is {h!r}, not a loss value") from None
        if not math.isfinite(f):
            raise SrllmError(f"loss history entry {i} is {f}: training diverged; lower the learning rate "
                             "or the number of steps")
        out.append(f)
    return out


# Exercise 3's LoRA run, sized for a laptop CPU. On SmolLM2-135M a training
# step over 8 x 256 tokens (the cpu profile's batch) costs about 1 TFLOP, so 30
# such steps take a quarter of an hour on two cores. The workshop trains on one
# pair a step (about 150 tokens, no padding) at a higher learning rate. Tried
# on the CMD sample with 2 pairs a step: at 1e-3 the loss on 8 held-out pairs
# fell from 1.34 to 1.12 within 15 steps and then held.
WORKSHOP_LORA_STEPS = 30
SMOKE_LORA_STEPS = 2
WORKSHOP_BATCH_SIZE = 1
WORKSHOP_LEARNING_RATE = 1e-3


def default_lora_steps(profile: Any) -> int:
    """Training steps for exercise 3 under ``profile`` (2 for ``smoke``, else 30)."""
    name = profile if isinstance(profile, str) else getattr(profile, "name", "")
    return SMOKE_LORA_STEPS if name == "smoke" else WORKSHOP_LORA_STEPS


def workshop_training_profile(profile: Any = "cpu", *, r: int = 16, steps: int | None = None,
                              seed: int | None = None) -> Any:
    """The profile exercise 3 trains with: ``profile`` with the participant's rank and steps and
    the workshop's batch size and learning rate (see :data:`WORKSHOP_BATCH_SIZE`)."""
    from srllm.generate import _resolve_profile

    prof = _resolve_profile(profile)
    steps = default_lora_steps(prof) if steps is None else steps
    if not isinstance(r, int) or isinstance(r, bool) or r <= 0:
        raise SrllmError(f"exercise 3: the LoRA rank r must be a positive whole number, got {r!r}")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps <= 0:
        raise SrllmError(f"exercise 3: steps must be a positive whole number, got {steps!r}")
    overrides: dict[str, Any] = {
        "lora.r": r, "train.max_steps": steps, "train.logging_steps": max(1, steps // 15),
        # held-out loss before the first step (the Trainer's eval_on_start) and at the end;
        # no early stopping, and one checkpoint at the end
        "train.eval_steps": steps, "train.patience": 0, "train.save_steps": steps,
    }
    if prof.name != "smoke":  # smoke keeps its own tiny settings
        overrides.update({"train.batch_size": WORKSHOP_BATCH_SIZE, "train.learning_rate": WORKSHOP_LEARNING_RATE})
    if seed is not None:
        overrides["seed"] = seed
    return prof.replace(**overrides)


# Held-out pairs whose loss tells whether the adapter learned: the training
# loss of 2 examples a step is too noisy to show a trend in 30 steps.
WORKSHOP_EVAL_ROWS = 8


def workshop_eval_records(profile: Any) -> list[Any]:
    """The first :data:`WORKSHOP_EVAL_ROWS` dev-split records with a safe variation (4 under smoke)."""
    from srllm.data import load_sample, split_records

    n = 4 if getattr(profile, "name", profile) == "smoke" else WORKSHOP_EVAL_ROWS
    seed = getattr(profile, "seed", WORKSHOP_SEED)
    return [r for r in split_records(load_sample("cmd"), seed=seed)["dev"] if r.safe_variation][:n]


def train_adapter(profile: Any = "cpu", *, r: int = 16, steps: int | None = None, seed: int | None = None,
                  progress: bool = True) -> Any:
    """Train exercise 3's LoRA adapter with :func:`srllm.train.train` and return its run.

    The settings of :func:`workshop_training_profile`, on a full-precision
    base (``lora``, not ``qlora``: on a CPU the 4-bit kernels only slow
    training down), evaluated on a few held-out pairs before the first step and at
    the end (the manifest's ``first_eval_loss`` and ``last_eval_loss``), and
    not merged, so that the run is as short as the step count allows. Runs are
    cached by their settings: a second call with the same rank and steps
    returns the finished run at once.
    """
    from srllm.train import train

    prof = workshop_training_profile(profile, r=r, steps=steps, seed=seed)
    return train("lora", prof, records_eval=workshop_eval_records(prof), merge=False, progress=progress)


@dataclass(frozen=True)
class AdapterCheck:
    """Exercise 3: did the short LoRA training learn, and how do its rewrites compare with the base model's?"""

    passed: bool
    r: int | None
    steps: int | None
    loss_first: float | None
    loss_last: float | None
    eval_loss_before: float | None
    eval_loss_after: float | None
    changed: int
    base_unsafe: float
    adapter_unsafe: float
    base_similarity: float
    adapter_similarity: float
    unsafe_before: float
    rows: tuple[dict[str, Any], ...]
    message: str

    def table(self) -> Any:
        """This adapter beside the base model and the other tables' adapters, as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(list(self.rows)).set_index("who")

    def __str__(self) -> str:
        lines = [f"Exercise 3: {_verdict(self.passed)}"]
        if self.eval_loss_before is not None and self.eval_loss_after is not None:
            lines.append(f"  loss on held-out pairs: {self.eval_loss_before:.3f} before training -> "
                         f"{self.eval_loss_after:.3f} after")
        if self.loss_first is not None:
            lines.append(f"  training loss (first third -> last third of the steps): {self.loss_first:.3f} -> "
                         f"{self.loss_last:.3f}")
        lines += [f"  unsafe rate: originals {_pct(self.unsafe_before)}, base model {_pct(self.base_unsafe)}, "
                  f"your adapter {_pct(self.adapter_unsafe)}",
                  f"  similarity: base model {self.base_similarity:.2f}, your adapter {self.adapter_similarity:.2f}",
                  f"  rewrites that changed with the adapter: {self.changed}"]
        if len(self.rows) > 2:
            lines.append(f"  compared with {len(self.rows) - 2} other adapter(s): see .table()")
        lines.append(self.message)
        return "\n".join(lines)


def _window_mean(xs: Sequence[float], first: bool) -> float:
    k = max(1, len(xs) // 3)
    part = xs[:k] if first else xs[-k:]
    return sum(part) / len(part)


def check_adapter(originals: Sequence[str], base_rewrites: Sequence[str], adapter_rewrites: Sequence[str],
                  loss_history: Sequence[Any], *, eval_loss_before: float | None = None,
                  eval_loss_after: float | None = None, r: int | None = None, steps: int | None = None,
                  others: Sequence[Mapping[str, Any]] = (), scorer: Any = "offline-proxy",
                  min_similarity: float = MIN_SIMILARITY) -> AdapterCheck:
    """Score exercise 3: the losses and the adapter's rewrites against the base model's.

    Passes when training learned something and the adapter changed at least
    one rewrite. "Learned" means the loss on held-out pairs fell
    (``eval_loss_after < eval_loss_before``) when both are given, else that the
    mean training loss over the last third of the logged steps is below that
    over the first third. Whether the rewrites got *safer* is reported, not
    required: on six texts that is mostly noise, which is the discussion point.
    ``others``: results pasted from other tables, dicts with ``who``, ``r``,
    ``steps``, ``unsafe`` and ``similarity`` (rates as fractions), shown in
    :meth:`AdapterCheck.table`.
    """
    losses = loss_values(loss_history)
    _check_pairs(originals, base_rewrites, "exercise 3 (base model)")
    _check_pairs(originals, adapter_rewrites, "exercise 3 (adapter)")
    base = score_rewrites(originals, base_rewrites, scorer=scorer, min_similarity=min_similarity)
    ad = score_rewrites(originals, adapter_rewrites, scorer=scorer, min_similarity=min_similarity)
    changed = sum(a.strip() != b.strip() for a, b in zip(base_rewrites, adapter_rewrites))
    first = _window_mean(losses, True) if len(losses) >= 2 else None
    last = _window_mean(losses, False) if len(losses) >= 2 else None
    held_out = eval_loss_before is not None and eval_loss_after is not None
    if held_out:
        eval_loss_before, eval_loss_after = float(eval_loss_before), float(eval_loss_after)
        learned = eval_loss_after < eval_loss_before
    else:
        learned = first is not None and last is not None and last < first
    rows = [{"who": "base model (zero-shot)", "r": None, "steps": 0, "unsafe": base.unsafe_after,
             "similarity": base.similarity},
            {"who": "your adapter", "r": r, "steps": steps, "unsafe": ad.unsafe_after, "similarity": ad.similarity}]
    for i, o in enumerate(others):
        missing = [k for k in ("unsafe", "similarity") if k not in o]
        if missing:
            raise SrllmError(f"other adapter {i} lacks {', '.join(missing)}; give who, r, steps, unsafe, similarity")
        rows.append({"who": str(o.get("who", f"table {i + 1}")), "r": o.get("r"), "steps": o.get("steps"),
                     "unsafe": float(o["unsafe"]), "similarity": float(o["similarity"])})
    passed = learned and changed > 0
    parts = []
    if held_out and not learned:
        parts.append("The loss on the held-out pairs did not fall: the adapter has not learned the task yet. "
                     "Train for more steps (or, if the training loss rose, with fewer).")
    elif not held_out and len(losses) < 2:
        parts.append("The loss history has fewer than two logged values; train for more steps.")
    elif not learned:
        parts.append("The loss did not fall. Train for more steps, or check that the training data loaded.")
    if changed == 0:
        parts.append("The adapter's rewrites are identical to the base model's: it has not changed the model yet.")
    if passed:
        parts.append("The adapter learned: the loss fell" + (" on pairs it never saw" if held_out else "")
                     + " and the rewrites changed.")
        if ad.unsafe_after < base.unsafe_after:
            parts.append("Its rewrites are flagged less often than the base model's.")
        elif ad.unsafe_after > base.unsafe_after:
            parts.append("Its rewrites are flagged more often than the base model's: a falling loss is not safety.")
        else:
            parts.append("Its rewrites are flagged as often as the base model's.")
    n = len(originals)
    parts.append(f"(With {n} texts, one rewrite moves a rate by {100 / n:.0f} points.)")
    return AdapterCheck(passed, r, steps, first, last, eval_loss_before if held_out else None,
                        eval_loss_after if held_out else None, changed, base.unsafe_after, ad.unsafe_after,
                        base.similarity, ad.similarity, base.unsafe_before, tuple(rows), " ".join(parts))


# --------------------------------------------------------------------------- exercise 4

# The advertisement of exercise 4, as quoted in the instructor notes of book/workshop.md.
JOB_AD = ("We are a young, competitive team looking for a dominant, fearless rockstar developer. "
          "He will lead our aggressive expansion and must be a digital native who can work long hours. "
          "Requirements: 3+ years of Python, experience with cloud deployment, based in Toronto.")

# What a rewrite must still tell a candidate: the skills, the experience, the
# location and the hours (stated neutrally). Regular expressions, case-insensitive.
JOB_AD_REQUIREMENTS: dict[str, str] = {
    "3+ years of experience": r"\b(3\s*\+|3 or more|three or more|at least (3|three)|(3|three)\s+years)",
    "Python": r"\bpython\b",
    "cloud deployment": r"\bcloud\b",
    "Toronto": r"\btoronto\b",
    "the hours": r"\bhours?\b|\bfull[- ]time\b|\bpart[- ]time\b",
}

# The workshop's own small lists (hand-written: Gaucher et al.'s lists, used
# through srllm.metrics.gender_coded, cover gender only). Age-coded wording and
# wording that narrows the pool for no stated reason, matched as whole words.
AGE_CODED = ("young", "youthful", "digital native", "digital natives", "recent graduate", "recent graduates",
             "fresh graduate", "new blood", "energetic", "high-energy")
EXCLUSIONARY = ("rockstar", "rock star", "ninja", "guru", "superstar", "long hours", "work hard, play hard",
                "work hard play hard")
GENDERED_PRONOUNS = ("he", "him", "his", "himself", "she", "her", "hers", "herself")

# Masculine-coded stems a rewrite may keep because they describe the job itself
# ("lead" when leading is part of it; see the instructor notes).
ALLOWED_MASCULINE = ("lead",)

JOB_AD_MIN_SIMILARITY = 0.6


def _find_phrases(text: str, phrases: Sequence[str]) -> tuple[str, ...]:
    low = text.lower()
    found = []
    for p in phrases:
        n = len(re.findall(r"(?<![\w-])" + re.escape(p.lower()) + r"(?![\w-])", low))
        found += [p] * n
    return tuple(found)


@dataclass(frozen=True)
class JobAdReport:
    """The coded wording in one job ad and, against an original, what it kept."""

    masculine: tuple[str, ...]
    feminine: tuple[str, ...]
    pronouns: tuple[str, ...]
    age_coded: tuple[str, ...]
    exclusionary: tuple[str, ...]
    missing_requirements: tuple[str, ...]
    similarity: float | None

    @property
    def flagged(self) -> int:
        """Everything the exercise asks to remove (feminine-coded words are reported, not counted)."""
        return len(self.masculine) + len(self.pronouns) + len(self.age_coded) + len(self.exclusionary)

    def lines(self, indent: str = "  ") -> list[str]:
        def fmt(xs: Sequence[str]) -> str:
            return ", ".join(xs) if xs else "none"

        out = [f"{indent}masculine-coded: {fmt(self.masculine)}",
               f"{indent}feminine-coded: {fmt(self.feminine)}",
               f"{indent}gendered pronouns: {fmt(self.pronouns)}",
               f"{indent}age-coded: {fmt(self.age_coded)}",
               f"{indent}exclusionary: {fmt(self.exclusionary)}"]
        if self.similarity is not None:
            out.append(f"{indent}requirements missing: {fmt(self.missing_requirements)}")
            out.append(f"{indent}similarity to the original: {self.similarity:.2f}")
        return out


def job_ad_report(text: str, original: str | None = None,
                  requirements: Mapping[str, str] | None = None) -> JobAdReport:
    """Coded words of ``text`` (Gaucher et al. via :func:`srllm.metrics.gender_coded.coded_words`,
    pronouns, age-coded and exclusionary phrases) and, when ``original`` is given, the
    requirements it lost and its MiniLM similarity to the original."""
    from srllm.metrics.gender_coded import coded_words

    if not isinstance(text, str):
        raise SrllmError(f"the job ad must be a string, got {type(text).__name__}")
    cw = coded_words(text)
    missing: tuple[str, ...] = ()
    sim = None
    if original is not None:
        from srllm.metrics.similarity import cosine_similarity

        reqs = JOB_AD_REQUIREMENTS if requirements is None else requirements
        missing = tuple(name for name, pat in reqs.items()
                        if re.search(pat, original, re.IGNORECASE) and not re.search(pat, text, re.IGNORECASE))
        sim = float(cosine_similarity([original], [text])[0]) if text.strip() else 0.0
    return JobAdReport(cw.masculine, cw.feminine, _find_phrases(text, GENDERED_PRONOUNS),
                       _find_phrases(text, AGE_CODED), _find_phrases(text, EXCLUSIONARY), missing, sim)


@dataclass(frozen=True)
class JobAdCheck:
    """Exercise 4: the participant's rewrite of the job ad (and the model's, for comparison)."""

    passed: bool
    flagged_before: int
    flagged_after: int
    yours: JobAdReport
    original: JobAdReport
    model: JobAdReport | None
    message: str

    def __str__(self) -> str:
        lines = [f"Exercise 4: {_verdict(self.passed)}",
                 f"  flagged wording: {self.flagged_before} in the original -> {self.flagged_after} in yours",
                 "Your rewrite:"] + self.yours.lines()
        if self.model is not None:
            lines += [f"The model's rewrite ({self.model.flagged} flagged):"] + self.model.lines()
        lines.append(self.message)
        return "\n".join(lines)


def check_job_ad(rewrite: str, *, original: str = JOB_AD, model_rewrite: str | None = None,
                 min_similarity: float = JOB_AD_MIN_SIMILARITY) -> JobAdCheck:
    """Score exercise 4: is the rewrite free of coded wording and does it keep the job?

    Passes when the rewrite has no masculine-coded word (except the stems of
    :data:`ALLOWED_MASCULINE`), no gendered pronoun, no age-coded or
    exclusionary phrase, still states every requirement of the original and
    keeps a MiniLM similarity of at least ``min_similarity`` to it.
    Feminine-coded words do not fail the check (many are ordinary words such
    as "support" or "responsible"), but several of them earn a reminder that
    the aim is neutral wording, not the opposite bias.
    """
    if not isinstance(rewrite, str) or not rewrite.strip():
        raise SrllmError("exercise 4: your rewrite is empty; write it in the exercise-4 cell")
    before = job_ad_report(original)
    yours = job_ad_report(rewrite, original)
    model = job_ad_report(model_rewrite, original) if model_rewrite is not None else None
    masc = tuple(w for w in yours.masculine if not w.lower().startswith(ALLOWED_MASCULINE))
    problems = []
    if masc:
        problems.append(f"masculine-coded words left: {', '.join(masc)}")
    if yours.pronouns:
        problems.append(f"gendered pronouns left: {', '.join(yours.pronouns)} (address the reader as 'you')")
    if yours.age_coded:
        problems.append(f"age-coded wording left: {', '.join(yours.age_coded)}")
    if yours.exclusionary:
        problems.append(f"wording that narrows the pool left: {', '.join(yours.exclusionary)}")
    if yours.missing_requirements:
        problems.append(f"requirements lost: {', '.join(yours.missing_requirements)} (a candidate needs them)")
    if yours.similarity is not None and yours.similarity < min_similarity:
        problems.append(f"the rewrite has drifted from the job (similarity {yours.similarity:.2f} < "
                        f"{min_similarity})")
    passed = not problems
    if passed:
        msg = "Well done: neutral wording, and the job is still all there."
    else:
        msg = "Not there yet: " + "; ".join(problems) + "."
    if len(yours.feminine) >= 3:
        msg += (f" Note: {len(yours.feminine)} feminine-coded words ({', '.join(yours.feminine)}); "
                "aim for neutral wording rather than the opposite bias.")
    if model is not None:
        msg += f" The model's rewrite has {model.flagged} flagged item(s)"
        msg += (f" and lost: {', '.join(model.missing_requirements)}." if model.missing_requirements
                else " and keeps every requirement.")
    return JobAdCheck(passed, before.flagged, yours.flagged, yours, before, model, msg)
