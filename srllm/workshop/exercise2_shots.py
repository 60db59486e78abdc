"""Exercise 2: choose few-shot demonstrations and compare zero-, two- and five-shot rewrites."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from srllm.errors import SrllmError
from srllm.labels import field_of
from srllm.prompts import Shot, select_shots
from srllm.workshop.common import MIN_SIMILARITY, WORKSHOP_SEED, pct, score_rewrites, verdict



def record_id(record: Any) -> str:
    """The id of a training record (dict or object); none is an error, since exercise 2 picks shots by id."""
    rid = field_of(record, "id")
    if not isinstance(rid, str) or not rid:
        raise SrllmError(f"record has no id: {record!r}")
    return rid


def pick_example_ids(pool: Sequence[Any], k: int = 5, seed: int = WORKSHOP_SEED) -> list[str]:
    """Ids of ``k`` demonstrations drawn at random (by ``seed``) from ``pool``, as
    :func:`srllm.prompts.select_shots` draws them."""
    shots = select_shots(pool, k, seed)
    by_text = {(field_of(r, "text"), field_of(r, "safe_variation")): record_id(r) for r in pool}
    return [by_text[(s.text, s.rewrite)] for s in shots]


def shots_from_ids(ids: Sequence[str], pool: Sequence[Any]) -> list[Any]:
    """The :class:`srllm.prompts.Shot` demonstrations of the records with these ids, in the given order."""
    by_id = {record_id(r): r for r in pool}
    out = []
    for i, rid in enumerate(ids):
        rec = by_id.get(rid)
        if rec is None:
            raise SrllmError(f"example id {rid!r} (position {i}) is not in the training split; "
                             "copy an id from the table of examples")
        if not field_of(rec, "safe_variation"):
            raise SrllmError(f"example id {rid!r} has no safe variation to show the model")
        out.append(Shot(text=field_of(rec, "text"), rewrite=field_of(rec, "safe_variation")))
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
        lines = [f"Exercise 2: {verdict(self.passed)}",
                 f"  {'setting':<10} {'unsafe':>7} {'similarity':>10} {'safe+faithful':>13} {'longest prompt':>15}"]
        for r in self.rows:
            tok = "" if r["longest_prompt_tokens"] is None else f"{r['longest_prompt_tokens']} tokens"
            lines.append(f"  {r['setting']:<10} {pct(r['unsafe']):>7} {r['similarity']:>10.2f} "
                         f"{pct(r['success']):>13} {tok:>15}")
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
