"""Generate srllm/samples/annotations_example.csv: ILLUSTRATIVE labels, not real annotations.

Why this exists: the Fleiss' kappa demo (paper Appendix A, Table 10) needs a
per-annotator label table in the shape the real CMD annotation had, but the real
per-annotator labels are not public. This script simulates one: each item gets a
"true" label per category, and each of five annotators reports it with a fixed
probability (0.87-0.93; the two-label categories need the upper end to reach a
similar kappa), otherwise picks one of the other labels at random. That gives
agreement in the "substantial" band (0.61-0.80) without being perfect. Any kappa computed
from the output describes this simulation only, never the paper's annotators.

Run from the repository root:
    .venv/bin/python srllm/samples/_authoring/make_annotations_example.py
"""
from __future__ import annotations

import csv
import random
from pathlib import Path

SEED = 2024
N_ITEMS = 60
ANNOTATORS = ("a1", "a2", "a3", "a4", "a5")

# category -> (labels, prior weights for the true label, probability an annotator agrees)
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[float, ...], float]] = {
    "bias": (("Yes", "No"), (0.7, 0.3), 0.93),
    "toxicity": (("No", "Mild", "High"), (0.35, 0.4, 0.25), 0.88),
    "sentiment": (("Positive", "Neutral", "Negative"), (0.15, 0.3, 0.55), 0.88),
    "harm": (("Low", "Medium", "High"), (0.35, 0.4, 0.25), 0.87),
    "safe_ok": (("Yes", "No"), (0.75, 0.25), 0.92),
}

OUT = Path(__file__).resolve().parent.parent / "annotations_example.csv"


def simulate(seed: int = SEED, n_items: int = N_ITEMS) -> list[dict[str, str]]:
    """Return one row per (item, annotator) with a label for every category."""
    # One random stream per category (str seeds are hashed deterministically by
    # random.seed), so changing one category's settings leaves the others unchanged.
    labels_by_cat: dict[str, list[list[str]]] = {}
    for cat, (labels, weights, p_agree) in CATEGORIES.items():
        rng = random.Random(f"{seed}:{cat}")
        per_item = []
        for _ in range(n_items):
            truth = rng.choices(labels, weights)[0]
            per_item.append([
                truth if rng.random() < p_agree else rng.choice([lab for lab in labels if lab != truth])
                for _ in ANNOTATORS
            ])
        labels_by_cat[cat] = per_item
    rows: list[dict[str, str]] = []
    for i in range(n_items):
        for a, ann in enumerate(ANNOTATORS):
            row = {"item_id": f"item-{i + 1:03d}", "annotator": ann}
            row.update({cat: labels_by_cat[cat][i][a] for cat in CATEGORIES})
            rows.append(row)
    return rows


def main() -> None:
    """Simulate the annotations and write them to ``annotations_example.csv``."""
    rows = simulate()
    with OUT.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["item_id", "annotator", *CATEGORIES])
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
