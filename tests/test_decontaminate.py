"""Decontamination: real AGIEval and BBH items planted in generated training data are found
however they were copied; lines on the same topic without a shared 13-gram are kept."""
import gzip
import json
import os
import random
import re

import pytest

from harness.benchmark_text import benchmark_documents
from harness.cli import main
from harness.decontaminate import benchmark_index
from orca.decontaminate import (BenchmarkDocument, BenchmarkIndex, decontaminate_files, decontamination_record,
                                normalize_words)


@pytest.fixture(scope="module")
def bench(data_dir):
    docs, _ = benchmark_documents("agieval,bbh", str(data_dir))
    by_task = {}
    for d in docs:
        by_task.setdefault(d.task, []).append(d)
    index, provenance = benchmark_index("agieval,bbh", str(data_dir), 13)   # the one the CLI calls below reuses
    return index, by_task, provenance


def _raw(data_dir, task, doc_id):
    from harness.data import load_task_data
    return load_task_data(task, str(data_dir)).docs[doc_id]


def _long_question(data_dir, task, start=0):
    """doc_id of the first item from `start` on whose question alone is >= 20 words."""
    docs = index_docs(data_dir, task)
    return next(i for i in range(start, len(docs)) if len(docs[i]["question"].split()) >= 20)


def _hits(index, text):
    return {(m.task, m.doc_id) for m in index.matches(normalize_words(text))}


FILLER = ("Answer the question below and explain your reasoning step by step, as a patient teacher "
          "would, then give the final answer on its own line.")


def test_benchmark_side_is_every_task_of_both_suites(bench):
    index, by_task, provenance = bench
    assert len(by_task) == 35 and sum(t.startswith("agieval/") for t in by_task) == 8
    assert all(len(provenance["tasks"][t]["sha256"]) == 64 for t in by_task)
    assert index.stats()["ngrams"] > 100_000 and index.stats()["short_documents"] > 0


@pytest.mark.parametrize("task,doc_id", [("agieval/lsat-lr", 3), ("agieval/aqua-rat", 10), ("agieval/sat-math", 5),
                                         ("bbh/navigate", 7), ("bbh/date_understanding", 100),
                                         ("bbh/logical_deduction_five_objects", 0)])
def test_exact_and_edited_copies_are_found(bench, task, doc_id):
    index, by_task, _ = bench
    text = by_task[task][doc_id].text
    shouting = text.upper()
    spaced = re.sub(r"\s+", lambda m: "  \n\t" if random.Random(len(m.group())).random() < 0.5 else " ", text)
    # punctuation edits: periods become exclamation marks, commas vanish, parentheses and
    # straight quotes become the Unicode forms a chat model writes
    punct = (text.replace(".", "!").replace(",", "").replace("(", "\u3010").replace(")", "\u3011")
             .replace("'", "\u2019").replace('"', "\u201c"))
    glued = text.replace(". ", ".").replace(", ", ",")   # missing spaces after punctuation
    for variant in (text, shouting, spaced, punct, glued):
        assert (task, doc_id) in _hits(index, FILLER + "\n" + variant), variant[:80]


def test_question_embedded_in_a_longer_prompt_is_found(bench, data_dir):
    index, _, _ = bench
    for task in ("agieval/aqua-rat", "agieval/sat-math", "agieval/logiqa-en"):
        doc_id = _long_question(data_dir, task, 30)
        raw = _raw(data_dir, task, doc_id)
        prompt = (f"My friend sent me this puzzle yesterday: {raw['question']} I could not work it out, "
                  "so please show me how you would set it up before solving it.")
        assert (task, doc_id) in _hits(index, prompt)


