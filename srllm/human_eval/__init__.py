"""Human evaluation of the SR_LLM variants (Section 4.6, Table 8, Fig. 5).

The paper has evaluators rate, blind, 100 rewrites by each of four variants
(1-epoch PEFT, 5-epoch PEFT, dense fine-tuning, prefix-tuning) for *safety*
and *language understanding* on a 1-5 scale, reports one example's scores in
Table 8 and the 100-sample averages as percentages in Fig. 5. This module
does the two mechanical halves of that study; the rating itself is done by
people:

1. :func:`make_rating_sheet` writes a **blinded** sheet: per item, the original
   text and each variant's rewrite under a letter code whose order is shuffled
   per item, with empty ``safety`` / ``language`` columns; the code -> variant
   key goes to a separate file that raters do not see.
2. :func:`load_ratings` reads filled sheets (one per rater, or one with a
   ``rater`` column), validates every cell, un-blinds them with the key, and
   :func:`summarise`, :func:`agreement` and :func:`compare_with_paper` turn them
   into mean scores per variant (also as percentages, as in Fig. 5), Fleiss'
   kappa per criterion and a table beside the paper's Table 8.

:func:`train_variants` and :func:`variant_rewrites` produce the rewrites to be
rated through the project's cached training and generation stages.

Departures and readings, stated here so the notebook can repeat them:

* Fig. 5 prints percentages without a formula; we use mean score / 5 x 100
  (5/5 is 100 %).
* Table 8's scores belong to the one example shown (averaged over three
  annotators, while the text speaks of five), not to the 100-sample means; the
  comparison table says so in its note. Fig. 5's values are not stated.
* Fleiss' kappa treats the five scores as unordered categories (as statsmodels'
  implementation does); the subject of a rating is one (item, variant) pair.
* The paper's "Safe_Dense-IT or prefix-tuning" variant is realised as
  prefix-tuning (``Safe_Prefix``, see :data:`srllm.training.VARIANTS`).

The bundled ``srllm/samples/human_eval_example.csv`` is a simulated,
ILLUSTRATIVE sheet (see its README); :func:`is_illustrative` recognises it so
that every output built from it can say so.

The package, one module per step of the study:

* :mod:`srllm.human_eval.common` - criteria, scale, sheet columns, variants, the rating guide;
* :mod:`srllm.human_eval.items` - which items are rated, training the variants and their rewrites;
* :mod:`srllm.human_eval.sheets` - the blinded sheet and its key, reading filled sheets;
* :mod:`srllm.human_eval.results` - scores, percentages, Fleiss' kappa, Table 8 and Fig. 5.

Every public name is importable from ``srllm.human_eval`` itself
(``from srllm import human_eval as he``).
"""

from srllm.human_eval.common import (
    CRITERIA, CRITERION_LABELS, SCALE, SHEET_COLUMNS, KEY_COLUMNS, RATING_COLUMNS, VARIANT_ORDER, PAPER_KEYS,
    EXAMPLE_SHEET, ILLUSTRATIVE_BANNER, DEFAULT_N_ITEMS, RATER_GUIDE,
)
from srllm.human_eval.items import (
    is_unsafe, select_items, default_n_items, train_variants, variant_rewrites,
)
from srllm.human_eval.sheets import (
    SheetFiles, blind, make_rating_sheet, example_sheet_path, is_illustrative, load_ratings,
)
from srllm.human_eval.results import (
    to_percent, summarise, Agreement, agreement, agreement_table, paper_values, compare_with_paper, plot_fig5,
    HumanEvalResult, evaluate_sheets,
)

__all__ = [
    'CRITERIA', 'CRITERION_LABELS', 'SCALE', 'SHEET_COLUMNS', 'KEY_COLUMNS', 'RATING_COLUMNS', 'VARIANT_ORDER',
    'PAPER_KEYS', 'EXAMPLE_SHEET', 'ILLUSTRATIVE_BANNER', 'DEFAULT_N_ITEMS', 'RATER_GUIDE', 'is_unsafe',
    'select_items', 'default_n_items', 'train_variants', 'variant_rewrites', 'SheetFiles',
    'blind', 'make_rating_sheet', 'example_sheet_path', 'is_illustrative', 'load_ratings', 'to_percent',
    'summarise', 'Agreement', 'agreement', 'agreement_table', 'paper_values', 'compare_with_paper', 'plot_fig5',
    'HumanEvalResult', 'evaluate_sheets',
]
