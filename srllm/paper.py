"""Every number the SR_LLM paper reports, typed, in one place.

The results notebooks compare what this project measures against these values
(through :func:`srllm.report.side_by_side`); nothing else in the project types
in a number from the paper. Values are stored as printed (percentages as
percentages, "02.36" as 2.36). Where the paper prints "-" or "N/A" the value
is ``None``; where a cell is malformed the value is ``None`` and the printed
string is kept in the row's ``notes``.

The module also lists the inconsistencies we found in the paper
(:data:`INCONSISTENCIES`), each with the place in the paper and a short
``phrase`` that the book's audit chapter (``book/audit.md``) must contain, so
that the list and the chapter cannot drift apart (a test checks this).

Sections referred to below are those of the paper (``Table 4``, ``Appendix D``...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# ---------------------------------------------------------------------------
# Section 2.1 and Table 1: the Content Moderation Dataset (CMD)
# ---------------------------------------------------------------------------

CMD_SOURCE_RECORDS = 3_700_000
"""Approximate size of the larger news/social-media corpus the CMD was drawn from (Section 2.1)."""
CMD_BIAS_ASPECTS_MIN = 200
"""'over 200 different bias aspects' (Section 2.1)."""
CMD_WORDS_PER_RECORD = (100, 500)
"""Section 2.1 says each record has 'more than 100 (upto 500) words' (compare Table 11)."""
CMD_ANNOTATORS = 20
CMD_ANNOTATION_MONTHS = 3
CMD_HF_DATASET = "newsmediabias/instruction-safe-llm"


@dataclass(frozen=True)
class DatasetDetails:
    """Table 1 (and Table 12, which repeats the label counts)."""

    name: str
    datapoints: int
    class_distribution: dict[str, dict[str, int]]
    split: dict[str, int]

    def attribute_sums(self) -> dict[str, int]:
        """Sum of the class counts of each attribute, and of the split sizes (key ``split``)."""
        sums = {attr: sum(counts.values()) for attr, counts in self.class_distribution.items()}
        sums["split"] = sum(self.split.values())
        return sums


TABLE1 = DatasetDetails(
    name="Content Moderation Dataset (CMD)",
    datapoints=20_000,
    class_distribution={
        "bias": {"No": 14_227, "Yes": 5_772},
        "toxicity": {"No": 12_040, "Mild": 5_293, "High": 2_666},
        "sentiment": {"Negative": 9_028, "Neutral": 8_370, "Positive": 2_601},
        "harm": {"Low": 14_151, "Medium": 3_932, "High": 1_915},
        # Table 1 prints "Annot.: Unsafe / Benign" without defining it.
        "annotation": {"Unsafe": 10_359, "Benign": 9_640},
    },
    split={"train": 13_999, "dev": 1_999, "test": 4_001},
)

TABLE12 = {attr: dict(counts) for attr, counts in TABLE1.class_distribution.items() if attr != "annotation"}
"""Table 12 (Appendix B.2) prints the same four label distributions as Table 1."""

CMD_TEST_SIZE_SECTION_3_2 = 6_000
"""Section 3.2 calls the in-house test set 'about 6,000 entries' (Table 1: 4,001)."""

# ---------------------------------------------------------------------------
# Section 3.1 and Table 3: training hyperparameters
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PaperHyperparameters:
    """Table 3 (with the prose of Section 3.1)."""

    batch_size_train: int = 16
    batch_size_eval: int = 8
    epochs_qlora: float = 1.0
    epochs_qlora_trials_up_to: int = 5
    epochs_prefix: float = 5.0
    max_sequence_length: int = 1024
    eval_every_steps: int = 25
    save_every_steps: int = 25
    early_stopping_patience: int = 3
    gradient_accumulation_steps: int = 1
    max_grad_norm: float = 0.3
    scheduler: str = "constant"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.001
    fp16: bool = True
    bf16: bool = False
    optimizer_qlora: str = "paged_adamw_32bit"
    learning_rate_qlora: float = 2e-4
    optimizer_prefix: str = "adamw"
    learning_rate_prefix: float = 5e-5
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    lora_r: int = 64
    lora_alpha: int = 16
    lora_dropout: float = 0.2
    quant_type: str = "nf4"
    load_in_4bit: bool = True
    nested_quant: bool = True  # the authors' public script sets False; see INCONSISTENCIES
    compute_dtype: str = "float16"
    task_type: str = "CAUSAL_LM"
    lora_bias: str = "none"
    prefix_length: int = 30
    prefixes_per_layer: int = 2
    prefix_dropout: float = 0.1
    prefix_init: str = "random normal"


TABLE3 = PaperHyperparameters()

# ---------------------------------------------------------------------------
# Section 3.2: evaluation data
# ---------------------------------------------------------------------------

EVAL_DATASETS: dict[str, dict[str, object]] = {
    "cmd_test": {"size": 6_000, "approximate": True, "note": "Section 3.2 says 'about 6,000'; Table 1 says 4,001"},
    "toxigen": {"size": 430, "version": "ToxiGen v2 (Hosseini et al.)", "groups": 13},
    "bold": {"size": 7_200, "groups": 4, "source": "Wikipedia"},
    "stereoset": {"size": 8_498, "task": "intrasentence", "domains": ("gender", "profession", "race", "religion")},
}

# ---------------------------------------------------------------------------
# Section 2.2.1: headline claims
# ---------------------------------------------------------------------------

CLAIM_NEUTRALISATION_SUCCESS_MIN = 92.0
"""'above 92% success in neutralizing harmful bias' (Section 2.2.1, percent)."""
CLAIM_KNOWLEDGE_PRESERVATION_MIN = 85.0
"""'above 85% preservation of knowledge in benign cases' (Section 2.2.1, percent)."""

# ---------------------------------------------------------------------------
# Table 4: unsafe-generation percentages per test set and scorer
# ---------------------------------------------------------------------------

TestSet = Literal["cmd_test", "toxigen", "bold"]
Scorer = Literal["perspective", "openai"]
TEST_SETS: tuple[str, ...] = ("cmd_test", "toxigen", "bold")
SCORERS: tuple[str, ...] = ("perspective", "openai")
METHOD_GROUPS: tuple[str, ...] = ("original", "fine-tuned", "prompted-2shot", "instruction-fine-tuned")


@dataclass(frozen=True)
class SafetyRow:
    """One row of Table 4: percent of generations judged unsafe (lower is better)."""

    key: str
    model: str  # as printed
    method: str  # one of METHOD_GROUPS
    params: str | None
    scores: dict[tuple[str, str], float | None]  # (test set, scorer) -> percent

    def score(self, test_set: str, scorer: str) -> float | None:
        """The printed percent in one (test set, scorer) column, None where the paper prints none; KeyError for no such column."""
        if (test_set, scorer) not in self.scores:
            raise KeyError(f"Table 4 has no column ({test_set!r}, {scorer!r}); test sets {TEST_SETS}, scorers {SCORERS}")
        return self.scores[(test_set, scorer)]


def _t4(key: str, model: str, method: str, params: str | None, *vals: float) -> SafetyRow:
    cols = [(t, s) for t in TEST_SETS for s in SCORERS]
    if len(vals) != len(cols):  # pragma: no cover - guards this file's own typing of the table
        raise ValueError(f"Table 4 row {key}: expected {len(cols)} values, got {len(vals)}")
    return SafetyRow(key, model, method, params, dict(zip(cols, vals)))


TABLE4: tuple[SafetyRow, ...] = (
    _t4("original", "Original Texts", "original", None, 57.82, 68.18, 68.82, 69.78, 59.34, 65.29),
    _t4("t5_large_ft", "T5 large", "fine-tuned", "770M", 23.81, 39.83, 33.05, 28.10, 26.99, 30.71),
    _t4("bart_large_ft", "BART large", "fine-tuned", "406M", 21.34, 27.92, 24.39, 27.10, 22.15, 28.28),
    _t4("falcon_7b_p", "Falcon instruct", "prompted-2shot", "7B", 18.94, 26.10, 2.36, 10.34, 19.00, 27.21),
    _t4("gpt35_p", "GPT-3.5", "prompted-2shot", None, 8.20, 10.10, 27.34, 29.10, 9.35, 11.76),
    _t4("gpt4_p", "GPT-4", "prompted-2shot", None, 6.29, 6.18, 9.29, 6.33, 7.93, 7.84),
    _t4("llama2_chat_7b_p", "Llama2 Chat", "prompted-2shot", "7B", 13.05, 17.18, 14.88, 16.10, 17.04, 16.92),
    _t4("llama3_8b_p", "Llama3 Instruct", "prompted-2shot", "8B", 5.92, 5.85, 8.95, 7.88, 7.20, 6.95),
    _t4("llama31_8b_p", "Llama3.1 Instruct", "prompted-2shot", "8B", 5.75, 5.80, 8.10, 7.55, 6.90, 6.75),
    _t4("llama32_1b_p", "Llama3.2 Instruct", "prompted-2shot", "1B", 5.60, 5.50, 7.85, 7.30, 6.50, 6.40),
    _t4("sr_llm_llama2", "SR_LLM Llama2", "instruction-fine-tuned", "7B", 6.01, 5.92, 4.40, 5.10, 7.36, 6.89),
    _t4("sr_llm_llama3", "SR_LLM Llama3", "instruction-fine-tuned", "8B", 5.90, 5.80, 4.00, 4.95, 7.10, 6.70),
    _t4("sr_llm_llama31", "SR_LLM Llama3.1", "instruction-fine-tuned", "8B", 5.75, 5.75, 3.90, 4.80, 6.95, 6.50),
    _t4("sr_llm_llama32", "SR_LLM Llama3.2", "instruction-fine-tuned", "1B", 5.50, 5.40, 3.75, 4.60, 6.80, 6.40),
)

TABLE4_BOLD: dict[tuple[str, str], tuple[str, ...]] = {
    # The paper bolds Llama3.2 (P) and SR_LLM Llama3.2 in every column, i.e. the best
    # prompted and the best fine-tuned entry, not the column minimum.
    (t, s): ("llama32_1b_p", "sr_llm_llama32") for t in TEST_SETS for s in SCORERS
}


def table4_row(key: str) -> SafetyRow:
    """The Table 4 row with this key (see ``[r.key for r in TABLE4]``)."""
    for row in TABLE4:
        if row.key == key:
            return row
    raise KeyError(f"Table 4 has no row {key!r}; rows: {[r.key for r in TABLE4]}")


# ---------------------------------------------------------------------------
# Table 5: toxicity per demographic group on ToxiGen (ToxiGen-RoBERTa, percent)
# ---------------------------------------------------------------------------

TABLE5_METHODS: tuple[str, ...] = (
    "original", "t5_large_ft", "bart_large_ft", "llama32_1b_p", "falcon_7b_p", "gpt35_p", "gpt4_p", "sr_llm_ift",
)
TABLE5_METHOD_LABELS: dict[str, str] = {
    "original": "Original Toxicity", "t5_large_ft": "T5", "bart_large_ft": "BART", "llama32_1b_p": "Llama 3.2 -1B",
    "falcon_7b_p": "Falcon-7B", "gpt35_p": "GPT-3.5", "gpt4_p": "GPT-4", "sr_llm_ift": "SR_LLM (IFT)",
}
TABLE5_GROUP_LABELS: dict[str, str] = {
    # keys are the ToxiGen target_group values used by srllm.data
    "women": "Women", "mental_dis": "Mental Dis.", "lgbtq": "LGBTQ", "black": "Black", "chinese": "Chinese",
    "asian": "Asian", "native_american": "Native Amer.", "middle_east": "Middle Est.", "muslim": "Muslim",
    "physical_dis": "Physical Dis.", "mexican": "Mexican", "jewish": "Jewish", "latino": "Latino",
}
_T5_ROWS: dict[str, tuple[float, ...]] = {
    "women": (92.60, 25.74, 24.10, 4.98, 13.92, 3.38, 1.02, 3.08),
    "mental_dis": (90.45, 18.27, 18.29, 2.25, 7.28, 3.65, 1.12, 1.12),
    "lgbtq": (86.58, 21.89, 20.01, 2.34, 11.13, 3.24, 0.67, 1.78),
    "black": (90.48, 26.35, 26.01, 2.98, 12.21, 4.12, 1.66, 1.02),
    "chinese": (86.52, 17.68, 16.74, 1.99, 8.23, 3.25, 1.46, 0.75),
    "asian": (99.19, 16.77, 15.10, 1.73, 6.02, 4.10, 1.23, 1.29),
    "native_american": (98.27, 20.96, 19.35, 2.12, 11.62, 3.81, 1.47, 1.83),
    "middle_east": (91.54, 23.47, 23.45, 2.18, 8.34, 4.06, 1.01, 1.83),
    "muslim": (94.46, 23.79, 24.50, 2.98, 13.98, 3.79, 1.12, 1.58),
    "physical_dis": (82.84, 18.82, 17.02, 1.56, 6.82, 3.18, 0.59, 1.08),
    "mexican": (87.48, 34.27, 33.56, 4.01, 14.21, 3.80, 1.22, 1.20),
    "jewish": (81.96, 23.28, 26.39, 3.10, 15.53, 3.78, 1.19, 2.26),
    "latino": (84.84, 29.45, 30.12, 4.03, 15.87, 3.57, 1.34, 2.10),
}
TABLE5: dict[str, dict[str, float]] = {g: dict(zip(TABLE5_METHODS, vals)) for g, vals in _T5_ROWS.items()}
"""``TABLE5[group][method]`` -> mean toxicity probability in percent."""

TABLE5_TEXT_CLAIMS: dict[str, tuple[str, ...]] = {
    # Section 4.2: groups where the text names the best method.
    "gpt4_p": ("women", "lgbtq", "physical_dis"),
    "sr_llm_ift": ("chinese", "mexican", "black"),
}


# ---------------------------------------------------------------------------
# Table 6: StereoSet intrasentence (LMS, SS, ICAT)
# ---------------------------------------------------------------------------

STEREOSET_DOMAINS: tuple[str, ...] = ("gender", "profession", "race", "religion")


@dataclass(frozen=True)
class StereoRow:
    """One model x domain cell group of Table 6. ``*_printed`` keep the strings as printed."""

    key: str
    model: str
    method: str
    domain: str
    lms: float
    ss: float
    icat: float
    lms_printed: str
    ss_printed: str
    icat_printed: str
    note: str | None = None


_T6: dict[tuple[str, str, str], tuple[str, ...]] = {
    # (key, printed model, method): gender (lms, ss, icat), profession, race, religion -- strings as printed
    ("flan_t5_base_ft", "Flan-T5 base FT", "fine-tuned"):
        ("87.84", "56.70", "76.07", "89.01", "59.64", "71.85", "86.38", "68.23", "54.89", "83.54", "69.70", "50.63"),
    ("flan_t5_medium_ft", "Flan-T5 medium FT", "fine-tuned"):
        ("88.63", "55.31", "79.22", "84.32", "61.79", "64.44", "83.47", "62.52", "62.57", "83.54", "62.12", "63.29"),
    ("flan_t5_large_ft", "Flan-T5 large FT", "fine-tuned"):
        ("92.55", "65.25", "64.32", "91.36", "61.62", "70.13", "91.48", "62.16", "69.23", "96.20", "80.26", "37.98"),
    ("gpt2_large_ft", "GPT2 large FT", "fine-tuned"):
        ("80.77", "70.93", "46.96", "79.99", "64.34", "57.05", "69.43", "68.35", "43.95", "66.09", "75.", "31.76"),
    ("dialogpt_large_ft", "DialogGPT large FT", "fine-tuned"):
        ("82.50", "61.29", "63.87", "79.87", "58.72", "65.94", "83.44", "60.51", "65.90", "84.91", "67.23", "55.65"),
    ("llama32_1b_p", "Llama3.2 instruct 1B (P)", "prompted-2shot"):
        ("90.12", "59.18", "61.29", "90.25", "56.19", "68.58", "91.28", "66.78", "60.65", "91.23", "62.92", "69.48"),
    ("sr_llm_ift", "SR_LLM (IFT)", "instruction-fine-tuned"):
        ("91.05", "54.47", "76.98", "91.98", "62.10", "74.12", "93.48", "52.76", "74.13", "93.99", "62.23", "77.24"),
}

_GPT2_RELIGION_NOTE = (
    "SS printed as '75.' (digits after the point missing); stored as 75.0. "
    "The printed ICAT 31.76 with LMS 66.09 implies SS of about 75.97."
)


def _build_table6() -> tuple[StereoRow, ...]:
    rows = []
    for (key, model, method), cells in _T6.items():
        for i, domain in enumerate(STEREOSET_DOMAINS):
            lms_s, ss_s, icat_s = cells[3 * i: 3 * i + 3]
            note = _GPT2_RELIGION_NOTE if (key, domain) == ("gpt2_large_ft", "religion") else None
            rows.append(StereoRow(key, model, method, domain, float(lms_s), float(ss_s), float(icat_s),
                                  lms_s, ss_s, icat_s, note))
    return tuple(rows)


TABLE6: tuple[StereoRow, ...] = _build_table6()

TABLE6_TEXT_CLAIMS = {
    # Section 4.3 prose about SR_LLM
    "lms_gender": 91.05, "lms_profession": 91.98, "lms_race": 93.48, "lms_religion": 93.99,
    "lowest_ss_domains": ("race", "religion"),  # "records the lowest SS (closer to 50)"
    "ss_close_to_50_domains": ("gender", "profession"),
}


def table6_row(key: str, domain: str) -> StereoRow:
    """The Table 6 row of model ``key`` in StereoSet ``domain``; a KeyError names the pair when there is none."""
    for row in TABLE6:
        if row.key == key and row.domain == domain:
            return row
    raise KeyError(f"Table 6 has no row ({key!r}, {domain!r})")


def icat(lms: float, ss: float) -> float:
    """StereoSet's idealised CAT score: ``LMS * min(SS, 100 - SS) / 50`` (Nadeem et al. 2021)."""
    return lms * min(ss, 100.0 - ss) / 50.0


