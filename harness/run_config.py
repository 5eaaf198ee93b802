"""`orca-eval run`'s settings (RunConfig) and their checks, made before anything is loaded."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.cache import request_key
from harness.models import Decoding
from harness.models.flags import check_backend_flags
from harness.run_dir import check_output
from harness.suites import PROMPT_STYLES, default_budget, resolve
from orca.errors import UserError
from orca.values import check_device, check_number, check_seed

MODES = ("generate", "loglikelihood")
DEFAULT_MODEL_MAX_NEW_TOKENS = 32


def budget_of(spec: str) -> int:
    """The default generation budget of a run of `spec`: its tasks' `max_gen_toks`. A spec that
    names no known task is refused where the run resolves its tasks, after every setting is
    checked (as before the budget was read from the YAML); every task's budget stands in here."""
    try:
        tasks = resolve(spec)
    except UserError:
        tasks = None
    return default_budget(tasks)


@dataclass
class RunConfig:
    suite: str = "agieval"
    model: str = "default"
    system_messages: list[str] = field(default_factory=lambda: ["1"])  # the paper's empty message
    limit: int | None = None
    mode: str = "generate"
    prompt_style: str = "orca"
    batch_size: int | None = None       # rows per step; None: chosen from memory (harness/models/engine.py)
    max_new_tokens: int | None = None   # the tasks' max_gen_toks (tasks/ YAML), or 32 for the default model
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 1234
    repeats: int = 1
    output: str | None = None
    name: str | None = None
    data_dir: str | None = None
    base_url: str | None = None
    concurrency: int = 8
    rpm: float | None = None
    tpm: float | None = None
    max_retries: int = 10
    request_timeout: float = 120.0
    device: str | None = None
    dtype: str | None = None
    max_length: int | None = None
    revision: str | None = None
    use_cache: bool = True
    progress: bool = True

    def validate(self) -> None:
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
        return Decoding(self.max_new_tokens, self.temperature, self.top_p)


def default_run_name(cfg: RunConfig, backend) -> str:
    """The folder name `run` gives a run without --name: MODEL-SUITE-MODE-HASH of what makes its numbers."""
    base = Path(cfg.model.split(":", 1)[-1]).name or "model"
    ident = request_key(backend.fingerprint, cfg.suite, cfg.mode, cfg.prompt_style, cfg.system_messages,
                        cfg.decoding.to_json(), cfg.seed, cfg.repeats, cfg.limit)[:6]
    return f"{base}-{cfg.suite.replace('/', '_').replace(',', '+')}-{cfg.mode}-{ident}"
