"""`run_pipeline`: the steps in order, each through its marker (markers.py), and the steps'
own work: evaluation with the harness runner, decontamination of the teacher data, and the
checks that stop a collection with too many failed queries or a changed FLAN input."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from orca.decontaminate_defaults import DEFAULT_N
from orca.errors import UserError
from orca.io import write_json_atomic, write_text_atomic
from orca.redact import redact_url
from orca.train_config import identity_sha256, stage_identity

from harness.pipeline.config import PipelineConfig, eval_run_config
from harness.pipeline.markdown import render_report
from harness.pipeline.markers import PACING, marker_path, read_marker, run_step


class FailedQueriesLeft(UserError):
    """A collect step left more failed queries than its config allows: exit 1, as `data collect`."""

    exit_code = 1


def evaluate_checkpoint(cfg: PipelineConfig, checkpoint: str | Path, out_dir: str | Path) -> Path:
    """Evaluate a checkpoint with the harness runner into out_dir."""
    checkpoint = Path(checkpoint)
    out_dir = Path(out_dir)
    from harness.runner import run_evaluation

    return Path(run_evaluation(eval_run_config(cfg.evaluate, checkpoint, out_dir)))


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
    marker = marker_path(cfg, "sample")
    if not marker.exists():
        return
    recorded = read_marker(marker).get("flan_sha256")
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
            from orca.sample_config import SampleConfig
            settings = SampleConfig(**cfg.sample, out_dir=str(cfg.run_dir / "queries"))  # its defaults
            manifest = write_samples(read_flan(files), cfg.run_dir / "queries", scale=settings.scale,
                                     seed=settings.seed, sources=files)
            return {"queries": str(cfg.run_dir / "queries"), "counts": manifest["counts"], "flan_sha256": flan_sha}
        # The hashes are recorded with the step's outputs, not in its identity: the identity
        # chains into every later step, and records written before the hashes were kept must
        # still be taken up.
        ids["sample"] = {"sample": cfg.sample}
        run_step(cfg, "sample", sample, log, ids["sample"])

    for i, (name, c) in enumerate(cfg.collect.items()):
        def collect(name=name, c=c, i=i):
            from orca.collect import collect as run_collect
            from orca.collect_config import pipeline_fields
            q = c.get("queries", "flan5m" if i == 0 else "flan1m")
            queries = cfg.run_dir / "queries" / f"{q}.jsonl" if q in ("flan5m", "flan1m") else \
                (cfg.source.resolve().parent / q).resolve()
            out = cfg.run_dir / "teacher" / f"{name}.jsonl"
            # the section's teacher settings, under their CollectConfig names (timeout: timeout_s)
            kwargs = {f.name: c[key] for key, f in pipeline_fields().items()
                      if key in c and key not in ("model", "queries")}
            # retry_failed: a failed query never makes the step done (see below), so on a rerun
            # the failures recorded by the last attempt are asked again, as `--retry-failed` does.
            summary = run_collect(queries, out, c["model"], retry_failed=True, **kwargs)
            _check_failures(cfg, name, c, summary, out)
            return {"teacher_data": str(out), "summary": summary.fields()}
        # The step record is written to run_dir: a key in the base URL must not be (and a new key
        # for the same server is not a new config).
        ids[f"collect-{name}"] = {"collect": {k: redact_url(v) if k == "base_url" else v
                                              for k, v in c.items() if k not in PACING},
                                  "queries_from": identity_sha256(ids.get("sample", {}))}
        run_step(cfg, f"collect-{name}", collect, log, ids[f"collect-{name}"],
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
        decontaminated = run_step(cfg, "decontaminate", lambda: decontaminate_stages(cfg, log), log,
                               ids["decontaminate"])
        stages = [replace(s, data=[Path(p) for p in decontaminated["clean"][s.name]]) for s in stages]
    else:
        log("[yellow]decontaminate: off in this config; training on the teacher data as it is[/]")
    train_cfg = replace(cfg.train, stages=stages)

    evals = {}
    for index, stage in enumerate(train_cfg.stages):
        # stage_identity hashes the (clean) teacher data the stage trains on.
        ids[f"train-{stage.name}"] = {"train": stage_identity(train_cfg, stage)}
        trained = run_step(cfg, f"train-{stage.name}", lambda stage=stage, index=index: {
            "checkpoint": str(train_stage(train_cfg, stage, index, console=console))}, log,
            ids[f"train-{stage.name}"])
        ids[f"evaluate-{stage.name}"] = {"evaluate": {k: v for k, v in cfg.evaluate.items() if k not in PACING},
                                         "checkpoint": identity_sha256(ids[f"train-{stage.name}"])}
        evaluated = run_step(cfg, f"evaluate-{stage.name}", lambda trained=trained, stage=stage: {
            "run": str(evaluate_checkpoint(cfg, Path(trained["checkpoint"]), cfg.run_dir / "eval" / stage.name))},
            log, ids[f"evaluate-{stage.name}"])
        evals[stage.name] = {"checkpoint": trained["checkpoint"], "run": evaluated["run"]}

    names = list(evals)
    comparison = None
    if len(names) >= 2:
        def compare():
            from harness.compare.runs import compare_runs
            from harness.compare.thresholds import CompareThresholds
            thresholds = CompareThresholds(**cfg.compare)  # its defaults
            from harness.compare.render import render_markdown
            c = compare_runs(evals[names[0]]["run"], evals[names[-1]]["run"],
                             alpha=thresholds.alpha, min_delta=thresholds.min_delta)
            write_text_atomic(cfg.run_dir / "compare.md", render_markdown(c))
            write_text_atomic(cfg.run_dir / "compare.json", c.to_json())
            return {"base": names[0], "candidate": names[-1], "verdict": c.verdict,
                    "markdown": str(cfg.run_dir / "compare.md")}
        comparison = run_step(cfg, "compare", compare, log, {
            "compare": cfg.compare, "base": identity_sha256(ids[f"evaluate-{names[0]}"]),
            "candidate": identity_sha256(ids[f"evaluate-{names[-1]}"])})

    report = cfg.run_dir / "report.md"
    write_text_atomic(report, render_report(cfg, evals, comparison, decontaminated))
    marker_path(cfg, "report").parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(marker_path(cfg, "report"), {"report": str(report)})
    log(f"[green]pipeline done[/] -> {report}")
    return str(report)
