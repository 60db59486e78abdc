"""Raw rows from CSV, TSV, JSONL and Parquet files, with row numbers and decode checks.

Each reader returns the column names it saw and a list of ``(row_number, dict)``
pairs; rows it could not even read (bad bytes, broken JSON) go into the
:class:`~srllm.data.report.LoadReport` as counted exclusions. Everything that
could raise from deep inside pandas or pyarrow is turned into one
:class:`~srllm.errors.SrllmError` line naming the file.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from srllm.data.report import LoadReport
from srllm.errors import SrllmError

EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
              ".pq": "parquet"}

Rows = list[tuple[int, dict[str, Any]]]


def file_kind(path: Path) -> str:
    """``csv``, ``tsv``, ``jsonl`` or ``parquet`` by the file's suffix; any other suffix is a :class:`SrllmError`."""
    kind = EXTENSIONS.get(path.suffix.lower())
    if kind is None:
        raise SrllmError(f"{path}: unsupported file type {path.suffix or '(none)'!r}; "
                         f"use one of {', '.join(sorted(EXTENSIONS))}")
    return kind


def _py(value: Any) -> Any:
    """numpy scalars (from Parquet) as plain Python values; arrays stay list-like."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


def _decode_whole(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SrllmError(f"{path}: line {line} is not valid UTF-8 (byte {exc.start} = 0x{data[exc.start]:02x}); "
                         f"save the file as UTF-8") from None


def read_delimited(path: Path, report: LoadReport, sep: str = ",") -> tuple[list[str], Rows]:
    """A CSV (``sep=","``) or TSV file as strings throughout, rows numbered from 1 after the header."""
    import pandas as pd

    text = _decode_whole(path, path.read_bytes())
    if not text.strip():
        raise SrllmError(f"{path}: the file is empty")
    try:
        # skip_blank_lines=False: pandas would otherwise drop empty and (in a one-column
        # file) whitespace-only lines silently and shift every later row number.
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False,
                         skip_blank_lines=False)
    except pd.errors.ParserError as exc:
        first = str(exc).strip().splitlines()[-1]
        raise SrllmError(f"{path}: cannot parse as {'TSV' if sep == chr(9) else 'CSV'}: {first}") from None
    except (pd.errors.EmptyDataError, ValueError) as exc:
        raise SrllmError(f"{path}: cannot parse as CSV: {exc}") from None
    columns = [str(c).strip() for c in df.columns]
    df.columns = columns
    rows = [(i + 1, rec) for i, rec in enumerate(df.to_dict("records"))]
    # Empty lines at the very end of the file are an editor's trailing newlines, not rows.
    while rows and all(v == "" for v in rows[-1][1].values()):
        rows.pop()
    report.rows_read = len(rows)
    return columns, rows


def read_jsonl(path: Path, report: LoadReport) -> tuple[list[str], Rows]:
    """A JSON Lines file, rows numbered by line; a line that is not a JSON object is a counted exclusion."""
    report.row_unit = "line"
    rows: Rows = []
    columns: dict[str, None] = {}
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for n, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        report.rows_read += 1
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            report.exclude(n, "undecodable_bytes", f"byte {exc.start} of the line is 0x{raw[exc.start]:02x}")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            report.exclude(n, "malformed_json", exc.msg)
            continue
        if not isinstance(obj, dict):
            report.exclude(n, "malformed_json", f"a JSON {type(obj).__name__}, not an object")
            continue
        for k in obj:
            columns.setdefault(str(k).strip(), None)
        rows.append((n, {str(k).strip(): v for k, v in obj.items()}))
    if report.rows_read == 0:
        raise SrllmError(f"{path}: the file is empty")
    return list(columns), rows


def read_parquet(path: Path, report: LoadReport) -> tuple[list[str], Rows]:
    """A Parquet file, with numpy scalars turned into plain Python values."""
    import pandas as pd

    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SrllmError(f"{path}: not a readable Parquet file ({msg})") from None
    columns = [str(c).strip() for c in df.columns]
    df.columns = columns
    rows = [(i + 1, {k: _py(v) for k, v in rec.items()}) for i, rec in enumerate(df.to_dict("records"))]
    report.rows_read = len(rows)
    return columns, rows


def read_rows(path: Path, report: LoadReport) -> tuple[list[str], Rows]:
    """Columns and numbered raw rows of ``path``, whatever its file type."""
    if not path.exists():
        raise SrllmError(f"{path}: no such file")
    if path.is_dir():
        raise SrllmError(f"{path}: is a folder, not a data file")
    kind = file_kind(path)
    if kind == "csv":
        return read_delimited(path, report, ",")
    if kind == "tsv":
        return read_delimited(path, report, "\t")
    if kind == "jsonl":
        return read_jsonl(path, report)
    return read_parquet(path, report)


def read_texts(path: str | Path, column: str = "text", *, limit: int | None = None,
               allow_empty: bool = False) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows of a data file and the text of each in ``column``, for commands that process one text a row.

    Unlike the record loaders this keeps every row as read (no schema), so that a copy written
    with :func:`srllm.data.writers.write_rows` has every other cell unchanged. A row the reader
    could not read, a missing column, or a cell that is not text (or is blank, unless
    ``allow_empty``) is a :class:`SrllmError` naming the file, the row and the field.
    ``limit`` keeps the first N rows.
    """
    path = Path(path)
    report = LoadReport(source=str(path), format="texts")
    columns, rows = read_rows(path, report)
    if report.exclusions:
        bad = ", ".join(f"{report.row_unit} {e.row} ({e.reason}{': ' + e.detail if e.detail else ''})"
                        for e in report.exclusions[:5])
        more = f" and {len(report.exclusions) - 5} more" if len(report.exclusions) > 5 else ""
        raise SrllmError(f"{path}: unreadable rows: {bad}{more}")
    if column not in columns:
        raise SrllmError(f"{path}: no column {column!r}; columns are: {', '.join(columns)} "
                         f"(choose one with --text-column)")
    if limit is not None:
        if limit <= 0:
            raise SrllmError("--limit must be a positive integer")
        rows = rows[:limit]
    texts = []
    for n, row in rows:
        if column not in row:
            raise SrllmError(f"{path}: {report.row_unit} {n} has no field {column!r} "
                             f"(fields: {', '.join(map(str, row))}; choose one with --text-column)")
        value = row[column]
        if not isinstance(value, str):
            raise SrllmError(f"{path}: {report.row_unit} {n}, field {column!r}: not text "
                             f"({type(value).__name__} {value!r})")
        if not allow_empty and not value.strip():
            raise SrllmError(f"{path}: {report.row_unit} {n}, field {column!r}: empty ({value!r})")
        texts.append(value)
    if not texts:
        raise SrllmError(f"{path}: the file has no rows")
    return [r for _, r in rows], texts


def sniff_columns(path: Path) -> list[str]:
    """Column names only (header line, first JSON object, or Parquet schema); [] when unreadable."""
    import csv

    try:
        kind = file_kind(path)
        if kind in ("csv", "tsv"):
            with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
                return [c.strip() for c in next(csv.reader(fh, delimiter="," if kind == "csv" else "\t"), [])]
        if kind == "jsonl":
            with open(path, encoding="utf-8-sig", errors="replace") as fh:
                for line in fh:
                    if line.strip():
                        obj = json.loads(line)
                        return [str(k).strip() for k in obj] if isinstance(obj, dict) else []
            return []
        import pyarrow.parquet as pq

        return [str(n).strip() for n in pq.read_schema(path).names]
    except Exception:  # sniffing is a hint only; the real load reports problems properly
        return []
