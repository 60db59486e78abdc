"""Which MiniLM layer the offline proxy's bias classifier reads, chosen on the dev split.

Run: ``.venv/bin/python benchmarks/judge_layers.py [--out benchmarks/sweeps/judge_layers.json]``

For each layer of all-MiniLM-L6-v2 (1-6; 6 is the final sentence embedding the classifier used
before), the bias classifier is trained exactly as the proxy trains it (the CMD sample's labelled
train texts and the contrast pairs, logistic regression with ``C`` chosen by cross-validation on
the training data) on that layer's mean-pooled states, and measured on:

* ``dev_accuracy``: the CMD dev split's originals against their Bias labels;
* ``pair_cv_accuracy``: five folds over the contrast pairs (rows by position mod 5): trained on the
  CMD texts and four fifths of the pairs, each classifier judges the held-out fifth's stereotype,
  hedged stereotype and fair sentence; also per kind;
* after the choice, for the record only: ``test_accuracy`` (the CMD test originals),
  ``test_rewrites_passed`` (the test split's people-written safe variations not flagged) and
  ``neutral_probe_flagged`` (of the bundled neutral group statements).

**Choice rule** (fixed before this script was written; the exploration that led to it had printed
test numbers too, which the rule does not read): the highest dev accuracy; exact ties go to
the higher pair cross-validation accuracy. The test split and the neutral probe are not used to
choose. :data:`srllm.scoring.bias.FEATURE_LAYER` holds the choice and a test checks it against the
committed record.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYERS = (1, 2, 3, 4, 5, 6)


def measure(layer: int, data: dict, seed: int = 42) -> dict:
    import numpy as np

    from srllm.scoring.bias import PAIR_KINDS, _fit, features, normalise_labels, pair_cross_validation

    feats = {}

    def X(texts):
        missing = [t for t in dict.fromkeys(texts) if t not in feats]
        if missing:
            feats.update(zip(missing, features(missing, layer)))
        return np.array([feats[t] for t in texts])

    def acc(model, texts, labels):
        return float(np.mean(model.predict(X(texts)) == np.array(normalise_labels(labels))))

    pairs, n = data["pairs"], len(data["pairs"])
    cmd_x, cmd_y = data["train"]
    model, C = _fit(X(cmd_x + data["pair_texts"]), normalise_labels(cmd_y + data["pair_labels"]), seed)
    verdicts = pair_cross_validation(X(cmd_x), normalise_labels(cmd_y),
                                     {kind: X([p[kind] for p in pairs]) for kind in PAIR_KINDS}, seed=seed)
    right = {kind: int(np.sum(v == (0 if kind == "fair" else 1))) for kind, v in verdicts.items()}
    rewrites = data["test_rewrites"]
    return {"layer": layer, "C": C,
            "dev_accuracy": round(acc(model, *data["dev"]), 4), "dev_n": len(data["dev"][0]),
            "pair_cv_accuracy": round(sum(right.values()) / (3 * n), 4),
            "pair_cv_by_kind": {k: round(v / n, 4) for k, v in right.items()},
            "test_accuracy": round(acc(model, *data["test"]), 4), "test_n": len(data["test"][0]),
            "test_rewrites_passed": round(float(np.mean(model.predict(X(rewrites)) == 0)), 4),
            "test_rewrites_n": len(rewrites),
            "neutral_probe_flagged": int(np.sum(model.predict(X(data["neutral"])))),
            "neutral_probe_n": len(data["neutral"])}


def choose(rows: list[dict]) -> int:
    """The choice rule: highest dev accuracy, exact ties to the higher pair cross-validation accuracy."""
    return max(rows, key=lambda r: (r["dev_accuracy"], r["pair_cv_accuracy"]))["layer"]


def load_data(seed: int = 42) -> dict:
    import json as _json

    from srllm.data.readers import read_texts
    from srllm.data.samples import samples_dir
    from srllm.scoring.bias import (CONTRAST_PAIRS_FILE, NEUTRAL_PROBE_FILE, _labelled, _rewrites, _sample_splits,
                                    contrast_pairs)

    splits = _sample_splits(seed)
    pair_texts, pair_labels = contrast_pairs()
    path = samples_dir() / CONTRAST_PAIRS_FILE
    return {"train": _labelled(splits["train"]), "dev": _labelled(splits["dev"]), "test": _labelled(splits["test"]),
            "test_rewrites": _rewrites(splits["test"]),
            "pairs": [_json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()],
            "pair_texts": pair_texts, "pair_labels": pair_labels,
            "neutral": read_texts(samples_dir() / NEUTRAL_PROBE_FILE)[1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "sweeps" / "judge_layers.json"))
    args = ap.parse_args()
    from srllm.scoring.bias import FEATURE_LAYER

    data = load_data()
    rows = []
    for layer in LAYERS:
        t0 = time.perf_counter()
        rows.append(measure(layer, data))
        r = rows[-1]
        print(f"layer {layer}: dev {r['dev_accuracy']:.3f}  pair CV {r['pair_cv_accuracy']:.3f}  | test {r['test_accuracy']:.3f}"
              f"  test rewrites passed {r['test_rewrites_passed']:.3f}  neutral flagged {r['neutral_probe_flagged']}/"
              f"{r['neutral_probe_n']}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    chosen = choose(rows)
    record = {"benchmark": "judge_layers", "finished_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
              "machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
              "choice_rule": "highest CMD dev accuracy; exact ties to the higher contrast-pair cross-validation "
                             "accuracy; test split and neutral probe reported, never used to choose",
              "rows": rows, "chosen_layer": chosen, "package_layer": FEATURE_LAYER}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"chosen layer {chosen} (srllm.scoring.bias.FEATURE_LAYER = {FEATURE_LAYER}); wrote {args.out}")


if __name__ == "__main__":
    main()
