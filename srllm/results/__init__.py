"""The paper's results, one module per table or section, ours beside the paper's.

Each results notebook imports the module of its page (``from srllm.results import safety``)
and only orchestrates and shows; the modules wire the pipeline's cached stages together
(training in :mod:`srllm.training`, generation in :mod:`srllm.generation`, scoring in
:mod:`srllm.scoring`, measures in :mod:`srllm.metrics`) and never the other way round.

* :mod:`srllm.results.dataset` - the CMD's labels, splits and agreement (Tables 1, 10-13);
* :mod:`srllm.results.common` - evaluation items, method outputs (memoized), notes;
* :mod:`srllm.results.rates` - scorer choice and the long rate tables;
* :mod:`srllm.results.tables` - what the side-by-side tables share;
* :mod:`srllm.results.safety` - Table 4; :mod:`srllm.results.demographics` - Table 5;
  :mod:`srllm.results.stereoset` - Table 6; :mod:`srllm.results.prompting` - Table 7;
* :mod:`srllm.results.style` - Figures 3 and 4 (style change);
* :mod:`srllm.results.human_eval` - Table 8 and Figure 5;
* :mod:`srllm.results.jobs` - Table 9 (the job-posting case study);
* :mod:`srllm.results.performance` - the performance page;
* :mod:`srllm.results.explorer` - the rewrite explorer.
"""
