"""Exercise 1: write an instruction that makes the rewrites safer and keeps their content."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from srllm.errors import SrllmError
from srllm.workshop.common import CHATTY, MIN_SIMILARITY, RewriteScores, pct, score_rewrites, verdict



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
        lines = [f"Exercise 1: {verdict(self.passed)}",
                 f"  unsafe rate: {pct(self.unsafe_before)} before -> {pct(self.unsafe_after)} after your rewrites",
                 f"  similarity to the originals: {self.similarity:.2f} (want >= {MIN_SIMILARITY})",
                 f"  safe AND faithful rewrites: {pct(self.success)}"]
        if self.reference_unsafe_after is not None:
            lines.append(f"  reference instruction: unsafe {pct(self.reference_unsafe_after)}, similarity "
                         f"{self.reference_similarity:.2f}, safe and faithful {pct(self.reference_success)}")
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
    chatty = sum(bool(CHATTY.match(r)) for r in rewrites)
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