def printed_interval(printed: str) -> tuple[float, float]:
    """The range of true values a printed number can stand for.

    ``"56.70"`` -> [56.695, 56.705] (rounded to two decimals). A string ending in
    a point, like Table 6's ``"75."``, lost its decimals, so it stands for
    [75.0, 76.0).
    """
    s = printed.strip().rstrip("%")
    if s.endswith("."):
        lo = float(s[:-1])
        return lo, lo + 1.0
    decimals = len(s.split(".")[1]) if "." in s else 0
    half = 0.5 * 10.0 ** (-decimals)
    v = float(s)
    return v - half, v + half


def icat_interval(row: StereoRow) -> tuple[float, float]:
    """The range of ICAT values consistent with the row's printed LMS and SS.

    Hand-written interval arithmetic (no library needed): ICAT grows with LMS,
    and ``min(SS, 100 - SS)`` is largest nearest 50 and smallest at an end of
    the SS range.
    """
    lms_lo, lms_hi = printed_interval(row.lms_printed)
    ss_lo, ss_hi = printed_interval(row.ss_printed)
    dist = [min(s, 100.0 - s) for s in (ss_lo, ss_hi)]
    d_hi = 50.0 if ss_lo <= 50.0 <= ss_hi else max(dist)
    d_lo = min(dist)
    return lms_lo * d_lo / 50.0, lms_hi * d_hi / 50.0


