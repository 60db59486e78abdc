"""Views of validated records for the Hugging Face stack: a ``datasets.Dataset``
and tokenized training examples with the prompt masked out of the loss.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from srllm.data.schema import Record
from srllm.errors import SrllmError
from srllm.quiet import is_quiet


def _cmd_features() -> Any:
    from datasets import Features, Sequence as HFSequence, Value

    feats = {name: Value("string") for name in Record.__dataclass_fields__}
    feats["biased_words"] = HFSequence(Value("string"))
    return Features(feats)


def to_hf_dataset(records: Sequence[Any]) -> Any:
    """A ``datasets.Dataset`` with one row per record (``biased_words`` a list of strings).

    CMD records get an explicit schema so that all-missing label columns keep
    their string type; other record types are inferred from their fields.
    """
    from datasets import Dataset

    rows = [r.to_dict() for r in records]
    if records and all(isinstance(r, Record) for r in records):
        return Dataset.from_list(rows, features=_cmd_features())
    if not records:
        return Dataset.from_list([], features=_cmd_features())
    return Dataset.from_list(rows)


def tokenize_records(records: Sequence[Record], tokenizer: Any, fmt: str, max_length: int, *,
                     shots: Sequence[Any] = (), progress: bool | None = None) -> tuple[list[dict[str, Any]], int]:
    """Training examples (prompt -> safe variation) and how many were cut at ``max_length``.

    Uses :func:`srllm.prompts.format_prompt` and :func:`srllm.prompts.tokenize_example`,
    so labels are -100 on the prompt and the loss covers the response only. Every
    record must have a safe variation: filter with :func:`srllm.data.trainable`.
    """
    from tqdm.auto import tqdm

    from srllm.prompts import format_prompt, tokenize_example

    missing = [r.id for r in records if not r.safe_variation]
    if missing:
        raise SrllmError(f"{len(missing)} record(s) have no safe_variation to train on (first: {missing[0]!r}); "
                         f"filter them with srllm.data.trainable(records)")
    examples = []
    n_truncated = 0
    show = len(records) > 200 if progress is None else progress
    for r in tqdm(records, desc="tokenizing", disable=not show or is_quiet()):
        ex = tokenize_example(format_prompt(r.text, fmt, tokenizer, shots=shots), r.safe_variation, tokenizer,
                              max_length)
        n_truncated += bool(ex["truncated"])
        examples.append(ex)
    if n_truncated:
        logging.getLogger(__name__).warning("%d of %d training examples were cut at max_length=%d tokens",
                                            n_truncated, len(examples), max_length)
    return examples, n_truncated
