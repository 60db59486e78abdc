"""The Content Moderation Dataset (CMD) record and the other sample schemas.

Section 2.1 and Appendix B.1 of the paper define a CMD record: an unsafe text,
four labels (bias, toxicity, sentiment, harm), the biased words and the safe
(benign) variation written by annotators. :class:`Record` holds one such row
after validation; the ``normalise_*`` helpers turn raw cell values into the
canonical spelling or raise :class:`FieldError` naming the allowed values.

Only ``text`` is required. Labels are optional but checked when present, and
read case-insensitively. One alias is accepted beyond the paper's spellings:
harm ``Med`` means ``Medium`` (Table 1 of the paper abbreviates it so).
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from srllm.errors import FieldError  # noqa: F401  (re-exported: importable from here as before)

# Label vocabularies, in the order the paper lists them (Section 2.1, Table 1).
LABELS: dict[str, tuple[str, ...]] = {
    "bias": ("Yes", "No"),
    "toxicity": ("No", "Mild", "High"),
    "sentiment": ("Positive", "Neutral", "Negative"),
    "harm": ("Low", "Medium", "High"),
}
LABEL_FIELDS = tuple(LABELS)

# Extra spellings accepted on read (lower-case key -> canonical value).
LABEL_ALIASES: dict[str, dict[str, str]] = {
    "harm": {"med": "Medium"},
}

# Target-group categories of the bundled sample (Appendix A groups, coarsened).
TARGET_CATEGORIES = (
    "age", "gender", "race_ethnicity", "religion", "disability", "nationality", "socioeconomic",
    "political", "sexual_orientation", "appearance", "other",
)
# Free spellings seen in other files (e.g. the authors' "dimension" column).
TARGET_CATEGORY_ALIASES = {
    "ageism": "age", "sexism": "gender", "gender_discrimination": "gender", "race": "race_ethnicity",
    "ethnicity": "race_ethnicity", "racism": "race_ethnicity", "race_and_ethnicity": "race_ethnicity",
    "religious": "religion", "ableism": "disability", "disabled": "disability", "nationalism": "nationality",
    "national_origin": "nationality", "xenophobia": "nationality", "socio_economic": "socioeconomic",
    "socio_economic_status": "socioeconomic", "socioeconomic_status": "socioeconomic", "class": "socioeconomic",
    "classism": "socioeconomic", "politics": "political", "political_affiliation": "political",
    "sexual_orientation_and_gender_identity": "sexual_orientation", "lgbtq": "sexual_orientation",
    "lgbtq+": "sexual_orientation", "physical_appearance": "appearance", "lookism": "appearance",
}
STYLES = ("news", "social_media")

# ToxiGen's 13 target groups (Table 5 of the paper).
TOXIGEN_GROUPS = (
    "women", "mental_dis", "lgbtq", "black", "chinese", "asian", "native_american", "middle_east",
    "muslim", "physical_dis", "mexican", "jewish", "latino",
)
JOB_CATEGORIES = ("gender", "age", "culture", "ability", "other")
JOB_LEVELS = ("Entry", "Mid", "Senior")


def is_missing(value: Any) -> bool:
    """True for None, NaN and blank strings (how empty cells arrive from CSV/Parquet)."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _as_text(field_name: str, value: Any) -> str | None:
    if is_missing(value):
        return None
    if not isinstance(value, str):
        raise FieldError(field_name, f"must be a string, got {type(value).__name__} {value!r}")
    return value.strip()


def _choose(field_name: str, value: Any, allowed: tuple[str, ...], aliases: dict[str, str] | None = None) -> str | None:
    if is_missing(value):
        return None
    key = str(value).strip().lower() if isinstance(value, str) else None
    for a in allowed:
        if key == a.lower():
            return a
    if key is not None and aliases and key in aliases:
        return aliases[key]
    raise FieldError(field_name, f"has invalid value {value!r}; allowed values: {', '.join(allowed)} (case-insensitive)")


def normalise_label(field_name: str, value: Any) -> str | None:
    """Canonical spelling of a label value, None when empty; :class:`FieldError` otherwise."""
    return _choose(field_name, value, LABELS[field_name], LABEL_ALIASES.get(field_name))


def _slug(value: str) -> str:
    return "_".join(value.strip().lower().replace("-", " ").replace("/", " ").split())


