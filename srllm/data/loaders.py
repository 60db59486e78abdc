"""Load any supported file into validated records plus a :class:`LoadReport`.

Layouts (``format``):

* ``cmd`` - the canonical CMD columns (``id, text, bias, toxicity, sentiment, harm,
  target, target_category, biased_words, safe_variation, style, source_note``).
  Column names are matched case-insensitively, and the paper's Appendix B.1
  names (``Original_Sentence, BIAS, TOXICITY, SENTIMENT, HARM,
  WORDS_OR_PHRASES, Benign``) and the released CMD's Hub columns
  (``Original Sentence``, ``Debiased `` with a trailing space, ``BIAS``) are
  recognised too: case, surrounding spaces and inner spaces do not matter.
* ``authors-csv`` - the paper authors' public CSV layout: ``biased_text`` (the
  unsafe text), ``debiased_text`` (the rewrite), ``biased_words`` (a Python
  list literal), ``dimension`` (bias dimension -> ``target_category``; unknown
  dimensions become ``other``), ``aspect`` (-> ``target``) and ``label``, a bias
  degree mapped to the binary bias label by :data:`AUTHORS_LABEL_TO_BIAS`
  ("Slightly Biased"/"Highly Biased"/"Biased" -> Yes, "Neutral"/"Unbiased"/
  "Not Biased"/"Non-biased" -> No; Yes/No accepted as is). Other columns are ignored.
* ``toxigen`` - ToxiGen's annotated-split fields (:class:`ToxigenRecord`).
* ``jobs`` - job-posting pairs (``biased, neutral, rationale, category``) or
  full postings (``title, industry, level, biased, debiased``).

Policy for bad input (each case is tested):

* missing required column, invalid label or other bad cell, unreadable file ->
  :class:`SrllmError` naming the file, the row and the field;
* blank text, duplicate id, undecodable JSONL line, malformed JSONL line ->
  the row is excluded and counted in the report with its row number;
* a CMD row without a safe variation is kept (it can be scored) but listed in
  ``report.without_rewrite`` and left out of training by :func:`trainable`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from srllm.data.annotations import load_annotations
from srllm.data.readers import Rows, read_rows, sniff_columns
from srllm.data.report import LoadReport
from srllm.data.schema import (
    FieldError, JobPair, JobPosting, Record, ToxigenRecord, field_names, is_missing, make_job_pair,
    make_job_posting, make_record, make_toxigen, normalise_target_category, parse_biased_words, record_id,
)
from srllm.errors import SrllmError

FORMATS = ("cmd", "authors-csv", "toxigen", "jobs")

AUTHORS_LABEL_TO_BIAS = {
    "highly biased": "Yes", "slightly biased": "Yes", "biased": "Yes", "yes": "Yes",
    "neutral": "No", "unbiased": "No", "not biased": "No", "non-biased": "No", "no": "No",
}
AUTHORS_COLUMNS = ("id", "biased_text", "debiased_text", "biased_words", "dimension", "aspect", "label")

# Other spellings of the CMD columns (lower-cased, spaces -> underscores).
CMD_COLUMN_ALIASES = {
    "original_sentence": "text", "original": "text", "unsafe_text": "text",
    "benign": "safe_variation", "benign_variation": "safe_variation", "safe_text": "safe_variation",
    # the released CMD on the Hub (newsmediabias/instruction-safe-llm): "Debiased " (trailing space)
    "debiased": "safe_variation", "debiased_text": "safe_variation", "debiased_sentence": "safe_variation",
    "words_or_phrases": "biased_words",
}

_REQUIRED = {
    "cmd": ("text",),
    "authors-csv": ("biased_text",),
    "toxigen": ("text", "target_group", "toxicity_human"),
    "job_pairs": ("biased", "neutral"),
    "job_postings": ("title", "biased", "debiased"),
}
_KNOWN = {
    "cmd": field_names(Record),
    "authors-csv": AUTHORS_COLUMNS,
    "toxigen": field_names(ToxigenRecord),
    "job_pairs": field_names(JobPair),
    "job_postings": field_names(JobPosting),
}
_TEXT_FIELD = {"cmd": "text", "authors-csv": "biased_text", "toxigen": "text", "job_pairs": "biased",
               "job_postings": "biased"}


def _where(report: LoadReport, row: int) -> str:
    if report.row_unit == "line":
        return f"{report.source}, line {row}"
    return f"{report.source}, row {row} (1-based data row, header not counted)"


def _slug(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def _apply_mapping(columns: list[str], rows: Rows, mapping: dict[str, str] | None, report: LoadReport) -> list[str]:
    """Rename columns by the user's mapping (old -> new); each old name must exist."""
    if not mapping:
        return columns
    for old in mapping:
        if old not in columns:
            raise SrllmError(f"{report.source}: column mapping {old}={mapping[old]} names column {old!r}, "
                             f"which the file does not have (columns found: {', '.join(columns)})")
        new = mapping[old]
        if new in columns and new not in mapping:
            raise SrllmError(f"{report.source}: column mapping {old}={new} clashes with the file's own column "
                             f"{new!r}; map or drop that column first")
    renamed = [mapping.get(c, c) for c in columns]
    for _, row in rows:
        for old, new in mapping.items():
            if old in row:
                row[new] = row.pop(old)
    report.renamed_columns.update(mapping)
    return renamed


