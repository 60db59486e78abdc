"""The blinded rating sheet, its answer key, and reading filled sheets back (validated, un-blinded)."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srllm.cache import atomic_write_text
from srllm.data import samples_dir
from srllm.errors import SrllmError
from srllm.human_eval.common import (
    CRITERIA, EXAMPLE_SHEET, KEY_COLUMNS, RATER_GUIDE, RATING_COLUMNS, SCALE, SHEET_COLUMNS,
)


@dataclass(frozen=True)
class SheetFiles:
    """What :func:`make_rating_sheet` wrote."""

    sheet: Path
    key: Path
    guide: Path
    n_items: int
    variants: tuple[str, ...]


def _codes(n: int) -> list[str]:
    if n > 26:
        raise SrllmError(f"at most 26 variants per sheet, got {n}")
    return [chr(ord("A") + i) for i in range(n)]


def blind(item_ids: Sequence[str], variants: Sequence[str], seed: int = 42) -> list[dict[str, str]]:
    """Key rows ``{item_id, code, variant}``: letter codes assigned to variants in a seeded order per item."""
    import random

    rng = random.Random(seed)
    codes = _codes(len(variants))
    rows = []
    for item in item_ids:
        order = list(variants)
        rng.shuffle(order)
        rows += [{"item_id": item, "code": c, "variant": v} for c, v in zip(codes, order)]
    return rows


def _csv_text(frame: Any) -> str:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue()


def make_rating_sheet(items: Sequence[tuple[str, str]], rewrites: Mapping[str, Sequence[str]],
                      out_dir: str | os.PathLike, *, seed: int = 42, name: str = "rating_sheet") -> SheetFiles:
    """Write a blinded rating sheet, its answer key and a rater guide into ``out_dir``.

    ``items``: ``(item_id, original text)`` pairs; ``rewrites``: ``{variant: texts}``
    aligned with ``items``. Files: ``<name>.csv`` (columns :data:`SHEET_COLUMNS`,
    scores empty, rows ordered by item then code), ``<name>_key.csv``
    (:data:`KEY_COLUMNS`) and ``<name>_guide.txt``.
    """
    import pandas as pd

    if not items:
        raise SrllmError("a rating sheet needs at least one item")
    if not rewrites:
        raise SrllmError("a rating sheet needs the rewrites of at least one variant")
    ids = [str(i) for i, _ in items]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise SrllmError(f"item ids must be unique; repeated: {dup[:5]}")
    for v, texts in rewrites.items():
        if len(texts) != len(items):
            raise SrllmError(f"variant {v}: {len(texts)} rewrites for {len(items)} items")
    originals = dict((str(i), t) for i, t in items)
    index = {v: dict(zip(ids, texts)) for v, texts in rewrites.items()}
    key = blind(ids, list(rewrites), seed)
    sheet = pd.DataFrame([{"item_id": k["item_id"], "code": k["code"], "original": originals[k["item_id"]],
                           "rewrite": index[k["variant"]][k["item_id"]], "rater": "", "safety": "",
                           "language": "", "comment": ""} for k in key], columns=list(SHEET_COLUMNS))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = SheetFiles(out / f"{name}.csv", out / f"{name}_key.csv", out / f"{name}_guide.txt", len(ids),
                       tuple(rewrites))
    atomic_write_text(files.sheet, _csv_text(sheet))
    atomic_write_text(files.key, _csv_text(pd.DataFrame(key, columns=list(KEY_COLUMNS))))
    atomic_write_text(files.guide, RATER_GUIDE)
    return files


# --------------------------------------------------------------------------- reading filled sheets


def example_sheet_path() -> Path:
    """The bundled ILLUSTRATIVE filled sheet (simulated ratings; see its README)."""
    return samples_dir() / EXAMPLE_SHEET


def is_illustrative(path: str | os.PathLike | None) -> bool:
    """True for the bundled example sheet (or ``None``, which stands for it)."""
    if path is None:
        return True
    p = Path(path)
    try:
        return p.resolve() == example_sheet_path().resolve()
    except OSError:
        return False


def _read_csv(path: Path) -> Any:
    import pandas as pd

    if not path.is_file():
        raise SrllmError(f"{path}: rating sheet not found")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise SrllmError(f"{path}: not a readable CSV file ({exc})") from None


def _score(value: str, where: str, field_name: str) -> int:
    text = str(value).strip()
    if text == "":
        raise SrllmError(f"{where}: field '{field_name}' is empty (not rated yet?)")
    try:
        x = float(text)
    except ValueError:
        raise SrllmError(f"{where}: field '{field_name}' = {text!r} is not a number from "
                         f"{SCALE[0]} to {SCALE[1]}") from None
    if not x.is_integer() or not SCALE[0] <= x <= SCALE[1]:
        raise SrllmError(f"{where}: field '{field_name}' = {text!r} is outside the scale: use a whole number "
                         f"from {SCALE[0]} to {SCALE[1]}")
    return int(x)


def _load_key(key: str | os.PathLike | Any) -> tuple[dict[tuple[str, str], str], str]:
    frame = _read_csv(Path(key)) if isinstance(key, (str, os.PathLike)) else key
    source = str(key) if isinstance(key, (str, os.PathLike)) else "key"
    missing = [c for c in KEY_COLUMNS if c not in frame.columns]
    if missing:
        raise SrllmError(f"{source}: missing column(s) {missing}; a key file has columns {list(KEY_COLUMNS)}")
    out: dict[tuple[str, str], str] = {}
    for i, row in enumerate(frame.to_dict("records"), 1):
        k = (str(row["item_id"]).strip(), str(row["code"]).strip())
        if k in out:
            raise SrllmError(f"{source}: data row {i}: item {k[0]!r} code {k[1]!r} appears twice")
        out[k] = str(row["variant"]).strip()
    return out, source


def _sheet_rows(frame: Any, source: str, key: Mapping[tuple[str, str], str] | None,
                default_rater: str | None) -> list[dict[str, Any]]:
    cols = set(frame.columns)
    for c in ("item_id", *CRITERIA):
        if c not in cols:
            raise SrllmError(f"{source}: missing column '{c}'; a filled sheet needs item_id, a variant or code "
                             f"column, {', '.join(CRITERIA)} and a rater (column or file name)")
    if "variant" not in cols and "code" not in cols:
        raise SrllmError(f"{source}: missing column 'variant' (or 'code' with a key file)")
    blinded = "variant" not in cols
    if blinded and key is None:
        raise SrllmError(f"{source}: the sheet is blinded (column 'code', no 'variant'); pass its key file")
    rows = []
    for i, row in enumerate(frame.to_dict("records"), 1):
        item = str(row["item_id"]).strip()
        where = f"{source}: data row {i}" + (f" (item {item!r})" if item else "")
        if not item:
            raise SrllmError(f"{where}: field 'item_id' is empty")
        if blinded:
            code = str(row["code"]).strip()
            assert key is not None
            if (item, code) not in key:
                raise SrllmError(f"{where}: field 'code' = {code!r} has no entry for this item in the key file")
            variant = key[(item, code)]
        else:
            variant = str(row["variant"]).strip()
            if not variant:
                raise SrllmError(f"{where}: field 'variant' is empty")
        rater = str(row.get("rater", "")).strip() or default_rater
        if not rater:
            raise SrllmError(f"{where}: field 'rater' is empty (fill it in, or give one file per rater)")
        rec = {"item_id": item, "variant": variant, "rater": rater}
        for c in CRITERIA:
            rec[c] = _score(row[c], where, c)
        rows.append(rec)
    if not rows:
        raise SrllmError(f"{source}: no rated rows")
    return rows


def load_ratings(sheets: str | os.PathLike | Sequence[str | os.PathLike] | Any, key: Any = None) -> Any:
    """Validated ratings in long format: one row per (item, variant, rater), columns :data:`RATING_COLUMNS`.

    ``sheets``: one CSV path, several (one per rater), or a DataFrame. A sheet
    names the variant directly (column ``variant``, as the bundled example) or
    is blinded (column ``code``), in which case ``key`` (the key CSV or a
    DataFrame) un-blinds it. The rater is the ``rater`` column or, where that is
    empty or absent, the file's name without extension.

    Errors name the file, the data row and the field: a missing column, an
    empty or out-of-scale score (whole numbers 1-5), a code missing from the
    key, or a rater rating the same item and variant twice.
    """
    import pandas as pd

    key_map = _load_key(key)[0] if key is not None else None
    if isinstance(sheets, pd.DataFrame):
        sources = [(sheets, "ratings", None)]
    else:
        paths = [sheets] if isinstance(sheets, (str, os.PathLike)) else list(sheets)
        if not paths:
            raise SrllmError("no rating sheets given")
        sources = [(_read_csv(Path(p)), str(p), Path(p).stem) for p in paths]
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, str], str] = {}
    for frame, source, stem in sources:
        for n, r in enumerate(_sheet_rows(frame, source, key_map, stem), 1):
            k = (r["item_id"], r["variant"], r["rater"])
            if k in seen:
                raise SrllmError(f"{source}: data row {n}: rater {k[2]!r} already rated item {k[0]!r} for "
                                 f"variant {k[1]!r} ({seen[k]})")
            seen[k] = f"{source}: data row {n}"
            rows.append(r)
    return pd.DataFrame(rows, columns=list(RATING_COLUMNS))