def icat_consistent(row: StereoRow) -> bool:
    """True when the printed ICAT can follow from the printed LMS and SS, to the paper's rounding."""
    lo, hi = icat_interval(row)
    icat_lo, icat_hi = printed_interval(row.icat_printed)
    return icat_hi >= lo and icat_lo <= hi


def icat_failures() -> set[tuple[str, str]]:
    """``(model key, domain)`` of every Table 6 row whose ICAT does not follow from its LMS and SS."""
    return {(r.key, r.domain) for r in TABLE6 if not icat_consistent(r)}


# ---------------------------------------------------------------------------
# Table 7: prompting versus fine-tuning on Llama-3.2-1B-Instruct
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptingRow:
    """One row of Table 7 (percent). ``None`` where the paper prints N/A or a malformed value."""

    key: str
    label: str
    cmd_openai: float | None
    cmd_knowledge_retention: float | None
    toxigen_openai: float | None
    toxigen_knowledge_retention: float | None
    notes: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float | None]:
        """The row's four numbers keyed by column (``cmd_openai``, ..., ``toxigen_knowledge_retention``)."""
        return {
            "cmd_openai": self.cmd_openai,
            "cmd_knowledge_retention": self.cmd_knowledge_retention,
            "toxigen_openai": self.toxigen_openai,
            "toxigen_knowledge_retention": self.toxigen_knowledge_retention,
        }


