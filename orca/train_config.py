"""Plain-file training configs (YAML or JSON), validated with file/field errors.

    output_dir: runs/tiny-two-stage        # relative paths: relative to this file
    seed: 0
    device: auto                           # auto | cpu | cuda
    attn_implementation: auto              # auto | sdpa | eager | flex_attention | flash_attention_2
    compile: false                         # torch.compile the decoder (long GPU runs; docs/training.md)
    deepspeed: null                        # or a DeepSpeed JSON (configs/deepspeed_zero2_bf16.json)
    warn_not_decontaminated: true          # false: no warning for data without a decontamination record
    stages:
      - name: stage1
        data: data/chatgpt.jsonl           # teacher-collector output or {system, query, response} lines
        queries: data/queries.jsonl        # optional: joins query text by id
        init: tiny:0                       # hf checkpoint dir | tiny:SEED | stage:NAME
        epochs: 4
        lr: 3.0e-4
        ...
      - name: stage2
        data: data/gpt4.jsonl
        init: stage:stage1                 # the paper: stage 2 starts from stage 1

Every field, with its types, default, choices and range, is declared once: StageConfig and
TrainConfig below.
"""
from __future__ import annotations

import json
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path

from orca.errors import UserError, reject_unknown_fields, require
from orca.values import check_number

REQUIRED = MISSING  # a setting without a default must be given


def setting(default=REQUIRED, *, types: tuple, choices: tuple | None = None, range: dict | None = None):
    """A config field as the file gives it: the YAML/JSON `types` it takes, its default (a list
    is copied per config), the `choices` of a string, the `range` of a number (orca.values.check_number
    keywords: nan, inf and nonsense such as `warmup_ratio: 5` or `max_examples: 0` are refused
    with file and field)."""
    meta = {"types": types, "choices": choices, "range": range}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


# kw_only: the fields stay in the order the file's errors list them ("known: name, data, ..."),
# required or not.
@dataclass(kw_only=True)
class StageConfig:
    name: str = setting(types=(str,))
    data: list[Path] = setting(types=(str, list))
    queries: Path | None = setting(None, types=(str, type(None)))
    init: str = setting(types=(str,))
    epochs: int = setting(4, types=(int,), range=dict(low=0, low_open=True))
    lr: float = setting(2e-5, types=(float, int), range=dict(low=0, low_open=True))
    min_lr_ratio: float = setting(0.1, types=(float, int), range=dict(low=0, high=1))
    warmup_steps: int = setting(0, types=(int,), range=dict(low=0))
    warmup_ratio: float = setting(0.03, types=(float, int), range=dict(low=0, high=1))
    weight_decay: float = setting(0.0, types=(float, int), range=dict(low=0))
    betas: list = setting([0.9, 0.95], types=(list,))
    grad_clip: float = setting(1.0, types=(float, int), range=dict(low=0, low_open=True))
    batch_size: int = setting(1, types=(int,), range=dict(low=0, low_open=True))
    grad_accum: int = setting(1, types=(int,), range=dict(low=0, low_open=True))
    # packing keeps a table over every free-space value up to max_len: 10^12 was a MemoryError
    # after validation; a million tokens is beyond any model's context
    max_len: int = setting(2048, types=(int,), range=dict(low=0, low_open=True, high=1_000_000))
    save_every_steps: int = setting(0, types=(int,), range=dict(low=0))
    # 0 used to mean "all", -1 "all but one"
    max_examples: int | None = setting(None, types=(int, type(None)), range=dict(low=0, low_open=True, none_ok=True))
    loss_on: str = setting("response", types=(str,), choices=("response", "prompt", "all"))


@dataclass(kw_only=True)
class TrainConfig:
    output_dir: Path = setting(types=(str,))
    stages: list[StageConfig] = setting(types=(list,))
    seed: int = setting(0, types=(int,))
    device: str = setting("auto", types=(str,), choices=("auto", "cpu", "cuda"))
    attn_implementation: str = setting("auto", types=(str,),
                                       choices=("auto", "sdpa", "eager", "flex_attention", "flash_attention_2"))
    deepspeed: Path | None = setting(None, types=(str, type(None)))
    bf16: bool = setting(False, types=(bool,))
    log_every: int = setting(10, types=(int,), range=dict(low=0, low_open=True))
    tokenizer: Path | None = setting(None, types=(str, type(None)))
    gradient_checkpointing: bool = setting(False, types=(bool,))
    # `orca-eval train`: one line per stage whose data has no record
    warn_not_decontaminated: bool = setting(True, types=(bool,))
    compile: bool = setting(False, types=(bool,))
    source: Path | None = None  # the file read (not a field of it)


def _file_fields(cls) -> dict[str, Field]:
    """The fields of `cls` that a config file sets, in declaration order."""
    return {f.name: f for f in fields(cls) if "types" in f.metadata}


def _python_type_words(name: str, value, types: tuple) -> str:
    names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
    return f"field {name!r} must be {names}, got {value!r}"


def _check(where: str, raw: dict, cls) -> dict:
    """The file's fields for `cls`, checked against their declaration; absent ones take their default."""
    spec = _file_fields(cls)
    reject_unknown_fields(where, raw, spec)
    out = {}
    for name, f in spec.items():
        types, choices, ranges = f.metadata["types"], f.metadata["choices"], f.metadata["range"]
        required = f.default is MISSING and f.default_factory is MISSING
        # A flag written as `epochs: true` is a mistake: require refuses a bool for a number.
        value = require(raw, name, types, where, optional=not required, wrong_type=_python_type_words)
        if name not in raw:
            out[name] = f.default if f.default_factory is MISSING else f.default_factory()
            continue
        if choices and value not in choices:
            raise UserError(f"{where}: field {name!r} must be one of {', '.join(choices)}, got {value!r}")
        if ranges:
            check_number(value, f"{where}: field {name!r}", integer=float not in types, **ranges)
        # an integer where a float is declared (lr: 1) is stored as the float it means
        out[name] = float(value) if float in types else value
    return out


