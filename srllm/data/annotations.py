"""Per-annotator labels for the inter-annotator agreement demo (Section 2.1, Appendix A).

The file has one row per (item, annotator): ``item_id, annotator, bias,
toxicity, sentiment, harm, safe_ok``. The bundled ``annotations_example.csv`` is
ILLUSTRATIVE ONLY: it is not the paper's annotation data (which is not public).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from srllm.data.readers import read_rows
from srllm.data.report import LoadReport
from srllm.data.schema import FieldError, LABEL_FIELDS, is_missing, normalise_label
from srllm.errors import SrllmError

ANNOTATION_FIELDS = (*LABEL_FIELDS, "safe_ok")
ANNOTATION_COLUMNS = ("item_id", "annotator", *ANNOTATION_FIELDS)


def _yes_no(field_name: str, value: Any) -> str | None:
    if is_missing(value):
        return None
    key = str(value).strip().lower()
    if key in ("yes", "no"):
        return key.capitalize()
    raise FieldError(field_name, f"has invalid value {value!r}; allowed values: Yes, No (case-insensitive)")


def load_annotations(path: str | os.PathLike) -> tuple[Any, LoadReport]:
    """A validated DataFrame of per-annotator labels and a :class:`LoadReport`.

    Missing label cells stay missing (None); the kappa code checks that every
    item has the same number of ratings per field.
    """
    import pandas as pd

    path = Path(path)
    report = LoadReport(source=str(path), format="annotations")
    columns, rows = read_rows(path, report)
    for col in ("item_id", "annotator"):
        if col not in columns:
            raise SrllmError(f"{path}: required column {col!r} is missing (columns found: {', '.join(columns)})")
    present = [f for f in ANNOTATION_FIELDS if f in columns]
    if not present:
        raise SrllmError(f"{path}: no label column found; expected some of {', '.join(ANNOTATION_FIELDS)}")
    out = []
    seen: dict[tuple[str, str], int] = {}
    for n, raw in rows:
        where = f"{path}, {'line' if report.row_unit == 'line' else 'row'} {n}"
        if is_missing(raw.get("item_id")) or is_missing(raw.get("annotator")):
            raise SrllmError(f"{where}: fields 'item_id' and 'annotator' must not be empty")
        key = (str(raw["item_id"]).strip(), str(raw["annotator"]).strip())
        if key in seen:
            report.exclude(n, "duplicate_id", f"item {key[0]!r} already rated by {key[1]!r} at row {seen[key]}")
            continue
        seen[key] = n
        row = {"item_id": key[0], "annotator": key[1]}
        try:
            for f in present:
                row[f] = _yes_no(f, raw.get(f)) if f == "safe_ok" else normalise_label(f, raw.get(f))
        except FieldError as exc:
            raise SrllmError(f"{where}: {exc}") from None
        out.append(row)
    report.kept = len(out)
    report.ignored_columns = tuple(c for c in columns if c not in ANNOTATION_COLUMNS)
    return pd.DataFrame(out, columns=["item_id", "annotator", *present]), report
