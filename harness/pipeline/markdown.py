"""The pipeline's report.md: what each step made, in Markdown."""
from __future__ import annotations

import json
from pathlib import Path

from harness.pipeline.config import PipelineConfig


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
