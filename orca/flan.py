"""FLAN-v2 query sampling as the Orca paper built FLAN-5M and FLAN-1M (Table 3, section 3.1).

Input rows carry the published FLAN-v2 fields: `inputs`, `targets`, `task_source` (the
sub-collection: CoT, NIv2, T0, Flan2021, Dialog; `sub_collection` is accepted too),
`task_name` and `template_type` (zs_opt, zs_noopt, fs_opt, fs_noopt). From JSONL or
Parquet files (`read_flan`) or, with network, a hub dataset (`read_hub`).

Sampling (`sample_flan5m`), at `scale` 1:
  * zero-shot templates only (template_type starting with "zs"); Dialog skipped;
  * CoT: every query (150K in the paper);
  * NiV2: at most 300 queries per task, then at most 440K in all;
  * Flan2021 (2.5M) and T0 (2M): Algorithm 1 -- pick a task uniformly among those with
    queries left, then one of its queries uniformly without replacement; T0's
    Big-Bench tasks are excluded (T0 training split only).
`scale` multiplies every count (the per-task cap included, at least 1). FLAN-1M
(`sample_flan1m`) is a uniform random subset of the FLAN-5M sample (1M x scale).

Ids are content hashes of the query text, so an example keeps its id whatever the
file order; rows with the same `inputs` are duplicates and only the first (in a
canonical order) is kept -- the teacher sees only the query, so a second copy would be
paid for twice. Each query gets a system message drawn from the paper's allowed ids
for its sub-collection (`orca.system_messages.allowed_message_ids`; Flan2021 queries
with options -- template_type *_opt -- may also get messages 8 and 10). Everything is
a pure function of the input rows and the seed.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from orca.errors import UserError
from orca.io import iter_jsonl_objects, sha256_file, write_json_atomic, write_jsonl_atomic
from orca.system_messages import allowed_message_ids, normalize_sub_collection

# Table 3 of the paper: queries sampled per sub-collection for FLAN-5M.
FLAN5M_COUNTS = {"cot": 150_000, "niv2": 440_000, "flan2021": 2_500_000, "t0": 2_000_000}
NIV2_PER_TASK = 300
FLAN1M_COUNT = 1_000_000
REQUIRED_FIELDS = ("inputs", "targets", "task_source", "task_name", "template_type")
SUB_COLLECTIONS = ("cot", "niv2", "t0", "flan2021", "dialog")


@dataclass(frozen=True)
class FlanExample:
    id: str
    inputs: str
    targets: str
    sub_collection: str     # canonical: cot, niv2, t0, flan2021, dialog
    task_name: str
    template_type: str

    @property
    def zero_shot(self) -> bool:
        return self.template_type.lower().startswith("zs")

    @property
    def multiple_choice(self) -> bool:
        # FLAN-v2's "_opt" templates list the answer options; "_noopt" ones do not.
        t = self.template_type.lower()
        return t.endswith("_opt") or t == "opt"


def example_id(inputs: str) -> str:
    """Stable id of a query: hash of its text (whitespace at the ends ignored)."""
    return hashlib.sha256(inputs.strip().encode("utf-8")).hexdigest()[:16]


def _example(row, where: str) -> FlanExample:
    if not isinstance(row, dict):
        raise UserError(f"{where}: a FLAN row must be an object")
    if "task_source" not in row and "sub_collection" in row:
        row = {**row, "task_source": row["sub_collection"]}
    for name in REQUIRED_FIELDS:
        if name not in row:
            raise UserError(f"{where}: field '{name}' is missing (FLAN-v2 rows need "
                            f"{', '.join(REQUIRED_FIELDS)})")
        if not isinstance(row[name], str):
            raise UserError(f"{where}: field '{name}' must be a string, got {type(row[name]).__name__}")
    if not row["inputs"].strip():
        raise UserError(f"{where}: field 'inputs' is empty")
    sub = normalize_sub_collection(row["task_source"])
    if sub is None:
        raise UserError(f"{where}: field 'task_source' is {row['task_source']!r}; expected one of "
                        "CoT, NIv2, T0, Flan2021, Dialog")
    return FlanExample(example_id(row["inputs"]), row["inputs"], row["targets"], sub,
                       row["task_name"], row["template_type"])


def _flan_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and _is_flan_file(f))
            if not found:
                raise UserError(f"{p}: no .jsonl/.json/.parquet files in this folder")
            files += found
        elif p.is_file():
            if not _is_flan_file(p):
                raise UserError(f"{p}: unsupported file type (use .jsonl, .json lines or .parquet)")
            files.append(p)
        else:
            raise UserError(f"{p}: FLAN file or folder not found")
    return files


def _is_flan_file(p: Path) -> bool:
    return p.suffix in (".jsonl", ".json", ".parquet") or p.name.endswith(".jsonl.gz")


def read_flan(paths: Iterable[str | Path]) -> Iterator[FlanExample]:
    """Rows of FLAN-v2 JSONL / Parquet files (folders are searched); UserError names
    file:line:field of a bad row (for Parquet, line = row number from 1)."""
    for path in _flan_files(paths):
        if path.suffix == ".parquet":
            yield from _read_parquet(path)
        else:
            yield from _read_jsonl(path)


def _read_jsonl(path: Path) -> Iterator[FlanExample]:
    for where, row in iter_jsonl_objects(path, "FLAN file"):
        yield _example(row, where)


def _read_parquet(path: Path) -> Iterator[FlanExample]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises several types for a bad file
        raise UserError(f"{path}: not a readable Parquet file ({type(e).__name__})") from None
    names = set(pf.schema_arrow.names)
    if "task_source" not in names and "sub_collection" in names:
        names.add("task_source")
    for name in REQUIRED_FIELDS:
        if name not in names:
            raise UserError(f"{path}: field '{name}' is missing (columns: {sorted(pf.schema_arrow.names)})")
    rowno = 0
    for batch in pf.iter_batches(batch_size=65536):
        for row in batch.to_pylist():
            rowno += 1
            yield _example(row, f"{path}:{rowno}")


def read_hub(dataset_id: str, split: str = "train") -> Iterator[FlanExample]:
    """Stream FLAN-v2 rows from the Hugging Face hub (needs network; e.g. a FLAN-v2 mirror
    with the published columns)."""
    try:
        from datasets import load_dataset
        ds = load_dataset(dataset_id, split=split, streaming=True)
    except Exception as e:  # network, missing dataset, auth: all user-fixable
        raise UserError(f"hub:{dataset_id}: cannot load split {split!r} ({type(e).__name__}: {e})") from None
    for i, row in enumerate(ds, 1):
        yield _example(row, f"hub:{dataset_id}:{i}")


# ---- sampling ---------------------------------------------------------------------------
def _scaled(n: int, scale: float) -> int:
    return max(1, int(round(n * scale)))


def _rng(seed: int, *parts: str) -> random.Random:
    # One independent stream per purpose, so adding a task never reshuffles another.
    return random.Random(hashlib.sha256("|".join([str(seed), *parts]).encode()).hexdigest())


def _is_bigbench(task_name: str) -> bool:
    t = task_name.lower().replace("-", "_")
    return "bigbench" in t or "big_bench" in t or t.startswith("bb_")


def group_zero_shot(rows: Iterable[FlanExample]) -> tuple[dict[str, dict[str, list[FlanExample]]], dict]:
    """Zero-shot rows grouped as sub_collection -> task -> examples (deduplicated, canonical
    order), plus counts of what was dropped."""
    dropped = {"few_shot": 0, "dialog": 0, "t0_bigbench": 0, "duplicates": 0}
    first: dict[str, FlanExample] = {}
    for ex in rows:
        if not ex.zero_shot:
            dropped["few_shot"] += 1
        elif ex.sub_collection == "dialog":
            dropped["dialog"] += 1
        elif ex.sub_collection == "t0" and _is_bigbench(ex.task_name):
            dropped["t0_bigbench"] += 1
        else:
            prev = first.get(ex.id)
            if prev is not None:
                dropped["duplicates"] += 1
                # Keep the canonically-first copy so the result is independent of file order.
                if _order_key(ex) < _order_key(prev):
                    first[ex.id] = ex
            else:
                first[ex.id] = ex
    groups: dict[str, dict[str, list[FlanExample]]] = {}
    for ex in sorted(first.values(), key=lambda e: e.id):
        groups.setdefault(ex.sub_collection, {}).setdefault(ex.task_name, []).append(ex)
    return groups, dropped


def _order_key(ex: FlanExample) -> tuple:
    return (ex.sub_collection, ex.task_name, ex.template_type, ex.targets)


def algorithm1(tasks: dict[str, list[FlanExample]], n: int, rng: random.Random) -> list[FlanExample]:
    """Paper's Algorithm 1: repeat n times -- pick a task uniformly among those with queries
    left, then one of its queries uniformly without replacement."""
    pools = {name: rng.sample(exs, len(exs)) for name, exs in sorted(tasks.items())}
    active = [name for name in sorted(pools) if pools[name]]
    out: list[FlanExample] = []
    while len(out) < n and active:
        i = rng.randrange(len(active))
        pool = pools[active[i]]
        out.append(pool.pop())  # the pool is shuffled, so popping is a uniform draw
        if not pool:
            active[i] = active[-1]
            active.pop()
    return out


def sample_flan5m(rows: Iterable[FlanExample], scale: float = 1.0, seed: int = 0
                  ) -> tuple[list[FlanExample], dict]:
    """FLAN-5M per Table 3 (counts x scale). Returns (examples, report of counts)."""
    if not 0 < scale <= 1:
        raise UserError(f"scale must be in (0, 1], got {scale}")
    groups, dropped = group_zero_shot(rows)
    chosen: dict[str, list[FlanExample]] = {}
    # CoT: all of it (150K in the paper), capped at its scaled count.
    cot = [ex for exs in groups.get("cot", {}).values() for ex in exs]
    chosen["cot"] = _subset(cot, _scaled(FLAN5M_COUNTS["cot"], scale), _rng(seed, "cot"))
    # NiV2: at most 300 per task, then at most 440K in all.
    cap = _scaled(NIV2_PER_TASK, scale)
    niv2 = [ex for task, exs in sorted(groups.get("niv2", {}).items())
            for ex in _subset(exs, cap, _rng(seed, "niv2", task))]
    chosen["niv2"] = _subset(niv2, _scaled(FLAN5M_COUNTS["niv2"], scale), _rng(seed, "niv2"))
    for sub in ("flan2021", "t0"):
        chosen[sub] = algorithm1(groups.get(sub, {}), _scaled(FLAN5M_COUNTS[sub], scale), _rng(seed, sub))
    examples = [ex for sub in ("cot", "niv2", "flan2021", "t0") for ex in chosen[sub]]
    _rng(seed, "order").shuffle(examples)
    report = {
        "available": {sub: sum(len(v) for v in groups.get(sub, {}).values()) for sub in FLAN5M_COUNTS},
        "tasks": {sub: len(groups.get(sub, {})) for sub in FLAN5M_COUNTS},
        "targets": {sub: _scaled(n, scale) for sub, n in FLAN5M_COUNTS.items()},
        "niv2_per_task_cap": cap,
        "dropped": dropped,
    }
    return examples, report


def _subset(items: list, n: int, rng: random.Random) -> list:
    return list(items) if len(items) <= n else rng.sample(items, n)


def sample_flan1m(flan5m: list[FlanExample], scale: float = 1.0, seed: int = 0) -> list[FlanExample]:
    """FLAN-1M: a uniform random subset of the FLAN-5M sample (section 3.1.3)."""
    return _subset(flan5m, _scaled(FLAN1M_COUNT, scale), _rng(seed, "flan1m"))


def assign_system_message(ex: FlanExample, seed: int = 0) -> int:
    """A system message id allowed for the example's sub-collection, drawn from its id and
    the seed (stable whatever else is sampled)."""
    allowed = allowed_message_ids(ex.sub_collection, multiple_choice=ex.multiple_choice)
    h = int(hashlib.sha256(f"{seed}|sm|{ex.id}".encode()).hexdigest()[:12], 16)
    return allowed[h % len(allowed)]


def query_row(ex: FlanExample, seed: int = 0) -> dict:
    """A line of a queries file for `orca-eval data collect`."""
    return {"id": ex.id, "system_message_id": assign_system_message(ex, seed), "query": ex.inputs,
            "target": ex.targets, "sub_collection": ex.sub_collection, "task_name": ex.task_name,
            "template_type": ex.template_type}


def write_samples(rows: Iterable[FlanExample], out_dir: str | Path, scale: float = 1.0,
                  seed: int = 0, sources: list[str] | None = None) -> dict:
    """Sample FLAN-5M and FLAN-1M and write flan5m.jsonl, flan1m.jsonl and manifest.json
    (atomically) into out_dir. Returns the manifest."""
    out_dir = Path(out_dir)
    flan5m, report = sample_flan5m(rows, scale=scale, seed=seed)
    if not flan5m:
        raise UserError("no zero-shot CoT/NiV2/Flan2021/T0 queries in the input")
    flan1m = sample_flan1m(flan5m, scale=scale, seed=seed)
    write_jsonl_atomic(out_dir / "flan5m.jsonl", (query_row(ex, seed) for ex in flan5m))
    write_jsonl_atomic(out_dir / "flan1m.jsonl", (query_row(ex, seed) for ex in flan1m))

    def counts(exs):
        by_sub = {sub: 0 for sub in ("cot", "niv2", "flan2021", "t0")}
        for ex in exs:
            by_sub[ex.sub_collection] += 1
        return {"total": len(exs), "by_sub_collection": by_sub}

    manifest = {
        "seed": seed, "scale": scale,
        "sources": [{"path": s, "sha256": sha256_file(s)} if Path(s).is_file() else {"path": s}
                    for s in (sources or [])],
        "counts": {"flan5m": counts(flan5m), "flan1m": counts(flan1m)},
        **report,
    }
    write_json_atomic(out_dir / "manifest.json", manifest)
    return manifest