def _canonical_cmd_columns(columns: list[str], rows: Rows, report: LoadReport) -> list[str]:
    """Match CMD column names case-insensitively and through :data:`CMD_COLUMN_ALIASES`."""
    canon = set(field_names(Record))
    rename: dict[str, str] = {}
    taken = {c for c in columns if c in canon}
    for c in columns:
        if c in canon:
            continue
        s = _slug(c)
        target = s if s in canon else CMD_COLUMN_ALIASES.get(s)
        if target and target not in taken:
            rename[c] = target
            taken.add(target)
    if not rename:
        return columns
    for _, row in rows:
        for old, new in rename.items():
            if old in row:
                row[new] = row.pop(old)
    report.renamed_columns.update(rename)
    return [rename.get(c, c) for c in columns]


def detect_format(columns: Iterable[str]) -> str:
    """Guess the layout from column names (used when ``format`` is not given)."""
    cols = {_slug(c) for c in columns}
    if {"item_id", "annotator"} <= cols:
        return "annotations"
    if "biased_text" in cols:
        return "authors-csv"
    if "target_group" in cols:
        return "toxigen"
    if "biased" in cols and ("neutral" in cols or "debiased" in cols):
        return "jobs"
    return "cmd"


def _check_required(kind: str, columns: list[str], report: LoadReport, hint: str = "") -> None:
    for col in _REQUIRED[kind]:
        if col not in columns:
            found = ", ".join(columns) if columns else "(none)"
            raise SrllmError(f"{report.source}: required column {col!r} is missing (columns found: {found}); "
                             f"map a column onto it with --map OLD={col}{hint}")


def _authors_row(raw: dict[str, Any]) -> dict[str, Any]:
    label = raw.get("label")
    bias = None
    if not is_missing(label):
        key = str(label).strip().lower()
        if key not in AUTHORS_LABEL_TO_BIAS:
            allowed = "Highly Biased, Slightly Biased, Biased, Neutral, Unbiased, Not Biased, Non-biased, Yes, No"
            raise FieldError("label", f"has invalid value {label!r}; allowed values: {allowed} (case-insensitive)")
        bias = AUTHORS_LABEL_TO_BIAS[key]
    dimension = raw.get("dimension")
    return {
        "id": raw.get("id"),
        "text": raw.get("biased_text"),
        "safe_variation": raw.get("debiased_text"),
        "biased_words": parse_biased_words(raw.get("biased_words")),
        "target_category": None if is_missing(dimension) else normalise_target_category(dimension, strict=False),
        "target": raw.get("aspect"),
        "bias": bias,
    }


_AUTHORS_SOURCE = {"text": "biased_text", "safe_variation": "debiased_text", "target": "aspect",
                   "target_category": "dimension"}


def _name_file_column(exc: FieldError, kind: str, report: LoadReport) -> str:
    """The error text, naming the file's own column when it differs from the field."""
    msg = str(exc)
    source = {new: old for old, new in report.renamed_columns.items()}.get(exc.field)
    if kind == "authors-csv":
        source = _AUTHORS_SOURCE.get(exc.field, source)
    if source and source != exc.field:
        msg = msg.replace(f"field '{exc.field}'", f"field '{exc.field}' (file column '{source}')", 1)
    return msg


def _validate_rows(kind: str, rows: Rows, report: LoadReport) -> list[Any]:
    builders: dict[str, Callable[[dict[str, Any]], Any]] = {
        "cmd": make_record, "authors-csv": lambda r: make_record(_authors_row(r)), "toxigen": make_toxigen,
        "job_pairs": make_job_pair, "job_postings": make_job_posting,
    }
    build = builders[kind]
    text_field = _TEXT_FIELD[kind]
    out: list[Any] = []
    first_seen: dict[str, int] = {}
    for n, raw in rows:
        if is_missing(raw.get(text_field)):
            report.exclude(n, "blank_text", f"field {text_field!r} is empty")
            continue
        try:
            item = build(raw)
        except FieldError as exc:
            raise SrllmError(f"{_where(report, n)}: {_name_file_column(exc, kind, report)}") from None
        if item.id in first_seen:
            report.exclude(n, "duplicate_id", f"id {item.id!r} first used at {report.row_unit} {first_seen[item.id]}")
            continue
        first_seen[item.id] = n
        if isinstance(item, Record) and not item.trainable:
            report.without_rewrite.append(n)
        out.append(item)
    report.kept = len(out)
    return out


