"""The published datasets on the Hugging Face Hub, read through the profile's data sources.

* ``newsmediabias/instruction-safe-llm`` - the paper's released CMD (footnote 4): one split,
  ``test``; columns ``Original Sentence``, ``Debiased `` (trailing space) and ``BIAS``.
* ``toxigen/toxigen-data`` - ToxiGen (Hartvigsen et al., 2022), config ``annotated`` (gated:
  accept its terms on the Hub and log in); ``skg/toxigen-data`` redirects there.

These helpers read one split outside a profile (for a look at the data); stages read
through :func:`srllm.data.sources.load_dataset_for`, which uses the same code. Both use
a copy fetched into the cache when there is one (``srllm data fetch``) and download
otherwise; offline, gated or not logged in, they stop with one message naming the
dataset, the reason and the two ways out; the bundled samples are never used instead.
"""

from __future__ import annotations

from srllm.data.report import LoadReport
from srllm.data.schema import Record, ToxigenRecord
from srllm.data.sources import read_source
from srllm.profiles import CMD_HUB_ID, TOXIGEN_HUB_ID, DataSource


def load_hub_cmd(split: str = "test", revision: str | None = None) -> tuple[list[Record], LoadReport]:
    """The released CMD's ``split`` as validated records (layout detected from the columns)."""
    items, report, _ = read_source("cmd", DataSource(kind="hub", hub_id=CMD_HUB_ID, split=split, revision=revision), "-")
    return items, report


def load_hub_toxigen(split: str = "test", config: str = "annotated",
                     revision: str | None = None) -> tuple[list[ToxigenRecord], LoadReport]:
    """ToxiGen's human-annotated statements as :class:`ToxigenRecord` (groups as in Table 5).

    ``stereotyping`` arrives as text ("uses positive stereotyping") and becomes 0/1 here so it
    fits the sample schema (a documented departure; see :func:`srllm.data.sources.toxigen_rows`).
    """
    src = DataSource(kind="hub", hub_id=TOXIGEN_HUB_ID, config=config, split=split, revision=revision)
    items, report, _ = read_source("toxigen", src, "-")
    return items, report


__all__ = ["CMD_HUB_ID", "TOXIGEN_HUB_ID", "load_hub_cmd", "load_hub_toxigen"]
