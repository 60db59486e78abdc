"""Bias classifier for the offline proxy: logistic regression on MiniLM embeddings.

Trained on the CMD train split's ``bias`` labels (Yes/No; see
:func:`train_bias_classifier_from_sample` for the safe variations added as
No), it is the only part of the offline proxy that can notice a stereotype
stated politely, without profanity or slurs. Its held-out accuracy (with the majority-class baseline
next to it, so the number can be judged) travels in the scorer's metadata.

The trained model is cached with joblib under
``cache_dir()/scores/bias-classifier/<hash>.joblib``, the hash covering the
training and held-out data, the seed, the embedding model and scikit-learn's
version.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

from srllm.cache import cache_dir, stable_hash
from srllm.errors import SrllmError
from srllm.scorers.base import ScorerError, ScorerUnavailableError
from srllm.scorers.embed import EMBEDDER_NAME, embed, embedder_fingerprint

_YES = {"yes", "y", "true", "1", "biased"}
_NO = {"no", "n", "false", "0", "unbiased", "not biased"}


def normalise_labels(labels: Sequence[Any], what: str = "labels") -> list[int]:
    """Map Yes/No (also True/False, 1/0) to 1/0; raise naming the first bad position."""
    out = []
    for i, lab in enumerate(labels):
        key = str(lab).strip().lower() if lab is not None else ""
        if key in _YES:
            out.append(1)
        elif key in _NO:
            out.append(0)
        else:
            raise ScorerError(f"{what}[{i}] = {lab!r} is not a bias label (expected Yes or No)")
    return out


@dataclass(frozen=True)
class BiasClassifier:
    """A fitted classifier plus what a report needs to judge it."""

    model: Any = field(repr=False)
    data_hash: str
    n_train: int
    heldout: dict[str, dict[str, float]]  # split -> {"n", "accuracy", "majority_baseline"}
    embedder: str = EMBEDDER_NAME
    C: float = 1.0

    def predict_proba(self, texts: Sequence[str]) -> Any:
        """Probability of bias = Yes for each text (numpy array)."""
        if not len(texts):
            import numpy as np

            return np.zeros(0)
        return self.model.predict_proba(embed(texts))[:, 1]

    def summary(self) -> dict[str, Any]:
        return {"status": "trained", "data_hash": self.data_hash, "n_train": self.n_train,
                "heldout": self.heldout, "embedder": self.embedder, "C": self.C,
                "model": "LogisticRegression(class_weight='balanced') on MiniLM embeddings"}


def _fit(X: Any, y: list[int], seed: int) -> tuple[Any, float]:
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

    minority = min(Counter(y).values())
    if minority >= 3:  # choose the regularisation by stratified CV (log loss) on the training split only
        import numpy as np

        cv = LogisticRegressionCV(Cs=[0.1, 0.3, 1.0, 3.0, 10.0, 30.0], cv=min(5, minority),
                                  scoring="neg_log_loss", class_weight="balanced", max_iter=5000,
                                  random_state=seed, use_legacy_attributes=False, l1_ratios=(0.0,))
        cv.fit(X, y)
        C = float(np.ravel(cv.C_)[0])
    else:
        C = 1.0
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=5000, random_state=seed).fit(X, y)
    return model, C


def train_bias_classifier(train_texts: Sequence[str], train_labels: Sequence[Any], *,
                          heldout: dict[str, tuple[Sequence[str], Sequence[Any]]] | None = None,
                          seed: int = 42, use_cache: bool = True) -> BiasClassifier:
    """Fit the bias classifier on plain lists and measure it on each held-out split.

    ``heldout`` maps a split name (``"dev"``, ``"test"``) to ``(texts, labels)``.
    Labels are Yes/No (or 1/0). Both classes must occur in the training data.
    """
    import joblib
    import sklearn

    train_texts = list(train_texts)
    y = normalise_labels(train_labels, "train_labels")
    if len(train_texts) != len(y):
        raise ScorerError(f"train_texts has {len(train_texts)} items but train_labels has {len(y)}")
    if len(set(y)) < 2:
        raise ScorerError("the bias classifier needs both Yes and No examples in the training data")
    held = {}
    for split, (texts, labels) in (heldout or {}).items():
        ys = normalise_labels(labels, f"{split} labels")
        if len(ys) != len(texts):
            raise ScorerError(f"{split}: {len(texts)} texts but {len(ys)} labels")
        held[split] = (list(texts), ys)
    key = stable_hash(train_texts, y, {k: v for k, v in sorted(held.items())}, seed,
                      embedder_fingerprint(), sklearn.__version__)
    path = cache_dir() / "scores" / "bias-classifier" / f"{key}.joblib"
    if use_cache and path.exists():
        try:
            return joblib.load(path)
        except Exception:  # an unreadable cache file is rebuilt, not trusted
            path.unlink(missing_ok=True)
    model, C = _fit(embed(train_texts), y, seed)
    report = {}
    for split, (texts, ys) in held.items():
        if not texts:
            continue
        pred = model.predict(embed(texts))
        majority = max(Counter(y).items(), key=lambda kv: kv[1])[0]  # majority class of *training* labels
        report[split] = {"n": len(ys), "accuracy": float(sum(int(p == t) for p, t in zip(pred, ys)) / len(ys)),
                         "majority_baseline": float(sum(int(t == majority) for t in ys) / len(ys))}
    clf = BiasClassifier(model=model, data_hash=key, n_train=len(y), heldout=report, C=C)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        joblib.dump(clf, tmp)
        tmp.replace(path)
    return clf


def train_bias_classifier_from_sample(seed: int = 42, use_cache: bool = True,
                                      include_safe_variations: bool = True) -> BiasClassifier:
    """Train on the bundled CMD sample's train split; report accuracy on its dev and test splits.

    Departure (on by default, ``include_safe_variations``): the train split's
    ``safe_variation`` texts join the training data as Bias = No. They are the
    dataset's annotated benign rewrites, and the scorer's job is to tell an
    original from its rewrite; trained on the originals alone, the classifier
    learns topic as much as bias and flags many benign rewrites of biased texts
    (on the bundled sample, seed 42: 21% of test-split safe variations flagged
    without them, 8% with them, while accuracy on the originals also rose).
    Held-out accuracy is always measured on the dev and test *originals*
    against their Bias labels; ``test_safe_variations`` adds the share of the
    test split's rewrites judged unbiased.
    """
    try:
        from srllm.data import load_sample, split_records
    except ImportError:
        raise ScorerUnavailableError("srllm.data (load_sample, split_records) is not available yet") from None
    try:
        from srllm.data.samples import sample_path

        sample_path("cmd")
    except (ImportError, SrllmError) as exc:  # missing file; an invalid one still raises below
        raise ScorerUnavailableError(str(exc)) from None
    records = load_sample("cmd")
    splits = split_records(records, seed=seed)

    def pick(name: str) -> tuple[list[str], list[str]]:
        rows = [r for r in splits[name] if getattr(r, "bias", None) is not None]
        return [r.text for r in rows], [r.bias for r in rows]

    def rewrites(name: str) -> list[str]:
        return [r.safe_variation for r in splits[name] if (getattr(r, "safe_variation", None) or "").strip()]

    tr_texts, tr_labels = pick("train")
    held: dict[str, tuple[Sequence[str], Sequence[Any]]] = {"dev": pick("dev"), "test": pick("test")}
    if include_safe_variations:
        extra = rewrites("train")
        tr_texts, tr_labels = tr_texts + extra, tr_labels + ["No"] * len(extra)
        test_rw = rewrites("test")
        held["test_safe_variations"] = (test_rw, ["No"] * len(test_rw))
    return train_bias_classifier(tr_texts, tr_labels, heldout=held, seed=seed, use_cache=use_cache)