TABLE7: tuple[PromptingRow, ...] = (
    PromptingRow("original", "Original Texts", 57.82, None, 69.78, None,
                 {"cmd_knowledge_retention": "printed 'N/A'", "toxigen_knowledge_retention": "printed 'N/A'"}),
    PromptingRow("zero_shot", "Baseline (zero-shot)", 21.14, 64.32, None, 70.19,
                 {"toxigen_openai": "printed 'N/A'"}),
    PromptingRow("two_shot", "Baseline (2-shots)", 13.05, 72.25, 14.88, 66.93),
    PromptingRow("five_shot", "Baseline (5-shots)", 12.54, 73.89, 12.23, 79.34),
    PromptingRow("prefix", "Baseline (Prefix-tuning)", 10.02, 82.10, 10.12, None,
                 {"toxigen_knowledge_retention": "printed '79.10.34%' (malformed; not a number)"}),
    PromptingRow("sr_llm", "SR_LLM", 5.92, 90.18, 5.10, 87.53),
)
TABLE7_BASE_MODEL = "Llama-3.2-1B-Instruct"


# ---------------------------------------------------------------------------
# Section 4.6, Table 8 and Fig. 5: human evaluation
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HumanEvalRow:
    """One variant of Table 8: safety and language-understanding scores out of 5 for the shown example."""

    key: str
    printed_name: str
    description: str
    safety: float
    language: float
    scale: float = 5.0


