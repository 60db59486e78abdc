"""What a load did: rows read, kept, and excluded by reason, with row numbers.

Every loader returns a :class:`LoadReport` next to its records, so a dropped
row is never silent: notebooks show it and ``srllm data validate`` prints it.

Row numbering: for CSV and Parquet, ``row N`` is the N-th data row counted
from 1 with the header not counted; for JSONL, ``line N`` is the physical line
of the file counted from 1 (blank lines are skipped but keep their number).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Reasons a row can be excluded, with a short description used in summaries.
REASONS = {
    "blank_text": "text is empty or blank",
    "duplicate_id": "id already used by an earlier row (first one kept)",
    "malformed_json": "line is not a valid JSON object",
    "undecodable_bytes": "line is not valid UTF-8",
}


@dataclass(frozen=True)
class Exclusion:
    """One row left out, where and why."""

    row: int
    reason: str
    detail: str = ""


@dataclass
class LoadReport:
    """Counts and row numbers of one load (see module docstring for numbering)."""

    source: str
    format: str
    row_unit: str = "row"  # "row" (CSV/Parquet) or "line" (JSONL)
    rows_read: int = 0
    kept: int = 0
    exclusions: list[Exclusion] = field(default_factory=list)
    # Kept for scoring but not usable as training targets (no safe variation).
    without_rewrite: list[int] = field(default_factory=list)
    ignored_columns: tuple[str, ...] = ()
    renamed_columns: dict[str, str] = field(default_factory=dict)

    def exclude(self, row: int, reason: str, detail: str = "") -> None:
        """Record that source row ``row`` was dropped for ``reason``, one of :data:`REASONS` (reports stay comparable)."""
        if reason not in REASONS:
            raise ValueError(f"unknown exclusion reason {reason!r}")
        self.exclusions.append(Exclusion(row, reason, detail))

    @property
    def excluded(self) -> int:
        """Number of rows dropped."""
        return len(self.exclusions)

    @property
    def excluded_by_reason(self) -> dict[str, list[int]]:
        """Reason -> row numbers, reasons in a fixed order."""
        out: dict[str, list[int]] = {}
        for reason in REASONS:
            rows = [e.row for e in self.exclusions if e.reason == reason]
            if rows:
                out[reason] = rows
        return out

    @property
    def trainable(self) -> int:
        """Kept rows that have a safe variation (the training targets)."""
        return self.kept - len(self.without_rewrite)

    def to_dict(self) -> dict[str, Any]:
        """The report's counts as a JSON-ready dict (row lists reduced to counts; for ``srllm data --json``)."""
        return {
            "source": self.source, "format": self.format, "row_unit": self.row_unit,
            "rows_read": self.rows_read, "kept": self.kept, "excluded": self.excluded,
            "excluded_by_reason": self.excluded_by_reason, "without_rewrite": len(self.without_rewrite),
            "trainable": self.trainable, "ignored_columns": list(self.ignored_columns),
            "renamed_columns": dict(self.renamed_columns),
        }

    def summary(self, max_rows: int = 10) -> str:
        """A few human-readable lines (what ``srllm data validate`` prints)."""
        def rows(nums: list[int]) -> str:
            shown = ", ".join(str(n) for n in nums[:max_rows])
            return shown + (f", ... ({len(nums) - max_rows} more)" if len(nums) > max_rows else "")

        unit = "lines" if self.row_unit == "line" else "rows"

        def at(nums: list[int]) -> str:
            return f"{len(nums)} at {unit if len(nums) > 1 else unit[:-1]} {rows(nums)}"
        lines = [
            f"file: {self.source}",
            f"format: {self.format}",
            f"{unit} read: {self.rows_read}",
            f"kept: {self.kept}",
            f"excluded: {self.excluded}",
        ]
        for reason, nums in self.excluded_by_reason.items():
            lines.append(f"  {reason} ({REASONS[reason]}): {at(nums)}")
        if self.without_rewrite:
            lines.append(f"kept without safe variation (scoring only, not trained on): "
                         f"{at(self.without_rewrite)}")
        if self.renamed_columns:
            lines.append("renamed columns: " + ", ".join(f"{a} -> {b}" for a, b in self.renamed_columns.items()))
        if self.ignored_columns:
            lines.append("ignored columns: " + ", ".join(self.ignored_columns))
        if self.row_unit == "row":
            lines.append("(rows are data rows numbered from 1; the header is not counted)")
        else:
            lines.append("(lines are numbered from 1 as in a text editor)")
        return "\n".join(lines)
