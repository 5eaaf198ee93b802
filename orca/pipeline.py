"""`orca-eval pipeline --config FILE`: the whole explanation-tuning loop under one run directory.

    sample -> collect -> train stage 1 -> evaluate -> train stage 2 -> evaluate -> compare -> report

Steps whose inputs are given are skipped (existing teacher data instead of sample +
collect). Each finished step writes `steps/<step>.json` (its outputs); a rerun skips
those, and an interrupted step resumes on its own terms (collection skips answered
queries, training resumes from its newest checkpoint, evaluation from its output cache).

Config (YAML or JSON; relative paths relative to the file):

    run_dir: ../results/pipeline/tiny
    sample:   {flan: [flan/*.jsonl], scale: 0.001, seed: 0}          # optional
    collect:                                                          # optional, per stage
      stage1: {model: gpt-3.5-turbo, base_url: null, rpm: 300, tpm: 120000, queries: flan5m}
      stage2: {model: gpt-4, rpm: 18, queries: flan1m}
    data: {stage1: teacher/chatgpt.jsonl, stage2: teacher/gpt4.jsonl}  # or existing teacher data
    train:  {seed, device, deepspeed, ..., stages: [{name: stage1, init: tiny:0, ...}, ...]}
    evaluate: {suite: agieval, mode: loglikelihood, limit: 50, system_messages: ["1"], data_dir: null}
    compare: {alpha: 0.05, min_delta: 1.0}
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import UserError
from harness.io import write_json_atomic, write_text_atomic
from orca.train_config import TrainConfig, parse_train_config, read_config_file

TOP = ("run_dir", "sample", "collect", "data", "train", "evaluate", "compare")
EVAL_FIELDS = {"suite": str, "mode": str, "limit": (int, type(None)), "system_messages": list,
               "data_dir": (str, type(None)), "batch_size": int, "prompt_style": str, "max_new_tokens": int}
COLLECT_FIELDS = {"model": str, "base_url": (str, type(None)), "rpm": (int, float), "tpm": (int, float),
                  "queries": str, "concurrency": int, "max_tokens": int, "temperature": (int, float),
                  "top_p": (int, float)}


@dataclass
class PipelineConfig:
    run_dir: Path
    train: TrainConfig
    sample: dict | None = None
    collect: dict = field(default_factory=dict)
    evaluate: dict = field(default_factory=dict)
    compare: dict = field(default_factory=dict)
    source: Path | None = None


def _fields(where: str, raw, spec: dict) -> dict:
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a mapping")
    for k, v in raw.items():
        if k not in spec:
            raise UserError(f"{where}: unknown field {k!r} (known: {', '.join(spec)})")
        if not isinstance(v, spec[k]) or isinstance(v, bool):
            raise UserError(f"{where}: field {k!r} has the wrong type ({v!r})")
    return raw


def parse_pipeline_config(raw: dict, source: str | Path) -> PipelineConfig:
    """Validate a pipeline mapping (errors name the file and field)."""
    base = Path(source).resolve().parent
    if not isinstance(raw, dict):
        raise UserError(f"{source}: expected a mapping at the top level")
    unknown = sorted(set(raw) - set(TOP))
    if unknown:
        raise UserError(f"{source}: unknown field {unknown[0]!r} (known: {', '.join(TOP)})")
    for key in ("run_dir", "train"):
        if key not in raw:
            raise UserError(f"{source}: missing field {key!r}")
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
    for name, c in collect.items():
        _fields(f"{source}: collect.{name}", c, COLLECT_FIELDS)
        if "model" not in c:
            raise UserError(f"{source}: collect.{name}: missing field 'model'")
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
    train = parse_train_config({**train_raw, "stages": stages, "output_dir": str(run_dir / "train")},
                               f"{source}: train", base_dir=base)
    return PipelineConfig(run_dir=run_dir, train=train, sample=sample, collect=collect, evaluate=evaluate,
                          compare=compare, source=Path(source))


def load_pipeline_config(path: str | Path) -> PipelineConfig:
    return parse_pipeline_config(read_config_file(path), path)


# ----------------------------------------------------------------------------- steps

def _marker(cfg: PipelineConfig, step: str) -> Path:
    return cfg.run_dir / "steps" / f"{step}.json"


def _step(cfg: PipelineConfig, step: str, fn, log) -> dict:
    """Run `fn` unless its done-marker exists; the marker holds its outputs."""
    marker = _marker(cfg, step)
    if marker.exists():
        log(f"[dim]{step}: done earlier[/]")
        return json.loads(marker.read_text())
    log(f"[bold]{step}[/]")
    out = fn()
    write_json_atomic(marker, out)
    return out


def evaluate_checkpoint(cfg: PipelineConfig, checkpoint: Path, out_dir: Path) -> Path:
    """Evaluate a checkpoint with the harness runner into out_dir."""
    from harness.runner import RunConfig, run_evaluation

    ev = cfg.evaluate
    run_cfg = RunConfig(suite=ev.get("suite", "agieval"), model=f"hf:{checkpoint}",
                        system_messages=[str(s) for s in ev.get("system_messages", ["1"])],
                        limit=ev.get("limit"), mode=ev.get("mode", "loglikelihood"),
                        prompt_style=ev.get("prompt_style", "orca"), batch_size=ev.get("batch_size", 16),
                        max_new_tokens=ev.get("max_new_tokens", 512), output=str(out_dir),
                        data_dir=ev.get("data_dir"), name=out_dir.name, progress=False)
    return Path(run_evaluation(run_cfg))


def run_pipeline(cfg: PipelineConfig, console=None) -> str:
    """Run (or resume) every step; returns the path of the Markdown report."""
    from rich.console import Console

    from orca.train import train_stage

    console = console or Console(stderr=True)
    log = console.print
    cfg.run_dir.mkdir(parents=True, exist_ok=True)

    if cfg.sample:
        def sample():
            from orca.flan import read_flan, write_samples
            files = cfg.sample["flan"] if isinstance(cfg.sample["flan"], list) else [cfg.sample["flan"]]
            base = cfg.source.resolve().parent
            files = [str((base / f).resolve()) for f in files]
            manifest = write_samples(read_flan(files), cfg.run_dir / "queries", scale=cfg.sample.get("scale", 1.0),
                                     seed=cfg.sample.get("seed", 0), sources=files)
            return {"queries": str(cfg.run_dir / "queries"), "counts": manifest["counts"]}
        _step(cfg, "sample", sample, log)

    for i, (name, c) in enumerate(cfg.collect.items()):
        def collect(name=name, c=c, i=i):
            from orca.collect import collect as run_collect
            q = c.get("queries", "flan5m" if i == 0 else "flan1m")
            queries = cfg.run_dir / "queries" / f"{q}.jsonl" if q in ("flan5m", "flan1m") else \
                (cfg.source.resolve().parent / q).resolve()
            out = cfg.run_dir / "teacher" / f"{name}.jsonl"
            kwargs = {k: c[k] for k in ("base_url", "rpm", "tpm", "concurrency", "max_tokens", "temperature",
                                        "top_p") if k in c}
            summary = run_collect(queries, out, c["model"], **kwargs)
            return {"teacher_data": str(out), "summary": getattr(summary, "__dict__", str(summary))}
        _step(cfg, f"collect-{name}", collect, log)

    evals = {}
    for index, stage in enumerate(cfg.train.stages):
        trained = _step(cfg, f"train-{stage.name}", lambda stage=stage, index=index: {
            "checkpoint": str(train_stage(cfg.train, stage, index, console=console))}, log)
        evaluated = _step(cfg, f"evaluate-{stage.name}", lambda trained=trained, stage=stage: {
            "run": str(evaluate_checkpoint(cfg, Path(trained["checkpoint"]), cfg.run_dir / "eval" / stage.name))},
            log)
        evals[stage.name] = {"checkpoint": trained["checkpoint"], "run": evaluated["run"]}

    names = list(evals)
    comparison = None
    if len(names) >= 2:
        def compare():
            from harness.compare import compare_runs
            c = compare_runs(evals[names[0]]["run"], evals[names[-1]]["run"],
                             alpha=cfg.compare.get("alpha", 0.05), min_delta=cfg.compare.get("min_delta", 1.0))
            write_text_atomic(cfg.run_dir / "compare.md", c.to_markdown())
            write_text_atomic(cfg.run_dir / "compare.json", c.to_json())
            return {"base": names[0], "candidate": names[-1], "verdict": c.verdict,
                    "markdown": str(cfg.run_dir / "compare.md")}
        comparison = _step(cfg, "compare", compare, log)

    report = cfg.run_dir / "report.md"
    write_text_atomic(report, render_report(cfg, evals, comparison))
    _marker(cfg, "report").parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(_marker(cfg, "report"), {"report": str(report)})
    log(f"[green]pipeline done[/] -> {report}")
    return str(report)


def render_report(cfg: PipelineConfig, evals: dict, comparison: dict | None) -> str:
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
    if comparison:
        lines += ["", f"## {comparison['candidate']} vs {comparison['base']}: {comparison['verdict']}", "",
                  Path(comparison["markdown"]).read_text()]
    return "\n".join(lines) + "\n"
