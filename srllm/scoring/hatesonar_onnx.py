"""HateSonar's ONNX model (Davidson et al. 2017 classes) with a locale fix.

HateSonar ships a scikit-learn pipeline converted to ONNX whose first step, a
``StringNormalizer`` (lower-casing), carries no ``locale`` attribute, so
onnxruntime builds the C++ locale ``en_US.UTF-8``. Machines without that locale
(many containers have only ``C.UTF-8``) fail to create the session.

Fix chosen: load the graph, and only if the shipped model fails, set the
node's ``locale`` attribute to ``C.UTF-8`` (then ``C``) in memory. We prefer
this to building ``en_US.UTF-8`` with ``localedef`` because that needs glibc's
locale sources and a ``LOCPATH`` set before onnxruntime starts, neither of which
a user can count on. Lower-casing ASCII is identical under both locales; the
locale used is reported in the scorer's metadata.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

from srllm.scoring.base import ScorerUnavailableError

CLASSES = ("hate_speech", "offensive_language", "neither")


@functools.lru_cache(maxsize=1)
def load_session() -> tuple[Any, str]:
    """``(onnxruntime session, locale used)``, built once per process."""
    import onnx
    import onnxruntime as ort
    from onnx import helper

    try:
        from hatesonar.api import DEFAULT_MODEL_FILE
    except ImportError:
        raise ScorerUnavailableError("the 'hatesonar' package is not installed") from None
    opts = ort.SessionOptions()
    # The first attempt fails on machines without en_US.UTF-8; onnxruntime would log that
    # failure as an error through its process-wide logger, so quieten it for the attempt.
    ort.set_default_logger_severity(4)
    try:
        return ort.InferenceSession(str(DEFAULT_MODEL_FILE), opts, providers=["CPUExecutionProvider"]), "en_US.UTF-8"
    except Exception as first:  # onnxruntime raises its own Fail type
        if "locale" not in str(first).lower():
            raise
    finally:
        ort.set_default_logger_severity(2)  # onnxruntime's default (warnings)
    for loc in ("C.UTF-8", "C"):
        graph = onnx.load(str(DEFAULT_MODEL_FILE))
        for node in graph.graph.node:
            if node.op_type == "StringNormalizer":
                kept = [a for a in node.attribute if a.name != "locale"]
                del node.attribute[:]
                node.attribute.extend(kept + [helper.make_attribute("locale", loc)])
        try:
            return ort.InferenceSession(graph.SerializeToString(), opts, providers=["CPUExecutionProvider"]), loc
        except Exception:
            continue
    raise ScorerUnavailableError("hatesonar's ONNX model cannot start: no usable UTF-8 locale on this machine")


def class_probs(texts: Sequence[str]) -> list[dict[str, float]]:
    """Probabilities of hate_speech / offensive_language / neither for each text."""
    import numpy as np

    sess, _ = load_session()
    _, probs = sess.run(None, {"text": np.array(list(texts), dtype=object)})
    return [{CLASSES[k]: float(row[k]) for k in range(3)} for row in probs]
