"""FLAN-v2 zero-shot sampling (Table 3), FLAN-1M as a subset, system messages (Figure 6);
`orca-eval data sample` writes collectable query files and refuses a bad --scale."""
from __future__ import annotations

import collections
import json
import random
from pathlib import Path

import pytest

from harness.cli import main as cli_main
from orca.errors import UserError
from orca import flan
from orca.collect import load_queries
from orca.system_messages import SYSTEM_MESSAGES, allowed_message_ids
from helpers import error_line, make_rows, write_jsonl

SHARED_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "flan-sample"


def examples(rows):
    return [flan._example(r, f"row{i}") for i, r in enumerate(rows)]


# scale 1e-5: targets CoT 2, NiV2 4 (but 1 per task), Flan2021 25, T0 20, FLAN-1M 10.
SMALL = 1e-5


def test_zero_shot_filter_dialog_bigbench_and_duplicates():
    groups, dropped = flan.group_zero_shot(examples(make_rows()))
    assert set(groups) == {"cot", "niv2", "flan2021", "t0"}
    assert dropped == {"few_shot": 50, "dialog": 20, "t0_bigbench": 30, "duplicates": 5}
    assert set(groups["t0"]) == {"t0_task_a", "t0_task_b"}
    all_ids = [ex.id for tasks in groups.values() for exs in tasks.values() for ex in exs]
    assert len(all_ids) == len(set(all_ids)) == 30 + 50 + 450 + 230
    # The surviving copy is the canonical one, whatever the file order.
    assert "small_flan_a_copy" not in groups["flan2021"]


def test_counts_follow_table3_at_scale():
    ex5m, report = flan.sample_flan5m(examples(make_rows()), scale=SMALL, seed=1)
    by_sub = collections.Counter(e.sub_collection for e in ex5m)
    assert report["targets"] == {"cot": 2, "niv2": 4, "flan2021": 25, "t0": 20}
    # NiV2: the per-task cap (300 x scale, at least 1) binds before the 4 in all.
    assert report["niv2_per_task_cap"] == 1
    assert by_sub == {"cot": 2, "niv2": 3, "flan2021": 25, "t0": 20}
    assert len({e.id for e in ex5m}) == len(ex5m)

    # Full scale on this small collection: CoT all; NiV2 at most 300 per task (all here);
    # Flan2021/T0 everything available.
    full, report = flan.sample_flan5m(examples(make_rows()), scale=1.0, seed=1)
    by_sub = collections.Counter(e.sub_collection for e in full)
    assert by_sub == {"cot": 30, "niv2": 50, "flan2021": 450, "t0": 230}
    assert report["niv2_per_task_cap"] == 300


def test_niv2_per_task_cap():
    rows = [{"inputs": f"{t} {i}", "targets": "x", "task_source": "NIv2", "task_name": t,
             "template_type": "zs_opt"} for t in ("a", "b") for i in range(30)]
    ex5m, report = flan.sample_flan5m(examples(rows), scale=0.02, seed=0)   # cap 6, total 8800
    assert report["niv2_per_task_cap"] == 6
    assert collections.Counter(e.task_name for e in ex5m) == {"a": 6, "b": 6}


def test_algorithm1_picks_tasks_uniformly_not_by_size():
    # 25 Flan2021 draws from tasks of 400, 25 and 25 queries: uniform task choice gives each
    # small task about a third; sampling by size would give them about 1.4 each.
    counts = collections.Counter()
    for seed in range(20):
        ex5m, _ = flan.sample_flan5m(examples(make_rows()), scale=SMALL, seed=seed)
        counts.update(e.task_name for e in ex5m if e.sub_collection == "flan2021")
    assert sum(counts.values()) == 500
    for task in ("huge_flan_task", "small_flan_a", "small_flan_b"):
        assert 500 / 3 * 0.75 <= counts[task] <= 500 / 3 * 1.25, counts
    # Without replacement, and a task that runs dry drops out.
    rng = random.Random(0)
    exs = examples(make_rows())
    tasks = {"a": exs[:3], "b": exs[10:40]}
    drawn = flan.algorithm1(tasks, 20, rng)
    assert len(drawn) == len({e.id for e in drawn}) == 20
    assert {e.id for e in tasks["a"]} <= {e.id for e in drawn}   # a ran dry, then only b
    assert len(flan.algorithm1(tasks, 1000, rng)) == 33


