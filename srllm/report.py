"""Tables that put our numbers beside the paper's.

Every results notebook shows its headline table through :func:`side_by_side`,
so that each one has the same four columns: ``ours``, ``paper``,
``difference`` (ours minus paper) and ``note`` (which of our numbers come from
a proxy scorer, a smaller model or a sample, and why a cell is empty).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from numbers import Real

import pandas as pd

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
