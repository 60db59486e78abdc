"""Loaders for the published datasets on the Hugging Face Hub, used only when it is reachable.

* ``newsmediabias/instruction-safe-llm`` - the paper's released CMD (footnote 4).
* ``skg/toxigen-data`` - ToxiGen (Hartvigsen et al., 2022), annotated split (Table 5).

Both go through :func:`srllm.data.records_from_rows`, so Hub rows are validated
exactly like local files and come back with a :class:`~srllm.data.LoadReport`.
Offline, each loader fails at once with one clear message instead of waiting on
network timeouts; the bundled samples (:func:`srllm.data.load_sample`) are the
offline stand-ins.
"""

from __future__ import annotations

from typing import Any

from srllm.data import LoadReport, Record, ToxigenRecord, records_from_rows
from srllm.errors import SrllmError

CMD_HUB_ID = "newsmediabias/instruction-safe-llm"
TOXIGEN_HUB_ID = "skg/toxigen-data"

# ToxiGen annotated split column -> our ToxigenRecord field.
TOXIGEN_COLUMNS = {"text": "text", "target_group": "target_group", "toxicity_human": "toxicity_human",
                   "toxicity_ai": "toxicity_ai", "stereotyping": "stereotyping", "intent": "intent"}


def _require_hub(what: str, hub_id: str) -> None:
    from srllm.models import hub_reachable

    if not hub_reachable():
        raise SrllmError(f"cannot load {what} ({hub_id}): the Hugging Face Hub is not reachable from this machine; "
                         f"use the bundled sample instead (srllm.data.load_sample) or a local file")


def _load_rows(hub_id: str, split: str, config: str | None = None) -> list[dict[str, Any]]:
    from datasets import load_dataset

    try:
        ds = load_dataset(hub_id, config, split=split) if config else load_dataset(hub_id, split=split)
    except Exception as exc:  # datasets raises many types (auth, missing split, network)
        raise SrllmError(f"cannot load {hub_id} split {split!r}: {type(exc).__name__}: {exc}") from None
    return ds.to_list()


def load_hub_cmd(split: str = "train", mapping: dict[str, str] | None = None,
                 format: str | None = None) -> tuple[list[Record], LoadReport]:
    """The released CMD split as validated records (layout detected from the columns)."""
    _require_hub("the CMD", CMD_HUB_ID)
    rows = _load_rows(CMD_HUB_ID, split)
    items, report = records_from_rows(rows, source=f"hf://{CMD_HUB_ID}[{split}]", format=format, mapping=mapping)
    return items, report


def load_hub_toxigen(split: str = "test", config: str = "annotated") -> tuple[list[ToxigenRecord], LoadReport]:
    """ToxiGen's human-annotated statements as :class:`ToxigenRecord` (groups as in Table 5).

    The annotated split stores ``stereotyping`` as a rating; values other than 0/1 are
    thresholded at 0.5 here so they fit the sample schema (a documented departure).
    """
    _require_hub("ToxiGen", TOXIGEN_HUB_ID)
    raw = _load_rows(TOXIGEN_HUB_ID, split, config)
    rows = []
    for r in raw:
        row = {v: r.get(k) for k, v in TOXIGEN_COLUMNS.items() if k in r}
        s = row.get("stereotyping")
        if isinstance(s, (int, float)) and s not in (0, 1):
            row["stereotyping"] = int(s >= 0.5)
        if isinstance(row.get("target_group"), str):
            row["target_group"] = row["target_group"].strip().lower().replace(" ", "_")
        rows.append(row)
    return records_from_rows(rows, source=f"hf://{TOXIGEN_HUB_ID}/{config}[{split}]", format="toxigen")
