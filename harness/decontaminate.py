"""Training files checked against the benchmark documents: orca/decontaminate.py's core, given
the documents harness.benchmark_text reads (orca/ does not import harness/, so the two meet here).
`orca-eval data decontaminate` (harness/cli/decontaminate.py) and the pipeline's decontaminate
step (harness/pipeline/) both call it.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from harness.benchmark_text import DEFAULT_AGAINST
from orca.decontaminate_defaults import DEFAULT_N, MIN_N
from orca.errors import UserError


@lru_cache(maxsize=2)
def benchmark_index(against: str, data_dir: str | None, n: int):
    """The n-gram index of the benchmark documents, built once per process (harness.data
    caches the documents the same way)."""
    from harness.benchmark_text import benchmark_documents
    from orca.decontaminate import BenchmarkIndex

    docs, provenance = benchmark_documents(against, data_dir)
    return BenchmarkIndex(docs, n), provenance


def run_decontamination(train_files, against: str = DEFAULT_AGAINST, n: int = DEFAULT_N, out_dir=None,
                        data_dir: str | None = None) -> dict:
    """Load the benchmark documents, index them, stream the training files (see
    orca.decontaminate.decontaminate_files); user mistakes become UserError."""
    from orca.decontaminate import DecontaminationInputError, decontaminate_files

    if n < MIN_N:
        raise UserError(f"--n must be at least {MIN_N} (shorter n-grams match ordinary prose), got {n}")
    try:
        for f in train_files:  # before the benchmark side is read: a typo fails at once
            if not Path(f).is_file():
                raise DecontaminationInputError(f"{f}: training file not found" if not Path(f).exists()
                                                else f"{f}: not a file")
        index, provenance = benchmark_index(against, data_dir, n)
        return decontaminate_files(train_files, index, out_dir, benchmarks=provenance)
    except DecontaminationInputError as e:
        raise UserError(str(e)) from None
    except OSError as e:  # a full disk or an unwritable --out-dir
        raise UserError(f"{getattr(e, 'filename', None) or out_dir}: cannot write ({e.strerror or e})") from None
