"""Committed run directories carry no machine's paths.

    .venv/bin/python -m harness.publish RUN_DIR...    # rewrite each RUN_DIR/run.json in place

A published result (results/published, results/baselines, results/experiments) identifies
its model by name, package version and sha256 (`model.named_model`, `model.gguf.sha256`,
`model.fingerprint`) and its data by per-task sha256 (`data.hashes`), not by where they lay
on the machine that ran it. `portable_run_meta` drops or shortens what is local:

- `model.path`: the converted-GGUF cache folder or a resolved default checkpoint means
  nothing elsewhere -> null; a checkpoint folder inside the project -> relative to it.
- `model.gguf.file`: the file name only (the sha256 beside it says which file).
- `model.spec`: `hf:/abs/project/results/...` -> `hf:results/...` (what a person in the
  project folder would type); any other path the user typed is kept.
- `data.dir`: a local folder -> null (a hub id `hf:ORG/NAME` is kept); `data.sources`:
  each file relative to that folder (`bbh/navigate.json`, which also names the layout).
- `command`: each absolute path in the command line -> relative to the project, else its
  last component (`--output /scratch/runs/x` -> `--output x`: the command still reproduces
  the run, into a folder of that name).

Everything the gates and `compare` match on (fingerprints, sha256s, data hashes, the
identity fields of harness/run_dir.py) is left as it was.
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path, PurePosixPath

from orca.errors import UserError, run_entry_point
from orca.paths import PROJECT_ROOT

# what `tests/test_published.py` refuses in a committed run.json or summary.json
LOCAL_PATH_MARKERS = ("/work/", "/root/", "/home/", "site-packages", "/.cache/")


def _inside(path: str, roots) -> str | None:
    """`path` relative to the first root it lies under (posix), else None."""
    for root in roots:
        try:
            return PurePosixPath(path).relative_to(PurePosixPath(str(root))).as_posix()
        except ValueError:
            continue
    return None


def _portable_arg(arg: str, roots) -> str:
    """One command-line word without its machine's path: `--flag=/abs/x` and `/abs/x` alike."""
    flag, eq, value = arg.partition("=") if arg.startswith("-") else ("", "", arg)
    kind, colon, where = value.partition(":") if not value.startswith("/") else ("", "", value)
    if not where.startswith("/"):
        return arg
    short = _inside(where, roots) or PurePosixPath(where).name
    return f"{flag}{eq}{kind}{colon}{short}"


def portable_run_meta(meta: dict, roots=(PROJECT_ROOT,)) -> dict:
    """A copy of run.json's `meta` without local absolute paths (see the module docstring).
    `roots`: project folders whose paths become relative (the checkout that ran it)."""
    out = copy.deepcopy(meta)
    model = out.get("model")
    if isinstance(model, dict):
        spec = model.get("spec")
        if isinstance(spec, str) and ":" in spec:
            kind, _, where = spec.partition(":")
            rel = _inside(where, roots) if where.startswith("/") else None
            if rel is not None:
                model["spec"] = f"{kind}:{rel}"
        path = model.get("path")
        if isinstance(path, str):
            if model.get("backend") == "gguf" or model.get("named_model"):
                model["path"] = None  # the converted copy in the cache
            elif path.startswith("/"):
                model["path"] = _inside(path, roots)
        gguf = model.get("gguf")
        if isinstance(gguf, dict) and isinstance(gguf.get("file"), str):
            gguf["file"] = PurePosixPath(gguf["file"]).name
    command = out.get("command")
    if isinstance(command, str):
        # split and joined as harness/provenance.py's command_line wrote it (argv joined by
        # spaces, not shell-quoted): a word with a quote in it is not a parse error
        out["command"] = " ".join(_portable_arg(a, roots) for a in command.split(" "))
    data = out.get("data")
    if isinstance(data, dict) and isinstance(data.get("dir"), str) and not data["dir"].startswith("hf:"):
        root = data["dir"]
        sources = data.get("sources")
        if isinstance(sources, dict):
            data["sources"] = {t: (_inside(s, [root]) or PurePosixPath(s).name) if isinstance(s, str)
                               and s.startswith("/") else s for t, s in sources.items()}
        data["dir"] = None
    return out


def local_paths(obj, where: str = "") -> list[str]:
    """`field: value` for every string in a JSON value that looks like a machine's path."""
    if isinstance(obj, dict):
        return [hit for k, v in obj.items() for hit in local_paths(v, f"{where}.{k}" if where else k)]
    if isinstance(obj, list):
        return [hit for i, v in enumerate(obj) for hit in local_paths(v, f"{where}[{i}]")]
    if isinstance(obj, str) and any(m in obj for m in LOCAL_PATH_MARKERS):
        return [f"{where}: {obj}"]
    return []


def make_portable(run_dir: str | Path, roots=(PROJECT_ROOT,)) -> bool:
    """Rewrite RUN_DIR/run.json without local paths; True when it changed."""
    from harness.results import read_json_object, write_run_meta

    meta = read_json_object(Path(run_dir) / "run.json", "run.json")
    new = portable_run_meta(meta, roots)
    if new == meta:
        return False
    write_run_meta(run_dir, new)
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m harness.publish", description=__doc__.splitlines()[0])
    ap.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    ap.add_argument("--root", action="append", type=Path, default=[],
                    help="another checkout whose paths become relative (the one that ran the runs)")
    args = ap.parse_args(argv)

    def publish() -> None:
        for d in args.run_dirs:
            changed = make_portable(d, (PROJECT_ROOT, *args.root))
            print(f"{d}: {'rewritten' if changed else 'already portable'}")

    return run_entry_point(publish)


if __name__ == "__main__":
    sys.exit(main())
