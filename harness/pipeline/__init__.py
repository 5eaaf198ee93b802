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
from harness.pipeline.config import PipelineConfig, load_pipeline_config, parse_pipeline_config
from harness.pipeline.markdown import render_report
from harness.pipeline.run import evaluate_checkpoint, run_pipeline

__all__ = ["PipelineConfig", "evaluate_checkpoint", "load_pipeline_config", "parse_pipeline_config",
           "render_report", "run_pipeline"]
