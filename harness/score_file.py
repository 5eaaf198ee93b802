"""`orca-eval score`: score generations made elsewhere, into the same result files.

Each line of the predictions file has `task` (e.g. `bbh/navigate` or `navigate`),
`prediction`, and a way to find its example: `doc_id` (or `index`, the example's
position in the task's data file), or `input` (BBH input / AGIEval question text),
or only `target` (then scored without the example's option texts, and stored under
ids after the task's last example -- n, n+1, ... -- never under a real example's id).
"""
from __future__ import annotations

from pathlib import Path

from harness.data import load_task_data, resolve_tasks
from orca.errors import UserError, type_name
from orca.io import iter_jsonl_objects, sha256_file, sha256_text
from harness.prompts import parse_system_variant, user_prompt
from harness.provenance import data_record, run_metadata, utc_now
from harness.results import summarize_variant, task_file_name, write_run_meta, write_samples, write_summary
from harness.run_dir import check_same_predictions, output_dir
from harness.scoring import score_output
from harness.suites import Task, all_tasks
from harness import extract
from orca.paths import data_dir


def _task_of(name, where: str, allowed: dict[str, Task]) -> Task:
    if name is None:
        raise UserError(f"{where}: missing field 'task'")
    if not isinstance(name, str):
        raise UserError(f"{where}: field 'task' must be a string, got {name!r}")
    known = all_tasks()
    key = name if name in known else next((k for k, t in known.items() if t.name == name), None)
    if key is None:
        raise UserError(f"{where}: unknown task {name!r}")
    if key not in allowed:
        raise UserError(f"{where}: task {key} is not in the suite being scored")
    return allowed[key]


def _find_doc(row: dict, docs: list[dict], task: Task, where: str, index_by_input: dict) -> int | None:
    if "target" in row and (isinstance(row["target"], bool) or not isinstance(row["target"], (str, int))):
        # str(None) would store the target "None" and count the row wrong
        raise UserError(f"{where}: field 'target' must be a string, got {type_name(row['target'])}")
    for field in ("doc_id", "index"):
        if field in row:
            i = row[field]
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(docs):  # true is not 1
                raise UserError(f"{where}: field {field!r} = {i!r} is not an example index of {task.key} "
                                f"(0..{len(docs) - 1})")
            return i
    if "input" in row:
        i = index_by_input.get(str(row["input"]).strip())
        if i is None:
            raise UserError(f"{where}: field 'input' matches no example of {task.key}")
        return i
    if "target" in row:
        return None
    raise UserError(f"{where}: needs 'doc_id', 'index', 'input' or 'target'")


