"""Write rows as a CSV or JSONL file, atomically: the one writer for the copies commands make.

``srllm generate`` and ``srllm score`` read a file with
:func:`srllm.data.readers.read_texts`, add columns and write the rows back with
:func:`write_rows`; the file type follows the output's suffix.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from srllm.cache import atomic_write_text
from srllm.errors import SrllmError

WRITABLE_SUFFIXES = (".csv", ".jsonl")


def check_writable(path: str | Path) -> Path:
    """``path`` as a :class:`~pathlib.Path` when :func:`write_rows` can write its type; else a :class:`SrllmError`.

    Called before any work is done, so a wrong output name fails at once, not after a long run.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITABLE_SUFFIXES:
        raise SrllmError(f"{path}: unsupported file type {suffix or '(none)'!r} for output; "
                         f"use {' or '.join(WRITABLE_SUFFIXES)}")
    return path


def write_rows(path: str | Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write ``rows`` (dicts) as CSV (one column per key, no index) or JSONL (one object a line) by suffix.

    The file is replaced atomically, so an interrupted write never leaves half a file.
    Values JSON cannot hold are written as their ``str``.
    """
    path = check_writable(path)
    if path.suffix.lower() == ".jsonl":
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows))
    else:
        import pandas as pd

        atomic_write_text(path, pd.DataFrame(list(rows)).to_csv(index=False))


__all__ = ["WRITABLE_SUFFIXES", "check_writable", "write_rows"]
