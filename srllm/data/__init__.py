"""The Content Moderation Dataset (CMD) and the project's other data: schema, loaders,
bundled samples and splits (paper Section 2.1, Appendix B).

Typical use::

    from srllm.data import load_sample, load_file, split_records
    records = load_sample("cmd")
    items, report = load_file("my.csv", mapping={"sentence": "text"})
    print(report.summary())
    splits = split_records(records, seed=42)

What a profile reads (bundled sample, Hub dataset or local copy) goes through one resolver::

    from srllm.data import load_dataset_for, profile_splits
    loaded = load_dataset_for(get_profile("paper"), "cmd")   # records, report, splits, info
    parts = profile_splits(get_profile("cpu"))               # train/dev/test under the row limits
"""

from srllm.data.annotations import ANNOTATION_FIELDS, load_annotations
from srllm.data.loaders import (
    AUTHORS_LABEL_TO_BIAS, CMD_COLUMN_ALIASES, FORMATS, detect_format, load_file, load_records, records_from_rows,
    trainable, validate_file,
)
from srllm.data.report import REASONS, Exclusion, LoadReport
from srllm.data.samples import SAMPLES, list_samples, load_sample, sample_path, samples_dir
from srllm.data.schema import (
    JOB_CATEGORIES, JOB_LEVELS, LABEL_ALIASES, LABEL_FIELDS, LABELS, RECORD_FIELDS, STYLES, TARGET_CATEGORIES,
    TOXIGEN_GROUPS, FieldError, JobPair, JobPosting, Record, ToxigenRecord, make_record, normalise_label,
    parse_biased_words, record_id,
)
from srllm.data.sources import DataSourceError, LoadedData, load_dataset_for, profile_splits
from srllm.data.splits import (
    PAPER_SPLIT, PAPER_SPLIT_COUNTS, SPLITS, limit, split_for_profile, split_records, split_sizes,
)

__all__ = [
    "ANNOTATION_FIELDS", "AUTHORS_LABEL_TO_BIAS", "DataSourceError", "LoadedData", "load_dataset_for",
    "profile_splits", "CMD_COLUMN_ALIASES", "FORMATS", "JOB_CATEGORIES", "JOB_LEVELS",
    "LABEL_ALIASES", "LABEL_FIELDS", "LABELS", "PAPER_SPLIT", "PAPER_SPLIT_COUNTS", "REASONS", "RECORD_FIELDS",
    "SAMPLES", "SPLITS", "STYLES", "TARGET_CATEGORIES", "TOXIGEN_GROUPS", "Exclusion", "FieldError", "JobPair",
    "JobPosting", "LoadReport", "Record", "ToxigenRecord", "detect_format", "limit", "list_samples",
    "load_annotations", "load_file", "load_records", "load_sample", "make_record", "normalise_label",
    "parse_biased_words", "record_id", "records_from_rows", "sample_path", "samples_dir", "split_records",
    "split_for_profile", "split_sizes", "trainable", "validate_file",
]
