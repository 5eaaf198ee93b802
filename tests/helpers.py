"""Helpers shared by several test modules (imported as `from helpers import ...`: pytest
puts tests/ on sys.path). Test modules import from here, never from each other.

Plain functions and data live here rather than in conftest.py because test modules would
have to import them from conftest.py, a file pytest loads by itself (an anti-pattern); the
fixtures several modules share are in conftest.py."""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

from harness.data import SUITES
from harness.results import summarize_variant, write_run_meta, write_samples, write_summary


def error_line(capsys) -> str:
    """What a command printed on stderr when it failed as every orca-eval command must:
    one line, "orca-eval: error: ...", no traceback. Returned without its line break."""
    err = capsys.readouterr().err
    assert err.startswith("orca-eval: error: ") and err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    return err.strip()


def one_line_error(capsys, argv, rc: int = 2) -> str:
    """Run `orca-eval ARGV` in-process; it must exit `rc` with one error line (returned)."""
    from harness.cli import main

    assert main([str(a) for a in argv]) == rc
    return error_line(capsys)


# ----------------------------------------------------------------------------- inputs to damage

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "results" / "baselines" / "ci-tiny"  # a committed finished run
NO_API = "http://127.0.0.1:9/v1"  # nothing listens there; commands given it must fail before asking

# Complete (newline-terminated) lines that are not JSON objects: a reader must refuse each
# (or, in the output cache, skip and count it), never drop the lines around it.
CORRUPT_LINES = [
    b'{"k": "a", "v": ',              # cut short, yet followed by a newline
    b"not json at all",
    b'{"id": "x"} trailing',          # an object with garbage after it
    b"[1, 2, 3]",                     # JSON, but not an object
    b'"just a string"',
    b'{"k": "caf\xff\xfe"}',          # not UTF-8
    b'{"k": "a", "v{"k": "b", "v": 2}',  # a torn write with a later append glued on
]


def copy_run(tmp_path: Path, name: str = "run") -> Path:
    """A copy of the committed baseline run, to damage."""
    return Path(shutil.copytree(BASELINE, tmp_path / name))


def samples_file(run: Path) -> Path:
    """The run's first samples file (by path)."""
    return sorted((run / "samples").rglob("*.jsonl"))[0]


def write(path: Path, data: bytes | str) -> Path:
    """Write `data` (bytes as they are, text as UTF-8) to `path`, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def tree_bytes(path: Path) -> dict:
    """Every file under `path` with its bytes (empty when `path` does not exist)."""
    return {p: p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()} if path.exists() else {}


# ----------------------------------------------------------------------------- runs for report tests

AGIEVAL = SUITES["agieval"]
BBH = list(SUITES["bbh"])
BBH_EXCLUDED = {"bbh/dyck_languages", "bbh/multistep_arithmetic_two", "bbh/object_counting", "bbh/word_sorting"}
LETTERS = "ABCDE"


def outcomes(n: int, correct: int, official: int | None = None) -> list[tuple[bool, bool]]:
    """n examples, the first `correct` right (robust); the first `official` of those right for the official extractor."""
    official = correct if official is None else official
    assert official <= correct <= n
    return [(i < correct, i < official) for i in range(n)]


def write_synthetic_run(run_dir: Path, items: dict[str, dict[str, list]], row, meta: dict,
                        n_totals: dict[str, int] | None = None) -> Path:
    """A finished run directory, written with harness.results as `orca-eval run` writes one:
    samples/VARIANT/TASK.jsonl, summary.json and run.json (`meta`). `items` is variant ->
    task -> one item per sample row; `row(variant, task, i, item)` makes the i-th row, so
    each caller chooses its rows' shape and this one writer does the rest (issue 24)."""
    summary = {"variants": {}}
    for variant, tasks in items.items():
        rows_by_task = {}
        for task, task_items in tasks.items():
            rows = [row(variant, task, i, item) for i, item in enumerate(task_items)]
            write_samples(run_dir, variant, task, rows)
            rows_by_task[task] = rows
        summary["variants"][variant] = summarize_variant(rows_by_task, n_totals)
    write_run_meta(run_dir, meta)
    write_summary(run_dir, summary)
    return run_dir