def test_passage_without_its_question_is_found(bench, data_dir):
    index, _, _ = bench
    raw = _raw(data_dir, "agieval/lsat-rc", 20)
    # a third of the passage, no question and no options
    words = raw["passage"].split()
    excerpt = " ".join(words[len(words) // 3: 2 * len(words) // 3])
    hits = _hits(index, f"Summarise this text in two sentences.\n\n{excerpt}")
    assert ("agieval/lsat-rc", 20) in hits or any(t == "agieval/lsat-rc" for t, _ in hits)
    # the doc_id reported is one of the questions about this very passage
    same_passage = {i for i, d in enumerate(index_docs(data_dir, "agieval/lsat-rc")) if d["passage"] == raw["passage"]}
    assert {d for t, d in hits if t == "agieval/lsat-rc"} <= same_passage


def index_docs(data_dir, task):
    from harness.data import load_task_data
    return load_task_data(task, str(data_dir)).docs


def test_short_bbh_documents_are_matched_whole(bench):
    index, by_task, _ = bench
    doc = by_task["bbh/boolean_expressions"][0]          # "not ( True ) and ( True ) is": 5 words
    assert len(normalize_words(doc.text)) < 13
    assert ("bbh/boolean_expressions", 0) in _hits(index, f"Evaluate: {doc.text} Think it through.")
    # its words in another order are not the document
    assert not any(t == "bbh/boolean_expressions" and d == 0
                   for t, d in _hits(index, "True is and not ( True ) ( True ) and so on"))


def test_same_topic_without_a_shared_13_gram_is_kept(bench, data_dir):
    index, by_task, _ = bench
    raw = _raw(data_dir, "agieval/lsat-rc", 20)
    words = raw["passage"].split()
    # The passage's own words with an extra word after every 10th: shares many 10-grams,
    # no 13-gram. Found at n=9, kept at n=13 -- the boundary is the n-gram length, not the topic.
    interrupted = " ".join(w + (" indeed" if i % 10 == 9 else "") for i, w in enumerate(words))
    assert _hits(index, interrupted) == set()
    nine = BenchmarkIndex([d for d in by_task["agieval/lsat-rc"]], n=9)
    assert nine.matches(normalize_words(interrupted))
    same_topic = [
        "Is the following sentence plausible? The goalkeeper caught the ball with both hands during the match.",
        "My sister was born on the first day of spring in 2031. What date is one week later, in MM/DD/YYYY?",
        "Follow these directions: walk 3 steps north, turn around, walk 3 steps back. Are you where you started?",
        "Which of these is a funny alteration of the band name 'the beatles'?",
        "A bakery sells 12 cakes each hour for 8 hours; how many cakes does it sell? Answer Choices: (A)96 (B)86",
        "Sort the following words alphabetically: apple mango banana cherry",
        "The passage argues that defense lawyers owe a duty to the court as well as to their clients; "
        "discuss whether the author's view is persuasive and why.",
    ]
    for line in same_topic:
        assert _hits(index, line) == set(), line
    # A task's fixed instruction of 13+ words is in every one of its items: a line that
    # uses it is that BIG-bench task's data, and is flagged (docs/data.md).
    assert any(t == "bbh/ruin_names" for t, _ in _hits(
        index, "Which of the following is a humorous edit of this artist or movie name: 'the beatles'?"))


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _planted_files(tmp_path, by_task, data_dir):
    """Generated teacher output (collector lines) and FLAN samples with real items planted."""
    rng = random.Random(3)
    vocab = "river mountain teacher bright quickly market seven garden lantern ocean paper silver".split()
    clean = [{"id": f"c{i}", "status": "ok", "system_message_id": 1, "model": "gpt-4",
              "query": " ".join(rng.choice(vocab) for _ in range(40)), "response": f"Answer {i}."}
             for i in range(30)]
    lsat = by_task["agieval/lsat-lr"][11].text
    nav = by_task["bbh/navigate"][4].text
    passage = _raw(data_dir, "agieval/sat-en", 0)["passage"]
    aqua_question = _raw(data_dir, "agieval/aqua-rat", _long_question(data_dir, "agieval/aqua-rat"))["question"]
    planted = {
        "p-exact": {"query": lsat, "response": "(C)"},
        "p-case": {"query": nav.upper(), "response": "No."},
        "p-embedded": {"query": f"Here is a practice item.\n{aqua_question}\n"
                                "Explain each step.", "response": "Step 1 ..."},
        "p-response": {"query": "Write a reading passage.", "response": passage},   # the copy is in the answer
    }
    collector = list(clean)
    for k, (pid, fields) in enumerate(planted.items()):
        collector.insert(5 + 6 * k, {"id": pid, "status": "ok", "system_message_id": 1, "model": "gpt-4", **fields})
    collector.append({"id": "f1", "status": "failed", "system_message_id": 1, "model": "gpt-4", "response": None})
    flan = [{"id": f"q{i}", "system_message_id": 3, "query": " ".join(rng.choice(vocab) for _ in range(30)),
             "target": "yes", "sub_collection": "t0", "task_name": "t", "template_type": "zs_opt"} for i in range(10)]
    flan.insert(4, {"id": "q-bbh", "system_message_id": 3, "query": by_task["bbh/web_of_lies"][9].text,
                    "target": "No", "sub_collection": "cot", "task_name": "t", "template_type": "zs_opt"})
    return _write(tmp_path / "teacher.jsonl", collector), _write(tmp_path / "flan5m.jsonl", flan), set(planted)


def test_cli_writes_clean_copies_removed_lines_and_report(tmp_path, bench, data_dir, capsys):
    index, by_task, _ = bench
    teacher, flan, planted = _planted_files(tmp_path, by_task, data_dir)
    out = tmp_path / "out"
    rc = main(["data", "decontaminate", "--train", str(teacher), str(flan), "--against", "agieval,bbh",
               "--out-dir", str(out), "--data-dir", str(data_dir)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "agieval/lsat-lr" in printed and "5 of 46 training lines" in printed

    kept = (out / "teacher.jsonl").read_text().splitlines()
    original = teacher.read_text().splitlines()
    assert [json.loads(x)["id"] for x in kept] == [json.loads(x)["id"] for x in original
                                                   if json.loads(x)["id"] not in planted]
    assert set(kept) <= set(original)          # kept lines byte for byte
    flan_kept = (out / "flan5m.jsonl").read_text()
    assert "q-bbh" not in flan_kept and len(flan_kept.splitlines()) == 10

    removed = [json.loads(x) for x in (out / "removed.jsonl").read_text().splitlines()]
    assert {r["row"]["id"] for r in removed} == planted | {"q-bbh"}
    by_id = {r["row"]["id"]: r for r in removed}
    assert (by_id["p-exact"]["benchmark_task"], by_id["p-exact"]["doc_id"]) == ("agieval/lsat-lr", 11)
    assert by_id["p-case"]["benchmark_task"] == "bbh/navigate" and by_id["p-case"]["doc_id"] == 4
    assert by_id["p-embedded"]["benchmark_task"] == "agieval/aqua-rat"
    assert by_id["p-response"]["benchmark_task"] in ("agieval/sat-en",) or any(
        o["benchmark_task"] == "agieval/sat-en" for o in by_id["p-response"]["overlaps"])
    assert len(by_id["p-exact"]["ngram"].split()) == 13
    assert by_id["p-exact"]["ngram"] in " ".join(normalize_words(by_task["agieval/lsat-lr"][11].text))
    assert by_id["q-bbh"]["file"] == str(flan) and by_id["q-bbh"]["line"] == 5

    report = json.loads((out / "decontamination.json").read_text())
    assert report["contaminated"] and report["removed"] == 5 and report["lines"] == 46
    files = {f["file"]: f for f in report["files"]}
    assert files[str(teacher)]["removed"] == 4 and files[str(teacher)]["share_removed"] == round(4 / 35, 6)
    assert files[str(flan)]["share_removed"] == round(1 / 11, 6)
    assert report["tasks"]["agieval/lsat-lr"]["training_lines"] == 1
    assert report["tasks"]["agieval/lsat-lr"]["lines"] == [f"{teacher}:6"]
    assert report["tasks"]["bbh/web_of_lies"]["docs_hit"] == [9]
    assert report["tasks"]["bbh/hyperbaton"]["training_lines"] == 0
    assert len(report["tasks"]) == 35 and report["rule"]["n"] == 13
    # the clean copies carry a record; an edited copy does not
    assert decontamination_record(out / "teacher.jsonl")["removed"] == 5
    assert decontamination_record(teacher) is None
    with open(out / "flan5m.jsonl", "a") as f:
        f.write(json.dumps({"query": "one more line"}) + "\n")
    assert decontamination_record(out / "flan5m.jsonl") is None


def test_check_writes_nothing_and_exits_1_on_contamination(tmp_path, bench, data_dir, capsys):
    _, by_task, _ = bench
    teacher, flan, _ = _planted_files(tmp_path, by_task, data_dir)
    out = tmp_path / "never"
    rc = main(["data", "decontaminate", "--train", str(teacher), "--check", "--out-dir", str(out),
               "--data-dir", str(data_dir), "--json"])
    assert rc == 1 and not out.exists()
    report = json.loads(capsys.readouterr().out)
    assert report["removed"] == 4 and report["out_dir"] is None
    clean = _write(tmp_path / "clean.jsonl", [{"query": "What is two plus two?", "response": "Four."}])
    gz = tmp_path / "clean2.jsonl.gz"
    gz.write_bytes(gzip.compress(b'{"inputs": "Name a colour.", "targets": ["red"]}\n'))
    assert main(["data", "decontaminate", "--train", str(clean), str(gz), "--check",
                 "--data-dir", str(data_dir)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.jsonl", "clean2.jsonl.gz", "flan5m.jsonl",
                                                          "teacher.jsonl"]


def test_project_example_data_is_clean(data_dir, capsys):
    """configs/data/ (the tiny pipeline's teacher data): no line shares a 13-gram with
    AGIEval or BBH -- stated in docs/data.md."""
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    files = sorted(str(p) for p in (root / "configs" / "data").glob("*.jsonl"))
    assert len(files) == 2
    assert main(["data", "decontaminate", "--train", *files, "--check", "--json", "--data-dir", str(data_dir)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["lines"] == 241 and report["removed"] == 0


def test_project_example_data_ships_its_record(data_dir, capsys):
    """configs/data/decontamination.json is the record `orca-eval train` looks for: both
    bundled training configs ran with a "has no decontamination record" warning about the
    project's own data (which the test above shows clean). The record must stay true: the
    same training files (by hash) and the same benchmark files it was checked against."""
    from pathlib import Path

    from orca.cli_train import warn_not_decontaminated
    from orca.decontaminate import decontamination_record
    from orca.io import sha256_file
    from orca.train_config import load_train_config

    root = Path(__file__).resolve().parent.parent
    files = sorted((root / "configs" / "data").glob("*.jsonl"))
    for f in files:
        record = decontamination_record(f)
        assert record is not None, f
        assert record["removed"] == 0 and record["benchmarks"]["against"] == "agieval,bbh"
    for name, task in record["benchmarks"]["tasks"].items():
        source = Path(task["source"].replace("../shared/data", str(data_dir)))
        assert sha256_file(source) == task["sha256"], name
    for config in ("tiny_two_stage.yaml", "smollm2_two_stage.yaml"):
        config = load_train_config(root / "configs" / config)
        assert {p.resolve() for s in config.stages for p in s.data} == {f.resolve() for f in files}
        warn_not_decontaminated(config)
        assert "decontamination record" not in capsys.readouterr().err


@pytest.mark.parametrize("case,message", [
    ("missing", "missing.jsonl: training file not found"),
    ("corrupt", "bad.jsonl:2: malformed JSON"),
    ("not-utf8", "latin.jsonl:1: not UTF-8 text"),
    ("not-object", "list.jsonl:1: expected a JSON object"),
    ("no-query", "noquery.jsonl:1: no query text on the line"),
    ("directory", "adir: not a file"),
    ("unknown-benchmark", "unknown suite or task 'mmlu'"),
    ("small-n", "--n must be at least 5"),
    ("out-dir-is-a-file", "out: --out-dir exists and is not a directory"),
    ("same-name-twice", "two training files are named 'good.jsonl'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, data_dir, capsys, case, message):
    good = _write(tmp_path / "good.jsonl", [{"query": "hello there", "response": "hi"}])
    train, extra = [str(good)], []
    if case == "missing":
        train = [str(tmp_path / "missing.jsonl")]
    elif case == "corrupt":
        (tmp_path / "bad.jsonl").write_text('{"query": "a", "response": "b"}\n{"query": "a", "resp\n')
        train = [str(tmp_path / "bad.jsonl")]
    elif case == "not-utf8":
        (tmp_path / "latin.jsonl").write_bytes('{"query": "caf\u00e9"}\n'.encode("latin-1"))
        train = [str(tmp_path / "latin.jsonl")]
    elif case == "not-object":
        (tmp_path / "list.jsonl").write_text('["query", "x"]\n')
        train = [str(tmp_path / "list.jsonl")]
    elif case == "no-query":
        _write(tmp_path / "noquery.jsonl", [{"id": "1", "status": "ok", "response": "only an answer"}])
        train = [str(tmp_path / "noquery.jsonl")]
    elif case == "directory":
        (tmp_path / "adir").mkdir()
        train = [str(tmp_path / "adir")]
    elif case == "unknown-benchmark":
        extra = ["--against", "agieval,mmlu"]
    elif case == "small-n":
        extra = ["--n", "4"]
    out = tmp_path / "out"
    if case == "out-dir-is-a-file":
        out.write_text("not a folder")
    elif case == "same-name-twice":
        (tmp_path / "sub").mkdir()
        train = [str(good), str(_write(tmp_path / "sub" / "good.jsonl", [{"query": "q"}]))]
    rc = main(["data", "decontaminate", "--train", *train, "--out-dir", str(out), "--data-dir", str(data_dir),
               *extra])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("orca-eval: error: ") and message in err, err
    if out.is_dir():
        assert not (out / "good.jsonl").exists() and not (out / "decontamination.json").exists()


def test_index_is_built_from_given_documents_only():
    docs = [BenchmarkDocument("x/a", 0, "one two three four five six seven eight nine ten eleven twelve thirteen"),
            BenchmarkDocument("x/b", 0, "Alpha, beta; gamma!"),
            BenchmarkDocument("x/c", 5, "one two three four five six seven eight nine ten eleven twelve thirteen")]
    index = BenchmarkIndex(docs, n=13)
    line = "zero ONE two three four five six seven eight nine ten eleven twelve thirteen"
    hits = index.matches(normalize_words(line))
    assert {(m.task, m.doc_id) for m in hits} == {("x/a", 0), ("x/c", 5)}   # one match per task
    assert [(m.task, m.ngram) for m in index.matches(normalize_words("say alpha beta gamma now"))] == \
        [("x/b", "alpha beta gamma")]
    assert index.matches(normalize_words("alpha beta delta gamma")) == []
    with pytest.raises(ValueError, match="at least|>= 5"):
        BenchmarkIndex(docs, n=4)


def test_datasets_filter_over_shards_with_the_index_broadcast(tmp_path):
    """docs/data.md's recipe for data bigger than one machine: the same index in
    `datasets.Dataset.filter` with worker processes (the index is pickled to each)."""
    import datasets

    docs = [BenchmarkDocument("x/a", 0, "the quick brown fox jumps over the lazy dog near the old river bank")]
    index = BenchmarkIndex(docs, n=13)
    rows = [{"query": f"line {i} about foxes and dogs", "response": "ok"} for i in range(40)]
    rows[17]["query"] = "Copy: The quick brown fox jumps over the lazy dog, near the old river bank."
    ds = datasets.Dataset.from_list(rows)

    def keep(batch):
        return [not index.matches(normalize_words(q + "\n" + r)) for q, r in zip(batch["query"], batch["response"])]

    environ = os.environ
    try:
        clean = ds.filter(keep, batched=True, batch_size=8, num_proc=2)
    finally:
        # datasets' multiprocess map rebinds os.environ to a copy (arrow_dataset.py); rich keeps the
        # original mapping, so later tests' monkeypatched COLUMNS would no longer reach it.
        os.environ = environ
    assert len(clean) == 39 and rows[17]["query"] not in clean["query"]


def test_files_api_without_out_dir_writes_nothing(tmp_path):
    index = BenchmarkIndex([BenchmarkDocument("x/a", 3, "a b c d e f g h i j k l m n o p")], n=13)
    f = _write(tmp_path / "t.jsonl", [{"query": "a b c d e f g h i j k l m"}, {"query": "z"}])
    report = decontaminate_files([f], index, None)
    assert report["removed"] == 1 and report["tasks"]["x/a"]["docs_hit"] == [3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.jsonl"]


@pytest.mark.parametrize("section,expect", [
    ("", {}),                                                  # on by default
    ("decontaminate: false\n", None),
    ("decontaminate: {against: bbh, n: 9, data_dir: bench}\n", {"against": "bbh", "n": 9}),
    ("decontaminate: {n: 3}\n", "decontaminate: field 'n' must be at least 5"),
    ("decontaminate: {ngram: 13}\n", "decontaminate: unknown field 'ngram'"),
    ("decontaminate: {n: true}\n", "decontaminate: field 'n' has the wrong type"),
])
def test_pipeline_config_section(tmp_path, section, expect):
    from orca.errors import UserError
    from harness.pipeline import load_pipeline_config

    cfg_path = tmp_path / "p.yaml"
    (tmp_path / "d.jsonl").write_text("")  # the pipeline checks that teacher data exists before any step
    cfg_path.write_text("run_dir: run\ndata: {s1: d.jsonl}\ntrain: {stages: [{name: s1, init: 'tiny:0'}]}\n" + section)
    if isinstance(expect, str):
        with pytest.raises(UserError, match=re.escape(expect)):
            load_pipeline_config(cfg_path)
        return
    got = load_pipeline_config(cfg_path).decontaminate
    if expect is None or expect == {}:
        assert got == expect
    else:
        assert {k: got[k] for k in expect} == expect and got["data_dir"] == str((tmp_path / "bench").resolve())
