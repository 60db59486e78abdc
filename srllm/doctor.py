"""A set-up check for workshop rooms: does this installation do what the workshop needs?

``srllm doctor`` runs, in about a minute on a laptop, the three things the workshop
does (load the model, score a text with the offline scorer, rewrite one text) plus a
look at what is optional (API keys, the Hugging Face Hub, a trained adapter), and says
in one line per check what is missing and how to get it. It replaces running the whole
test suite (``make test``, about 12 minutes) as proof that an installation works.

The checks return plain data (:class:`Check`), so the command and the tests read the
same results.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from srllm.generation import load_for_generation, rewrite
from srllm.metrics.task_success import task_success
from srllm.models import hub_reachable
from srllm.profiles import resolve
from srllm.scoring import available_scorers, get_scorer

#: A text of the kind the workshop rewrites (not from the evaluation data).
PROBE_TEXT = "People like them are lazy and should not be allowed to work here."

REQUIRED_PACKAGES = ("torch", "transformers", "peft", "datasets", "pandas", "matplotlib", "seaborn", "papermill",
                     "myst_nb", "sentence_transformers")


@dataclass
class Check:
    """One check: ``ok`` (True, False, or None for "optional and absent"), what was found, how to fix it."""

    name: str
    ok: bool | None
    detail: str
    fix: str = ""
    seconds: float = 0.0
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The check as plain data (what ``srllm doctor --json`` prints)."""
        return asdict(self)


def _timed(name: str, fn: Callable[[], tuple[bool | None, str, str]], *, required: bool = True) -> Check:
    t0 = time.perf_counter()
    try:
        ok, detail, fix = fn()
    except Exception as exc:  # a check that raises is a failed check, reported with its reason
        ok, detail, fix = False, f"{type(exc).__name__}: {exc}", "see the message; `srllm models` lists the models"
    return Check(name, ok, detail, fix, round(time.perf_counter() - t0, 2), required)


def check_packages() -> Check:
    """The packages the workshop imports are installed (found, not imported: quick)."""
    def run() -> tuple[bool, str, str]:
        missing = [m for m in REQUIRED_PACKAGES if importlib.util.find_spec(m) is None]
        if missing:
            return False, "missing: " + ", ".join(missing), "install the pinned set: `make install`"
        return True, f"{len(REQUIRED_PACKAGES)} packages importable", ""
    return _timed("python packages", run)


def check_model(profile: Any) -> Check:
    """The profile's model loads on the profile's device, as generation loads it."""
    def run() -> tuple[bool, str, str]:
        lm = load_for_generation(profile.model, None, profile.device)
        n = sum(p.numel() for p in lm.model.parameters())
        return True, f"{profile.model} loaded ({n / 1e6:.0f}M parameters, {profile.device})", ""
    return _timed("model loads", run)


def check_scorer() -> Check:
    """The offline proxy scorer can run here and scores the probe text."""
    def run() -> tuple[bool, str, str]:
        row = next(r for r in available_scorers(hf_models=()) if r["name"] == "offline-proxy")
        if not row["available"]:
            return False, row["reason"], "install the pinned set: `make install`"
        score = get_scorer("offline-proxy").score([PROBE_TEXT])[0]
        return True, f"offline-proxy answers (p_unsafe {score.p_unsafe:.2f} for the probe text)", ""
    return _timed("offline scorer", run)


def check_rewrite(profile: Any) -> Check:
    """The base model rewrites the probe text with a 2-shot prompt (uncached), and its task success."""
    def run() -> tuple[bool, str, str]:
        out = rewrite([PROBE_TEXT], method="two_shot", profile=profile, cache=False, progress=False)[0]
        if not out.strip():
            return False, "the model returned an empty rewrite", "try `--profile cpu` (the smoke model is random)"
        detail = f"rewritten (2-shot): {out[:80]!r}" + ("..." if len(out) > 80 else "")
        kind = task_success([PROBE_TEXT], [out]).kinds[0]
        return True, f"{detail}; task success: {kind}", ""
    return _timed("one text rewritten", run)


def check_optional() -> list[Check]:
    """What the workshop can do without, said so that nobody chases it: keys, the Hub, a trained adapter."""
    checks = []
    for env, what in (("PERSPECTIVE_API_KEY", "Perspective API scorer"), ("OPENAI_API_KEY", "OpenAI moderation scorer")):
        has = bool(os.environ.get(env, "").strip())
        checks.append(Check(what, True if has else None, f"{env} is set" if has else f"{env} not set",
                            "" if has else f"optional: set {env} to score with the paper's service", 0.0, False))
    t0 = time.perf_counter()
    hub = hub_reachable()
    checks.append(Check("Hugging Face Hub", True if hub else None, "reachable" if hub else "not reachable",
                        "" if hub else "optional: T5/BART baselines and ToxiGen-RoBERTa need it; the workshop does not",
                        round(time.perf_counter() - t0, 2), False))
    return checks


def run_checks(profile: Any = "cpu", *, optional: bool = True) -> list[Check]:
    """All checks in the order the workshop needs them; a failed requirement skips the checks that need it."""
    prof = resolve(profile)
    checks = [check_packages()]
    if checks[0].ok:
        checks.append(check_model(prof))
        checks.append(check_scorer())
        if checks[1].ok:
            checks.append(check_rewrite(prof))
    if optional:
        checks.extend(check_optional())
    return checks


def healthy(checks: list[Check]) -> bool:
    """True when every required check passed."""
    return all(c.ok for c in checks if c.required)
