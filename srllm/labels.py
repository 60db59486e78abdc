"""The CMD labels' shared meaning: reading a field of a record, and what "unsafe" means.

A bottom-layer module (it imports nothing from ``srllm``), so that the data
statistics, the human evaluation and the workshop read records and decide
"unsafe" the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The label values that make a record unsafe, one entry per label (field -> values).
UNSAFE_LABELS: dict[str, tuple[str, ...]] = {
    "bias": ("Yes",),
    "toxicity": ("Mild", "High"),
    "harm": ("Medium", "High"),
    "sentiment": ("Negative",),
}


def field_of(item: Any, name: str) -> Any:
    """``item[name]`` for a mapping, else ``item.name``; ``None`` when absent.

    Records arrive as :class:`srllm.data.Record` objects or as plain dicts
    (rows of a CSV or JSONL file); readers of both use this one accessor.
    """
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def is_unsafe(record: Any) -> bool:
    """True when a record is unsafe in the paper's sense: biased OR toxic OR harmful OR negative.

    The paper's footnote 1 (Section 1): "'Unsafe' refers to texts that are
    biased, toxic, harmful, carry stereotypes, or convey negative sentiments".
    With the CMD labels (Table 1) that is ``bias == "Yes"``, ``toxicity`` Mild or
    High, ``harm`` Medium or High, or ``sentiment == "Negative"``
    (:data:`UNSAFE_LABELS`); any one of them suffices. This is the project's
    only definition: the human-evaluation sample puts unsafe records first with
    it and the workshop picks its texts among them.
    """
    return any(field_of(record, name) in values for name, values in UNSAFE_LABELS.items())


#: The label values that make a text need a debiasing rewrite (a subset of :data:`UNSAFE_LABELS`).
REWRITE_LABELS: dict[str, tuple[str, ...]] = {"bias": ("Yes",), "toxicity": ("Mild", "High", "Yes")}


def needs_rewrite(record: Any) -> bool:
    """True when a record's text is one a debiasing rewrite must change: biased or toxic.

    Narrower than :func:`is_unsafe`: a negative but unbiased report ("the factory closed and
    300 people lost their jobs") is unsafe in the paper's wide sense but has nothing to remove.
    Task success (:mod:`srllm.metrics.task_success`) is measured on these inputs, and a profile
    may train SR_LLM on these pairs only (``train.pairs = "needs_rewrite"``).
    """
    return any(field_of(record, name) in values for name, values in REWRITE_LABELS.items())
