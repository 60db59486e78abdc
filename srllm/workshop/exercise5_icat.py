"""Exercise 5: recompute ICAT from Table 6's LMS and SS and find the rows that do not follow the formula."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from srllm.errors import SrllmError
from srllm.paper import TABLE6, icat, icat_failures, table6_row
from srllm.workshop.common import verdict



def table6_frame() -> Any:
    """Table 6 of the paper as printed (strings kept, e.g. the truncated ``"75."``), one row per model and domain."""
    import pandas as pd

    return pd.DataFrame([{"model": r.model, "domain": r.domain, "LMS": r.lms_printed, "SS": r.ss_printed,
                          "ICAT": r.icat_printed} for r in TABLE6])


def _resolve_row(ref: Any) -> tuple[str, str]:
    """``(model key, domain)`` from a pair naming the model by key or by its printed name."""
    if not (isinstance(ref, (tuple, list)) and len(ref) == 2):
        raise SrllmError(f"a Table 6 row is a pair (model, domain), e.g. ('SR_LLM (IFT)', 'race'); got {ref!r}")
    model, domain = (str(x).strip() for x in ref)
    for r in TABLE6:
        if model.lower() in (r.key.lower(), r.model.lower()) and domain.lower() == r.domain:
            return r.key, r.domain
    models = sorted({r.model for r in TABLE6})
    raise SrllmError(f"Table 6 has no row ({model!r}, {domain!r}); models: {models}; "
                     "domains: gender, profession, race, religion")


def _row_name(key: str, domain: str) -> str:
    return f"{table6_row(key, domain).model} / {domain}"


@dataclass(frozen=True)
class IcatAuditCheck:
    """Exercise 5: the participant's ICAT computations and the rows they flagged as inconsistent."""

    passed: bool
    computed_correctly: int
    computed_wrongly: tuple[tuple[str, str], ...]
    found: tuple[tuple[str, str], ...]
    false_alarms: tuple[tuple[str, str], ...]
    missed: tuple[tuple[str, str], ...]
    message: str

    def __str__(self) -> str:
        def fmt(rows: Sequence[tuple[str, str]]) -> str:
            return ", ".join(_row_name(k, d) for k, d in rows) or "none"

        return "\n".join([
            f"Exercise 5: {verdict(self.passed)}",
            f"  ICAT values you computed correctly: {self.computed_correctly}",
            f"  inconsistent rows you found: {fmt(self.found)}",
            f"  rows you flagged that do follow the formula: {fmt(self.false_alarms)}",
            f"  inconsistent rows still to find: {len(self.missed)}",
            self.message,
        ])


def check_icat_audit(my_icat: Mapping[Any, float], flagged: Iterable[Any], *, min_computed: int = 3,
                     tolerance: float = 0.05) -> IcatAuditCheck:
    """Score exercise 5 against :func:`srllm.paper.icat` and :func:`srllm.paper.icat_failures`.

    ``my_icat`` maps Table 6 rows ``(model, domain)`` (model by key or printed
    name) to the participant's ICAT from the row's LMS and SS; ``flagged`` lists
    the rows they think do not satisfy the formula. Passes when at least
    ``min_computed`` values are right (within ``tolerance``), at least one
    inconsistent row is found and no consistent row is flagged.
    """
    failures = icat_failures()
    right, wrong = 0, []
    for ref, value in my_icat.items():
        key = _resolve_row(ref)
        row = table6_row(*key)
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise SrllmError(f"your ICAT for {ref!r} is {value!r}, not a number") from None
        if abs(v - icat(row.lms, row.ss)) <= tolerance:
            right += 1
        else:
            wrong.append(key)
    flagged_keys = []
    for ref in flagged:
        key = _resolve_row(ref)
        if key not in flagged_keys:
            flagged_keys.append(key)
    found = tuple(k for k in flagged_keys if k in failures)
    false_alarms = tuple(k for k in flagged_keys if k not in failures)
    missed = tuple(sorted(failures - set(found)))
    passed = right >= min_computed and bool(found) and not false_alarms
    parts = []
    if right < min_computed:
        parts.append(f"Compute the ICAT of at least {min_computed} rows (you have {right} right): "
                     "ICAT = LMS * min(SS, 100 - SS) / 50.")
    if wrong:
        parts.append(f"Check your arithmetic for {', '.join(_row_name(k, d) for k, d in wrong)}.")
    if not found:
        parts.append("Flag the rows whose printed ICAT does not match your computation.")
    if false_alarms:
        gpt2 = ("gpt2_large_ft", "religion") in false_alarms
        parts.append("Some flagged rows do follow the formula to the paper's rounding"
                     + (" (GPT-2 religion's SS was printed as '75.': with the lost decimals it fits)" if gpt2
                        else "") + ".")
    if passed:
        parts.append(f"Well done: you found {len(found)} of the {len(failures)} inconsistent cells. "
                     "The reproducibility audit chapter lists them all.")
    return IcatAuditCheck(passed, right, tuple(wrong), found, false_alarms, missed, " ".join(parts))
