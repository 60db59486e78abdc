"""The Content Moderation Dataset page (notebook 01; Section 2, Tables 1 and 10 to 13, Fig. 6): our
records' labels, splits, annotation agreement and Flesch claim beside the paper's.

The statistics themselves are :mod:`srllm.data.stats`; this module puts them beside :mod:`srllm.paper`'s
numbers in the tables the page shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from srllm import paper
from srllm.data.bold import bold_counts
from srllm.report import side_by_side
from srllm.data.stats import KAPPA_PAPER_KEYS, flatten, fleiss_kappa_by_field, label_counts, label_shares


def label_share_table(records: Sequence[Any]) -> pd.DataFrame:
    """Share (%) of each label value among the labelled records, ours beside Tables 1 and 12."""
    return side_by_side(label_shares(label_counts(records)), label_shares(paper.TABLE12),
                        index_names=("label", "value"), note="% of labelled records")


def label_count_table(records: Sequence[Any]) -> pd.DataFrame:
    """Counts of each label value, ours beside Table 12's (0 where a side has none)."""
    table = pd.DataFrame({"ours (count)": flatten(label_counts(records)), "paper (count)": flatten(paper.TABLE12)})
    table.index.names = ["label", "value"]
    return table.fillna(0).astype(int)


def split_share_table(splits: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """Share (%) of each label value within each split (the stratification check), one column per split."""
    table = pd.DataFrame({name: label_shares(label_counts(part)) for name, part in splits.items()})
    table.index.names = ["label", "value"]
    return table


def flesch_claim(summary: pd.DataFrame) -> dict[str, Any]:
    """Whether the paper's Fig. 6 claim holds here: positive texts read more easily (higher mean Flesch
    Reading Ease) than negative and neutral ones. ``summary``: :func:`srllm.data.stats.flesch_summary`."""
    pos, neg, neu = (summary.loc[k, "mean"] for k in ("Positive", "Negative", "Neutral"))
    return {"positive_mean": pos, "negative_mean": neg, "neutral_mean": neu,
            "positive_easier": bool(pos > neg and pos > neu)}


def kappa_table(annotations: Sequence[Any]) -> tuple[pd.DataFrame, dict[str, float]]:
    """Fleiss' kappa per category, ours beside Table 10 and the text below it, with our value's band;
    and ``{category: our kappa}`` for the page's glue values."""
    ours = {KAPPA_PAPER_KEYS[k]: v for k, v in fleiss_kappa_by_field(annotations).items() if k in KAPPA_PAPER_KEYS}
    table = side_by_side(ours, paper.KAPPA_TABLE10, index_names="category",
                         note="ours: ILLUSTRATIVE example file, not the CMD annotations")
    table["paper (text below Table 10)"] = [paper.KAPPA_APPENDIX_TEXT.get(k) for k in table.index]
    table["our band"] = [paper.kappa_band(v) if pd.notna(v) else "" for v in table["ours"]]
    return table, ours


def bold_table() -> pd.DataFrame:
    """The bundled BOLD prompts per domain: how many groups and prompts."""
    rows = [{"domain": d, "groups": len(g), "prompts": sum(g.values())} for d, g in bold_counts().items()]
    return pd.DataFrame(rows).set_index("domain")