TABLE8: tuple[HumanEvalRow, ...] = (
    HumanEvalRow("peft_1ep", "Safe_PEFIT-1_ep", "QLoRA/PEFT, 1 epoch (the default SR_LLM)", 5.0, 4.99),
    HumanEvalRow("peft_5ep", "Safe_PEFT-5_ep", "QLoRA/PEFT, 5 epochs", 4.0, 3.5),
    HumanEvalRow("dense_ift", "Safe_Dense-IFT", "dense (all-weights) fine-tuning, 5 epochs", 3.4, 3.8),
    HumanEvalRow("dense_it", "Safe_Dense-IT", "described as prefix-tuning / prompting the base model", 4.5, 4.8),
)
HUMAN_EVAL_SAMPLES = 100
HUMAN_EVAL_EVALUATORS = 5  # Section 4.6
HUMAN_EVAL_SCORE_AVERAGED_OVER = 3  # Table 8 caption
FIG5_VALUES_STATED = False
"""Fig. 5 (safety vs language understanding, in percent, 100 samples per variant) is an image;
the text gives no values, only that the 1-epoch PEFT variant is best."""

# ---------------------------------------------------------------------------
# Section 4.4 and Fig. 3: one-sample t-test on style scores
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StyleTTest:
    """Fig. 3 and Section 4.4.1."""

    n: int = 16_602
    mean: float = 20.19
    t: float = 28.17
    p_below: float = 1e-5
    sample_from: str = "training set"


FIG3 = StyleTTest()
FIG4_NEGATIVE_TRAITS: tuple[str, ...] = ("Neurotic", "Hostile", "Cruel")
FIG4_POSITIVE_TRAITS: tuple[str, ...] = ("Caring", "Compassionate", "Honest")

# ---------------------------------------------------------------------------
# Section 5 and Table 9: job-posting case study
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class JobPostingResults:
    """Table 9 and the surrounding prose of Section 5."""

    postings: int = 500
    instruction_pairs: int = 200
    reviewers: int = 5
    biased_terms_before: float = 3.5
    biased_terms_after: float = 1.4
    content_similarity_before: float | None = None  # printed '-'
    content_similarity_after: float = 88.0  # printed '~88%' (approximate)
    perplexity_before: float = 22.0
    perplexity_after: float = 19.3
    reduction_claimed_percent: float = 60.0  # '60% reduction' and 'over 60%'
    reviewer_rating_before: float = 3.6  # 1-5 scale, inclusivity and clarity
    reviewer_rating_after: float = 4.2

    def biased_terms_reduction_percent(self) -> float:
        """Reduction in biased terms per post implied by Table 9 (3.5 to 1.4: 60%).

        Computed rather than copied, so it can be checked against the claimed ``reduction_claimed_percent``.
        """
        return 100.0 * (self.biased_terms_before - self.biased_terms_after) / self.biased_terms_before


TABLE9 = JobPostingResults()
CASE_STUDY_MODEL = "Llama-3.2-1B-Instruct"

# ---------------------------------------------------------------------------
# Appendix A: inter-annotator agreement (Fleiss' kappa)
# ---------------------------------------------------------------------------

KAPPA_TABLE10: dict[str, float] = {
    "toxicity": 0.75, "harm": 0.68, "bias": 0.62, "negative_sentiment": 0.70, "benign_variation": 0.78,
}
KAPPA_APPENDIX_TEXT: dict[str, float] = {
    # the paragraph under Table 10
    "toxicity": 0.75, "harm": 0.72, "bias": 0.78, "negative_sentiment": 0.70, "benign_variation": 0.78,
}
KAPPA_SECTION_2_1_RANGE: tuple[float, float] = (0.62, 0.74)
"""Section 2.1: 'from 0.62 to 0.74 across different risk categories'."""
KAPPA_SECTION_2_1_BENIGN = 0.78
FLEISS_BANDS: tuple[tuple[float, str], ...] = (
    # (lower bound, label) as listed in Appendix A
    (0.81, "Almost perfect"), (0.61, "Substantial"), (0.41, "Moderate"), (0.21, "Fair"), (float("-inf"), "Poor"),
)
ANNOTATION_TEAM = {
    "section_2_1": {"experts": 5, "students_per_expert": 3, "total_stated": 20},
    "appendix_a": {"experts": 5, "students_per_expert": 4, "total_stated": 20},
}


def kappa_band(kappa: float) -> str:
    """Appendix A's label for a Fleiss' kappa value.

    The bands are Landis & Koch's (1977), with their "slight" and "poor" merged into
    "Poor" as the appendix lists them (:data:`FLEISS_BANDS`).
    """
    for lower, label in FLEISS_BANDS:
        if kappa >= lower:
            return label
    raise AssertionError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------------------
# Appendix B: descriptive statistics of the CMD
# ---------------------------------------------------------------------------

TABLE11: dict[str, dict[str, float]] = {
    "char_length": {"count": 16614, "mean": 370.336, "std": 451.732, "min": 7, "25%": 110, "50%": 238,
                    "75%": 491, "max": 5000},
    "word_length": {"count": 16614, "mean": 68.277, "std": 80.136, "min": 1, "25%": 22, "50%": 44,
                    "75%": 90, "max": 1108},
}
TABLE13: dict[str, float] = {
    # 'Analyzing the Impact of Benign': an unnamed per-record change statistic
    "count": 8307, "mean": 0.087286, "std": 0.148290, "min": 0.0, "25%": 0.028708, "50%": 0.052493,
    "75%": 0.084249, "max": 1.0,
}
FIG6_VALUES_STATED = False
"""Fig. 6 (Flesch reading ease by sentiment) is an image without stated values."""

