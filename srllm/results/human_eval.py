"""Human evaluation (Section 4.6, Table 8, Figure 5): the tables and glue values of notebook 09.

The work is done in :mod:`srllm.human_eval` (the variants, the blinded rating sheet, the
ratings' summary and agreement); this module turns its results into what the page shows: the
variants' training plan and runs, and the ``he_*`` values the book's prose quotes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from srllm import paper
from srllm.human_eval import VARIANT_ORDER, HumanEvalResult
from srllm.profiles import resolve
from srllm.training import variant_plan

RUN_COLUMNS = ["method", "steps", "epochs", "train_rows", "wall_minutes", "final_train_loss", "reused"]


def plans_table(profile: Any) -> pd.DataFrame:
    """How ``profile`` realises each variant (method, epochs, steps, training rows), one row per variant."""
    prof = resolve(profile)
    return pd.DataFrame([variant_plan(v, prof) for v in VARIANT_ORDER]).set_index("variant")


def runs_table(runs: Mapping[str, Any]) -> pd.DataFrame:
    """The variants' training runs: method, steps, epochs, rows, minutes, final loss and cache reuse."""
    return pd.DataFrame({v: r.summary() for v, r in runs.items()}).T[RUN_COLUMNS]


def example_table(texts: list[str], rewrites: Mapping[str, list[str]]) -> pd.DataFrame:
    """The first text and each variant's rewrite of it."""
    return pd.DataFrame({"text": ["original"] + list(rewrites),
                         "output": [texts[0]] + [rewrites[v][0] for v in rewrites]}).set_index("text")


def _tag(variant: str) -> str:
    return variant.replace("-", "_").lower()


def findings_values(res: HumanEvalResult) -> dict[str, Any]:
    """The values the findings paragraph quotes: who rated (``he_illustrative``, ``he_items_rated``,
    ``he_raters``) and each variant's safety and language percentages."""
    out: dict[str, Any] = {
        "he_illustrative": "ILLUSTRATIVE (simulated ratings)" if res.illustrative else "rated by people",
        "he_items_rated": int(res.ratings["item_id"].nunique()),
        "he_raters": int(res.ratings["rater"].nunique()),
    }
    for v in res.summary.index:
        out[f"he_{_tag(v)}_safety_pct"] = round(float(res.summary.loc[v, "safety_pct"]), 1)
        out[f"he_{_tag(v)}_language_pct"] = round(float(res.summary.loc[v, "language_pct"]), 1)
    return out


def headlines(res: HumanEvalResult, sheet_items: int) -> dict[str, Any]:
    """Every ``he_*`` glue value of the page: :func:`findings_values`, the blank sheet's item count,
    Fleiss' kappa per criterion ("n/a" when undefined) and Table 8's PEFT (1 epoch) row."""
    out = findings_values(res)
    out["he_sheet_items"] = sheet_items
    for c, a in res.agreement.items():
        out[f"he_kappa_{c}"] = round(a.kappa, 3) if a.kappa is not None else "n/a"
    p1 = {r.key: r for r in paper.TABLE8}["peft_1ep"]
    out["he_paper_peft1_safety"] = p1.safety
    out["he_paper_peft1_language"] = p1.language
    return out
