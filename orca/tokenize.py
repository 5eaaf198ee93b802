"""Training examples -> token ids and labels (teacher-only loss).

An example is (system, query, response). It is rendered with the model's chat
template when its tokenizer has one, else the plain Orca template of
orca/template.py, followed by the teacher's response and the end-of-sequence token.
Labels are -100 (ignored by the loss) everywhere except the response tokens and
the closing EOS: the student learns to answer, not to predict prompts.

Input files are JSONL. Two line shapes are accepted:
- teacher-collector output (orca/collect.py): `{id, status, system_message_id,
  system?, query?, model, response, ...}`; lines with status "failed" are skipped;
  when the query text is not on the line it is joined by `id` from the queries file;
  when the system text is missing it comes from `system_message_id`;
- plain `{system, query, response}` lines (`system` may be absent or null: no system turn).
"""
from __future__ import annotations

import sys
from pathlib import Path

from orca.errors import UserError
from orca.io import iter_jsonl_objects
from orca.system_messages import UnknownSystemMessage, get_system_message
from orca.template import render_for_tokenizer

IGNORE_INDEX = -100
QUERY_FIELDS = ("query", "user", "inputs", "question")


def _query_text(row: dict) -> str | None:
    for key in QUERY_FIELDS:
        if isinstance(row.get(key), str):
            return row[key]
    return None


def load_examples(path: str | Path, queries: str | Path | None = None) -> tuple[list[dict], dict]:
    """Read training examples `{id, system, query, response}` from a JSONL file.

    Returns (examples, stats) with stats counting skipped failed lines and dropped duplicates.

    An id answered twice in one file (two collectors once appended to the same output) is
    trained on once: the first ok line counts, later ones are dropped, counted, and named in
    one warning -- otherwise those examples would silently weigh double."""
    path = Path(path)
    query_by_id: dict[str, dict] = {}
    if queries is not None:
        for where, row in iter_jsonl_objects(queries, "queries file"):
            if "id" not in row:
                raise UserError(f"{where}: missing field 'id'")
            query_by_id[str(row["id"])] = row
    examples, failed, seen, duplicates = [], 0, {}, []
    for where, row in iter_jsonl_objects(path, "training data file"):
        status = row.get("status", "ok")
        if status == "failed":
            failed += 1
            continue
        if status != "ok":
            raise UserError(f"{where}: field 'status' must be \"ok\" or \"failed\", got {status!r}")
        if "id" in row:
            line = where.rsplit(":", 1)[1]
            if str(row["id"]) in seen:
                duplicates.append((str(row["id"]), line, seen[str(row["id"])]))
                continue
            seen[str(row["id"])] = line
        source = query_by_id.get(str(row.get("id"))) if "id" in row else None
        query = _query_text(row) or (source and _query_text(source))
        if query is None:
            hint = "" if queries else " (pass the queries file to join the query text by id)"
            raise UserError(f"{where}: missing field 'query'{hint}")
        response = row.get("response")
        if not isinstance(response, str):
            raise UserError(f"{where}: field 'response' must be a string")
        system = _system_text(row, source, where)
        examples.append({"id": str(row.get("id", f"{path.name}:{where.rsplit(':', 1)[1]}")), "system": system,
                         "query": query, "response": response})
    if duplicates:
        qid, line, first = duplicates[0]
        print(f"orca-eval: warning: {path}: dropped {len(duplicates)} line(s) whose id was already answered "
              f"(first: id {qid!r} at line {line}, answered at line {first}); each id trains once",
              file=sys.stderr)
    return examples, {"file": str(path), "examples": len(examples), "failed_skipped": failed,
                      "duplicates_dropped": len(duplicates)}


def _system_text(row: dict, source: dict | None, where: str) -> str | None:
    for r in (row, source or {}):
        if r.get("system") is not None:
            if not isinstance(r["system"], str):
                raise UserError(f"{where}: field 'system' must be a string or null")
            return r["system"]
        if r.get("system_message_id") is not None:
            try:
                return get_system_message(r["system_message_id"])
            except UnknownSystemMessage as e:
                raise UserError(f"{where}: field 'system_message_id': {e}") from None
    return None


