"""A teacher collection's settings (CollectConfig), declared once: `orca-eval data collect`'s
options are built from its fields (`add_collect_arguments`), `orca.collect.collect` takes its
defaults from them, and the pipeline's `collect` sections (harness/pipeline/config.py) take
their ranges from them."""
from __future__ import annotations

import argparse
from dataclasses import MISSING, Field, dataclass, fields

from orca.options import add_arguments, declared, from_args, in_place_order

from orca.values import check_number, check_seed


def option(default, flag: str, help: str, *, range: dict | None = None, key: str | None = None,
           pipeline: tuple | None = None, **argparse_kw):
    """A CollectConfig field and its `data collect` option: `flag` with `help` and argparse_kw
    (type, action, required, ...); `range`: its check (orca.values.check_number keywords);
    `key`: its name in a pipeline config where that differs from the field's; `pipeline`:
    (place, YAML types) when a pipeline's collect section may set it: its place in the section's
    list of fields (error messages list them, and the range checks run, in that order) and the
    types its YAML value may have."""
    return declared(default, flag, help, argparse_kw, range=range, key=key or None, pipeline=pipeline)


@dataclass(kw_only=True)
class CollectConfig:
    # Field order is the order of the options in `data collect --help`, and of the checks.
    queries: str = option(MISSING, "--queries", "JSONL lines {id, query, system_message_id|system}", required=True,
                          pipeline=(4, str))
    model: str = option(MISSING, "--model", "teacher model, e.g. gpt-3.5-turbo or gpt-4", required=True,
                        pipeline=(0, str))
    base_url: str | None = option(None, "--base-url", "OpenAI-compatible endpoint (default: OpenAI)",
                                 pipeline=(1, (str, type(None))))
    rpm: float | None = option(None, "--rpm", "requests per minute to stay under", type=float,
                               range=dict(low=0, low_open=True, none_ok=True), pipeline=(2, (int, float)))
    tpm: float | None = option(None, "--tpm", "tokens per minute to stay under", type=float,
                               range=dict(low=0, low_open=True, none_ok=True), pipeline=(3, (int, float)))
    out: str = option(MISSING, "--out", "append-only JSONL output (resumed if present)", required=True)
    concurrency: int = option(16, "--concurrency", "requests in flight at most", type=int,
                              range=dict(integer=True, low=1), pipeline=(5, int))
    max_retries: int = option(8, "--max-retries", "retries per request (429s included)", type=int,
                              range=dict(integer=True, low=0), pipeline=(9, int))
    timeout_s: float = option(120.0, "--timeout", "seconds per request", type=float, metavar="TIMEOUT",
                              range=dict(low=0, low_open=True), key="timeout", pipeline=(10, (int, float)))
    retry_failed: bool = option(False, "--retry-failed", "ask again queries recorded as failed by an earlier run",
                                action="store_true")
    temperature: float | None = option(None, "--temperature", "sampling temperature (default: the API's)",
                                       type=float, range=dict(low=0, high=2, none_ok=True),
                                       pipeline=(7, (int, float)))  # the API's range
    top_p: float | None = option(None, "--top-p", "nucleus sampling (default: the API's)", type=float,
                                 range=dict(low=0, low_open=True, high=1, none_ok=True), pipeline=(8, (int, float)))
    max_tokens: int | None = option(None, "--max-tokens", "answer length cap (default: the API's)", type=int,
                                    range=dict(integer=True, low=1, none_ok=True), pipeline=(6, int))
    backoff_base_s: float = option(1.0, "--backoff-base", "seconds; retry n waits up to base*2^(n-1) (full jitter)",
                                   type=float, metavar="BACKOFF_BASE", range=dict(low=0))
    backoff_max_s: float = option(60.0, "--backoff-max", "cap of one retry wait, seconds", type=float,
                                  metavar="BACKOFF_MAX", range=dict(low=0))
    seed: int = option(0, "--seed", "seed of the retry jitter", type=int)  # checked by check_seed
    # None: on a terminal only
    progress: bool | None = option(None, "--progress", "show the progress bar (default: when stderr is a terminal)",
                                   action=argparse.BooleanOptionalAction)

    def check(self) -> None:
        """Refuse nonsense settings up front, even when every query is already answered (a
        warm output must not hide a bad flag that the next cold run would trip over)."""
        for f in fields(self):
            if f.metadata["range"]:
                check_number(getattr(self, f.name), f.metadata["flag"], **f.metadata["range"])
        check_seed(self.seed)


def pipeline_fields() -> dict[str, Field]:
    """The CollectConfig fields a pipeline config's collect section may set, by their name there,
    in the section's order (harness/pipeline/config.py)."""
    return {f.metadata["key"] or f.name: f for f in in_place_order(CollectConfig, "pipeline")}


def check_client_settings(*, rpm, tpm, concurrency, max_retries) -> None:
    """The API client's own settings (orca.teacher.TeacherClient), checked with the ranges and
    messages of data collect's options."""
    given = {"rpm": rpm, "tpm": tpm, "concurrency": concurrency, "max_retries": max_retries}
    for f in fields(CollectConfig):  # in field order, as the checks always went
        if f.name in given:
            check_number(given[f.name], f.metadata["flag"], **f.metadata["range"])


def add_collect_arguments(parser: argparse.ArgumentParser) -> None:
    """`data collect`'s options, one per CollectConfig field (the value lands under the field's name)."""
    add_arguments(parser, CollectConfig)


def collect_config_from_args(args: argparse.Namespace) -> CollectConfig:
    """The CollectConfig of parsed `data collect` options; one left None takes the field's default."""
    return from_args(CollectConfig, args)