def parse_train_config(raw: dict, source: str | Path, base_dir: str | Path | None = None) -> TrainConfig:
    """Validate a config mapping; `source` names it in errors, relative paths resolve against base_dir."""
    base_dir = Path(base_dir) if base_dir else Path(source).resolve().parent
    if not isinstance(raw, dict):
        raise UserError(f"{source}: expected a mapping at the top level")
    top = _check(str(source), raw, TrainConfig)
    if not top["stages"]:
        raise UserError(f"{source}: field 'stages' must list at least one stage")

    def resolve(p):
        return p if p is None else (base_dir / Path(p).expanduser()).resolve()

    stages, names = [], []
    for i, s in enumerate(top["stages"]):
        where = f"{source}: stages[{i}]"
        if not isinstance(s, dict):
            raise UserError(f"{where}: expected a mapping")
        f = _check(where, s, StageConfig)
        if f["name"] in names:
            raise UserError(f"{where}: field 'name': duplicate stage name {f['name']!r}")
        data = f["data"] if isinstance(f["data"], list) else [f["data"]]
        if not data or not all(isinstance(d, str) for d in data):
            raise UserError(f"{where}: field 'data' must be a path or a list of paths")
        init = f["init"]
        if init.startswith("stage:"):
            if init[6:] not in names:
                raise UserError(f"{where}: field 'init': {init!r} names no earlier stage "
                                f"(earlier: {', '.join(names) or 'none'})")
        elif init.startswith("tiny:"):
            if not init[5:].isdigit():
                raise UserError(f"{where}: field 'init': tiny:SEED needs an integer seed, got {init!r}")
        else:
            init = str(resolve(init))
        if not (isinstance(f["betas"], list) and len(f["betas"]) == 2):
            raise UserError(f"{where}: field 'betas' must be a list of two numbers")
        for k, beta in enumerate(f["betas"]):
            check_number(beta, f"{where}: field 'betas'[{k}]", low=0, high=1, high_open=True)
        names.append(f["name"])
        stages.append(StageConfig(**{**f, "data": [resolve(d) for d in data], "init": init,
                                     "queries": resolve(f["queries"])}))
    deepspeed = resolve(top["deepspeed"])
    if deepspeed is not None and not deepspeed.is_file():
        raise UserError(f"{source}: field 'deepspeed': {deepspeed} not found")
    if top["compile"] and deepspeed is not None:
        raise UserError(f"{source}: field 'compile': true is for the plain loop; with DeepSpeed leave it false")
    return TrainConfig(**{**top, "stages": stages, "output_dir": resolve(top["output_dir"]), "deepspeed": deepspeed,
                          "tokenizer": resolve(top["tokenizer"])}, source=Path(source))


def read_config_file(path: str | Path) -> dict:
    """Parse a YAML or JSON file into a mapping, with file/line errors."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: is a directory, not a config file" if path.is_dir()
                        else f"{path}: config file not found")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise UserError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
    import yaml

    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise UserError(f"{path}{line}: invalid YAML: {getattr(e, 'problem', e)}") from None
    return raw if raw is not None else {}


def load_train_config(path: str | Path) -> TrainConfig:
    """Read and validate a training config file."""
    return parse_train_config(read_config_file(path), path)


# ----------------------------------------------------------------------------- stage identity

# Fields that change how a stage runs but not what it produces: a change is no reason to retrain.
NOT_IDENTITY = ("save_every_steps",)


def stage_identity(config: TrainConfig, stage: StageConfig) -> dict:
    """Everything a stage's trained weights depend on, as JSON: its fields, the content of
    its data (hashes, so moving the project folder changes nothing), the run-wide seed,
    tokenizer, precision and DeepSpeed settings, and the identity of the stage it starts
    from. Stored next to the stage's result; a rerun whose identity differs is refused
    instead of reporting the old result as "already trained"."""
    import dataclasses

    from orca.io import sha256_file

    def content(path: Path | None):
        return sha256_file(path) if path is not None and path.is_file() else None

    # config_identity.json has always listed init before queries: its bytes stay the same
    fields = {"name": None, "data": None, "init": None} | {
        k: v for k, v in dataclasses.asdict(stage).items() if k not in NOT_IDENTITY}
    fields["data"] = [content(p) for p in stage.data]
    fields["queries"] = content(stage.queries)
    index = config.stages.index(stage)
    identity = {"stage": fields, "index": index, "seed": config.seed,
                "tokenizer": str(config.tokenizer) if config.tokenizer else None, "bf16": config.bf16,
                "deepspeed": content(config.deepspeed)}
    if stage.init.startswith("stage:"):
        parent = next(s for s in config.stages if s.name == stage.init[6:])
        identity["init_stage"] = identity_sha256(stage_identity(config, parent))
    return identity


def identity_sha256(identity: dict) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def identity_changes(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Dotted names of the fields that differ between two identities (for the refusal)."""
    changed = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changed += identity_changes(a, b, f"{prefix}{key}.")
        elif a != b:
            changed.append(prefix + key)
    return changed