def make_run(root: Path, name: str, results: dict[str, dict[str, list[tuple[bool, bool]]]],
             limit: int | None = None, n_totals: dict[str, int] | None = None, doc_offset: int = 0,
             targets_shift: int = 0) -> Path:
    """A finished run for report tests, from (robust correct, official correct) outcomes per
    example: rows with letter targets, outputs naming the run, a full run.json."""
    def row(variant, task, i, outcome):
        (ok, ok_off), doc = outcome, i + doc_offset
        target = LETTERS[(doc + targets_shift) % 4]
        wrong = LETTERS[(doc + targets_shift + 1) % 4]
        extracted = target if ok else (None if i % 5 == 4 else wrong)
        return {"doc_id": doc, "prompt_sha": f"{variant}-{task}-{doc}",
                "output": f"{name} says ({extracted})" if extracted else f"{name} rambles",
                "extracted": extracted, "target": target, "correct": ok,
                "extracted_official": target if ok_off else wrong, "correct_official": ok_off, "repeat": 0}

    sm_ids = {v: int(v[2:]) if v.startswith("sm") else None for v in results}
    suites = sorted({t.split("/")[0] for v in results.values() for t in v})
    return write_synthetic_run(root / name, results, row, {
        "name": name, "model": {"spec": f"hf:/models/{name}", "backend": "hf", "path": f"/models/{name}",
                                "revision": None},
        "suite": suites[0] if len(suites) == 1 else "all", "tasks": sorted({t for v in results.values() for t in v}),
        "mode": "generate", "prompt_style": "orca",
        "variants": {v: {"system_message": "" if i == 1 else f"message {i}", "system_message_id": i}
                     for v, i in sm_ids.items()},
        "decoding": {"do_sample": False, "temperature": 0.0, "top_p": 1.0, "max_new_tokens": 512},
        "seed": 1234, "repeats": 1, "limit": limit, "data": {"dir": "/data", "hashes": {}},
        "packages": {"lm_eval": "0.4.13"}, "git_commit": "0123abc", "started_at": "2024-01-01T00:00:00Z",
        "finished_at": "2024-01-01T01:00:00Z"}, n_totals)


# AGIEval run "tiny": 40 examples per task. sm1 accuracies 25,30,40,40,50,30,70,35 (mean 40.0),
# official 20,25,35,35,45,25,65,30 (mean 35.0); sm2 accuracies 30,25,20,45,45,35,75,30 (mean 38.125).
SM1 = [10, 12, 16, 16, 20, 12, 28, 14]
SM2 = [12, 10, 8, 18, 18, 14, 30, 12]


def tiny_agieval(root: Path) -> Path:
    return make_run(root, "tiny", {
        "sm1": {t: outcomes(40, c, c - 2) for t, c in zip(AGIEVAL, SM1)},
        "sm2": {t: outcomes(40, c) for t, c in zip(AGIEVAL, SM2)},
    })


def bbh_partial(root: Path) -> Path:
    """All 27 BBH tasks under --limit 10: 5/10 on the paper's 23, 0/10 on the other 4."""
    n_totals = {t: (187 if t.endswith("causal_judgement") else 146 if t.endswith("penguins_in_a_table")
                    else 178 if t.endswith("snarks") else 250) for t in BBH}
    return make_run(root, "bbh-small", {"none": {t: outcomes(10, 0 if t in BBH_EXCLUDED else 5) for t in BBH}},
                    limit=10, n_totals=n_totals)


# ----------------------------------------------------------------------------- paired runs for compare

EMPTY_SM = ""


def paired_outcomes(n: int, base_correct: int, lost: int = 0, gained: int = 0) -> tuple[list[bool], list[bool]]:
    """Paired outcomes with exactly `lost` base-right examples turned wrong and `gained`
    base-wrong examples turned right in the candidate."""
    assert lost <= base_correct and gained <= n - base_correct
    base = [i < base_correct for i in range(n)]
    cand = list(base)
    for i in range(lost):
        cand[i] = False
    for i in range(gained):
        cand[base_correct + i] = True
    return base, cand


def write_run(run_dir: Path, task_outcomes: dict[str, list[bool]], *, variants: dict[str, str | None] | None = None,
              mode: str = "loglikelihood", prompt_style: str = "orca", repeats: dict[str, list[list[bool]]] | None = None,
              prompt_salt: dict[int, str] | None = None) -> Path:
    """A finished run for compare tests: the same outcomes under every variant (system
    message), each task's examples once per repeat, a minimal run.json."""
    variants = variants if variants is not None else {"sm1": EMPTY_SM}
    # One item per row: (repeat, doc_id, correct), repeats in order.
    items = {task: [(rep, doc_id, ok) for rep, rep_correct in enumerate((repeats or {}).get(task) or [correct])
                    for doc_id, ok in enumerate(rep_correct)] for task, correct in task_outcomes.items()}

    def row(variant, task, i, item):
        rep, doc_id, ok = item
        salt = (prompt_salt or {}).get(doc_id, "")
        return {"doc_id": doc_id, "repeat": rep, "prompt_sha": f"{variant}-{task}-{doc_id}{salt}",
                "output": "(A)", "extracted": "A", "target": f"T{doc_id}",
                "correct": bool(ok), "extracted_official": "A", "correct_official": bool(ok)}

    return write_synthetic_run(run_dir, {v: items for v in variants}, row, {
        "name": run_dir.name, "model": {"spec": f"hf:/ckpt/{run_dir.name}", "backend": "hf"},
        "suite": "all", "tasks": sorted(task_outcomes), "mode": mode, "prompt_style": prompt_style,
        "variants": {v: {"system_message": sm, "system_message_id": 1 if sm == EMPTY_SM else None}
                     for v, sm in variants.items()},
        "decoding": {"do_sample": False, "temperature": 0.0, "top_p": 1.0, "max_new_tokens": 512},
        "seed": 1234, "repeats": len(next(iter((repeats or {}).values()), [None])),
        "limit": None,
    })


