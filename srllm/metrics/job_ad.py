"""Coded wording in a job advertisement: gender-coded words, gendered pronouns, age-coded and exclusionary phrases.

Used by the job-posting case study (:mod:`srllm.results.jobs`, Section 5.3, Table 9:
its wider count of biased terms) and by the workshop's exercise 4
(:mod:`srllm.workshop.exercise4_job_ad`). Gender-coded words are Gaucher et
al.'s lists through :func:`srllm.metrics.gender_coded.coded_words`; the other
lists are ours (the paper does not name its lexicon).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from srllm.errors import SrllmError
from srllm.metrics.gender_coded import coded_words
from srllm.metrics.similarity import cosine_similarity

# Small hand-written lists (hand-written: Gaucher et al.'s lists, used
# through srllm.metrics.gender_coded, cover gender only). Age-coded wording and
# wording that narrows the pool for no stated reason, matched as whole words.
AGE_CODED = ("young", "youthful", "digital native", "digital natives", "recent graduate", "recent graduates",
             "fresh graduate", "new blood", "energetic", "high-energy")
EXCLUSIONARY = ("rockstar", "rock star", "ninja", "guru", "superstar", "long hours", "work hard, play hard",
                "work hard play hard")
GENDERED_PRONOUNS = ("he", "him", "his", "himself", "she", "her", "hers", "herself")

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
        """The report as indented text lines, one per kind of coded wording (and what was lost, given an original)."""
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
    requirements it lost and its MiniLM similarity to the original.

    ``requirements``: what a rewrite must still state, name -> regular
    expression (case-insensitive), checked only when the original states it;
    none by default (the workshop passes its job ad's,
    :data:`srllm.workshop.exercise4_job_ad.JOB_AD_REQUIREMENTS`).
    """
    if not isinstance(text, str):
        raise SrllmError(f"the job ad must be a string, got {type(text).__name__}")
    cw = coded_words(text)
    missing: tuple[str, ...] = ()
    sim = None
    if original is not None:
        reqs = requirements or {}
        missing = tuple(name for name, pat in reqs.items()
                        if re.search(pat, original, re.IGNORECASE) and not re.search(pat, text, re.IGNORECASE))
        sim = float(cosine_similarity([original], [text])[0]) if text.strip() else 0.0
    return JobAdReport(cw.masculine, cw.feminine, _find_phrases(text, GENDERED_PRONOUNS),
                       _find_phrases(text, AGE_CODED), _find_phrases(text, EXCLUSIONARY), missing, sim)