def _labels_and_ids(prompt_ids: list[int], full_ids: list[int], eos_id: int, max_len: int | None,
                    loss_on: str) -> dict:
    """Ids (full + EOS) and labels; the boundary is where the joint tokenization stops
    agreeing with the prompt tokenized alone."""
    cut = 0
    while cut < min(len(prompt_ids), len(full_ids)) and prompt_ids[cut] == full_ids[cut]:
        cut += 1
    ids = list(full_ids) + [eos_id]
    if loss_on == "response":
        labels = [IGNORE_INDEX] * cut + ids[cut:]
    elif loss_on == "prompt":
        labels = ids[:cut] + [IGNORE_INDEX] * (len(ids) - cut)
    elif loss_on == "all":
        labels = list(ids)
    else:
        raise ValueError(f"loss_on must be response, prompt or all, not {loss_on!r}")
    # The first token is never a target: in a packed row it would be predicted
    # from the previous example's last token.
    labels[0] = IGNORE_INDEX
    truncated = max_len is not None and len(ids) > max_len
    if truncated:
        ids = ids[: max_len - 1] + [ids[-1]]
        labels = labels[: max_len - 1] + [labels[-1]]
    return {"input_ids": ids, "labels": labels, "truncated": truncated}


def _texts(tokenizer, system: str | None, query: str, response: str) -> tuple[str, str]:
    prompt = render_for_tokenizer(tokenizer, query, system)
    return prompt, prompt + response


def _special(tokenizer) -> bool:
    # Chat templates put BOS in the text themselves; the plain template relies on the tokenizer.
    return not getattr(tokenizer, "chat_template", None)


def format_example(tokenizer, system: str | None, query: str, response: str,
                   max_len: int | None = None, loss_on: str = "response") -> dict:
    """Token ids and labels for one example.

    The prompt and response are tokenized together (as the evaluation harness
    scores continuations). `loss_on="prompt"` inverts the mask; it exists only to
    break training on purpose (CI proves the gate notices). Returns
    {"input_ids", "labels", "truncated"}; over-long examples are cut to `max_len`
    (the closing EOS is kept).
    """
    prompt, full = _texts(tokenizer, system, query, response)
    special = _special(tokenizer)
    return _labels_and_ids(tokenizer(prompt, add_special_tokens=special)["input_ids"],
                           tokenizer(full, add_special_tokens=special)["input_ids"],
                           tokenizer.eos_token_id, max_len, loss_on)


def tokenize_examples(tokenizer, examples: list[dict], max_len: int, loss_on: str = "response",
                      chunk: int = 2048) -> tuple[list[dict], dict]:
    """Tokenize examples in batches (the fast tokenizer works in parallel); ids and labels
    are stored as int32 arrays (a Python int list costs ~9x the memory at FLAN scale).
    Returns (tokenized, stats) with the truncated count."""
    import numpy as np

    out, truncated, targets = [], 0, 0
    special = _special(tokenizer)
    for start in range(0, len(examples), chunk):
        part = examples[start:start + chunk]
        texts = [_texts(tokenizer, ex["system"], ex["query"], ex["response"]) for ex in part]
        prompts = tokenizer([t[0] for t in texts], add_special_tokens=special)["input_ids"]
        fulls = tokenizer([t[1] for t in texts], add_special_tokens=special)["input_ids"]
        for p, f in zip(prompts, fulls):
            t = _labels_and_ids(p, f, tokenizer.eos_token_id, max_len, loss_on)
            truncated += t["truncated"]
            labels = np.asarray(t["labels"], dtype=np.int32)
            targets += int((labels != IGNORE_INDEX).sum())
            out.append({"input_ids": np.asarray(t["input_ids"], dtype=np.int32), "labels": labels})
    return out, {"examples": len(out), "truncated": truncated,
                 "tokens": int(sum(len(t["input_ids"]) for t in out)), "target_tokens": targets}


def resize_embeddings_for_tokenizer(model, tokenizer) -> bool:
    """Grow the model's embeddings to the tokenizer (e.g. 32000 -> 32001 after
    adding [[PAD]]); new rows start at the mean embedding. Returns True if resized."""
    resized = False
    if model.get_input_embeddings().weight.shape[0] < len(tokenizer):
        model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
        resized = True
    model.config.pad_token_id = tokenizer.pad_token_id
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return resized
