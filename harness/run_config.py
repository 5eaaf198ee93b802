"""`orca-eval run`'s settings (RunConfig), declared once, and their checks, made before
anything is loaded.

Each field of RunConfig carries its command-line option in its metadata (flag, help, and
the argparse keywords it needs); `add_run_arguments` builds `orca-eval run`'s options from
them, in field order, and the pipeline's `evaluate` section takes its defaults from the
same fields (evaluate_fields). A new setting is one field here.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orca.errors import UserError
from orca.options import add_arguments, declared, from_args, in_place_order

if TYPE_CHECKING:
    from harness.models import Decoding

# The rest of harness is imported where it is used: `orca-eval --help` builds the parser
# from this module and must stay quick (tests/test_startup.py).

MODES = ("generate", "loglikelihood")
DEFAULT_MODEL_MAX_NEW_TOKENS = 32


def integer(s: str) -> int:
    """An integer option's value. Its range (>= 1 for --limit, --batch-size, ...) is checked
    by RunConfig.validate, which the pipeline's `evaluate` section goes through too, so that
    both say "--limit must be >= 1 (got 0)"."""
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {s!r}") from None
    return v


class _TasksBudget:
    """The tasks' `max_gen_toks` (tasks/ YAML) in --help, read only when help is shown."""

    def __str__(self) -> str:
        from harness.suites import default_budget

        return str(default_budget())


def option(default, flag: str, help: str, *, evaluate: tuple | None = None, **argparse_kw):
    """A RunConfig field and its `orca-eval run` option: `flag` with `help`; argparse_kw
    (type, action, metavar, ...) as add_argument takes them. The default is the field's.
    `evaluate`: (place, YAML types) when a pipeline's evaluate section may set the field: its
    place in the section's list of fields (error messages list them in that order) and the
    types its YAML value may have (stricter than the annotation: `batch_size: null` is refused)."""
    return declared(default, flag, help, argparse_kw, evaluate=evaluate)


def evaluate_fields() -> dict:
    """The fields a pipeline's evaluate section may set, in the section's order, and the YAML
    types of each (harness/pipeline/config.py)."""
    return {f.name: f.metadata["evaluate"][1] for f in in_place_order(RunConfig, "evaluate")}


def budget_of(spec: str) -> int:
    """The default generation budget of a run of `spec`: its tasks' `max_gen_toks`. A spec that
    names no known task is refused where the run resolves its tasks, after every setting is
    checked (as before the budget was read from the YAML); every task's budget stands in here."""
    from harness.suites import default_budget, resolve

    try:
        tasks = resolve(spec)
    except UserError:
        tasks = None
    return default_budget(tasks)


