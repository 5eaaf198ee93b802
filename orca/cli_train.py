"""`orca-eval train` and `orca-eval pipeline`: thin wrappers over orca.train / orca.pipeline."""
from __future__ import annotations


def cmd_train(args) -> int:
    from orca.train import train
    from orca.train_config import load_train_config

    config = load_train_config(args.config)
    outputs = train(config)
    for name, path in outputs.items():
        print(f"{name}\t{path}")
    return 0


def cmd_pipeline(args) -> int:
    from orca.pipeline import load_pipeline_config, run_pipeline

    config = load_pipeline_config(args.config)
    report = run_pipeline(config)
    print(report)
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="explanation tuning: train the stages of a config (resumes after a kill)",
                       description="Train every stage of a YAML/JSON config in order (see configs/tiny_two_stage.yaml "
                                   "and docs/training.md); finished stages are skipped, an interrupted one resumes "
                                   "from its newest checkpoint. Prints STAGE<TAB>CHECKPOINT per stage.")
    p.add_argument("--config", required=True, metavar="FILE", help="training config (YAML or JSON)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("pipeline", help="sample -> collect -> stage 1 -> eval -> stage 2 -> eval -> compare -> report",
                       description="Run the whole explanation-tuning pipeline of a config under one run directory; "
                                   "every step is skipped when its done-marker exists, so rerunning resumes.")
    p.add_argument("--config", required=True, metavar="FILE", help="pipeline config (YAML or JSON)")
    p.set_defaults(func=cmd_pipeline)
