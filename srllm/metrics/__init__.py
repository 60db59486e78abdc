"""The paper's evaluation measures, one module per measure.

* :mod:`srllm.metrics.stereoset`    - StereoSet LMS / SS / ICAT (Section 4.3, Table 6)
* :mod:`srllm.metrics.retention`    - offline knowledge retention (Section 3.4, Table 7)
* :mod:`srllm.metrics.style`        - CLEN and the one-sample t-test with its plot (Section 4.4, Fig. 3)
* :mod:`srllm.metrics.agreement`    - Fleiss' kappa (Appendix A, Table 10)
* :mod:`srllm.metrics.similarity`   - MiniLM cosine content similarity (Section 5.3, Table 9)
* :mod:`srllm.metrics.perplexity`   - perplexity of texts under a causal LM (Section 5.3, Table 9)
* :mod:`srllm.metrics.gender_coded` - Gaucher et al. gender-coded word counts (Section 5.3, Table 9)
* :mod:`srllm.metrics.carbon`       - energy and CO2e estimate (Section 3.1, Appendix D)
* :mod:`srllm.metrics.lm`           - per-token log-probabilities shared by StereoSet and perplexity
* :mod:`srllm.metrics.job_ad`       - coded wording in job ads: pronouns, age-coded, exclusionary phrases (Section 5.3, ours)
* :mod:`srllm.metrics.task_success` - task success of a rewrite: success or unchanged / echo / still unsafe / content lost (ours)

Modules import their heavy dependencies (torch, sentence-transformers) lazily,
so importing this package is cheap.
"""
