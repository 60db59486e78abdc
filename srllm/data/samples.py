"""The datasets bundled with the package (``srllm/samples/``), written for this project.

None is copied from another dataset: the CMD, ToxiGen-style and job-posting
samples are our own texts in the published schemas, so the whole pipeline runs
offline. The CMD sample's records after ``cmd-0536`` are short (one-sentence) biased
statements with their rewrites, added so that the cpu profile's small model sees enough of
the kind of text it is most often asked to rewrite; none of them is within MiniLM cosine 0.6
of a sentence in the unseen stereotypes, the neutral probe or the contrast pairs below, so that
no check or judge is trained on, or measured with, what SR_LLM learns to write. ``unseen_stereotypes.jsonl`` holds short stereotypes with a person's rewrite
of each, kept apart from every split. ``judge_contrast_pairs.jsonl`` holds 260 triples (a stereotype,
a hedged form of it, a fair statement about the same group and topic) that only the offline proxy's
bias classifier learns from (:mod:`srllm.scoring.bias`). ``annotations_example.csv`` is illustrative
per-annotator data for the Fleiss' kappa demo, not the paper's annotations.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from srllm.data.annotations import load_annotations
from srllm.data.loaders import load_file
from srllm.errors import SrllmError

#: Rows written to train SR_LLM (the CMD sample's short statements), the judge's contrast pairs and the
#: check sets (unseen stereotypes, neutral probe) were kept only below this MiniLM cosine to each other
#: (srllm.metrics.similarity.nearest_similarity; tests/test_scorers.py holds the samples to it).
KEEP_APART_COSINE = 0.6

SAMPLES: dict[str, tuple[str, str]] = {
    # name: (file, loader format)
    "cmd": ("cmd_sample.jsonl", "cmd"),
    "toxigen": ("toxigen_sample.jsonl", "toxigen"),
    "job_pairs": ("job_pairs.jsonl", "jobs"),
    "job_postings": ("job_postings.jsonl", "jobs"),
    "annotations": ("annotations_example.csv", "annotations"),
    # 20 short stereotypes, each with a rewrite a person wrote, in the CMD schema; never in any
    # split: the training page's check of SR_LLM on sentences unlike its training data.
    "unseen": ("unseen_stereotypes.jsonl", "cmd"),
}


def samples_dir() -> Path:
    """The folder of the bundled sample datasets inside the installed package."""
    return Path(str(resources.files("srllm") / "samples"))


def sample_path(name: str) -> Path:
    """Path of a bundled sample; a clear error when the name is unknown or the file missing."""
    if name not in SAMPLES:
        raise SrllmError(f"unknown sample {name!r}; choose one of {', '.join(SAMPLES)}")
    path = samples_dir() / SAMPLES[name][0]
    if not path.exists():
        raise SrllmError(f"bundled sample {name!r} is missing: {path} (reinstall the package)")
    return path


def load_sample(name: str = "cmd", with_report: bool = False) -> Any:
    """Validated items of a bundled sample (and the :class:`LoadReport` when ``with_report``).

    ``cmd`` -> list of :class:`Record`; ``toxigen`` -> :class:`ToxigenRecord`;
    ``job_pairs`` -> :class:`JobPair`; ``job_postings`` -> :class:`JobPosting`;
    ``annotations`` -> a pandas DataFrame.
    """

    path = sample_path(name)
    fmt = SAMPLES[name][1]
    items, report = load_annotations(path) if fmt == "annotations" else load_file(path, format=fmt)
    return (items, report) if with_report else items


def list_samples() -> list[dict[str, Any]]:
    """Name, file, format, rows kept and size on disk of each bundled sample (missing ones flagged)."""
    out = []
    for name, (fname, fmt) in SAMPLES.items():
        path = samples_dir() / fname
        row: dict[str, Any] = {"name": name, "file": fname, "format": fmt}
        if not path.exists():
            row.update(rows=None, bytes=None, status="missing")
        else:
            try:
                _, report = load_sample(name, with_report=True)
                row.update(rows=report.kept, bytes=path.stat().st_size,
                           status="ok" if not report.excluded else f"{report.excluded} rows excluded")
            except SrllmError as exc:
                row.update(rows=None, bytes=path.stat().st_size, status=f"invalid: {exc}")
        out.append(row)
    return out