def test_deterministic_for_seed_and_independent_of_file_order(tmp_path):
    rows = make_rows()
    a, _ = flan.sample_flan5m(examples(rows), scale=SMALL, seed=5)
    shuffled = rows[:]
    random.Random(9).shuffle(shuffled)
    b, _ = flan.sample_flan5m(examples(shuffled), scale=SMALL, seed=5)
    c, _ = flan.sample_flan5m(examples(rows), scale=SMALL, seed=6)
    assert [e.id for e in a] == [e.id for e in b]
    assert [e.id for e in a] != [e.id for e in c]
    # Ids are content hashes of the query text.
    assert all(e.id == flan.example_id(e.inputs) for e in a)
    assert flan.example_id("  same text\n") == flan.example_id("same text")


def test_flan1m_is_a_subset_of_flan5m():
    ex5m, _ = flan.sample_flan5m(examples(make_rows()), scale=SMALL, seed=2)
    ex1m = flan.sample_flan1m(ex5m, scale=SMALL, seed=2)
    assert len(ex1m) == 10 and {e.id for e in ex1m} <= {e.id for e in ex5m}
    assert len({e.id for e in ex1m}) == 10


def test_system_messages_come_from_the_shared_registry():
    full, _ = flan.sample_flan5m(examples(make_rows()), scale=1.0, seed=3)
    used = collections.defaultdict(set)
    for ex in full:
        sm = flan.assign_system_message(ex, seed=3)
        assert sm in allowed_message_ids(ex.sub_collection, multiple_choice=ex.multiple_choice)
        used[(ex.sub_collection, ex.multiple_choice)].add(sm)
    assert used[("cot", False)] == {6, 11, 16}
    assert used[("t0", False)] == {1, 2, 3, 5, 7}
    assert used[("flan2021", True)] == {3, 4, 7, 8, 10}
    assert used[("flan2021", False)] == {3, 4, 7}   # 8 and 10 only for multiple choice
    assert set(used[("niv2", False)]) <= {1, 2, 5, 7, 9, 12, 13, 14, 15} and len(used[("niv2", False)]) >= 6


@pytest.mark.parametrize("spelling, key", [("NIv2", "niv2"), ("Flan 2021", "flan2021"), ("muffin", "flan2021"),
                                           ("P3", "t0"), ("t-0", "t0"), ("CoT", "cot")])
def test_a_sub_collection_spelling_reads_the_same_when_sampling_and_picking_messages(spelling, key):
    """A row's `task_source` spelling and the message table agree (one normaliser for both)."""
    row = {"inputs": "i", "targets": "t", "task_source": spelling, "task_name": "x", "template_type": "zs_opt"}
    assert flan._example(row, "f:1").sub_collection == key
    assert allowed_message_ids(spelling, multiple_choice=True) == allowed_message_ids(key, multiple_choice=True)
    with pytest.raises(ValueError, match="no system messages for sub-collection 'Dialog'"):
        allowed_message_ids("Dialog")


def test_parquet_reads_like_jsonl(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = make_rows()
    write_jsonl(tmp_path / "flan.jsonl", rows)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "flan.parquet")
    from_jsonl = list(flan.read_flan([tmp_path / "flan.jsonl"]))
    from_parquet = list(flan.read_flan([tmp_path / "flan.parquet"]))
    assert from_jsonl == from_parquet and len(from_jsonl) == len(rows)