@dataclass
class RunConfig:
    # Field order is the order of the options in `orca-eval run --help`.
    suite: str = option("agieval", "--suite", "agieval | bbh | all | a task (agieval/lsat-ar, bbh/navigate)",
                      evaluate=(0, str))
    model: str = option("default", "--model",
                        "hf:PATH | openai:MODEL | vllm:PATH | gguf:PATH | a named model (orca-eval models) | "
                        "default (the project's tiny LLaMA, trained by orca-eval on first use: answers parse, "
                        "scores near chance)")
    # the paper's empty message; argparse's "append" would add to a default list, so the
    # option's default is None and the field's default stands in
    system_messages: list[str] = option(lambda: ["1"], "--system-message",
                                        "id 1..16 (Orca paper Table 2; 1 = empty), none, literal text or @file; "
                                        "repeat for several variants (default: 1)", action="append", metavar="V",
                                        evaluate=(3, list))
    limit: int | None = option(None, "--limit", "first N examples of each task (marks the run partial)",
                               type=integer, evaluate=(2, (int, type(None))))
    mode: str = option("generate", "--mode", "generate (the paper's protocol) | loglikelihood",
                     evaluate=(1, str))
    prompt_style: str = option("orca", "--prompt-style", "orca (default) | agieval (AGIEval's official zero-shot form)",
                             evaluate=(6, str))
    # rows per step; None: chosen from memory (harness/models/engine.py)
    batch_size: int | None = option(None, "--batch-size",
                                    "rows generated together (default: chosen from memory, at most 64 on CPU, "
                                    "256 on a GPU; HFLM fallbacks use 16)", type=integer, evaluate=(5, int))
    # None: the tasks' max_gen_toks (tasks/ YAML), or 32 for the default model (validate)
    max_new_tokens: int | None = option(None, "--max-new-tokens",
                                        "generation budget per answer (default %(budget)s; 32 for the default model)",
                                        type=integer, evaluate=(7, int))
    temperature: float = option(0.0, "--temperature", "0 = greedy (default); the paper sampled Orca at 0.7",
                                type=float)
    top_p: float = option(1.0, "--top-p", "nucleus sampling (with --temperature > 0)", type=float)
    seed: int = option(1234, "--seed", "seed of sampled decoding", type=int)
    repeats: int = option(1, "--repeats", "sample K times, report mean ± spread", type=integer)
    output: str | None = option(None, "--output", "run directory (default results/runs/<name>)")
    name: str | None = option(None, "--name", "run name recorded in run.json")
    data_dir: str | None = option(None, "--data-dir", "benchmark data (default $ORCA_DATA_DIR, else ../shared/data); "
                                                      "hf:ORG/NAME for a hub dataset",
                                evaluate=(4, (str, type(None))))
    base_url: str | None = option(None, "--base-url", "OpenAI-compatible API base URL (key from $OPENAI_API_KEY)")
    concurrency: int = option(8, "--concurrency", "parallel API requests", type=integer)
    max_retries: int = option(10, "--max-retries", "retries per API request (429s included)", type=int)
    request_timeout: float = option(120.0, "--timeout", "seconds one API request may take in all before it "
                                                        "counts as failed (default 120)", type=float, metavar="TIMEOUT")
    rpm: float | None = option(None, "--rpm", "client-side requests/min limit for API models", type=float)
    tpm: float | None = option(None, "--tpm", "client-side tokens/min limit for API models", type=float)
    device: str | None = option(None, "--device", "cpu | cuda | cuda:1 (default: cuda if available)")
    dtype: str | None = option(None, "--dtype", "auto (default: bfloat16 on a GPU or a CPU with bf16 units, else "
                                                "float32) | bfloat16 | float16 | float32",
                                evaluate=(8, str))
    max_length: int | None = option(None, "--max-length", "model context length override", type=int)
    revision: str | None = option(None, "--revision", "model revision to record (and load, for hub models)")
    use_cache: bool = option(True, "--no-cache", "recompute every output (the shared cache is not read, and its "
                                                 "entries are never replaced)", action="store_false")
    progress: bool = option(True, "--no-progress", "no progress bar or progress lines", action="store_false")

    def validate(self) -> None:
        from harness.models.flags import check_backend_flags
        from harness.run_dir import check_output
        from harness.suites import PROMPT_STYLES

        if self.max_new_tokens is None:
            # The default model (tiny, trained on a few hundred examples) states its answer
            # early and rarely ends cleanly: the tasks' 512 tokens of it would only make the
            # README's first command slow.
            self.max_new_tokens = DEFAULT_MODEL_MAX_NEW_TOKENS if self.model == "default" else budget_of(self.suite)
        if self.mode not in MODES:
            raise UserError(f"--mode {self.mode!r}: choose generate or loglikelihood")
        if self.prompt_style not in PROMPT_STYLES:
            raise UserError(f"--prompt-style {self.prompt_style!r}: choose from {', '.join(PROMPT_STYLES)}")
        for name, value, low in (("--limit", self.limit, 1), ("--batch-size", self.batch_size, 1),
                                 ("--max-new-tokens", self.max_new_tokens, 1), ("--repeats", self.repeats, 1),
                                 ("--concurrency", self.concurrency, 1)):
            if value is not None and value < low:
                raise UserError(f"{name} must be >= {low} (got {value})")
        self.check_values()
        if self.repeats > 1 and self.temperature == 0:
            raise UserError("--repeats > 1 needs sampling: set --temperature (the paper sampled at 0.7)")
        if self.repeats > 1 and self.mode == "loglikelihood":
            raise UserError("--repeats applies to sampled generation, not --mode loglikelihood")
        if not self.system_messages:
            raise UserError("give at least one --system-message")
        check_output(self.output)  # before the model loads, not after
        check_backend_flags(self.device, self.dtype, self.max_length, self.max_new_tokens, self.mode == "generate")

    def check_values(self) -> None:
        """Non-finite or out-of-range numbers are refused before the cache or the run
        directory is touched (nan in run.json would be invalid JSON and poison the run)."""
        from orca.values import check_device, check_number, check_seed

        check_number(self.temperature, "--temperature", low=0)
        check_number(self.top_p, "--top-p", low=0, low_open=True, high=1)
        check_seed(self.seed)
        check_number(self.rpm, "--rpm", low=0, low_open=True, none_ok=True)
        check_number(self.tpm, "--tpm", low=0, low_open=True, none_ok=True)
        check_number(self.max_retries, "--max-retries", integer=True, low=0)
        check_number(self.request_timeout, "--timeout", low=0, low_open=True)
        check_number(self.max_length, "--max-length", integer=True, low=1, none_ok=True)
        check_device(self.device)

    @property
    def decoding(self) -> Decoding:
        from harness.models import Decoding

        return Decoding(self.max_new_tokens, self.temperature, self.top_p)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """`orca-eval run`'s options, one per RunConfig field (the parsed value lands under the
    field's name)."""
    actions = add_arguments(parser, RunConfig)
    actions["max_new_tokens"].budget = _TasksBudget()  # the %(budget)s of its help, read only when help is shown


def run_config_from_args(args: argparse.Namespace) -> RunConfig:
    """The RunConfig of parsed `orca-eval run` options; an option left None takes the field's default."""
    return from_args(RunConfig, args)


def default_run_name(cfg: RunConfig, backend) -> str:
    """The folder name `run` gives a run without --name: MODEL-SUITE-MODE-HASH of what makes its numbers."""
    from harness.cache import request_key

    base = Path(cfg.model.split(":", 1)[-1]).name or "model"
    ident = request_key(backend.fingerprint, cfg.suite, cfg.mode, cfg.prompt_style, cfg.system_messages,
                        cfg.decoding.to_json(), cfg.seed, cfg.repeats, cfg.limit)[:6]
    return f"{base}-{cfg.suite.replace('/', '_').replace(',', '+')}-{cfg.mode}-{ident}"
