"""A FLAN-v2 sample's settings (SampleConfig), declared once: `orca-eval data sample`'s options
are built from its fields (`add_sample_arguments`), and a pipeline's `sample` section
(harness/pipeline/config.py) takes its fields, YAML types, ranges and defaults from them."""
from __future__ import annotations

import argparse
from dataclasses import MISSING, dataclass, fields

from orca.options import add_arguments, declared


def option(default, flag: str, help: str, *, yaml=None, range: dict | None = None, source: bool = False,
           **argparse_kw):
    """A SampleConfig field and its `data sample` option: `flag` with `help` and argparse_kw;
    `yaml`: the types its value may have in a pipeline's sample section (None: not settable
    there); `range`: its check (orca.values.check_number keywords); `source`: one of the
    options naming where the FLAN rows come from, of which exactly one is given."""
    return declared(default, flag, help, argparse_kw, yaml=yaml, range=range, source=source)


@dataclass(kw_only=True)
class SampleConfig:
    # Field order is the order of the options in `data sample --help`, and of a sample section's fields.
    flan: list[str] | str | None = option(None, "--flan", "FLAN-v2 JSONL/Parquet files or folders of them",
                                          yaml=(list, str), source=True, nargs="+", metavar="PATH")
    hub: str | None = option(None, "--hub", "load from the Hugging Face hub with `datasets` (needs network)",
                             source=True, metavar="DATASET_ID")
    hub_split: str = option("train", "--hub-split", "split of the --hub dataset")
    out_dir: str | None = option(MISSING, "--out-dir", "writes flan5m.jsonl, flan1m.jsonl, manifest.json",
                                 required=True)
    scale: float = option(1.0, "--scale", "multiply every count (150K/440K/2.5M/2M, 300 per NiV2 task, 1M) by this",
                          yaml=(int, float), range=dict(low=0, low_open=True, high=1), type=float)
    seed: int = option(0, "--seed", "seed of the sampling", yaml=int, type=int)


def sample_fields() -> dict:
    """The fields a pipeline's sample section may set, and the YAML types of each."""
    return {f.name: f.metadata["yaml"] for f in fields(SampleConfig) if f.metadata["yaml"]}


def check_sample_ranges(values: dict, name_of) -> None:
    """Refuse a value outside its field's range, for every ranged field present in `values`
    (parsed options or a pipeline's sample section); `name_of(field)`: how the message names it."""
    from orca.values import check_number

    for f in fields(SampleConfig):
        if f.metadata["range"] and f.name in values:
            check_number(values[f.name], name_of(f), **f.metadata["range"])


def add_sample_arguments(parser: argparse.ArgumentParser) -> None:
    """`data sample`'s options, one per SampleConfig field (the value lands under the field's name)."""
    source = None

    def add_for(f):  # the source options share one group, exactly one of them required
        nonlocal source
        if not f.metadata["source"]:
            return parser.add_argument
        if source is None:
            source = parser.add_mutually_exclusive_group(required=True)
        return source.add_argument

    add_arguments(parser, SampleConfig, add_for)
