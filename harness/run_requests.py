"""`orca-eval run`'s requests: every (variant, task, example, repeat) as the exact prompt sent
and its cache key(s), and the sample rows scored from their outputs. The task (harness/suites/)
brings its prompt, loglikelihood choices, target and answer family."""
from __future__ import annotations

from dataclasses import dataclass

from harness import extract
from harness.cache import OutputCache, request_key
from harness.prompts import SystemVariant
from harness.run_config import RunConfig
from harness.scoring import score_output
from harness.suites import Task
from orca.io import sha256_text


@dataclass
class Request:
    variant: str
    task: Task
    doc_id: int
    repeat: int
    prompt: str
    keys: list[str]                 # one per generation, or one per choice
    choices: list[str] | None = None
    labels: list[str] | None = None
    user_sha: str = ""              # the user turn's hash (harness/compare/pairing.py), computed once


def build_requests(cfg: RunConfig, backend, docs: dict[Task, list[dict]], variants: list[SystemVariant]):
    """Every request of the run, with the exact prompt and its cache key(s); plus the
    tasks skipped in loglikelihood mode (no fixed options: the task's suite says which)."""
    requests, skipped = [], {}
    dec = cfg.decoding.to_json()
    # dtype and context length change outputs: part of the key (None for API models, whose
    # keys stay as they were)
    ident = [backend.output_identity] if getattr(backend, "output_identity", None) else []
    for variant in variants:
        for task, task_docs in docs.items():
            for doc_id, doc in enumerate(task_docs):
                user = task.prompt(doc, cfg.prompt_style)
                user_sha = sha256_text(user)[:16]
                prompt = backend.format_prompt(user, variant.text)
                if cfg.mode == "generate":
                    for rep in range(cfg.repeats):
                        key = request_key("gen", backend.fingerprint, prompt, dec, cfg.seed if dec["do_sample"] else 0, rep,
                                          *ident)
                        requests.append(Request(variant.name, task, doc_id, rep, prompt, [key], user_sha=user_sha))
                    continue
                options = task.loglikelihood_choices(doc)
                if options is None:
                    skipped[task.key] = f"family {task.family!r} has no fixed answer options"
                    break
                labels, choices = options
                keys = [request_key("ll", backend.fingerprint, prompt, c, *ident) for c in choices]
                requests.append(Request(variant.name, task, doc_id, 0, prompt, keys, choices, labels, user_sha))
    return requests, skipped


def request_seed(seed: int, task: str, doc_id: int, repeat: int) -> int:
    """The sampling seed of one request, for backends that take a seed per request: the
    same whatever the batch size, the task order or what the cache already held."""
    return int(request_key("seed", seed, task, doc_id, repeat)[:8], 16)


def score_requests(cfg: RunConfig, requests: list[Request], docs, cache: OutputCache) -> dict:
    """variant -> task key -> sample rows."""
    out: dict[str, dict[str, list[dict]]] = {}
    for r in requests:
        doc = docs[r.task][r.doc_id]
        row = {"doc_id": r.doc_id, "repeat": r.repeat, "prompt_sha": sha256_text(r.prompt)[:16],
               "user_sha": r.user_sha}  # see harness/compare/pairing.py
        if cfg.mode == "generate":
            output = cache.get(r.keys[0])
            row.update(output=output, **score_output(r.task, doc, output))
        else:
            lps = [cache.get(k) for k in r.keys]
            best = max(range(len(lps)), key=lambda i: lps[i])
            target = r.task.target(doc)
            correct = extract.is_correct(r.labels[best], target, r.task.family)
            row.update(output=r.choices[best], extracted=r.labels[best], target=target, correct=correct,
                       extracted_official=r.labels[best], correct_official=correct,
                       logprobs=[round(x, 4) for x in lps])
        out.setdefault(r.variant, {}).setdefault(r.task.key, []).append(row)
    return out
