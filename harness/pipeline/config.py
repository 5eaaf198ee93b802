"""The pipeline's config file: read, and every section checked before the first step runs
(`PipelineConfig`; the format is in harness/pipeline/__init__.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.compare.thresholds import CompareThresholds, compare_fields
from harness.run_config import evaluate_fields
from orca.collect_config import pipeline_fields
from orca.decontaminate_defaults import DEFAULT_N, MIN_N
from orca.errors import UserError, is_of_type, missing_field, reject_unknown_fields, unknown_field
from orca.sample_config import check_sample_ranges, sample_fields
from orca.train_config import TrainConfig, parse_train_config, read_config_file
from orca.values import check_number

TOP = ("run_dir", "sample", "collect", "data", "decontaminate", "train", "evaluate", "compare")
# The evaluate section: the RunConfig fields it may set and the YAML types each takes, in the
# section's order (declared with the fields, harness/run_config.py; its defaults are RunConfig's,
# see eval_run_config).
EVAL_FIELDS = evaluate_fields()
# A collect section's fields and their YAML types, in the section's order: data collect's
# (orca/collect_config.py, their meaning, defaults and ranges declared there; queries is flan5m |
# flan1m | a file), and the pipeline's own max_failed_fraction.
COLLECT_FIELDS = {**{key: f.metadata["pipeline"][1] for key, f in pipeline_fields().items()},
                  "max_failed_fraction": (int, float)}


@dataclass
class PipelineConfig:
    run_dir: Path
    train: TrainConfig
    sample: dict | None = None
    collect: dict = field(default_factory=dict)
    evaluate: dict = field(default_factory=dict)
    compare: dict = field(default_factory=dict)
    source: Path | None = None
    decontaminate: dict | None = field(default_factory=dict)   # None: off


def _fields(where: str, raw, spec: dict) -> dict:
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a mapping")
    for k, v in raw.items():
        if k not in spec:
            raise unknown_field(where, k, spec)
        if not is_of_type(v, spec[k]):
            raise UserError(f"{where}: field {k!r} has the wrong type ({v!r})")
    return raw


def parse_pipeline_config(raw: dict, source: str | Path) -> PipelineConfig:
    """Validate a pipeline mapping (errors name the file and field)."""
    base = Path(source).resolve().parent
    if not isinstance(raw, dict):
        raise UserError(f"{source}: expected a mapping at the top level")
    reject_unknown_fields(str(source), raw, TOP)
    for key in ("run_dir", "train"):
        if key not in raw:
            raise missing_field(source, key)
    if not isinstance(raw["run_dir"], str) or not raw["run_dir"]:
        raise UserError(f"{source}: field 'run_dir' must be a path (a string), got {raw['run_dir']!r}")
    run_dir = (base / raw["run_dir"]).resolve()
    train_raw = raw["train"]
    if not isinstance(train_raw, dict) or not isinstance(train_raw.get("stages"), list):
        raise UserError(f"{source}: train: field 'stages' must be a list of stages")
    if "output_dir" in train_raw:
        raise UserError(f"{source}: train: field 'output_dir' is set by the pipeline (run_dir/train); remove it")
    data = raw.get("data") or {}
    collect = raw.get("collect") or {}
    if not isinstance(data, dict) or not isinstance(collect, dict):
        raise UserError(f"{source}: fields 'data' and 'collect' map stage names to files / teacher settings")
    stages = []
    for i, s in enumerate(train_raw["stages"]):
        if not isinstance(s, dict) or "name" not in s:
            raise UserError(f"{source}: train: stages[{i}]: missing field 'name'")
        s = dict(s)
        name = s["name"]
        given = [k for k, present in (("train.stages[].data", "data" in s), ("data", name in data),
                                      ("collect", name in collect)) if present]
        if len(given) != 1:
            raise UserError(f"{source}: stage {name!r}: give its teacher data in exactly one of data, collect or "
                            f"train.stages[].data (found {len(given) or 'none'}: {', '.join(given)})")
        if name in data and not isinstance(data[name], str):
            raise UserError(f"{source}: data.{name} must be a path (a string), got {data[name]!r}")
        if name in data:
            s["data"] = str((base / data[name]).resolve())
        elif name in collect:
            s["data"] = str(run_dir / "teacher" / f"{name}.jsonl")
        stages.append(s)
    stage_names = [s["name"] for s in stages]
    for name, c in collect.items():
        if name not in stage_names:
            # it would be paid for (every query asked) and then used by nothing
            raise UserError(f"{source}: collect.{name}: no training stage is named {name!r} "
                            f"(stages: {', '.join(map(str, stage_names))}); name the stage it feeds")
        _fields(f"{source}: collect.{name}", c, COLLECT_FIELDS)
        if "model" not in c:
            raise missing_field(f"{source}: collect.{name}", "model")
    sample = raw.get("sample")
    if sample is not None:
        _fields(f"{source}: sample", sample, sample_fields())
        if "flan" not in sample:
            raise UserError(f"{source}: sample: missing field 'flan' (FLAN-v2 files)")
    for name, c in collect.items():
        q = c.get("queries", "flan5m" if not collect or name == next(iter(collect)) else "flan1m")
        if q in ("flan5m", "flan1m") and sample is None:
            raise UserError(f"{source}: collect.{name}: queries {q!r} need a 'sample' section "
                            "(or give a queries file path)")
    evaluate = _fields(f"{source}: evaluate", raw.get("evaluate") or {}, EVAL_FIELDS)
    compare = _fields(f"{source}: compare", raw.get("compare") or {}, compare_fields())
    decontaminate = raw.get("decontaminate", {})
    if decontaminate is False:
        decontaminate = None
    else:
        decontaminate = dict(_fields(f"{source}: decontaminate", decontaminate if decontaminate is not None else {},
                                     {"against": str, "n": int, "data_dir": (str, type(None))}))
        if decontaminate.get("n", DEFAULT_N) < MIN_N:
            raise UserError(f"{source}: decontaminate: field 'n' must be at least {MIN_N}, got {decontaminate['n']}")
        if decontaminate.get("data_dir") and not decontaminate["data_dir"].startswith("hf:"):
            decontaminate["data_dir"] = str((base / decontaminate["data_dir"]).resolve())
    train = parse_train_config({**train_raw, "stages": stages, "output_dir": str(run_dir / "train")},
                               f"{source}: train", base_dir=base)
    _check_sections(source, base, run_dir, sample, collect, evaluate, compare, train)
    return PipelineConfig(run_dir=run_dir, train=train, sample=sample, collect=collect, evaluate=evaluate,
                          compare=compare, source=Path(source), decontaminate=decontaminate)


# The range of each collect field: data collect's (orca/collect_config.py), plus the pipeline's own.
COLLECT_RANGES = {**{key: f.metadata["range"] for key, f in pipeline_fields().items() if f.metadata["range"]},
                  "max_failed_fraction": dict(low=0, high=1)}


def _check_sections(source, base: Path, run_dir: Path, sample, collect: dict, evaluate: dict, compare: dict,
                    train: TrainConfig) -> None:
    """The values of every section, checked before the first step: a mistake in `evaluate`
    or `compare` must not surface only after hours of training."""
    if sample is not None:
        check_sample_ranges(sample, lambda f: f"{source}: sample: field {f.name!r}")
        for f in sample["flan"] if isinstance(sample["flan"], list) else [sample["flan"]]:
            if not isinstance(f, str) or not (base / f).exists():
                raise UserError(f"{source}: sample: field 'flan': {f!r} not found")
    for name, c in collect.items():
        for key in COLLECT_FIELDS:  # in the order of the fields, as the checks always went
            ranges = COLLECT_RANGES.get(key)
            if ranges and key in c:
                check_number(c[key], f"{source}: collect.{name}: field {key!r}", **ranges)
        q = c.get("queries")
        if q is not None and q not in ("flan5m", "flan1m") and not (base / q).is_file():
            raise UserError(f"{source}: collect.{name}: field 'queries': {base / q} not found")
    for stage in train.stages:
        if stage.name not in collect:
            for path in stage.data:
                if not path.is_file():
                    raise UserError(f"{source}: stage {stage.name!r}: teacher data {path} not found")
    CompareThresholds(**compare).check(f"{source}: compare")  # a field left out takes its (valid) default
    _check_evaluate(source, evaluate, run_dir)


def _check_evaluate(source, evaluate: dict, run_dir: Path) -> None:
    """What `run` would check first: settings, tasks, system messages, the benchmark data."""
    from harness.data import load_task_data, resolve_tasks
    from harness.prompts import parse_system_variant
    from orca.paths import data_dir

    run_cfg = eval_run_config(evaluate, run_dir / "train", run_dir / "eval")
    try:
        run_cfg.validate()
        tasks = resolve_tasks(run_cfg.suite)
        for spec in run_cfg.system_messages:
            parse_system_variant(spec)
        if not str(run_cfg.data_dir or "").startswith("hf:"):
            root = str(data_dir(run_cfg.data_dir))
            for task in tasks:
                load_task_data(task, root)
    except UserError as e:
        raise UserError(f"{source}: evaluate: {e}") from None


def eval_run_config(ev: dict, checkpoint: str | Path, out_dir: str | Path):
    """The evaluate section as the RunConfig of `orca-eval run` on `checkpoint` (checked up front
    by _check_evaluate, run by run.py's evaluate_checkpoint). A field the section leaves out takes
    RunConfig's default (harness/run_config.py), except mode: the pipeline scores by loglikelihood."""
    from harness.runner import RunConfig

    out_dir = Path(out_dir)
    settings = {"mode": "loglikelihood", **{k: ev[k] for k in EVAL_FIELDS if k in ev}}
    if "system_messages" in settings:
        settings["system_messages"] = [str(s) for s in settings["system_messages"]]  # YAML may give ids as ints
    return RunConfig(**settings, model=f"hf:{checkpoint}", output=str(out_dir), name=out_dir.name, progress=False)


def load_pipeline_config(path: str | Path) -> PipelineConfig:
    return parse_pipeline_config(read_config_file(path), path)
