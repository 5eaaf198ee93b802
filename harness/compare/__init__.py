"""Comparing runs: `orca-eval compare` (two runs, paired tests, the CI gate's verdict) and
`report --flips` (the examples two runs or variants disagree on).

runs.py pairs two runs and tests them (`compare_runs`) into a comparison.py `Comparison`;
render.py shows it; pairing.py decides what counts as the same example (compare and flips
alike); stats.py holds the tests and the power calculation; flips.py lists the flips.
Nothing is imported here, so that a module that needs one of these (report/ablation.py reads
pairing.py and stats.py) loads no other.
"""
