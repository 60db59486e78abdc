"""Score cache: one SQLite file per scorer configuration, keyed by a text hash.

SQLite rather than JSONL because several processes (notebooks, the CLI) may
score with the same scorer at once; SQLite serialises their writes, and a
lookup does not read the whole file. Only the text's SHA-256, the score and
the scorer's details are stored: never the text, never a key.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any, Iterable

_CHUNK = 500  # SQLite limits the number of '?' parameters in one statement


def text_key(text: str) -> str:
    """Cache key of a text: SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ScoreStore:
    """Get and put ``(p_unsafe, details)`` by text key."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("CREATE TABLE IF NOT EXISTS scores (key TEXT PRIMARY KEY, p REAL NOT NULL, details TEXT)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60)

    def get_many(self, keys: list[str]) -> dict[str, tuple[float, dict[str, Any]]]:
        """The cached ``(p_unsafe, details)`` of each key found; keys not cached are absent from the result."""
        out: dict[str, tuple[float, dict[str, Any]]] = {}
        con = self._connect()
        try:
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i:i + _CHUNK]
                q = f"SELECT key, p, details FROM scores WHERE key IN ({','.join('?' * len(chunk))})"
                for k, p, d in con.execute(q, chunk):
                    out[k] = (float(p), json.loads(d) if d else {})
        finally:
            con.close()
        return out

    def put_many(self, rows: Iterable[tuple[str, float, dict[str, Any]]]) -> None:
        """Store ``(key, p_unsafe, details)`` rows in one transaction, replacing any held under the same key."""
        data = [(k, float(p), json.dumps(d, sort_keys=True, default=float)) for k, p, d in rows]
        con = self._connect()
        try:
            with con:
                con.executemany("INSERT OR REPLACE INTO scores (key, p, details) VALUES (?, ?, ?)", data)
        finally:
            con.close()

    def __len__(self) -> int:
        con = self._connect()
        try:
            return int(con.execute("SELECT COUNT(*) FROM scores").fetchone()[0])
        finally:
            con.close()
