"""`orca-eval compare BASE_RUN CANDIDATE_RUN`: paired regression comparison and CI gate."""
from __future__ import annotations

import argparse
import sys

from harness.compare.thresholds import CORRECTIONS, add_threshold_arguments
from orca.errors import check_output_file
from orca.io import write_text_atomic



def register(sub) -> None:
    """Add the `compare` command to the orca-eval subparsers."""
    p = sub.add_parser(
        "compare",
        help="compare two runs over the same examples (paired tests; CI gate)",
        description=("Compare a candidate run with a base run over the same examples: per task exact McNemar "
                     "(Holm or Benjamini-Hochberg corrected), per suite the macro-average delta with a paired "
                     "bootstrap interval. Exit 0, or 1 with --fail-on-regression when a significant regression "
                     "beyond --min-delta points is found, or 2 when the runs cannot be compared."),
    )
    p.add_argument("base_run", metavar="BASE_RUN", help="run directory of the base checkpoint")
    p.add_argument("candidate_run", metavar="CANDIDATE_RUN", help="run directory of the candidate checkpoint")
    add_threshold_arguments(p)  # --alpha, --min-delta (harness/compare/thresholds.py)
    p.add_argument("--fail-on-regression", action="store_true",
                   help="exit 1 when a task or suite regressed significantly by at least --min-delta")
    p.add_argument("--correction", choices=CORRECTIONS, default="holm",
                   help="multiple-testing correction across tasks: holm (family-wise) or bh (false discovery rate)")
    p.add_argument("--intersection", action="store_true",
                   help="compare only the examples, tasks and variants both runs share (and say how many dropped)")
    p.add_argument("--variant", action="append", metavar="V",
                   help="compare only this variant (e.g. sm1, 3 for sm3, none); repeatable")
    p.add_argument("--repeats", choices=("first", "majority"), default="first",
                   help="with repeated runs: compare repeat 0 (default) or each example's majority outcome")
    p.add_argument("--bootstrap", type=int, default=10_000, help="bootstrap resamples (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--format", choices=("table", "markdown", "json"), default="table",
                   help="table (terminal or log), markdown (a pull-request comment) or json")
    p.add_argument("--out", metavar="F", help="write the output to file F instead of stdout")
    p.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    """Run the comparison, print or write it, and return the gate's exit code."""
    from harness.compare.runs import compare_runs
    from harness.compare.render import print_table, render_markdown, render_text

    if args.out:
        check_output_file(args.out, "--out")
    comparison = compare_runs(args.base_run, args.candidate_run, alpha=args.alpha, min_delta=args.min_delta,
                              correction=args.correction, intersection=args.intersection, variants=args.variant,
                              bootstrap=args.bootstrap, seed=args.seed, repeats=args.repeats)
    if args.format == "json":
        text = comparison.to_json()
    elif args.format == "markdown":
        text = render_markdown(comparison)
    else:
        text = render_text(comparison) if args.out else None
    if args.out:
        write_text_atomic(args.out, text)
    elif text is not None:
        sys.stdout.write(text)
    else:
        print_table(comparison)
    rc = comparison.exit_code(args.fail_on_regression)
    if rc:
        print(f"orca-eval: compare: gate failed: {comparison.gate_message()}", file=sys.stderr)
    return rc