# ---------------------------------------------------------------------------
# Section 3.1 and Appendix D: training cost and carbon
# ---------------------------------------------------------------------------

CARBON_INTENSITY_KG_PER_KWH = 0.4
"""Global-average carbon intensity Appendix D assumes (kgCO2e per kWh)."""
LLAMA2_PRETRAINING_TCO2E = 539.0
TRAINING_MEMORY_GB = 100.0
"""'total memory usage was approximately 100GB' (Section 3.1)."""


@dataclass(frozen=True)
class TrainingCost:
    """One training run's reported duration, energy and emissions."""

    method: str
    gpu: str  # as stated in Section 3.1
    gpu_appendix_d: str | None  # as stated in Appendix D (None: not mentioned there)
    gpus: int
    cpus: int
    minutes: float
    kwh: float
    kg_co2e: float

    def implied_power_kw(self) -> float:
        """Average power the reported energy implies (kWh / hours)."""
        return self.kwh / (self.minutes / 60.0)


TRAINING_COSTS: tuple[TrainingCost, ...] = (
    TrainingCost("qlora", "A100", "A40", 1, 4, 50.0, 0.53, 0.21),
    TrainingCost("prefix", "A100", None, 1, 4, 30.0, 0.32, 0.13),
)


def carbon_kg(kwh: float, intensity: float = CARBON_INTENSITY_KG_PER_KWH) -> float:
    """Appendix D's method: energy (kWh) times carbon intensity (kgCO2e/kWh)."""
    if kwh < 0 or intensity < 0:
        raise ValueError(f"energy and intensity must be non-negative, got kwh={kwh}, intensity={intensity}")
    return kwh * intensity


def training_cost(method: str) -> TrainingCost:
    """The reported cost of the ``qlora`` or ``prefix`` training run; a KeyError names the known methods otherwise."""
    for c in TRAINING_COSTS:
        if c.method == method:
            return c
    raise KeyError(f"no reported training cost for {method!r}; known: {[c.method for c in TRAINING_COSTS]}")


# ---------------------------------------------------------------------------
# Inconsistencies
# ---------------------------------------------------------------------------

Kind = Literal["contradiction", "arithmetic", "typography", "unclear", "citation"]


@dataclass(frozen=True)
class Inconsistency:
    """One problem we found in the paper or between the paper and the authors' code.

    ``phrase`` is a short string that ``book/audit.md`` must contain verbatim;
    ``cells`` names the table cells concerned where a test can check them.
    """

    key: str
    where: str
    phrase: str
    summary: str
    kind: Kind
    cells: tuple[str, ...] = ()