def normalise_target_category(value: Any, *, strict: bool = True) -> str | None:
    """One of :data:`TARGET_CATEGORIES`; aliases map (``"Race"`` -> ``race_ethnicity``).

    With ``strict=False`` an unknown category becomes ``"other"`` instead of an error
    (used for the authors' free-text ``dimension`` column).
    """
    if is_missing(value):
        return None
    if not isinstance(value, str):
        raise FieldError("target_category", f"must be a string, got {type(value).__name__} {value!r}")
    slug = _slug(value)
    slug = TARGET_CATEGORY_ALIASES.get(slug, slug)
    if slug in TARGET_CATEGORIES:
        return slug
    if not strict:
        return "other"
    raise FieldError("target_category", f"has invalid value {value!r}; allowed values: {', '.join(TARGET_CATEGORIES)}")


def normalise_style(value: Any) -> str | None:
    """Canonical spelling of a style label (one of :data:`STYLES`), None when empty; :class:`FieldError` otherwise."""
    if is_missing(value):
        return None
    slug = _slug(value) if isinstance(value, str) else value
    return _choose("style", slug, STYLES)


def parse_biased_words(value: Any) -> tuple[str, ...]:
    """Biased words from a list, a JSON list, a Python-list literal or a comma-separated string.

    The authors' public CSV files store the list as a Python literal
    (``"['too sensitive', 'lazy']"``), hence :func:`ast.literal_eval` as a fallback to JSON.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ()
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy arrays from Parquet
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        items = value
    elif isinstance(value, str):
        s = value.strip()
        if not s:
            return ()
        if s.startswith("["):
            try:
                items = json.loads(s)
            except json.JSONDecodeError:
                try:
                    items = ast.literal_eval(s)
                except (ValueError, SyntaxError):
                    raise FieldError("biased_words", f"looks like a list but cannot be parsed: {s[:60]!r}") from None
            if not isinstance(items, (list, tuple)):
                raise FieldError("biased_words", f"must be a list, got {type(items).__name__}")
        else:
            items = s.split(",")
    else:
        raise FieldError("biased_words", f"must be a list or a string, got {type(value).__name__} {value!r}")
    out = []
    for item in items:
        if not isinstance(item, str):
            raise FieldError("biased_words", f"items must be strings, got {type(item).__name__} {item!r}")
        word = item.strip().strip("\"'").strip()
        if word:
            out.append(word)
    return tuple(out)


def record_id(text: str, prefix: str = "cmd") -> str:
    """A deterministic id for a row that has none: a short SHA-256 of its text."""
    return f"{prefix}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}"


def _id_value(value: Any) -> str | None:
    if is_missing(value):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise FieldError("id", f"must be a string or an integer, got {type(value).__name__} {value!r}")
    return str(value).strip()


@dataclass(frozen=True)
class Record:
    """One validated CMD row (paper Section 2.1 schema plus the bundled sample's extras)."""

    id: str
    text: str
    bias: str | None = None
    toxicity: str | None = None
    sentiment: str | None = None
    harm: str | None = None
    target: str | None = None
    target_category: str | None = None
    biased_words: tuple[str, ...] = ()
    safe_variation: str | None = None
    style: str | None = None
    source_note: str | None = None

    @property
    def trainable(self) -> bool:
        """Has a safe variation, so it can serve as a training target."""
        return bool(self.safe_variation)

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dict, ``biased_words`` as a list so it writes as JSON."""
        d = asdict(self)
        d["biased_words"] = list(self.biased_words)
        return d


RECORD_FIELDS = tuple(f.name for f in fields(Record))


def make_record(raw: dict[str, Any]) -> Record:
    """Validate one raw row (canonical keys) into a :class:`Record`.

    Raises :class:`FieldError` for a bad cell. A blank ``text`` is the caller's
    business (it is reported as an exclusion, not an error), so it must be
    checked before calling.
    """
    text = _as_text("text", raw.get("text"))
    if not text:
        raise FieldError("text", "is empty")
    return Record(
        id=_id_value(raw.get("id")) or record_id(text),
        text=text,
        **{k: normalise_label(k, raw.get(k)) for k in LABEL_FIELDS},
        target=_as_text("target", raw.get("target")),
        target_category=normalise_target_category(raw.get("target_category")),
        biased_words=parse_biased_words(raw.get("biased_words")),
        safe_variation=_as_text("safe_variation", raw.get("safe_variation")),
        style=normalise_style(raw.get("style")),
        source_note=_as_text("source_note", raw.get("source_note")),
    )


# --- the other bundled samples ---------------------------------------------------------------

def _number(field_name: str, value: Any, lo: float, hi: float) -> float:
    if is_missing(value):
        raise FieldError(field_name, "is missing")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise FieldError(field_name, f"must be a number in [{lo:g}, {hi:g}], got {value!r}") from None
    if not lo <= x <= hi:
        raise FieldError(field_name, f"must be a number in [{lo:g}, {hi:g}], got {value!r}")
    return x


def _required_text(field_name: str, value: Any) -> str:
    s = _as_text(field_name, value)
    if not s:
        raise FieldError(field_name, "is empty")
    return s


@dataclass(frozen=True)
class ToxigenRecord:
    """A ToxiGen-style statement with the annotated split's fields (Table 5 groups; Hartvigsen et al. 2022)."""

    id: str
    text: str
    target_group: str
    toxicity_human: float
    toxicity_ai: float | None = None
    stereotyping: int | None = None
    intent: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dict (for JSONL and CSV writers)."""
        return asdict(self)


def make_toxigen(raw: dict[str, Any]) -> ToxigenRecord:
    """Validate one raw ToxiGen-style row into a :class:`ToxigenRecord`.

    Ratings must lie in 1-5 and ``stereotyping`` must be 0 or 1; a row without an id gets
    one from its text, so ids stay stable across loads.
    """
    text = _required_text("text", raw.get("text"))
    group = _choose("target_group", raw.get("target_group"), TOXIGEN_GROUPS)
    if group is None:
        raise FieldError("target_group", f"is missing; allowed values: {', '.join(TOXIGEN_GROUPS)}")
    stereo = raw.get("stereotyping")
    if not is_missing(stereo):
        s = _number("stereotyping", stereo, 0, 1)
        if s not in (0.0, 1.0):
            raise FieldError("stereotyping", f"must be 0 or 1, got {stereo!r}")
        stereo = int(s)
    else:
        stereo = None
    return ToxigenRecord(
        id=_id_value(raw.get("id")) or record_id(text, "tg"),
        text=text,
        target_group=group,
        toxicity_human=_number("toxicity_human", raw.get("toxicity_human"), 1.0, 5.0),
        toxicity_ai=None if is_missing(raw.get("toxicity_ai")) else _number("toxicity_ai", raw.get("toxicity_ai"), 1.0, 5.0),
        stereotyping=stereo,
        intent=None if is_missing(raw.get("intent")) else _number("intent", raw.get("intent"), 1.0, 5.0),
    )


@dataclass(frozen=True)
class JobPair:
    """A biased job-ad snippet, its neutral rewrite and why (Section 5 case study)."""

    id: str
    biased: str
    neutral: str
    rationale: str | None = None
    category: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The pair as a plain dict (for JSONL and CSV writers)."""
        return asdict(self)


def make_job_pair(raw: dict[str, Any]) -> JobPair:
    """Validate one raw row into a :class:`JobPair`; a row without an id gets one from its biased text."""
    biased = _required_text("biased", raw.get("biased"))
    return JobPair(
        id=_id_value(raw.get("id")) or record_id(biased, "jp"),
        biased=biased,
        neutral=_required_text("neutral", raw.get("neutral")),
        rationale=_as_text("rationale", raw.get("rationale")),
        category=_choose("category", raw.get("category"), JOB_CATEGORIES),
    )


@dataclass(frozen=True)
class JobPosting:
    """A full job posting in a biased and a debiased version (Section 5 case study)."""

    id: str
    title: str
    biased: str
    debiased: str
    industry: str | None = None
    level: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The posting as a plain dict (for JSONL and CSV writers)."""
        return asdict(self)


def make_job_posting(raw: dict[str, Any]) -> JobPosting:
    """Validate one raw row into a :class:`JobPosting`; a row without an id gets one from its biased text."""
    biased = _required_text("biased", raw.get("biased"))
    return JobPosting(
        id=_id_value(raw.get("id")) or record_id(biased, "jd"),
        title=_required_text("title", raw.get("title")),
        biased=biased,
        debiased=_required_text("debiased", raw.get("debiased")),
        industry=_as_text("industry", raw.get("industry")),
        level=_choose("level", raw.get("level"), JOB_LEVELS),
    )


def field_names(cls: type) -> tuple[str, ...]:
    """The field names of a schema dataclass, in declaration order (column order for writers)."""
    return tuple(f.name for f in fields(cls))


__all__ = [
    "LABELS", "LABEL_FIELDS", "LABEL_ALIASES", "TARGET_CATEGORIES", "STYLES", "TOXIGEN_GROUPS",
    "JOB_CATEGORIES", "JOB_LEVELS", "FieldError", "Record", "ToxigenRecord", "JobPair", "JobPosting",
    "RECORD_FIELDS", "make_record", "make_toxigen", "make_job_pair", "make_job_posting", "normalise_label",
    "normalise_target_category", "normalise_style", "parse_biased_words", "record_id", "is_missing",
    "field_names",
]
