"""Tables that put our numbers beside the paper's.

:func:`side_by_side` builds the long form (columns ``ours``, ``paper``,
``difference`` and ``note``: which of our numbers come from a proxy scorer, a
smaller model or a sample, and why a cell is empty); it is what the tests and the
glue values read. :func:`paper_table` lays that frame out as the paper prints
the table: the paper's rows and column groups, ours beside the paper's value in
each group, the paper's rounding, and the provenance stated once below it.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from numbers import Real

import pandas as pd
from pandas.io.formats.style import Styler

COLUMNS = ("ours", "paper", "difference", "note")


def _as_number(value: object, *, side: str, key: Hashable) -> float:
    """A float, or NaN for a missing value; anything else is an error naming the key."""
    if value is None or value is pd.NA:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"side_by_side: {side} value for {key!r} must be a number or None, got {value!r}")
    return float(value)


def side_by_side(
    ours: Mapping[Hashable, float | None],
    paper: Mapping[Hashable, float | None],
    *,
    note: str = "",
    notes: Mapping[Hashable, str] | None = None,
    index_names: tuple[str, ...] | str | None = None,
    keep: str = "union",
) -> pd.DataFrame:
    """Our values beside the paper's, with their difference and a note per row.

    Parameters
    ----------
    ours, paper
        ``{key: value}``; a value of ``None`` means "not available" (not run, or
        printed as N/A). Keys may be tuples, which become a MultiIndex.
    note
        A note for every row (e.g. "Perspective replaced by an offline proxy").
    notes
        Notes for particular keys; joined after ``note`` with "; ".
    index_names
        Names for the index level(s).
    keep
        ``"union"`` (default): every key of either side, the paper's first;
        ``"paper"``: only the paper's keys; ``"ours"``: only ours.

    Returns
    -------
    pandas.DataFrame
        Columns ``ours``, ``paper``, ``difference`` (``ours - paper``, NaN when
        either side is missing) and ``note``.
    """
    if keep not in ("union", "paper", "ours"):
        raise ValueError(f"side_by_side: keep must be 'union', 'paper' or 'ours', not {keep!r}")
    notes = dict(notes or {})
    unknown = [k for k in notes if k not in ours and k not in paper]
    if unknown:
        raise KeyError(f"side_by_side: notes given for keys on neither side: {unknown!r}")

    if keep == "paper":
        keys = list(paper)
    elif keep == "ours":
        keys = list(ours)
    else:
        keys = list(paper) + [k for k in ours if k not in paper]

    rows = []
    for key in keys:
        o = _as_number(ours.get(key), side="ours", key=key)
        p = _as_number(paper.get(key), side="paper", key=key)
        text = "; ".join(t for t in (note, notes.get(key, "")) if t)
        rows.append((o, p, o - p, text))

    if keys and all(isinstance(k, tuple) for k in keys):
        lengths = {len(k) for k in keys}
        if len(lengths) != 1:
            raise ValueError(f"side_by_side: tuple keys must all have the same length, got lengths {sorted(lengths)}")
        index = pd.MultiIndex.from_tuples(keys)
    else:
        index = pd.Index(keys)
    if index_names is not None:
        names = (index_names,) if isinstance(index_names, str) else tuple(index_names)
        if len(names) != index.nlevels:
            raise ValueError(f"side_by_side: {len(names)} index names for {index.nlevels} index level(s)")
        index = index.set_names(list(names))

    frame = pd.DataFrame(rows, index=index, columns=list(COLUMNS))
    for col in ("ours", "paper", "difference"):
        frame[col] = frame[col].astype(float)
    frame["note"] = frame["note"].astype(object)
    return frame


def _legend_html(caption: str, footnotes: Sequence[str]) -> str:
    """Caption and numbered footnotes as one caption block (escaped: notes may hold ``<`` or ``&``)."""
    from html import escape

    parts = [f"<b>{escape(caption)}</b>"] if caption else []
    parts += [f"<br><small>{escape(n)}</small>" for n in footnotes if n]
    return "".join(parts)


def paper_table(
    frame: pd.DataFrame,
    rows: str | Sequence[str],
    columns: str | Sequence[str],
    *,
    caption: str = "",
    footnotes: Sequence[str] = (),
    decimals: int = 2,
    ours_label: str = "ours",
    paper_label: str = "paper",
) -> Styler:
    """A :func:`side_by_side` frame laid out as the paper prints its table.

    ``rows`` are the index level(s) that become rows (e.g. the paper's methods) and
    ``columns`` the level(s) that become column groups (e.g. test set and scorer); each
    group holds our value beside the paper's. Numbers are rounded as the paper prints
    them (``decimals``), a missing value shows as an en dash, and provenance (model,
    data, scorer, proxy, why rows are empty) is given once as ``caption`` and
    ``footnotes`` instead of a note per row. No difference column: where the two sides
    are measured on different data or scorers a difference would suggest a comparison
    the numbers cannot carry.

    pandas' Styler does the formatting (a kept library, not hand-built HTML).
    """
    rows_l = [rows] if isinstance(rows, str) else list(rows)
    cols_l = [columns] if isinstance(columns, str) else list(columns)
    missing = [n for n in rows_l + cols_l if n not in frame.index.names]
    if missing:
        raise KeyError(f"paper_table: index level(s) {missing} not in {list(frame.index.names)}")
    values = frame[["ours", "paper"]].rename(columns={"ours": ours_label, "paper": paper_label})
    values = values.reorder_levels(rows_l + cols_l) if len(rows_l + cols_l) > 1 else values
    wide = values.unstack(cols_l)  # columns: (value, *cols)
    # column order: the order in which the column keys first appear, ours before paper
    col_keys = list(dict.fromkeys(values.index.droplevel(rows_l) if len(rows_l + cols_l) > 1 else values.index))
    order = [(v, *(k if isinstance(k, tuple) else (k,))) for k in col_keys for v in (ours_label, paper_label)]
    wide = wide.reindex(columns=pd.MultiIndex.from_tuples(order, names=[None, *cols_l]))
    wide.columns = wide.columns.reorder_levels([*range(1, len(cols_l) + 1), 0])
    wide.columns.names = [*cols_l, None]
    row_keys = list(dict.fromkeys(values.index.droplevel(cols_l) if len(rows_l + cols_l) > 1 else values.index))
    wide = wide.reindex(index=row_keys if len(rows_l) > 1 or not isinstance(row_keys[0], tuple)
                        else [k[0] for k in row_keys])
    if len(rows_l) > 1:
        wide.index = pd.MultiIndex.from_tuples(wide.index, names=rows_l)
    else:
        wide.index.name = rows_l[0]
    # a column group the paper has no value for (a measure of ours) keeps only our column
    wide = wide.drop(columns=[c for c in wide.columns if c[-1] == paper_label and wide[c].isna().all()])
    styler = wide.style.format(precision=decimals, na_rep="–", thousands=",")
    styler = styler.set_caption(_legend_html(caption, footnotes))
    styler = styler.set_table_styles([
        {"selector": "caption", "props": "caption-side: bottom; text-align: left; font-size: 0.85em;"},
        {"selector": "th, td", "props": "padding: 2px 4px; font-size: 0.85em;"},
        {"selector": "th.row_heading", "props": "white-space: nowrap; text-align: left;"},
        {"selector": "td", "props": "text-align: right;"},
    ])
    # the paper's values in grey: ours is what this build measured
    paper_cols = [c for c in wide.columns if c[-1] == paper_label]
    return styler.set_properties(subset=paper_cols, **{"color": "#666"})


def page_float(value: float) -> str:
    """How a plain DataFrame's float reads on a page: at most four significant digits and four
    decimals below 1,000 (``0.4022``, ``10.82``, ``-0.0611``), scientific notation below 0.01
    (``4.20e-05``: learning rates, p-values), thousands separators and one decimal from 1,000 on."""
    if value != value:  # NaN
        return "NaN"
    a = abs(value)
    if a == 0:
        return "0"
    if a < 0.01:
        return f"{value:.2e}"
    if a >= 1000:
        return f"{value:,.1f}"
    return f"{value:.4g}" if a >= 0.1 else f"{value:.4f}"


#: Longest text shown in a cell of a plain table on a book page (see :func:`book_display`).
PAGE_TEXT_CHARS = 160


def book_display() -> None:
    """Number display for book pages: plain DataFrames print floats with :func:`page_float`.

    Called once per notebook by the book runner (a set-up cell it adds to the executed copy,
    removed from the page), so a table without its own formatting never shows
    ``22.916667``; tables built with :func:`paper_table` or a Styler keep their format.
    Texts in plain tables are cut at :data:`PAGE_TEXT_CHARS` characters (pandas adds "..."),
    so a table of rewrites stays a table a reader can scan instead of a page-long column;
    the full texts are on the rewrite explorer page and in the notebook itself.
    """
    pd.set_option("display.float_format", page_float)
    pd.set_option("display.max_colwidth", PAGE_TEXT_CHARS)
