"""`orca-eval report`: comparison tables, the HTML leaderboard, and flipped examples."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orca.errors import UserError, check_output_file
from orca.io import write_text_atomic
from harness.reference import DEFAULT_REFERENCE
from harness.paths import PUBLISHED_DIR, RUNS_DIR

DEFAULT_RUNS_DIR = RUNS_DIR
# Committed runs (results/published/<model>/<run>/): `--all` shows them beside your own runs.


def register(sub) -> None:
    p = sub.add_parser(
        "report", help="compare runs with the paper's numbers (table, Markdown, HTML leaderboard), or list flips",
        description="Tables of runs against published reference numbers. Examples:\n"
                    "  orca-eval report RUN [RUN...] --format markdown\n"
                    "  orca-eval report --all --format html --out leaderboard.html\n"
                    "  orca-eval report --flips RUN_A RUN_B --out flips.jsonl",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="*", metavar="RUN", help="run directory, or a run name under --runs-dir")
    p.add_argument("--reference", action="append", metavar="NAME",
                   help=f"reference set: a file stem in results/reference (default {DEFAULT_REFERENCE}; "
                        "repeatable; 'all' = every set, 'none' = no reference)")
    p.add_argument("--format", choices=["table", "markdown", "html"], default="table",
                   help="table (terminal, rich), markdown, or html (self-contained leaderboard page)")
    p.add_argument("--out", metavar="F", help="write to F (atomically) instead of stdout; with --flips: the JSONL")
    p.add_argument("--runs-dir", default=str(DEFAULT_RUNS_DIR), help="where run names and --all look (default %(default)s)")
    p.add_argument("--all", action="store_true",
                   help="every finished run in --runs-dir and results/published (and, without --reference, "
                        "every reference set)")
    p.add_argument("--no-plots", action="store_true", help="html: leave the matplotlib figures out")
    p.add_argument("--title", default=None, help="html: page title")
    g = p.add_argument_group("flipped examples")
    g.add_argument("--flips", action="store_true",
                   help="RUN_A RUN_B: examples one run got right and the other wrong, per task")
    g.add_argument("--variant-a", metavar="V", help="variant of RUN_A to pair (default: same names in both)")
    g.add_argument("--variant-b", metavar="V", help="variant of RUN_B to pair")
    g.add_argument("--official", action="store_true", help="judge right/wrong by the official extractor")
    p.set_defaults(func=run_report)


def _emit(text: str, out: str | None) -> None:
    if out:
        check_output_file(out, "--out")
        write_text_atomic(out, text)
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def run_flips(args) -> int:
    from harness.compare.flips import (find_flips, flips_lines, flips_rich_table, render_flips_markdown,
                                       write_flips_jsonl)
    from harness.report import resolve_run_dirs
    from harness.results import load_run

    if len(args.runs) != 2 or args.all:
        raise UserError("--flips takes exactly two runs: orca-eval report --flips RUN_A RUN_B [--out F.jsonl]")
    if args.format == "html":
        raise UserError("--flips writes a table (--format table|markdown) and JSONL (--out F.jsonl), not html")
    dir_a, dir_b = resolve_run_dirs(args.runs, args.runs_dir)
    report = find_flips(load_run(dir_a), load_run(dir_b), args.variant_a, args.variant_b, official=args.official)
    if args.out:
        check_output_file(args.out, "--out")
        write_flips_jsonl(report, args.out)
    if args.format == "markdown":
        sys.stdout.write(render_flips_markdown(report))
    else:
        from rich.console import Console

        from harness.terminal import print_fitting

        print_fitting(Console(highlight=False), [[flips_rich_table(report)]], lambda: flips_lines(report))
    if args.out:
        print(f"wrote {len(report.flips)} flipped examples to {args.out}", file=sys.stderr)
    return 0


def run_report(args) -> int:
    from harness.reference import load_references
    from harness.report import (all_run_dirs, build_comparison, check_shared_tasks, load_runs, render_html,
                                render_markdown, print_tables, render_text, resolve_run_dirs)

    if args.flips:
        return run_flips(args)
    if not args.runs and not args.all:
        raise UserError("give one or more RUN directories, or --all for every run in --runs-dir")
    dirs = resolve_run_dirs(args.runs, args.runs_dir)
    if args.all:
        found = all_run_dirs(args.runs_dir)
        if Path(args.runs_dir).resolve() == DEFAULT_RUNS_DIR.resolve() and PUBLISHED_DIR.is_dir():
            found += sorted(p.parent for p in PUBLISHED_DIR.rglob("summary.json"))
        if not found:
            print(f"orca-eval: note: no finished runs under {args.runs_dir}", file=sys.stderr)
        dirs += [d for d in found if d.resolve() not in {x.resolve() for x in dirs}]
    refs = load_references(args.reference or (["all"] if args.all else [DEFAULT_REFERENCE]))
    runs = load_runs(dirs)
    if not args.all:  # runs named together are meant to be compared; --all is a listing of whatever is there
        check_shared_tasks(runs)
    comp = build_comparison(runs, refs)
    if args.format == "markdown":
        _emit(render_markdown(comp), args.out)
    elif args.format == "html":
        _emit(render_html(comp, title=args.title or "orca-eval leaderboard", plots=not args.no_plots), args.out)
    elif args.out:
        _emit(render_text(comp), args.out)
    else:
        from rich.console import Console

        print_tables(Console(highlight=False), comp, fit=True)
    return 0
