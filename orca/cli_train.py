"""`orca-eval train`: a thin wrapper over orca.train."""
from __future__ import annotations


def cmd_train(args) -> int:
    from orca.train import train
    from orca.train_config import load_train_config

    config = load_train_config(args.config)
    if config.warn_not_decontaminated:
        warn_not_decontaminated(config)
    outputs = train(config)
    for name, path in outputs.items():
        print(f"{name}\t{path}")
    return 0


def warn_not_decontaminated(config) -> None:
    """One line per stage whose data files were not written by `orca-eval data decontaminate`."""
    import sys

    from orca.decontaminate import decontamination_record

    for stage in config.stages:
        missing = [str(p) for p in stage.data if decontamination_record(p) is None]
        if missing:
            print(f"orca-eval: warning: stage {stage.name!r}: {', '.join(missing)} has no decontamination record "
                  "(train on the output of `orca-eval data decontaminate`, or set "
                  "warn_not_decontaminated: false)", file=sys.stderr)


def register(sub) -> None:
    p = sub.add_parser("train", help="explanation tuning: train the stages of a config (resumes after a kill)",
                       description="Train every stage of a YAML/JSON config in order (see configs/tiny_two_stage.yaml "
                                   "and docs/training.md); finished stages are skipped, an interrupted one resumes "
                                   "from its newest checkpoint. Prints STAGE<TAB>CHECKPOINT per stage.")
    p.add_argument("--config", required=True, metavar="FILE", help="training config (YAML or JSON)")
    p.set_defaults(func=cmd_train)
