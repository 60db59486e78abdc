"""The workshop's exercises: their inputs, a way to run a participant's prompt, and the checks.

The workshop notebook (``notebooks/11_workshop.ipynb``, described in
``book/workshop.md``) asks participants to edit one cell per exercise and then
runs a *check* that scores their answer. The checks live here, not in the
notebook, so that they are tested and so that the notebook only orchestrates.

Every check takes plain data (the participant's instruction and the rewrites it
produced, their rewritten job ad, the rows they flagged ...) and returns a small
frozen dataclass with ``passed``, the numbers behind the verdict and a friendly
``message``; ``str(result)`` is what the check cell prints. The numbers come
from the project's own measures, the same ones the results chapters use:

* safety: the ``offline-proxy`` scorer of :mod:`srllm.scoring` (a proxy for the
  paper's Perspective / OpenAI moderation scores, Section 3.4);
* content kept: MiniLM cosine similarity, :mod:`srllm.metrics.similarity`
  (Section 5.3), and the offline knowledge retention of
  :mod:`srllm.metrics.retention` (Section 3.4);
* gender-coded words: :mod:`srllm.metrics.gender_coded` (Gaucher et al.'s
  lists, Section 5.3);
* ICAT: :func:`srllm.paper.icat` and :func:`srllm.paper.icat_failures` (Table 6).

Six texts, not the paper's thousands: the verdicts are teaching aids, and the
messages say so where a difference is within what one text can change.

The exercises, one module each in the order the notebook runs them:

* :mod:`srllm.workshop.common` - the six texts, running a prompt, scoring rewrites;
* :mod:`srllm.workshop.exercise1_instruction` - write an instruction;
* :mod:`srllm.workshop.exercise2_shots` - choose few-shot demonstrations;
* :mod:`srllm.workshop.exercise3_adapter` - train a small LoRA adapter;
* :mod:`srllm.workshop.exercise4_job_ad` - rewrite a job ad (word lists in :mod:`srllm.metrics.job_ad`);
* :mod:`srllm.workshop.exercise5_icat` - audit Table 6's ICAT values.

Every public name is importable from ``srllm.workshop`` itself, as the notebook does
(``from srllm import workshop as ws``).
"""

from srllm.metrics.job_ad import (
    AGE_CODED, EXCLUSIONARY, GENDERED_PRONOUNS, JobAdReport, job_ad_report,
)
from srllm.workshop.common import (
    WORKSHOP_SEED, N_TEXTS, MIN_SIMILARITY, reference_instruction, workshop_texts,
    RewriteRun, rewrite_texts, RewriteScores, score_rewrites,
)
from srllm.workshop.exercise1_instruction import (
    InstructionCheck, check_instruction,
)
from srllm.workshop.exercise2_shots import (
    record_id, pick_example_ids, shots_from_ids, ShotsCheck, check_shots,
)
from srllm.workshop.exercise3_adapter import (
    loss_values, WORKSHOP_LORA_STEPS, SMOKE_LORA_STEPS, WORKSHOP_BATCH_SIZE, WORKSHOP_LEARNING_RATE,
    default_lora_steps, workshop_training_profile, WORKSHOP_EVAL_ROWS, workshop_eval_records, train_adapter,
    AdapterCheck, check_adapter,
)
from srllm.workshop.exercise4_job_ad import (
    JOB_AD, JOB_AD_REQUIREMENTS, ALLOWED_MASCULINE, JOB_AD_MIN_SIMILARITY, JobAdCheck, check_job_ad,
)
from srllm.workshop.exercise5_icat import (
    table6_frame, IcatAuditCheck, check_icat_audit,
)

__all__ = [
    'WORKSHOP_SEED', 'N_TEXTS', 'MIN_SIMILARITY', 'reference_instruction',
    'workshop_texts', 'RewriteRun', 'rewrite_texts', 'RewriteScores', 'score_rewrites', 'InstructionCheck',
    'check_instruction', 'record_id', 'pick_example_ids', 'shots_from_ids', 'ShotsCheck', 'check_shots',
    'loss_values', 'WORKSHOP_LORA_STEPS', 'SMOKE_LORA_STEPS', 'WORKSHOP_BATCH_SIZE', 'WORKSHOP_LEARNING_RATE',
    'default_lora_steps', 'workshop_training_profile', 'WORKSHOP_EVAL_ROWS', 'workshop_eval_records',
    'train_adapter', 'AdapterCheck', 'check_adapter', 'JOB_AD', 'JOB_AD_REQUIREMENTS', 'ALLOWED_MASCULINE',
    'JOB_AD_MIN_SIMILARITY', 'JobAdCheck', 'check_job_ad', 'table6_frame', 'IcatAuditCheck', 'check_icat_audit',
    'AGE_CODED', 'EXCLUSIONARY', 'GENDERED_PRONOUNS', 'JobAdReport', 'job_ad_report',
]
