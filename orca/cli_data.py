"""`orca-eval data sample|collect|lengths`: thin CLI over orca.flan and orca.collect."""
from __future__ import annotations

import argparse
import json
import sys

from orca.errors import UserError


def register(sub) -> None:
    data = sub.add_parser("data", help="explanation-tuning data: FLAN-v2 sampling, teacher collection")
    dsub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    dsub.required = True
    # `data decontaminate` needs the benchmark loader, which lives in harness/ (above orca/):
    # harness/cli/decontaminate.py adds it to this group through this default.
    data.set_defaults(data_subcommands=dsub)

    p = dsub.add_parser("sample", help="sample zero-shot FLAN-v2 queries (FLAN-5M and its FLAN-1M subset)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--flan", nargs="+", metavar="PATH",
                     help="FLAN-v2 JSONL/Parquet files or folders of them")
    src.add_argument("--hub", metavar="DATASET_ID",
                     help="load from the Hugging Face hub with `datasets` (needs network)")
    p.add_argument("--hub-split", default="train", help="split of the --hub dataset")
    p.add_argument("--out-dir", required=True, help="writes flan5m.jsonl, flan1m.jsonl, manifest.json")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply every count (150K/440K/2.5M/2M, 300 per NiV2 task, 1M) by this")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampling")
    p.set_defaults(func=_cmd_sample)

    c = dsub.add_parser("collect", help="ask a teacher model for every query (resumable)")
    c.add_argument("--queries", required=True, help="JSONL lines {id, query, system_message_id|system}")
    c.add_argument("--model", required=True, help="teacher model, e.g. gpt-3.5-turbo or gpt-4")
    c.add_argument("--base-url", default=None, help="OpenAI-compatible endpoint (default: OpenAI)")
    c.add_argument("--rpm", type=float, default=None, help="requests per minute to stay under")
    c.add_argument("--tpm", type=float, default=None, help="tokens per minute to stay under")
    c.add_argument("--out", required=True, help="append-only JSONL output (resumed if present)")
    c.add_argument("--concurrency", type=int, default=16, help="requests in flight at most")
    c.add_argument("--max-retries", type=int, default=8, help="retries per request (429s included)")
    c.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    c.add_argument("--retry-failed", action="store_true",
                   help="ask again queries recorded as failed by an earlier run")
    c.add_argument("--temperature", type=float, default=None, help="sampling temperature (default: the API's)")
    c.add_argument("--top-p", type=float, default=None, help="nucleus sampling (default: the API's)")
    c.add_argument("--max-tokens", type=int, default=None, help="answer length cap (default: the API's)")
    c.add_argument("--backoff-base", type=float, default=1.0,
                   help="seconds; retry n waits up to base*2^(n-1) (full jitter)")
    c.add_argument("--backoff-max", type=float, default=60.0, help="cap of one retry wait, seconds")
    c.add_argument("--seed", type=int, default=0, help="seed of the retry jitter")
    c.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show the progress bar (default: when stderr is a terminal)")
    c.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    c.set_defaults(func=_cmd_collect)

    ln = dsub.add_parser("lengths", help="response length summary per teacher model")
    ln.add_argument("outputs", nargs="+", help="collection output files")
    ln.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    ln.set_defaults(func=_cmd_lengths)


def _cmd_sample(args) -> int:
    from orca import flan
    from orca.values import check_number

    check_number(args.scale, "--scale", low=0, low_open=True, high=1)
    if args.hub:
        rows = flan.read_hub(args.hub, split=args.hub_split)
    else:
        rows = flan.read_flan(args.flan)
    manifest = flan.write_samples(rows, args.out_dir, scale=args.scale, seed=args.seed,
                                  sources=args.flan or [f"hub:{args.hub}"])
    counts = manifest["counts"]
    print(f"FLAN-5M sample: {counts['flan5m']['total']} queries "
          f"({', '.join(f'{k} {v}' for k, v in counts['flan5m']['by_sub_collection'].items())}); "
          f"FLAN-1M subset: {counts['flan1m']['total']}; written to {args.out_dir}")
    return 0


def _cmd_collect(args) -> int:
    from orca.collect import collect

    s = collect(args.queries, args.out, args.model, base_url=args.base_url, rpm=args.rpm,
                tpm=args.tpm, concurrency=args.concurrency, max_retries=args.max_retries,
                timeout_s=args.timeout, retry_failed=args.retry_failed,
                temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens,
                backoff_base_s=args.backoff_base, backoff_max_s=args.backoff_max,
                seed=args.seed, progress=args.progress)
    if args.json:
        print(json.dumps(s.as_dict()))
    else:
        cost = "n/a" if s.cost_usd is None else f"${s.cost_usd:,.2f}"
        print(f"{args.out}: {s.ok} ok, {s.failed} failed of {s.total} queries "
              f"({s.skipped} from earlier runs; this run {s.new_ok} ok, {s.new_failed} failed in "
              f"{s.elapsed_s:.1f}s, {s.answered_per_min:.0f}/min, {s.rate_limited} x 429, "
              f"{s.prompt_tokens + s.completion_tokens:,} tokens, cost {cost})")
        if s.failure_reasons:
            print("retried/failed reasons: " + ", ".join(f"{k} {v}" for k, v in s.failure_reasons.items()),
                  file=sys.stderr)
    if s.failed or s.ok != s.total:
        # Failed answers stay recorded (with their reason) and are skipped by a plain
        # re-run: say so, and exit non-zero, every time until they are answered.
        print(f"orca-eval: data collect: {s.failed} of {s.total} queries failed; ask them again with "
              f"the same command plus --retry-failed", file=sys.stderr)
        return 1
    return 0


def _cmd_lengths(args) -> int:
    from orca.collect import length_summary, print_length_summary

    summary = length_summary(args.outputs)
    if not summary:
        raise UserError("no ok answers in " + ", ".join(args.outputs))
    if args.json:
        print(json.dumps(summary))
    else:
        print_length_summary(summary)
    return 0