def pair_of_runs(tmp_path: Path, spec: dict[str, tuple[int, int, int, int]], **kw) -> tuple[Path, Path]:
    """spec: task -> (n, base_correct, lost, gained)."""
    pairs = {t: paired_outcomes(*s) for t, s in spec.items()}
    base = write_run(tmp_path / "base", {t: b for t, (b, _) in pairs.items()}, **kw)
    cand = write_run(tmp_path / "cand", {t: c for t, (_, c) in pairs.items()}, **kw)
    return base, cand


# ----------------------------------------------------------------------------- FLAN-v2-shaped data

def make_rows() -> list[dict]:
    """A small FLAN-v2-shaped collection with everything the sampler must handle."""
    rows = []

    def add(src, task, n, template="zs_noopt", prefix=None):
        for i in range(n):
            rows.append({"inputs": f"{prefix or task} input {i}", "targets": f"{task} target {i}",
                         "task_source": src, "task_name": task, "template_type": template})

    for t in range(3):
        add("CoT", f"cot_task{t}", 10)
    add("NIv2", "task001_big", 40)
    add("NIv2", "task002_small", 2)
    add("NIv2", "task003_mid", 8)
    add("Flan2021", "huge_flan_task", 400, "zs_opt")
    add("Flan2021", "small_flan_a", 25)
    add("Flan2021", "small_flan_b", 25, "zs_opt")
    add("T0", "t0_task_a", 200)
    add("T0", "t0_task_b", 30)
    add("T0", "bigbench_t0_task", 30)
    add("Dialog", "dialog_task", 20)
    add("Flan2021", "huge_flan_task", 50, "fs_opt", prefix="few-shot")   # few-shot: dropped
    # Duplicates: same inputs again (another template / task); one copy must survive.
    add("Flan2021", "small_flan_a_copy", 5, "zs_noopt", prefix="small_flan_a")
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# ----------------------------------------------------------------------------- teacher data, training config

def write_teacher_data(path: Path, n: int, seed: int, model: str = "gpt-3.5-turbo") -> Path:
    """Collector-style lines: answer is the animal among the options (a rule a tiny model learns)."""
    rng = random.Random(seed)
    animals = ["dog", "cat", "horse", "sheep", "goat", "mouse", "tiger", "lion"]
    things = ["chair", "table", "lamp", "spoon", "window", "pencil", "bottle", "carpet"]
    rows = []
    for i in range(n):
        opts = rng.sample(things, 3)
        k = rng.randrange(4)
        opts.insert(k, rng.choice(animals))
        letters = "ABCD"
        query = "Which is an animal? " + " ".join(f"({letters[j]}){o}" for j, o in enumerate(opts))
        rows.append({"id": f"q{seed}-{i}", "status": "ok", "system_message_id": 1, "system": "", "query": query,
                     "model": model, "response": f"({letters[k]}){opts[k]}\nA {opts[k]} is an animal."})
    rows.append({"id": "failed-1", "status": "failed", "system_message_id": 1, "model": model, "error": "429"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_config(tmp: Path, n1: int = 40, n2: int = 20, **stage_overrides) -> Path:
    write_teacher_data(tmp / "chatgpt.jsonl", n1, seed=1)
    write_teacher_data(tmp / "gpt4.jsonl", n2, seed=2, model="gpt-4")
    s1 = dict(name="stage1", data="chatgpt.jsonl", init="tiny:0", epochs=2, lr=3e-3, batch_size=2,
              grad_accum=2, max_len=128, warmup_steps=2)
    s1.update(stage_overrides)
    s2 = dict(name="stage2", data="gpt4.jsonl", init="stage:stage1", epochs=1, lr=1e-3, batch_size=2, max_len=128)
    cfg = {"output_dir": "out", "seed": 0, "log_every": 1, "stages": [s1, s2]}
    path = tmp / "train.json"
    path.write_text(json.dumps(cfg))
    return path


# ----------------------------------------------------------------------------- packing

def token_examples(lengths, seed=0):
    """Tokenized examples of these lengths, the first half of each masked from the loss."""
    from orca.tokenize import IGNORE_INDEX

    rng = random.Random(seed)
    out = []
    for n in lengths:
        ids = [rng.randrange(3, 32000) for _ in range(n)]
        cut = n // 2
        out.append({"input_ids": ids, "labels": [IGNORE_INDEX] * cut + ids[cut:]})
    return out


# ----------------------------------------------------------------------------- loglikelihood requests

def agieval_pairs(data_dir: Path, tokenizer, tasks: list[str], per_task: int) -> list[tuple[str, str]]:
    """(prompt, option) pairs as `orca-eval run --mode loglikelihood` builds them for AGIEval
    (sm2, the Orca prompt, the model's chat template)."""
    from harness.data import load_task_data
    from harness.prompts import user_prompt
    from orca.system_messages import SYSTEM_MESSAGES
    from orca.template import render_for_tokenizer

    pairs = []
    for task in tasks:
        for doc in load_task_data(task, str(data_dir)).docs[:per_task]:
            prompt = render_for_tokenizer(tokenizer, user_prompt(task, doc), SYSTEM_MESSAGES[2])
            pairs += [(prompt, option) for option in doc["options"]]
    return pairs
