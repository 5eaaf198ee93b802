"""`orca-eval pipeline --config FILE`: the whole explanation-tuning loop under one run directory.

    sample -> collect -> decontaminate -> train stage 1 -> evaluate -> train stage 2 -> evaluate -> compare -> report

Steps whose inputs are given are skipped (existing teacher data instead of sample +
collect). Each finished step writes `steps/<step>.json` (its outputs and a hash of the
config it ran with, chained to the steps it builds on); a rerun skips those, and an
interrupted step resumes on its own terms (collection skips answered queries, training
resumes from its newest checkpoint, evaluation from its output cache). A rerun whose
config differs for a finished step is refused, naming the step and the changed fields --
except `compare`, which is cheap and only reads the evaluations: it is redone. Every
section is validated before the first step runs.

Config (YAML or JSON; relative paths relative to the file):

    run_dir: ../results/pipeline/tiny
    sample:   {flan: [flan/*.jsonl], scale: 0.001, seed: 0}          # optional
    collect:                                                          # optional, per stage
      stage1: {model: gpt-3.5-turbo, base_url: null, rpm: 300, tpm: 120000, queries: flan5m,
               max_retries: 8, timeout: 120, max_failed_fraction: 0.0}
      stage2: {model: gpt-4, rpm: 18, queries: flan1m}

A collect step is done only when every query has an ok answer, or when the failed share is
at most `max_failed_fraction` (default 0: never train on a partial set unless the config
says how partial). Otherwise the pipeline stops with exit 1 naming the failures, writes no
done-marker, and a rerun asks the failed queries again.
    data: {stage1: teacher/chatgpt.jsonl, stage2: teacher/gpt4.jsonl}  # or existing teacher data
    decontaminate: {against: "agieval,bbh", n: 13, data_dir: null}   # the default; `false` turns it off
    train:  {seed, device, deepspeed, ..., stages: [{name: stage1, init: tiny:0, ...}, ...]}
    evaluate: {suite: agieval, mode: loglikelihood, limit: 50, system_messages: ["1"], data_dir: null}
    compare: {alpha: 0.05, min_delta: 1.0}
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from orca.decontaminate_defaults import DEFAULT_N, MIN_N
from orca.errors import UserError, is_of_type, missing_field, reject_unknown_fields, unknown_field
from orca.io import write_json_atomic, write_text_atomic
from orca.redact import redact_url
from orca.train_config import (TrainConfig, identity_changes, identity_sha256, parse_train_config,
                               read_config_file, stage_identity)
from orca.values import check_number

TOP = ("run_dir", "sample", "collect", "data", "decontaminate", "train", "evaluate", "compare")
EVAL_FIELDS = {"suite": str, "mode": str, "limit": (int, type(None)), "system_messages": list,
               "data_dir": (str, type(None)), "batch_size": int, "prompt_style": str, "max_new_tokens": int,
               "dtype": str}
COLLECT_FIELDS = {"model": str, "base_url": (str, type(None)), "rpm": (int, float), "tpm": (int, float),
                  "queries": str, "concurrency": int, "max_tokens": int, "temperature": (int, float),
                  "top_p": (int, float), "max_retries": int, "timeout": (int, float),
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
        _fields(f"{source}: sample", sample, {"flan": (list, str), "scale": (int, float), "seed": int})
        if "flan" not in sample:
            raise UserError(f"{source}: sample: missing field 'flan' (FLAN-v2 files)")
    for name, c in collect.items():
        q = c.get("queries", "flan5m" if not collect or name == next(iter(collect)) else "flan1m")
        if q in ("flan5m", "flan1m") and sample is None:
            raise UserError(f"{source}: collect.{name}: queries {q!r} need a 'sample' section "
                            "(or give a queries file path)")
    evaluate = _fields(f"{source}: evaluate", raw.get("evaluate") or {}, EVAL_FIELDS)
    compare = _fields(f"{source}: compare", raw.get("compare") or {}, {"alpha": float, "min_delta": (int, float)})
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


COLLECT_RANGES = {"rpm": dict(low=0, low_open=True), "tpm": dict(low=0, low_open=True),
                  "concurrency": dict(integer=True, low=1), "max_tokens": dict(integer=True, low=1),
                  "temperature": dict(low=0, high=2), "top_p": dict(low=0, low_open=True, high=1),
                  "max_retries": dict(integer=True, low=0), "timeout": dict(low=0, low_open=True),
                  "max_failed_fraction": dict(low=0, high=1)}


def _check_sections(source, base: Path, run_dir: Path, sample, collect: dict, evaluate: dict, compare: dict,
                    train: TrainConfig) -> None:
    """The values of every section, checked before the first step: a mistake in `evaluate`
    or `compare` must not surface only after hours of training."""
    if sample is not None:
        if "scale" in sample:
            check_number(sample["scale"], f"{source}: sample: field 'scale'", low=0, low_open=True, high=1)
        for f in sample["flan"] if isinstance(sample["flan"], list) else [sample["flan"]]:
            if not isinstance(f, str) or not (base / f).exists():
                raise UserError(f"{source}: sample: field 'flan': {f!r} not found")
    for name, c in collect.items():
        for key, ranges in COLLECT_RANGES.items():
            if key in c:
                check_number(c[key], f"{source}: collect.{name}: field {key!r}", **ranges)
        q = c.get("queries")
        if q is not None and q not in ("flan5m", "flan1m") and not (base / q).is_file():
            raise UserError(f"{source}: collect.{name}: field 'queries': {base / q} not found")
    for stage in train.stages:
        if stage.name not in collect:
            for path in stage.data:
                if not path.is_file():
                    raise UserError(f"{source}: stage {stage.name!r}: teacher data {path} not found")
    if "alpha" in compare:
        check_number(compare["alpha"], f"{source}: compare: field 'alpha'", low=0, high=1, low_open=True,
                     high_open=True)
    if "min_delta" in compare:
        check_number(compare["min_delta"], f"{source}: compare: field 'min_delta'", low=0)
    _check_evaluate(source, evaluate, run_dir)


def _check_evaluate(source, evaluate: dict, run_dir: Path) -> None:
    """What `run` would check first: settings, tasks, system messages, the benchmark data."""
    from harness.data import load_task_data, resolve_tasks
    from harness.prompts import parse_system_variant
    from orca.paths import data_dir

    run_cfg = _eval_run_config(evaluate, run_dir / "train", run_dir / "eval")
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


def load_pipeline_config(path: str | Path) -> PipelineConfig:
    return parse_pipeline_config(read_config_file(path), path)


# ----------------------------------------------------------------------------- steps

def _marker(cfg: PipelineConfig, step: str) -> Path:
    return cfg.run_dir / "steps" / f"{step}.json"


# Steps that are cheap, deterministic and write nothing but their own outputs: redone on a config change.
REDO_ON_CHANGE = ("compare",)
# Settings of how fast (or how persistently) a step runs, not of what it produces: changing them
# is not a config change (raising max_retries or the timeout is how one fixes failed queries).
PACING = ("rpm", "tpm", "concurrency", "batch_size", "max_retries", "timeout", "max_failed_fraction")


class FailedQueriesLeft(UserError):
    """A collect step left more failed queries than its config allows: exit 1, as `data collect`."""

    exit_code = 1


def _step(cfg: PipelineConfig, step: str, fn, log, identity: dict, still_done=None) -> dict:
    """Run `fn` unless its done-marker exists for the same `identity`; the marker holds its
    outputs plus `config_sha256`/`config`, so a changed config is never reported as done.
    `still_done(saved)` may return a reason why a marker does not count (it is then redone)."""
    marker = _marker(cfg, step)
    digest = identity_sha256(identity)
    if marker.exists():
        saved = _read_marker(marker)
        recorded = saved.pop("config_sha256", None)
        old_identity = saved.pop("config", None)
        why_not = still_done(saved) if still_done is not None and recorded in (None, digest) else None
        if why_not:
            log(f"[bold]{step}[/] ({why_not}; doing it again)")
            out = fn()
            write_json_atomic(marker, {**out, "config_sha256": digest, "config": identity})
            return out
        if recorded in (None, digest):  # None: a marker from before hashes were kept
            log(f"[dim]{step}: done earlier[/]")
            return saved
        changed = ", ".join(identity_changes(old_identity or {}, identity)) or "unknown"
        if step not in REDO_ON_CHANGE:
            raise UserError(f"{cfg.source}: step {step} was done with a different config (changed: {changed}); "
                            f"restore those settings, or choose another run_dir to run it anew")
        log(f"[bold]{step}[/] (config changed: {changed}; redoing)")
    else:
        log(f"[bold]{step}[/]")
    out = fn()
    write_json_atomic(marker, {**out, "config_sha256": digest, "config": identity})
    return out


def _read_marker(marker: Path) -> dict:
    try:
        saved = json.loads(marker.read_bytes())
    except ValueError:
        saved = None
    if not isinstance(saved, dict):
        raise UserError(f"{marker}: corrupt step record; remove it to run that step again")
    return saved


def evaluate_checkpoint(cfg: PipelineConfig, checkpoint: str | Path, out_dir: str | Path) -> Path:
    """Evaluate a checkpoint with the harness runner into out_dir."""
    checkpoint = Path(checkpoint)
    out_dir = Path(out_dir)
    from harness.runner import run_evaluation

    return Path(run_evaluation(_eval_run_config(cfg.evaluate, checkpoint, out_dir)))


def _eval_run_config(ev: dict, checkpoint: Path, out_dir: Path):
    from harness.runner import RunConfig

    return RunConfig(suite=ev.get("suite", "agieval"), model=f"hf:{checkpoint}",
                     system_messages=[str(s) for s in ev.get("system_messages", ["1"])],
                     limit=ev.get("limit"), mode=ev.get("mode", "loglikelihood"),
                     prompt_style=ev.get("prompt_style", "orca"), batch_size=ev.get("batch_size"),
                     max_new_tokens=ev.get("max_new_tokens", 512), dtype=ev.get("dtype"), output=str(out_dir),
                     data_dir=ev.get("data_dir"), name=out_dir.name, progress=False)


def _flan_hashes(files: list[str]) -> dict:
    """sha256 of every FLAN input file (a folder: of each file in it, by relative name)."""
    from orca.io import sha256_file

    out = {}
    for f in files:
        p = Path(f)
        if p.is_dir():
            for sub in sorted(x for x in p.rglob("*") if x.is_file()):
                out[str(sub)] = sha256_file(sub)
        elif p.is_file():
            out[str(p)] = sha256_file(p)
    return out


def _check_flan_unchanged(cfg: PipelineConfig, flan_sha: dict) -> None:
    """A finished sample drawn from FLAN files that have changed since is refused, as any
    finished step whose inputs changed: its queries (and the teacher answers paid for them)
    would silently stand for data that is no longer there."""
    marker = _marker(cfg, "sample")
    if not marker.exists():
        return
    recorded = _read_marker(marker).get("flan_sha256")
    if not isinstance(recorded, dict) or recorded == flan_sha:
        return  # a record from before the hashes were kept: taken as it is
    changed = sorted(f for f in set(recorded) | set(flan_sha) if recorded.get(f) != flan_sha.get(f))
    raise UserError(f"{cfg.source}: step sample was drawn from FLAN files that have changed since "
                    f"({', '.join(changed[:3])}{', ...' if len(changed) > 3 else ''}); restore them, or choose "
                    f"another run_dir to sample anew")


def _failed_in_marker(saved: dict, c: dict) -> str | None:
    """A collect marker written before failures stopped the pipeline (or under a larger
    max_failed_fraction) may record failed queries: those are asked again, not kept."""
    s = saved.get("summary")
    if not isinstance(s, dict) or not isinstance(s.get("total"), int) or not isinstance(s.get("ok"), int):
        return None
    failed = s["total"] - s["ok"]
    if failed and failed > c.get("max_failed_fraction", 0.0) * s["total"]:
        return f"{failed} of {s['total']} queries failed earlier"
    return None


def _check_failures(cfg: PipelineConfig, name: str, c: dict, summary, out: Path) -> None:
    """Stop (exit 1, no done-marker) when more queries failed than `max_failed_fraction` allows:
    training on the ok half of a collection, silently, is the failure this guards against."""
    failed = summary.total - summary.ok
    allowed = c.get("max_failed_fraction", 0.0)
    if failed and failed > allowed * summary.total:
        reasons = ", ".join(f"{k} {v}" for k, v in summary.failure_reasons.items()) or "see the 'error' field"
        raise FailedQueriesLeft(
            f"{cfg.source}: collect-{name}: {failed} of {summary.total} teacher queries failed ({reasons}; "
            f"recorded in {out}); fix the teacher (or raise collect.{name}.max_retries / timeout) and run the "
            f"pipeline again to ask them again, or allow a share with collect.{name}.max_failed_fraction")


def decontaminate_stages(cfg: PipelineConfig, log) -> dict:
    """Every stage's teacher data checked against the benchmark (orca/decontaminate.py):
    clean copies, removed.jsonl and decontamination.json under run_dir/decontamination/STAGE."""
    # Orchestration over both packages, like evaluate_checkpoint below: the core
    # (orca/decontaminate.py) knows no benchmark, so the harness reads the benchmark documents.
    from harness.benchmark_text import DEFAULT_AGAINST
    from harness.decontaminate import benchmark_index
    from orca.decontaminate import DecontaminationInputError, decontaminate_files

    d = cfg.decontaminate
    against, n = d.get("against", DEFAULT_AGAINST), d.get("n", DEFAULT_N)
    try:
        index, provenance = benchmark_index(against, d.get("data_dir"), n)
        out = {"against": against, "n": n, "clean": {}, "reports": {}, "lines": {}, "removed": {}}
        for stage in cfg.train.stages:
            out_dir = cfg.run_dir / "decontamination" / stage.name
            report = decontaminate_files(stage.data, index, out_dir, benchmarks=provenance)
            out["clean"][stage.name] = [f["clean_file"] for f in report["files"]]
            out["reports"][stage.name] = str(out_dir / "decontamination.json")
            out["lines"][stage.name], out["removed"][stage.name] = report["lines"], report["removed"]
            hit = [t for t, v in report["tasks"].items() if v["training_lines"]]
            log(f"  {stage.name}: removed {report['removed']} of {report['lines']} lines sharing a {n}-gram with "
                f"{against}" + (f" ({', '.join(hit[:5])}{', ...' if len(hit) > 5 else ''})" if hit else ""))
    except DecontaminationInputError as e:
        raise UserError(str(e)) from None
    return out


def run_pipeline(cfg: PipelineConfig, console=None) -> str:
    """Run (or resume) every step; returns the path of the Markdown report."""
    from rich.console import Console

    from orca.train import train_stage

    console = console or Console(stderr=True)
    log = console.print
    cfg.run_dir.mkdir(parents=True, exist_ok=True)

    ids: dict[str, dict] = {}  # step -> identity; later steps include the hashes of what they build on
    if cfg.sample:
        files = cfg.sample["flan"] if isinstance(cfg.sample["flan"], list) else [cfg.sample["flan"]]
        base = cfg.source.resolve().parent
        files = [str((base / f).resolve()) for f in files]
        flan_sha = _flan_hashes(files)
        _check_flan_unchanged(cfg, flan_sha)

        def sample():
            from orca.flan import read_flan, write_samples
            manifest = write_samples(read_flan(files), cfg.run_dir / "queries", scale=cfg.sample.get("scale", 1.0),
                                     seed=cfg.sample.get("seed", 0), sources=files)
            return {"queries": str(cfg.run_dir / "queries"), "counts": manifest["counts"], "flan_sha256": flan_sha}
        # The hashes are recorded with the step's outputs, not in its identity: the identity
        # chains into every later step, and records written before the hashes were kept must
        # still be taken up.
        ids["sample"] = {"sample": cfg.sample}
        _step(cfg, "sample", sample, log, ids["sample"])

    for i, (name, c) in enumerate(cfg.collect.items()):
        def collect(name=name, c=c, i=i):
            from orca.collect import collect as run_collect
            q = c.get("queries", "flan5m" if i == 0 else "flan1m")
            queries = cfg.run_dir / "queries" / f"{q}.jsonl" if q in ("flan5m", "flan1m") else \
                (cfg.source.resolve().parent / q).resolve()
            out = cfg.run_dir / "teacher" / f"{name}.jsonl"
            kwargs = {k: c[k] for k in ("base_url", "rpm", "tpm", "concurrency", "max_tokens", "temperature",
                                        "top_p", "max_retries") if k in c}
            if "timeout" in c:
                kwargs["timeout_s"] = c["timeout"]
            # retry_failed: a failed query never makes the step done (see below), so on a rerun
            # the failures recorded by the last attempt are asked again, as `--retry-failed` does.
            summary = run_collect(queries, out, c["model"], retry_failed=True, **kwargs)
            _check_failures(cfg, name, c, summary, out)
            return {"teacher_data": str(out), "summary": getattr(summary, "__dict__", str(summary))}
        # The step record is written to run_dir: a key in the base URL must not be (and a new key
        # for the same server is not a new config).
        ids[f"collect-{name}"] = {"collect": {k: redact_url(v) if k == "base_url" else v
                                              for k, v in c.items() if k not in PACING},
                                  "queries_from": identity_sha256(ids.get("sample", {}))}
        _step(cfg, f"collect-{name}", collect, log, ids[f"collect-{name}"],
              still_done=lambda saved, c=c: _failed_in_marker(saved, c))

    # After collection, before training: train on the clean copies (the report stays in run_dir).
    stages = list(cfg.train.stages)
    decontaminated = None
    if cfg.decontaminate is not None:
        from orca.io import sha256_file

        # The collect steps are done by now: the identity hashes the teacher data they wrote.
        ids["decontaminate"] = {"decontaminate": cfg.decontaminate,
                                "data": {s.name: [sha256_file(p) if p.is_file() else None for p in s.data]
                                         for s in stages}}
        decontaminated = _step(cfg, "decontaminate", lambda: decontaminate_stages(cfg, log), log,
                               ids["decontaminate"])
        stages = [replace(s, data=[Path(p) for p in decontaminated["clean"][s.name]]) for s in stages]
    else:
        log("[yellow]decontaminate: off in this config; training on the teacher data as it is[/]")
    train_cfg = replace(cfg.train, stages=stages)

    evals = {}
    for index, stage in enumerate(train_cfg.stages):
        # stage_identity hashes the (clean) teacher data the stage trains on.
        ids[f"train-{stage.name}"] = {"train": stage_identity(train_cfg, stage)}
        trained = _step(cfg, f"train-{stage.name}", lambda stage=stage, index=index: {
            "checkpoint": str(train_stage(train_cfg, stage, index, console=console))}, log,
            ids[f"train-{stage.name}"])
        ids[f"evaluate-{stage.name}"] = {"evaluate": {k: v for k, v in cfg.evaluate.items() if k not in PACING},
                                         "checkpoint": identity_sha256(ids[f"train-{stage.name}"])}
        evaluated = _step(cfg, f"evaluate-{stage.name}", lambda trained=trained, stage=stage: {
            "run": str(evaluate_checkpoint(cfg, Path(trained["checkpoint"]), cfg.run_dir / "eval" / stage.name))},
            log, ids[f"evaluate-{stage.name}"])
        evals[stage.name] = {"checkpoint": trained["checkpoint"], "run": evaluated["run"]}

    names = list(evals)
    comparison = None
    if len(names) >= 2:
        def compare():
            from harness.compare.runs import compare_runs
            from harness.compare.render import render_markdown
            c = compare_runs(evals[names[0]]["run"], evals[names[-1]]["run"],
                             alpha=cfg.compare.get("alpha", 0.05), min_delta=cfg.compare.get("min_delta", 1.0))
            write_text_atomic(cfg.run_dir / "compare.md", render_markdown(c))
            write_text_atomic(cfg.run_dir / "compare.json", c.to_json())
            return {"base": names[0], "candidate": names[-1], "verdict": c.verdict,
                    "markdown": str(cfg.run_dir / "compare.md")}
        comparison = _step(cfg, "compare", compare, log, {
            "compare": cfg.compare, "base": identity_sha256(ids[f"evaluate-{names[0]}"]),
            "candidate": identity_sha256(ids[f"evaluate-{names[-1]}"])})

    report = cfg.run_dir / "report.md"
    write_text_atomic(report, render_report(cfg, evals, comparison, decontaminated))
    _marker(cfg, "report").parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(_marker(cfg, "report"), {"report": str(report)})
    log(f"[green]pipeline done[/] -> {report}")
    return str(report)


def render_report(cfg: PipelineConfig, evals: dict, comparison: dict | None, decontaminated: dict | None = None) -> str:
    """Markdown: per stage the checkpoint, packing and suite accuracies; then the stage comparison."""
    from harness.results import load_run

    lines = [f"# Explanation-tuning pipeline: {cfg.run_dir.name}", ""]
    lines += ["| stage | checkpoint | examples | packing factor | efficiency | truncated | suite accuracies (%) |",
              "|---|---|---|---|---|---|---|"]
    for name, e in evals.items():
        stats_path = cfg.train.output_dir / name / "data_stats.json"
        stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
        p = stats.get("packing", {})
        run = load_run(e["run"], with_samples=False)
        accs = "; ".join(f"{v}: " + ", ".join(f"{s} {d['accuracy']:.1f}" for s, d in vs["suites"].items())
                         for v, vs in run.summary["variants"].items())
        lines.append(f"| {name} | `{e['checkpoint']}` | {p.get('examples', '-')} | {p.get('packing_factor', '-')} "
                     f"| {p.get('efficiency', '-')} | {stats.get('tokenize', {}).get('truncated', '-')} | {accs} |")
    if decontaminated:
        lines += ["", f"Decontamination against {decontaminated['against']} ({decontaminated['n']}-grams): " +
                  "; ".join(f"{name} removed {decontaminated['removed'][name]} of {decontaminated['lines'][name]} "
                            f"lines (`{decontaminated['reports'][name]}`)" for name in decontaminated["clean"])]
    else:
        lines += ["", "Decontamination: off (the stages trained on the teacher data as given)."]
    if comparison:
        lines += ["", f"## {comparison['candidate']} vs {comparison['base']}: {comparison['verdict']}", "",
                  Path(comparison["markdown"]).read_text()]
    return "\n".join(lines) + "\n"