def _finish(columns: list[str], rows: Rows, report: LoadReport, format: str | None,
            mapping: dict[str, str] | None) -> list[Any]:
    """Shared tail of every loader: mapping, layout detection, required columns, row checks."""
    columns = _apply_mapping(columns, rows, mapping, report)
    fmt = format or detect_format(columns)
    if fmt == "annotations":
        raise SrllmError(f"{report.source}: holds per-annotator labels (item_id, annotator); load it with "
                         f"srllm.data.load_annotations or `srllm data validate --format annotations`")
    kind = fmt
    if fmt == "cmd":
        columns = _canonical_cmd_columns(columns, rows, report)
    elif fmt == "jobs":
        kind = "job_pairs" if "neutral" in columns or "debiased" not in columns else "job_postings"
    report.format = fmt if kind == fmt else f"{fmt} ({kind.split('_')[1]})"
    hint = " (job pairs need biased and neutral; full postings need title, biased and debiased)" if fmt == "jobs" else ""
    _check_required(kind, columns, report, hint)
    report.ignored_columns = tuple(c for c in columns if c not in _KNOWN[kind])
    return _validate_rows(kind, rows, report)


def _check_format(format: str | None) -> None:
    if format is not None and format not in FORMATS:
        raise SrllmError(f"unknown data format {format!r}; choose one of {', '.join(FORMATS)}")


def load_file(path: str | os.PathLike, format: str | None = None, mapping: dict[str, str] | None = None
              ) -> tuple[list[Any], LoadReport]:
    """Read, validate and report one file.

    Returns ``(items, report)``: :class:`Record` for ``cmd`` and ``authors-csv``,
    :class:`ToxigenRecord` for ``toxigen``, :class:`JobPair` or :class:`JobPosting`
    for ``jobs``. ``mapping`` renames file columns (``{"sentence": "text"}``)
    before anything else. ``format`` is detected from the columns when None.
    """
    _check_format(format)
    path = Path(path)
    report = LoadReport(source=str(path), format=format or "?")
    columns, rows = read_rows(path, report)
    return _finish(columns, rows, report, format, mapping), report


def records_from_rows(rows: Sequence[dict[str, Any]], source: str = "<rows>", format: str | None = None,
                      mapping: dict[str, str] | None = None) -> tuple[list[Any], LoadReport]:
    """Validate in-memory rows (e.g. from a Hub dataset) exactly as :func:`load_file` would."""
    _check_format(format)
    report = LoadReport(source=source, format=format or "?")
    numbered: Rows = [(i + 1, dict(r)) for i, r in enumerate(rows)]
    report.rows_read = len(numbered)
    columns: dict[str, None] = {}
    for _, r in numbered:
        for k in r:
            columns.setdefault(k, None)
    return _finish(list(columns), numbered, report, format, mapping), report


def _as_record(item: Any) -> Record:
    if isinstance(item, Record):
        return item
    if isinstance(item, JobPair):
        return Record(id=item.id, text=item.biased, safe_variation=item.neutral, target=item.category,
                      source_note=item.rationale)
    if isinstance(item, JobPosting):
        return Record(id=item.id, text=item.biased, safe_variation=item.debiased, target=item.title)
    if isinstance(item, ToxigenRecord):
        return Record(id=item.id, text=item.text, target=item.target_group)
    raise TypeError(f"cannot turn {type(item).__name__} into a Record")


def load_records(path: str | os.PathLike, format: str | None = None, mapping: dict[str, str] | None = None
                 ) -> tuple[list[Record], LoadReport]:
    """Like :func:`load_file` but always CMD :class:`Record` objects (for training and scoring).

    Job pairs/postings become ``text`` = biased, ``safe_variation`` = neutral/debiased;
    ToxiGen statements become records without a rewrite (scoring only).
    """
    items, report = load_file(path, format, mapping)
    return [_as_record(i) for i in items], report


def validate_file(path: str | os.PathLike, format: str | None = None,
                  mapping: dict[str, str] | None = None) -> LoadReport:
    """Load any supported file (annotation tables included) only for its :class:`LoadReport`."""

    if format == "annotations" or (format is None and detect_format(sniff_columns(Path(path))) == "annotations"):
        if mapping:
            raise SrllmError("column mapping is not supported for annotation files")
        return load_annotations(path)[1]
    return load_file(path, format, mapping)[1]


def trainable(records: Iterable[Record]) -> list[Record]:
    """The records that have a safe variation (training targets)."""
    return [r for r in records if r.trainable]


__all__ = ["FORMATS", "AUTHORS_LABEL_TO_BIAS", "CMD_COLUMN_ALIASES", "detect_format", "load_file", "load_records",
           "records_from_rows", "trainable", "record_id", "validate_file"]
