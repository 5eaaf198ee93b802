"""`orca-eval data sample|collect|lengths`: thin CLI over orca.flan and orca.collect."""
from __future__ import annotations

import json
import sys

from orca.collect_config import add_collect_arguments, collect_config_from_args
from orca.errors import UserError
from orca.sample_config import add_sample_arguments, check_sample_ranges


def register(sub) -> None:
    data = sub.add_parser("data", help="explanation-tuning data: FLAN-v2 sampling, teacher collection")
    dsub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    dsub.required = True
    # `data decontaminate` needs the benchmark loader, which lives in harness/ (above orca/):
    # harness/cli/decontaminate.py adds it to this group through this default.
    data.set_defaults(data_subcommands=dsub)

    p = dsub.add_parser("sample", help="sample zero-shot FLAN-v2 queries (FLAN-5M and its FLAN-1M subset)")
    add_sample_arguments(p)  # one option per SampleConfig field (orca/sample_config.py)
    p.set_defaults(func=_cmd_sample)

    c = dsub.add_parser("collect", help="ask a teacher model for every query (resumable)")
    add_collect_arguments(c)  # one option per CollectConfig field (orca/collect_config.py)
    c.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    c.set_defaults(func=_cmd_collect)

    ln = dsub.add_parser("lengths", help="response length summary per teacher model")
    ln.add_argument("outputs", nargs="+", help="collection output files")
    ln.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    ln.set_defaults(func=_cmd_lengths)


def _cmd_sample(args) -> int:
    from orca import flan

    check_sample_ranges(vars(args), lambda f: f.metadata["flag"])
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

    settings = vars(collect_config_from_args(args))
    s = collect(settings.pop("queries"), settings.pop("out"), settings.pop("model"), **settings)
    if args.json:
        print(json.dumps(s.as_dict()))
    else:
        cost = "n/a" if s.cost_usd is None else f"${s.cost_usd:,.2f}"
        print(f"{args.out}: {s.ok} ok, {s.failed} failed of {s.total} queries "
              f"({s.skipped} from earlier runs; this run {s.new_ok} ok, {s.new_failed} failed in "
              f"{s.elapsed_s:.1f}s, {s.answered_per_min:.0f}/min, {s.teacher.rate_limited} x 429, "
              f"{s.teacher.prompt_tokens + s.teacher.completion_tokens:,} tokens, cost {cost})")
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
