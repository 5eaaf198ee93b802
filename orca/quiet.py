"""Quiet third-party libraries before they load: `orca-eval` calls `quiet_libraries()` first
thing, and so do the bench/ scripts, which load models without the command line.

Here rather than in harness/cli/: the bench/ scripts need it too, and nothing but the command
line imports a command-line module (tests/test_layering.py checks that for library code)."""
from __future__ import annotations

import os
import sys


def quiet_libraries() -> None:
    """Library chatter (weight-loading bars, accelerator notices) would bury our own
    progress and turn a one-line error into a screenful.

    Nothing heavy is imported here: `--help`, `tasks` and `system-messages` must start in
    well under a second, and torch + transformers alone take several under load. The
    environment variables cover transformers' verbosity and progress bars (it reads them
    when it is first imported); the accelerator check waits for deepspeed's import."""
    import logging

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if "DS_ACCELERATOR" not in os.environ and not any(isinstance(f, _DeepSpeedAccelerator) for f in sys.meta_path):
        sys.meta_path.insert(0, _DeepSpeedAccelerator())
    for name in ("transformers", "datasets", "lm_eval", "lm-eval", "DeepSpeed", "accelerate", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if "transformers" in sys.modules:  # imported already (by a caller of main()): env vars are read too late
        from transformers.utils import logging as tlog
        tlog.disable_progress_bar()
        tlog.set_verbosity_error()


class _DeepSpeedAccelerator:
    """An import hook that names the CPU accelerator just before deepspeed is first
    imported (accelerate imports it whenever installed), on a machine without a GPU:
    deepspeed warns on every start otherwise, and DS_ACCELERATOR is the documented way to
    say so. Asking torch for a GPU only then keeps torch out of commands that never load it."""

    def find_spec(self, name, path=None, target=None):
        if name == "deepspeed":
            sys.meta_path.remove(self)
            if "DS_ACCELERATOR" not in os.environ:
                import torch
                if not torch.cuda.is_available():
                    os.environ["DS_ACCELERATOR"] = "cpu"
        return None  # the normal finders import it
