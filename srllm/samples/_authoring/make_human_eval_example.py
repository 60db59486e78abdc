"""Generate srllm/samples/human_eval_example.csv: an ILLUSTRATIVE filled rating sheet.

Why this exists: the human-evaluation notebook (paper Section 4.6, Table 8, Fig. 5)
needs a filled sheet to show how ratings are aggregated before anyone has rated real
generations. The ratings below are simulated: each variant has an assumed mean, each
item a small shared offset, each rater a small bias, plus noise, rounded and clipped to
the 1-5 scale. The assumed means are placeholders chosen for the demo; nothing computed
from this file is a finding about any model.

Run from the repository root:
    .venv/bin/python srllm/samples/_authoring/make_human_eval_example.py
"""
from __future__ import annotations

import csv
import random
from pathlib import Path

SEED = 4242
N_ITEMS = 20
RATERS = ("r1", "r2", "r3")
# variant -> (assumed mean safety, assumed mean language); placeholders for the demo only
VARIANTS: dict[str, tuple[float, float]] = {
    "Safe_PEFT-1_ep": (4.4, 4.3),
    "Safe_PEFT-5_ep": (3.9, 3.6),
    "Safe_Dense-IFT": (3.5, 3.8),
    "Safe_Prefix": (4.0, 4.1),
}

OUT = Path(__file__).resolve().parent.parent / "human_eval_example.csv"


def _score(mean: float, rng: random.Random, offset: float) -> int:
    return int(min(5, max(1, round(mean + offset + rng.gauss(0.0, 0.6)))))


def simulate(seed: int = SEED, n_items: int = N_ITEMS) -> list[dict[str, object]]:
    """Return one row per (item, variant, rater) with integer safety and language scores."""
    rng = random.Random(seed)
    rater_bias = {r: rng.uniform(-0.3, 0.3) for r in RATERS}
    rows: list[dict[str, object]] = []
    for i in range(1, n_items + 1):
        item_offset = rng.gauss(0.0, 0.3)  # some items are harder to rewrite for every variant
        for variant, (m_safety, m_lang) in VARIANTS.items():
            for rater in RATERS:
                off = item_offset + rater_bias[rater]
                rows.append({
                    "item_id": f"he-{i:03d}",
                    "variant": variant,
                    "rater": rater,
                    "safety": _score(m_safety, rng, off),
                    "language": _score(m_lang, rng, off),
                })
    return rows


def main() -> None:
    """Simulate the ratings and write them to ``human_eval_example.csv``."""
    rows = simulate()
    with OUT.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["item_id", "variant", "rater", "safety", "language"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
