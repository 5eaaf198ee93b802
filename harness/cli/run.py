"""CLI: `run`, `score`, `system-messages`, `tasks`."""
from __future__ import annotations

import os
import sys

from harness.run_config import add_run_arguments, run_config_from_args


def register(sub) -> None:
    p = sub.add_parser("run", help="evaluate a model on AGIEval / BBH (the main job)",
                       description="Zero-shot evaluation as the Orca paper ran it. Results go to "
                       "results/runs/<name>/ (or --output); run the same command again to resume.")
    add_run_arguments(p)  # one option per RunConfig field (harness/run_config.py)
    p.set_defaults(func=cmd_run)

    s = sub.add_parser("score", help="score generations made elsewhere (predictions JSONL)")
    s.add_argument("--suite", help="required unless only explaining a run")
    s.add_argument("--predictions", help="JSONL: task, prediction, and doc_id/index/input/target")
    s.add_argument("--explain", nargs="?", const=True, metavar="RUN",
                   help="print every example whose verdict differs between the robust and official extractors "
                        "(of RUN, a run directory or a run name under results/runs as `report` takes, or of the "
                        "run just scored)")
    s.add_argument("--output", help="run directory (default results/runs/scored-<predictions file name>)")
    s.add_argument("--name", help="run name recorded in run.json")
    s.add_argument("--data-dir", help="benchmark data (default $ORCA_DATA_DIR, else ../shared/data)")
    s.add_argument("--system-message", default="1", help="the variant the predictions were made under")
    s.add_argument("--prompt-style", default="orca", help="the prompt style the predictions were made with")
    s.set_defaults(func=cmd_score)

    m = sub.add_parser("system-messages", help="list the 16 system messages of the Orca paper")
    m.set_defaults(func=cmd_system_messages)

    t = sub.add_parser("tasks", help="list suites and tasks")
    t.set_defaults(func=cmd_tasks)


def cmd_run(args) -> int:
    from harness.runner import run_evaluation
    from harness.terminal import print_run_summary

    cfg = run_config_from_args(args)
    run_dir = run_evaluation(cfg)
    if "torch" in sys.modules:  # no torch, no process group: a finished rerun imports no model library
        from orca.distributed import leave_process_group
        leave_process_group()  # under torchrun: every rank is done; end the group before exit (see there)
    if int(os.environ.get("RANK", "0")) == 0 and (run_dir / "summary.json").exists():
        print_run_summary(run_dir)
    return 0


def cmd_score(args) -> int:
    from orca.errors import UserError
    from harness.score_file import explain_run, score_predictions
    from harness.terminal import print_run_summary

    if isinstance(args.explain, str):
        from harness import paths
        from harness.report.build import resolve_run_dirs

        if args.predictions:
            raise UserError("score: --explain RUN explains an existing run; with --predictions give --explain alone")
        (run,) = resolve_run_dirs([args.explain], paths.RUNS_DIR)  # a path, or a name as `report` takes
        explain_run(run)
        return 0
    if not args.suite or not args.predictions:
        raise UserError("score: --suite and --predictions are required (or --explain RUN alone)")
    run_dir = score_predictions(args.predictions, args.suite, args.output, args.data_dir, args.system_message,
                                args.prompt_style, args.name)
    print_run_summary(run_dir)
    if args.explain:
        explain_run(run_dir)
    return 0


def cmd_system_messages(args) -> int:
    from harness.terminal import print_system_messages

    print_system_messages()
    return 0


def cmd_tasks(args) -> int:
    from harness.data import SUITES

    for suite, tasks in SUITES.items():
        if suite == "all":
            continue
        print(f"{suite} ({len(tasks)} tasks):")
        for t in tasks:
            print(f"  {t}")
    return 0