def score_predictions(predictions: str | Path, suite: str, output: str | Path | None = None,
                      data: str | None = None, system_message: str = "1", prompt_style: str = "orca",
                      name: str | None = None) -> Path:
    """Score a predictions JSONL file; returns the run directory written."""
    path = Path(predictions)
    tasks = {t.key: t for t in resolve_tasks(suite)}
    root = str(data_dir(data)) if not str(data or "").startswith("hf:") else data
    task_data = {t: load_task_data(t, root) for t in tasks.values()}
    variant = parse_system_variant(system_message)
    # a prediction's `input` names its example by the suite's match field (BBH input, AGIEval question)
    lookup = {t: {d[t.suite.match_field].strip(): i for i, d in enumerate(td.docs)} for t, td in task_data.items()}

    rows_by_task: dict[Task, dict[int, dict]] = {}
    target_only: dict[Task, int] = {}
    for where, row in iter_jsonl_objects(path, "predictions file"):
        task = _task_of(row.get("task"), where, tasks)
        pred = row.get("prediction")
        if not isinstance(pred, str):
            raise UserError(f"{where}: missing field 'prediction'" if "prediction" not in row
                            else f"{where}: field 'prediction' must be a string, got {pred!r}")
        docs = task_data[task].docs
        i = _find_doc(row, docs, task, where, lookup[task])
        by_id = rows_by_task.setdefault(task, {})
        if i is None:  # target only: score as given, without option texts
            target = str(row["target"])
            family = task.family
            ex = extract.extract_answer(pred, family, None)
            off = extract.extract_official(pred, family, None)
            i = len(docs) + target_only.get(task, 0)  # past the real ids: no collision with doc_id rows
            target_only[task] = target_only.get(task, 0) + 1
            scored = {"extracted": ex, "target": target, "correct": extract.is_correct(ex, target, family),
                      "extracted_official": off, "correct_official": extract.is_correct(off, target, family)}
            sha = None
        else:
            scored = score_output(task, docs[i], pred)
            if "target" in row and str(row["target"]).strip() != str(scored["target"]).strip():
                raise UserError(f"{where}: field 'target' {row['target']!r} disagrees with the data "
                                f"({scored['target']!r}) for example {i} of {task.key}")
            sha = sha256_text(user_prompt(task, docs[i], prompt_style))[:16]
        if i in by_id:
            raise UserError(f"{where}: a second prediction for example {i} of {task.key}")
        by_id[i] = {"doc_id": i, "repeat": 0, "prompt_sha": sha, "user_sha": sha, "output": pred, **scored}
    if not rows_by_task:
        raise UserError(f"{path}: no predictions")

    # As `run` names its folder by what it ran: two files called preds.jsonl get two folders.
    run_dir = output_dir(output, name or f"scored-{path.stem}-{sha256_text(str(path.resolve()))[:6]}")
    check_same_predictions(run_dir, f"predictions:{path.name}", path, variant.name)
    samples = {t.key: sorted(by_id.values(), key=lambda r: r["doc_id"]) for t, by_id in rows_by_task.items()}
    # A re-score replaces the earlier scoring: its summary goes first (a kill from here on leaves
    # no summary, i.e. an unfinished run, never a mix), and so do sample files of tasks that
    # this predictions file no longer has.
    (run_dir / "summary.json").unlink(missing_ok=True)
    for t, rows in samples.items():
        write_samples(run_dir, variant.name, t, rows)
    current = {task_file_name(t) for t in samples}
    for stale in sorted((run_dir / "samples" / variant.name).glob("*.jsonl")):
        if stale.name not in current:
            stale.unlink()
    n_totals = {t: len(task_data[tasks[t]].docs) for t in samples}
    write_summary(run_dir, {"variants": {variant.name: summarize_variant(samples, n_totals)}})
    now = utc_now()
    write_run_meta(run_dir, run_metadata(
        name=name or run_dir.resolve().name,
        model={"spec": f"predictions:{path.name}", "backend": "predictions", "path": str(path.resolve()),
               "revision": None, "fingerprint": sha256_file(path)[:16]},
        suite=suite, tasks=sorted(samples), mode="generate", prompt_style=prompt_style, variants=[variant],
        decoding=None, seed=None, repeats=1, limit=None,
        data=data_record(root, {t: task_data[tasks[t]] for t in samples}, sources=False), started_at=now,
        finished_at=now))
    return run_dir


def _one_line(text: str) -> str:
    return " ".join(str(text).replace("\n", " \u23ce ").split())


def explain_run(run_dir: str | Path, tail: int = 160, write=print) -> int:
    """`orca-eval score --explain RUN`: every example whose verdict differs between the robust
    and the official extractor (one right, the other wrong), with the output's tail and both
    decisions, grouped by task, so the gap between `accuracy` and `accuracy_official` can be
    audited on one screen. Returns the number of such examples."""
    from harness.results import load_run

    run = load_run(run_dir)
    total = 0
    for variant, tasks in run.samples.items():
        for task, rows in sorted(tasks.items()):
            differ = [r for r in rows if "correct_official" in r and bool(r["correct"]) != bool(r["correct_official"])]
            if not differ:
                continue
            robust_only = sum(1 for r in differ if r["correct"])
            n = len(rows)
            write(f"== {variant} {task}: robust {100 * sum(bool(r['correct']) for r in rows) / n:.1f} % vs official "
                  f"{100 * sum(bool(r['correct_official']) for r in rows) / n:.1f} % (n={n}); "
                  f"{robust_only} right only under robust, {len(differ) - robust_only} only under official")
            for r in differ:
                out = _one_line(r.get("output", ""))
                shown = out if len(out) <= tail else "\u2026" + out[-tail:]
                mark = {True: "right", False: "wrong"}
                write(f"  #{r['doc_id']}{'' if not r.get('repeat') else ' repeat ' + str(r['repeat'])} "
                      f"target {r['target']!s}: robust {r['extracted'] if r['extracted'] is not None else 'unparsed'} "
                      f"({mark[bool(r['correct'])]}), official "
                      f"{r['extracted_official'] if r['extracted_official'] is not None else 'unparsed'} "
                      f"({mark[bool(r['correct_official'])]})")
                write(f"      {shown}")
            total += len(differ)
    write(f"{total} example(s) where the two extractors' verdicts differ"
          + ("" if not (run.meta.get("data") or {}).get("damaged_targets") else
             "; damaged targets the official rule cannot score: "
             + "; ".join(f"{t}: {', '.join(v)}" for t, v in run.meta["data"]["damaged_targets"].items())))
    return total
