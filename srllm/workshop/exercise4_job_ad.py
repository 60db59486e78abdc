"""Exercise 4: rewrite a job advertisement without gender-, age-coded or exclusionary wording.

The word lists and :func:`srllm.metrics.job_ad.job_ad_report` live in :mod:`srllm.metrics.job_ad`,
which the job-posting case study (:mod:`srllm.results.jobs`, Table 9) uses too.
"""

from __future__ import annotations

from dataclasses import dataclass

from srllm.errors import SrllmError
from srllm.metrics.job_ad import JobAdReport, job_ad_report
from srllm.workshop.common import verdict

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

# Masculine-coded stems a rewrite may keep because they describe the job itself
# ("lead" when leading is part of it; see the instructor notes).
ALLOWED_MASCULINE = ("lead",)

JOB_AD_MIN_SIMILARITY = 0.6


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
        lines = [f"Exercise 4: {verdict(self.passed)}",
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
    yours = job_ad_report(rewrite, original, JOB_AD_REQUIREMENTS)
    model = job_ad_report(model_rewrite, original, JOB_AD_REQUIREMENTS) if model_rewrite is not None else None
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
