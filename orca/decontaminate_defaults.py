"""The decontamination rule's defaults (orca/decontaminate.py), for every caller: the
`data decontaminate` options, the pipeline's `decontaminate` section and the index.

A module of its own so that the CLI can show them in --help without loading
orca/decontaminate.py at start-up (its orca/decontaminate_index.py builds the punctuation
table on import)."""

DEFAULT_N = 13   # n-gram length in words (GPT-3's and lm-eval's)
MIN_N = 5        # shorter n-grams match ordinary prose
