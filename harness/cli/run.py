"""CLI: `run`, `score`, `system-messages`, `tasks`."""
from __future__ import annotations

import argparse
import os



def _integer(s: str) -> int:
    """An integer option's value. Its range (>= 1 for --limit, --batch-size, ...) is checked
    by RunConfig, which the pipeline's `evaluate` section goes through too, so that both say
    "--limit must be >= 1 (got 0)"."""
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {s!r}") from None
    return v


class _TasksBudget:
    """The tasks' `max_gen_toks` (tasks/ YAML) in --help, read only when help is shown."""

    def __str__(self) -> str:
        from harness.suites import default_budget

        return str(default_budget())


def register(sub) -> None:
    p = sub.add_parser("run", help="evaluate a model on AGIEval / BBH (the main job)",
                       description="Zero-shot evaluation as the Orca paper ran it. Results go to "
                       "results/runs/<name>/ (or --output); run the same command again to resume.")
    p.add_argument("--suite", default="agieval", help="agieval | bbh | all | a task (agieval/lsat-ar, bbh/navigate)")
    p.add_argument("--model", default="default",
                   help="hf:PATH | openai:MODEL | vllm:PATH | gguf:PATH | a named model (orca-eval models) | "
                        "default (the project's tiny LLaMA, trained by orca-eval on first use: answers parse, scores near chance)")
    p.add_argument("--system-message", action="append", dest="system_messages", metavar="V",
                   help="id 1..16 (Orca paper Table 2; 1 = empty), none, literal text or @file; repeat for "
                        "several variants (default: 1)")
    p.add_argument("--limit", type=_integer, help="first N examples of each task (marks the run partial)")
    p.add_argument("--mode", default="generate", help="generate (the paper's protocol) | loglikelihood")
    p.add_argument("--prompt-style", default="orca", help="orca (default) | agieval (AGIEval's official zero-shot form)")
    p.add_argument("--batch-size", type=_integer, default=None,
                   help="rows generated together (default: chosen from memory, at most 64 on CPU, 256 on a GPU; "
                        "HFLM fallbacks use 16)")
    budget = p.add_argument("--max-new-tokens", type=_integer,
                            help="generation budget per answer (default %(budget)s; 32 for the default model)")
    budget.budget = _TasksBudget()
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default); the paper sampled Orca at 0.7")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling (with --temperature > 0)")
    p.add_argument("--seed", type=int, default=1234, help="seed of sampled decoding")
    p.add_argument("--repeats", type=_integer, default=1, help="sample K times, report mean ± spread")
    p.add_argument("--output", help="run directory (default results/runs/<name>)")
    p.add_argument("--name", help="run name recorded in run.json")
    p.add_argument("--data-dir", help="benchmark data (default $ORCA_DATA_DIR, else ../shared/data); hf:ORG/NAME for a hub dataset")
    p.add_argument("--base-url", help="OpenAI-compatible API base URL (key from $OPENAI_API_KEY)")
    p.add_argument("--concurrency", type=_integer, default=8, help="parallel API requests")
    p.add_argument("--max-retries", type=int, default=10, help="retries per API request (429s included)")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="seconds one API request may take in all before it counts as failed (default 120)")
    p.add_argument("--rpm", type=float, help="client-side requests/min limit for API models")
    p.add_argument("--tpm", type=float, help="client-side tokens/min limit for API models")
    p.add_argument("--device", help="cpu | cuda | cuda:1 (default: cuda if available)")
    p.add_argument("--dtype", help="auto (default: bfloat16 on a GPU or a CPU with bf16 units, else float32) "
                                   "| bfloat16 | float16 | float32")
    p.add_argument("--max-length", type=int, help="model context length override")
    p.add_argument("--revision", help="model revision to record (and load, for hub models)")
    p.add_argument("--no-cache", action="store_true", help="recompute every output (the shared cache is not read, "
                   "and its entries are never replaced)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or progress lines")
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
    from harness.runner import RunConfig, run_evaluation
    from harness.terminal import print_run_summary

    cfg = RunConfig(
        suite=args.suite, model=args.model, system_messages=args.system_messages or ["1"], limit=args.limit,
        mode=args.mode, prompt_style=args.prompt_style, batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p, seed=args.seed,
        repeats=args.repeats, output=args.output, name=args.name, data_dir=args.data_dir,
        base_url=args.base_url, concurrency=args.concurrency, rpm=args.rpm, tpm=args.tpm, max_retries=args.max_retries, device=args.device,
        request_timeout=args.timeout,
        dtype=args.dtype, max_length=args.max_length, revision=args.revision, use_cache=not args.no_cache,
        progress=not args.no_progress,
    )
    run_dir = run_evaluation(cfg)
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
