"""`orca-eval data decontaminate`: training files checked against the benchmark documents.

The subcommand joins the `data` group that orca/cli_data.py makes. It lives in harness/,
not there, because it reads the benchmark documents with harness.data, and orca/ (training
and data) does not import harness/; the core (orca/decontaminate.py) takes the
documents as input, harness/decontaminate.py gives it them.
"""
from __future__ import annotations

import json
import sys

from harness.benchmark_text import DEFAULT_AGAINST
from harness.decontaminate import run_decontamination
from orca.decontaminate_defaults import DEFAULT_N, MIN_N


def register(sub) -> None:
    data = sub.choices.get("data")
    group = data.get_default("data_subcommands") if data is not None else None
    if group is None:  # orca.cli_data not registered: no `data` group to join
        return
    p = group.add_parser(
        "decontaminate", help="remove training lines that share an n-gram with AGIEval/BBH (GPT-3 / lm-eval rule)",
        description="Stream training JSONL files (collector output, FLAN samples, any query/response lines) and "
                    "remove every line that shares a word n-gram with a benchmark document (question, passage, "
                    "options). Writes a clean copy of each file, removed.jsonl and decontamination.json to "
                    "--out-dir; --check writes nothing and exits 1 when contamination is found. See docs/data.md.")
    p.add_argument("--train", nargs="+", required=True, metavar="FILE", help="training JSONL files (.jsonl[.gz])")
    p.add_argument("--against", default=DEFAULT_AGAINST,
                   help=f"benchmark suites or tasks, comma separated (default: {DEFAULT_AGAINST})")
    p.add_argument("--n", type=int, default=DEFAULT_N,
                   help=f"n-gram length in words (default {DEFAULT_N}, at least {MIN_N})")
    p.add_argument("--out-dir", default="decontaminated",
                   help="where the clean copies, removed.jsonl and decontamination.json go (default: ./decontaminated)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when a training line overlaps the benchmark (for CI)")
    p.add_argument("--data-dir", default=None, help="benchmark data (default: $ORCA_DATA_DIR, else ../shared/data)")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of tables")
    p.set_defaults(func=cmd_decontaminate)


def cmd_decontaminate(args) -> int:
    from orca.decontaminate import print_report

    report = run_decontamination(args.train, args.against, args.n, None if args.check else args.out_dir,
                                 args.data_dir)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print_report(report)
        where = "" if args.check else f"; clean copies and report in {args.out_dir}"
        print(f"{report['removed']} of {report['lines']} training lines overlap {args.against} "
              f"({args.n}-grams){where}")
    if args.check and report["contaminated"]:
        print(f"orca-eval: contamination found: {report['removed']} training lines share a {args.n}-gram "
              f"with {args.against}", file=sys.stderr)
        return 1
    return 0
