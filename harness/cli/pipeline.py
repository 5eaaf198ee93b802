"""`orca-eval pipeline`: a thin wrapper over harness.pipeline (it trains and evaluates, so it sits in harness/)."""
from __future__ import annotations


def cmd_pipeline(args) -> int:
    from harness.pipeline import load_pipeline_config, run_pipeline

    config = load_pipeline_config(args.config)
    report = run_pipeline(config)
    print(report)
    return 0


def register(sub) -> None:
    p = sub.add_parser("pipeline", help="sample -> collect -> stage 1 -> eval -> stage 2 -> eval -> compare -> report",
                       description="Run the whole explanation-tuning pipeline of a config under one run directory; "
                                   "every step is skipped when its done-marker exists, so rerunning resumes.")
    p.add_argument("--config", required=True, metavar="FILE", help="pipeline config (YAML or JSON)")
    p.set_defaults(func=cmd_pipeline)