@pytest.mark.parametrize("bad, field", [
    ({"targets": "t", "task_source": "T0", "task_name": "x", "template_type": "zs_opt"}, "inputs"),
    ({"inputs": "i", "targets": "t", "task_source": "Wiki", "task_name": "x", "template_type": "zs_opt"},
     "task_source"),
    ({"inputs": "i", "targets": 3, "task_source": "T0", "task_name": "x", "template_type": "zs_opt"}, "targets"),
    ({"inputs": "i", "targets": "t", "task_source": "T0", "task_name": "x"}, "template_type"),
])
def test_bad_rows_name_file_line_and_field(tmp_path, capsys, bad, field):
    path = write_jsonl(tmp_path / "flan.jsonl", make_rows()[:2] + [bad])
    with pytest.raises(UserError, match=rf"flan.jsonl:3: field '{field}'"):
        list(flan.read_flan([path]))
    out_dir = tmp_path / "out"
    assert cli_main(["data", "sample", "--flan", str(path), "--out-dir", str(out_dir)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:3" in err and field in err and "Traceback" not in err
    assert not out_dir.exists()   # nothing half-written


def test_bad_json_and_missing_parquet_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "flan.jsonl"
    path.write_text(json.dumps(make_rows()[0]) + "\n{not json\n")
    with pytest.raises(UserError, match=r"flan.jsonl:2: malformed JSON"):
        list(flan.read_flan([path]))
    rows = [{k: v for k, v in r.items() if k != "task_name"} for r in make_rows()[:3]]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "bad.parquet")
    with pytest.raises(UserError, match=r"bad.parquet: field 'task_name' is missing"):
        list(flan.read_flan([tmp_path / "bad.parquet"]))
    with pytest.raises(UserError, match="not found"):
        list(flan.read_flan([tmp_path / "nope.jsonl"]))


def test_cli_sample_writes_collectable_query_files(tmp_path, capsys):
    src = tmp_path / "flan"
    src.mkdir()
    rows = make_rows()
    write_jsonl(src / "part1.jsonl", rows[:300])
    write_jsonl(src / "part2.jsonl", rows[300:])
    out = tmp_path / "out"
    assert cli_main(["data", "sample", "--flan", str(src), "--out-dir", str(out),
                     "--scale", str(SMALL), "--seed", "4"]) == 0
    assert "FLAN-5M sample: 50 queries" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["flan5m"]["by_sub_collection"] == {"cot": 2, "niv2": 3, "flan2021": 25, "t0": 20}
    assert manifest["counts"]["flan1m"]["total"] == 10 and manifest["seed"] == 4
    q5, q1 = load_queries(out / "flan5m.jsonl"), load_queries(out / "flan1m.jsonl")
    assert len(q5) == 50 and {q.id for q in q1} <= {q.id for q in q5}
    for q in q5:
        assert q.system == SYSTEM_MESSAGES[q.system_message_id]
    # Same command, same bytes.
    first = (out / "flan5m.jsonl").read_bytes()
    assert cli_main(["data", "sample", "--flan", str(src), "--out-dir", str(out),
                     "--scale", str(SMALL), "--seed", "4"]) == 0
    assert (out / "flan5m.jsonl").read_bytes() == first


@pytest.mark.parametrize("scale", ["nan", "inf", "0", "1.5", "-1"])
def test_data_sample_refuses_a_bad_scale(tmp_path, capsys, scale):
    flan = tmp_path / "flan.jsonl"
    flan.write_text('{"inputs": "q", "targets": "a", "task_source": "T0", "task_name": "t", '
                    '"template_type": "zs_opt"}\n')
    assert cli_main(["data", "sample", "--flan", str(flan), "--out-dir", str(tmp_path / "out"), "--scale", scale]) == 2
    assert "--scale must be" in error_line(capsys)
    assert not (tmp_path / "out").exists()

@pytest.mark.skipif(not SHARED_SAMPLE.is_dir(), reason="no FLAN sample in ../shared/data/flan-sample")
def test_shared_flan_sample_if_present(tmp_path):
    ex5m, report = flan.sample_flan5m(flan.read_flan([SHARED_SAMPLE]), scale=0.001, seed=0)
    assert ex5m and all(e.zero_shot and e.sub_collection != "dialog" for e in ex5m)
    assert len({e.id for e in ex5m}) == len(ex5m)
