"""The result-file contract that report, compare and CI build on.

A run directory (default `results/runs/<run>/`) holds:

- `run.json`     model, revision, data hashes, prompt style, system messages per
                 variant, decoding, seed, limit, package versions, git commit, timestamps
                 (built by harness/provenance.py).
- `summary.json` `{"variants": {VARIANT: {"tasks": {"agieval/lsat-ar": {...}},
                 "suites": {"agieval": {"accuracy", "n_tasks"}}}}}`; accuracies in
                 percent, suite averages macro over tasks (as the Orca paper does).
- `samples/VARIANT/SUITE__TASK.jsonl`, one line per scored example with
                 `doc_id`, `prompt_sha`, `output`, `extracted`, `target`, `correct`
                 (plus `extracted_official`, `correct_official`, `repeat`, and `user_sha`,
                 the hash of the user prompt alone that pairing goes by; older runs lack it).

All three are written atomically; a run that has not finished has no summary.json.
What an existing `--output` folder may hold is harness/run_dir.py's rule.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from orca.errors import UserError, require, type_name
from orca.io import iter_jsonl_objects, write_json_atomic, write_jsonl_atomic


def task_file_name(task: str) -> str:
    """`agieval/lsat-ar` -> `agieval__lsat-ar.jsonl`."""
    return task.replace("/", "__") + ".jsonl"


def task_from_file_name(name: str) -> str:
    return name[: -len(".jsonl")].replace("__", "/", 1)


def wilson_ci95(correct: int, n: int) -> list[float]:
    """95 % Wilson score interval for a proportion, in percent (full precision, like every
    figure in summary.json: harness/display.py rounds for display)."""
    if n == 0:
        return [0.0, 0.0]
    from scipy.stats import binomtest  # here: scipy is slow to import, and only summarising needs it

    ci = binomtest(correct, n).proportion_ci(confidence_level=0.95, method="wilson")
    return [100 * float(ci.low), 100 * float(ci.high)]


def summarize_task(rows: list[dict], n_total: int | None = None) -> dict:
    """Per-task figures from its sample rows. With repeats (`repeat` > 0 present),
    accuracy is the mean over repeats and `accuracy_std` their spread."""
    by_repeat: dict[int, list[dict]] = {}
    for r in rows:
        by_repeat.setdefault(int(r.get("repeat", 0)), []).append(r)
    first = by_repeat.get(0, rows)
    n = len(first)
    correct = sum(bool(r["correct"]) for r in first)
    unparsed = sum(r.get("extracted") is None for r in first)
    correct_off = sum(bool(r.get("correct_official")) for r in first)
    out = {
        "n": n,
        "correct": correct,
        "accuracy": 100 * correct / n if n else 0.0,
        "ci95": wilson_ci95(correct, n),
        "unparsed": unparsed,
        "unparsed_rate": 100 * unparsed / n if n else 0.0,
        "accuracy_official": 100 * correct_off / n if n else 0.0,
    }
    if n_total is not None:
        out["n_total"] = n_total
        out["partial"] = n < n_total
    if len(by_repeat) > 1:
        # Sampled repeats: mean over repeats, their spread, and an interval from the
        # pooled counts (narrower than a fresh sample of examples would give; stated).
        reps = [rs for rs in by_repeat.values() if rs]
        accs = [100 * sum(bool(r["correct"]) for r in rs) / len(rs) for rs in reps]
        offs = [100 * sum(bool(r.get("correct_official")) for r in rs) / len(rs) for rs in reps]
        unp = [100 * sum(r.get("extracted") is None for r in rs) / len(rs) for rs in reps]
        mean = sum(accs) / len(accs)
        std = math.sqrt(sum((a - mean) ** 2 for a in accs) / (len(accs) - 1))
        pooled = sum(bool(r["correct"]) for rs in reps for r in rs)
        out.update(repeats=len(accs), accuracy=mean, accuracy_std=std,
                   accuracy_min=min(accs), accuracy_max=max(accs),
                   accuracy_official=sum(offs) / len(offs),
                   unparsed_rate=sum(unp) / len(unp),
                   ci95=wilson_ci95(pooled, sum(len(rs) for rs in reps)))
    return out


def summarize_variant(task_rows: dict[str, list[dict]], n_totals: dict[str, int] | None = None) -> dict:
    """`{"tasks": {...}, "suites": {...}}` for one variant; suites macro-average tasks.

    Nothing is rounded here. A suite average of rounded task figures, rounded again, is
    not what `report` and `compare` compute from the same run (23.85 stored, 23.8475
    recomputed: "23.9" beside "23.8"); every view rounds once, in harness/display.py."""
    tasks = {t: summarize_task(rows, (n_totals or {}).get(t)) for t, rows in sorted(task_rows.items())}
    suites: dict[str, list[float]] = {}
    suites_off: dict[str, list[float]] = {}
    for t, s in tasks.items():
        suite = t.split("/", 1)[0]
        suites.setdefault(suite, []).append(s["accuracy"])
        suites_off.setdefault(suite, []).append(s["accuracy_official"])
    return {
        "tasks": tasks,
        "suites": {
            k: {"accuracy": sum(v) / len(v), "n_tasks": len(v),
                "accuracy_official": sum(suites_off[k]) / len(v)}
            for k, v in sorted(suites.items())
        },
    }


@dataclass
class RunResult:
    """A run directory read back: metadata, summary and per-example samples."""

    path: Path
    meta: dict
    summary: dict
    samples: dict[str, dict[str, list[dict]]] = field(default_factory=dict)  # variant -> task -> rows

    @property
    def name(self) -> str:
        return self.meta.get("name") or self.path.name

    @property
    def variants(self) -> list[str]:
        return list(self.summary.get("variants", {}))

    def is_partial(self) -> bool:
        return bool(self.meta.get("limit")) or any(
            t.get("partial") for v in self.summary.get("variants", {}).values() for t in v["tasks"].values()
        )


def write_samples(run_dir: str | Path, variant: str, task: str, rows: list[dict]) -> Path:
    path = Path(run_dir) / "samples" / variant / task_file_name(task)
    write_jsonl_atomic(path, sorted(rows, key=lambda r: (int(r.get("repeat", 0)), r["doc_id"])))
    return path


def write_summary(run_dir: str | Path, summary: dict) -> None:
    write_json_atomic(Path(run_dir) / "summary.json", summary)


def write_run_meta(run_dir: str | Path, meta: dict) -> None:
    write_json_atomic(Path(run_dir) / "run.json", meta)


def read_json_object(path: str | Path, what: str = "file") -> dict:
    """A JSON file whose top level must be an object; every way it can be wrong is one
    UserError naming the file (and line)."""
    path = Path(path)
    from orca.errors import missing_file_message

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: not found (is this a finished orca-eval run directory?)") from None
    except IsADirectoryError:
        raise UserError(missing_file_message(path, what)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise UserError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x}); save it as UTF-8") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
    if not isinstance(obj, dict):
        raise UserError(f"{path}: expected a JSON object at the top level, got {type_name(obj)}")
    return obj


# Fields of run.json that report and compare read, with their JSON types.
RUN_FIELDS = {"name": (str, type(None)), "model": dict, "variants": dict, "decoding": (dict, type(None)),
              "data": (dict, type(None)), "mode": str, "prompt_style": str, "limit": (int, type(None)),
              "tasks": list}
# Sample-row fields: required ones, then optional ones (user_sha: runs before it lack it).
SAMPLE_TYPES = {"doc_id": int, "prompt_sha": (str, type(None)), "output": (str, type(None)),
                "extracted": (str, int, float, bool, list, type(None)),
                "target": (str, int, float, bool, list, type(None)), "correct": bool}
SAMPLE_FIELDS = tuple(SAMPLE_TYPES)
SAMPLE_OPTIONAL_TYPES = {"repeat": int, "user_sha": (str, type(None)), "correct_official": (bool, type(None))}


def check_run_meta(meta: dict, where: str) -> None:
    for key, types in RUN_FIELDS.items():
        require(meta, key, types, where, optional=True)
    for v, spec in (meta.get("variants") or {}).items():
        if not isinstance(spec, dict):
            raise UserError(f"{where}: variants.{v} must be an object, got {type_name(spec)}")


def check_summary(summary: dict, where: str) -> None:
    variants = require(summary, "variants", dict, where)
    for v, body in variants.items():
        if not isinstance(body, dict):
            raise UserError(f"{where}: variants.{v} must be an object, got {type_name(body)}")
        tasks = require(body, "tasks", dict, f"{where}: variants.{v}")
        require(body, "suites", dict, f"{where}: variants.{v}", optional=True)
        for task, t in tasks.items():
            at = f"{where}: variants.{v}.tasks.{task}"
            if not isinstance(t, dict):
                raise UserError(f"{at} must be an object, got {type_name(t)}")
            require(t, "accuracy", float, at)
            require(t, "n", int, at)


def check_sample_row(row: dict, where: str) -> None:
    for key, types in SAMPLE_TYPES.items():
        require(row, key, types, where)
    for key, types in SAMPLE_OPTIONAL_TYPES.items():
        require(row, key, types, where, optional=True)


def is_unfinished(meta: dict) -> bool:
    """run.json of a run that started and has not finished (runs written before
    `finished_at` existed have no such field, and count as finished)."""
    return "finished_at" in meta and meta["finished_at"] is None


def load_run(run_dir: str | Path, with_samples: bool = True) -> RunResult:
    """Read a finished run directory; clear UserError when it is not one."""
    path = Path(run_dir)
    if not path.is_dir():
        raise UserError(f"{path}: is a file, not a run directory" if path.exists()
                        else f"{path}: run directory not found")
    meta = read_json_object(path / "run.json")
    check_run_meta(meta, str(path / "run.json"))
    if is_unfinished(meta):
        # A run resumed (or re-run) and killed leaves its run.json saying so; a summary.json
        # beside it is from an earlier attempt and would be shown as current.
        raise UserError(f"{path}: unfinished: run.json records a start ({meta.get('started_at')}) and no finish; "
                        f"any summary.json there is from an earlier attempt -- run the same command again to "
                        f"finish it")
    summary = read_json_object(path / "summary.json")
    check_summary(summary, str(path / "summary.json"))
    result = RunResult(path=path, meta=meta, summary=summary)
    if with_samples:
        for variant, body in summary["variants"].items():
            vdir = path / "samples" / variant
            result.samples[variant] = {}
            if body["tasks"] and not vdir.is_dir():
                # Without this, a run copied without samples/ reads as a run with no
                # examples, and compare/flips blame "different tasks" or "no shared examples".
                gone = vdir if (path / "samples").is_dir() else path / "samples"
                raise UserError(f"{gone}: missing: the run's per-example results (summary.json lists "
                                f"{len(body['tasks'])} task(s) for {variant}); copy the whole run directory")
            for task in body["tasks"]:
                f = vdir / task_file_name(task)
                if not f.is_file():
                    raise UserError(f"{f}: missing: summary.json lists task {task} for {variant} but its "
                                    "samples file is not there")
            for f in sorted(vdir.glob("*.jsonl")):
                rows = []
                for where, row in iter_jsonl_objects(f, "samples file"):
                    check_sample_row(row, where)
                    rows.append(row)
                result.samples[variant][task_from_file_name(f.name)] = rows
    return result