INCONSISTENCIES: tuple[Inconsistency, ...] = (
    Inconsistency(
        "nested_quant", "Section 3.1, Table 3; the authors' public training script",
        "nested quantization",
        "The paper enables nested (double) quantization (use_nested_quant = True); the authors' public "
        "training script sets use_nested_quant = False. Our paper profile follows the paper.",
        "contradiction"),
    # Differences between the paper and the authors' public training code (its parameter
    # dictionary TRAIN_PARAM_DICT and the SFTTrainer script that reads it); issue 14 item 5.
    Inconsistency(
        "code_batch_size", "Table 3 vs the authors' public training parameters (TRAIN_PARAM_DICT: per_device_train_batch_size, per_device_eval_batch_size)",
        "per_device_train_batch_size = 4",
        "Table 3 gives batch sizes 16 (training) and 8 (evaluation); the authors' code uses 4 for both. "
        "Our paper profile follows the paper.", "contradiction"),
    Inconsistency(
        "code_max_seq_length", "Table 3 vs the authors' public training parameters (TRAIN_PARAM_DICT: max_seq_length, set twice)",
        "max_seq_length = 512",
        "Table 3 gives a maximum sequence length of 1024; the authors' parameter dictionary sets max_seq_length "
        "twice, 1024 and then 512, so 512 wins. Our paper profile uses 1024.", "contradiction"),
    Inconsistency(
        "code_no_early_stopping", "Table 3 (evaluation every 25 steps, patience 3) vs the authors' code",
        "no evaluation or early-stopping",
        "Table 3 evaluates every 25 steps with early-stopping patience 3; the authors' code has no evaluation or "
        "early-stopping arguments. Our profiles evaluate and stop early as Table 3 says.", "contradiction"),
    Inconsistency(
        "code_random_split", "Table 1 vs the authors' code (TRAIN_PARAM_DICT: test_size)",
        "test_size = 0.3",
        "Table 1 splits 13,999 / 1,999 / 4,001 (the paper stratifies its sampling of the records; we stratify the "
        "split too); the authors' code makes a random "
        "train/test split with test_size = 0.3 and no dev split. Our split follows Table 1.", "contradiction"),
    Inconsistency(
        "code_base_model", "Section 3.1 vs the authors' code (TRAIN_PARAM_DICT: base_model)",
        "Llama-2-7b-chat",
        "The authors' code fine-tunes meta-llama/Llama-2-7b-chat-hf; the paper's later experiments use "
        "Llama-3.2-1B-Instruct, which our paper profile uses.", "contradiction"),
    Inconsistency(
        "code_target_modules", "the authors' code (LoraConfig without target_modules); the paper names none",
        "q_proj and v_proj",
        "The authors' LoraConfig sets no target_modules, so peft's default for Llama applies: q_proj and v_proj "
        "only. The paper names no target modules; our seven (all attention and MLP projections) are our choice, "
        "following neither.", "unclear"),
    Inconsistency(
        "code_loss_every_token", "Section 2.2, Eq. (1) vs the authors' code (SFTTrainer, dataset_text_field)",
        "loss covers every token",
        "Eq. (1) counts the loss on the response only; the authors' code trains trl's SFTTrainer on one text "
        "field (prompt and response together), so the loss covers every token. Ours follows Eq. (1).",
        "contradiction"),
    Inconsistency(
        "code_group_by_length", "the authors' code (TRAIN_PARAM_DICT: group_by_length); the paper is silent",
        "group_by_length = True",
        "The authors' code batches texts of similar length (group_by_length = True); the paper does not say. "
        "Our trainer also groups by length (a seeded sampler, so that a resumed run sees the same order).",
        "unclear"),
    Inconsistency(
        "code_gradient_checkpointing", "the authors' code (TRAIN_PARAM_DICT: gradient_checkpointing)",
        "gradient_checkpointing = True",
        "The authors' code turns gradient checkpointing on (slower, less memory); the paper does not say. Our "
        "trainer leaves it off; it changes memory and speed, not what is learned.", "unclear"),
    Inconsistency(
        "code_prompt", "Section 2.2 vs the authors' code (PROMPT_FORMAT_DICT)",
        "<<SYS>> system message",
        "The authors' code writes the Llama 2 chat prompt ([INST] with a <<SYS>> system message), as Fig. 2 "
        "shows, while the text of Section 2.2 speaks of the Alpaca format. Our paper profile uses the Llama 2 "
        "layout.", "contradiction"),
    Inconsistency(
        "test_size", "Table 1 vs Section 3.2", "about 6,000",
        "Table 1 gives a test split of 4,001 records; Section 3.2 describes the same test set as about 6,000 entries.",
        "contradiction"),
    Inconsistency(
        "gpu_model", "Section 3.1 (Hardware, Carbon Footprint) vs Appendix D", "A40",
        "Section 3.1 trains on one NVIDIA A100; Appendix D computes the same 50-minute, 0.53 kWh run on one A40.",
        "contradiction"),
    Inconsistency(
        "table7_malformed", "Table 7, Baseline (Prefix-tuning), ToxiGen knowledge retention", "79.10.34%",
        "The cell reads '79.10.34%', which is not a number; we store it as missing.",
        "typography", cells=("prefix/toxigen_knowledge_retention",)),
    Inconsistency(
        "table1_sums", "Table 1 (and Table 12)", "19,999",
        "The class counts of bias, toxicity, sentiment and the unsafe/benign annotation each sum to 19,999, "
        "harm sums to 19,998, and the train/dev/test split sums to 19,999, while the dataset has 20,000 records.",
        "arithmetic", cells=("bias", "toxicity", "sentiment", "harm", "annotation", "split")),
    Inconsistency(
        "table6_icat", "Table 6, rows Llama3.2 instruct 1B (P) and SR_LLM (IFT)", "ICAT does not follow",
        "For the two LLM rows the printed ICAT does not follow from the printed LMS and SS by "
        "ICAT = LMS * min(SS, 100 - SS) / 50 (every fine-tuned baseline row does). For SR_LLM on race, "
        "LMS 93.48 and SS 52.76 give 88.32, not 74.13; only Llama3.2 on race matches.",
        "arithmetic",
        cells=("llama32_1b_p/gender", "llama32_1b_p/profession", "llama32_1b_p/religion",
               "sr_llm_ift/gender", "sr_llm_ift/profession", "sr_llm_ift/race", "sr_llm_ift/religion")),
    Inconsistency(
        "table6_truncated_ss", "Table 6, GPT2 large FT, religion SS", '"75."',
        "The SS is printed as '75.' with its decimals missing; the printed ICAT (31.76, LMS 66.09) implies "
        "an SS of about 75.97. We store 75.0 and check ICAT against the range [75, 76).",
        "typography", cells=("gpt2_large_ft/religion",)),
    Inconsistency(
        "table6_ss_claims", "Section 4.3 prose vs Table 6", "lowest SS",
        "The text says SR_LLM has the lowest SS in race and religion and an SS close to 50 in gender and "
        "profession. In religion Flan-T5 medium has a lower SS (62.12 vs 62.23); in profession SR_LLM's SS "
        "(62.10) is the second highest of all models.",
        "contradiction", cells=("sr_llm_ift/religion", "sr_llm_ift/profession")),
    Inconsistency(
        "table4_lowest_claim", "Section 4.1 prose vs Table 4", "consistently lowest",
        "The text says SR_LLM is consistently lowest on every test set, but on ToxiGen with Perspective "
        "Falcon-7B (2-shot) scores 2.36 against SR_LLM's best 3.75, and on BOLD with Perspective the "
        "prompted Llama3.2 (6.50) beats every SR_LLM row (best 6.80). The bold marks follow the model "
        "family, not the column minimum.",
        "contradiction", cells=("toxigen/perspective", "bold/perspective")),
    Inconsistency(
        "table7_vs_table4", "Table 7 vs Table 4", "copied from Table 4",
        "Several Table 7 cells equal Table 4 cells of a different scorer or model: the original-text "
        "'OpenAI' score on our test set (57.82) is Table 4's Perspective value (Table 4's OpenAI value is "
        "68.18); the Llama3.2 2-shot values (13.05, 14.88) are Table 4's Llama2-chat Perspective values "
        "(Table 4 gives Llama3.2 2-shot OpenAI 5.50 and 7.30); the SR_LLM values (5.92, 5.10) are Table 4's "
        "SR_LLM Llama2 OpenAI values, although Section 4.1 says later experiments use SR_LLM on Llama3.2 "
        "(5.40, 4.60).",
        "contradiction",
        cells=("original/cmd_openai", "two_shot/cmd_openai", "two_shot/toxigen_openai",
               "sr_llm/cmd_openai", "sr_llm/toxigen_openai")),
    Inconsistency(
        "table7_trend", "Section 4.5 prose vs Table 7", "zero-shot retains more",
        "The text says knowledge retention rises from zero to 2 to 5 shots; on ToxiGen the zero-shot "
        "baseline (70.19) retains more than the 2-shot one (66.93), and its OpenAI score is N/A while its "
        "retention is reported.",
        "contradiction", cells=("zero_shot/toxigen_knowledge_retention", "two_shot/toxigen_knowledge_retention")),
    Inconsistency(
        "kappa_values", "Section 2.1, Table 10 and the paragraph below it (Appendix A)", "0.62 to 0.74",
        "Table 10 gives harm 0.68 and bias 0.62; the paragraph below it gives harm 0.72 and bias 0.78. "
        "Section 2.1 quotes a range of 0.62 to 0.74 for the risk categories, but Table 10 has toxicity at 0.75.",
        "contradiction", cells=("harm", "bias", "toxicity")),
    Inconsistency(
        "annotator_team", "Section 2.1 vs Appendix A", "four students",
        "Section 2.1 describes five experts each mentoring three students (20 people); Appendix A describes "
        "five experts each accompanied by four students, which would be 25, while both say 20 annotators.",
        "arithmetic"),
    Inconsistency(
        "human_eval_raters", "Section 4.6 vs Table 8 caption", "averaged from 3 annotators",
        "Section 4.6 has five evaluators rate 100 examples; the Table 8 caption says the scores are averaged "
        "from 3 annotators.",
        "contradiction"),
    Inconsistency(
        "human_eval_variants", "Section 4.6 and Table 8", "Safe_Dense-IT",
        "The variant Safe_Dense-IT is described both as prefix-tuning and as prompting the base model without "
        "fine-tuning 'using dense method'; the names Safe_PEFIT and Safe_PEFT are used for the same variants.",
        "unclear"),
    Inconsistency(
        "record_length", "Section 2.1 vs Table 11", "more than 100",
        "Section 2.1 says every record has more than 100 (up to 500) words; Table 11 reports word lengths from "
        "1 to 1,108 with a median of 44, over 16,614 records rather than 20,000.",
        "contradiction"),
    Inconsistency(
        "ttest_sample", "Section 4.4.1 and Fig. 3", "16,602",
        "The t-test uses 16,602 samples 'from our training set', which matches neither the training split "
        "(13,999), the dataset (20,000) nor Table 11 (16,614). The hypothesised neutral value is not given, "
        "and the figure's 'mean (20.19)' is drawn on a t-distribution, so the test cannot be re-run as stated.",
        "unclear"),
    Inconsistency(
        "clen_definition", "Section 3.4 vs Appendix E.1", "CLEN",
        "CLEN is defined as the entropy of sentence lengths, yet a higher CLEN is read as better alignment "
        "with a style trait such as kindness; the paper gives no formula, so our CLEN is our own reading.",
        "unclear"),
    Inconsistency(
        "prompt_format", "Section 2.2 (Instruction design) and Fig. 2", "Alpaca",
        "The text says the data follow the Alpaca instruction format, but the template shown uses Llama-2 "
        "chat markup (<<SYS>>, [INST]).",
        "contradiction"),
    Inconsistency(
        "example_labels", "Table 2 vs Appendix A, example 1001", "Toxicity - Yes",
        "The same example (1001, millennials) is labelled Toxicity No, Harm Low in Table 2 and Toxicity Yes, "
        "Harm Medium in Appendix A; 'Yes' is not one of the schema's toxicity values (No/Mild/High).",
        "contradiction"),
    Inconsistency(
        "job_reduction", "Section 5.3 and Table 9", "over 60%",
        "Going from 3.5 to 1.4 biased terms per posting is a reduction of exactly 60%, not 'over 60%'.",
        "arithmetic"),
    Inconsistency(
        "memory", "Section 3.1", "100GB",
        "Training is said to use about 100GB of memory on a single A100, whose largest version has 80GB; "
        "the figure presumably includes host memory, but the paper does not say.",
        "unclear"),
    Inconsistency(
        "bold_size", "Section 3.2", "four demographic groups",
        "BOLD is described as 7,200 samples in four demographic groups; the BOLD paper has five domains "
        "(profession, gender, race, religious and political ideology), so the subset used is not specified.",
        "unclear"),
    Inconsistency(
        "table13_count", "Appendix B, Table 13", "8,307",
        "Table 13's statistic is unnamed and its count (8,307) is exactly half of Table 11's 16,614; "
        "neither count equals the 20,000 records of Table 1.",
        "unclear"),
    Inconsistency(
        "llama_citations", "Sections 1, 2.2 and 3.3, references [21] and [26]", "Llama Guard",
        "The Llama-chat/instruct models are cited as [26], the original LLaMA paper, and 'Llama2/3' as [21], "
        "which is Llama Guard; neither is the paper describing the models used.",
        "citation"),
)


def inconsistency(key: str) -> Inconsistency:
    """The :class:`Inconsistency` recorded under ``key``; a KeyError names the known keys otherwise."""
    for item in INCONSISTENCIES:
        if item.key == key:
            return item
    raise KeyError(f"no inconsistency {key!r}; known: {[i.key for i in INCONSISTENCIES]}")
