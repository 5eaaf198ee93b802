"""Settings declared once as dataclass fields: each field carries its command-line option
(flag, help, argparse keywords) and whatever its config adds (a range, a pipeline section's
YAML types and place). RunConfig (harness/run_config.py), CollectConfig, SampleConfig and
CompareThresholds build their options, read their parsed values and order their pipeline
sections through these few functions; each keeps a small `option()` of its own that says which
extra keys its fields carry."""
from __future__ import annotations

import argparse
from dataclasses import MISSING, Field, field, fields


def declared(default, flag: str, help: str, argparse_kw: dict, **meta) -> Field:
    """A dataclass field whose option is `flag`; a callable `default` is a default factory."""
    kw = {"default_factory": default} if callable(default) else {"default": default}
    return field(**kw, metadata={"flag": flag, "help": help, "argparse": argparse_kw, **meta})


def add_arguments(parser, cls, add_for=None) -> dict[str, argparse.Action]:
    """One option per field of `cls`, the parsed value under the field's name; returns the
    actions by field name. A required option, or one with an action (append, store_false,
    BooleanOptionalAction), defaults to None and the field's default stands in: a default list
    would be appended to, and --help shows no "(default: True)". `add_for(field)`: where a
    field's option goes (an argument group), default the parser."""
    actions = {}
    for f in fields(cls):
        kw = dict(f.metadata["argparse"])
        default = None if f.default is MISSING or "action" in kw else f.default
        add = add_for(f) if add_for else parser.add_argument
        actions[f.name] = add(f.metadata["flag"], dest=f.name, default=default, help=f.metadata["help"], **kw)
    return actions


def from_args(cls, args: argparse.Namespace):
    """The config of parsed options; an option left None takes the field's default."""
    given = {f.name: getattr(args, f.name) for f in fields(cls)}
    return cls(**{name: value for name, value in given.items() if value is not None})


def in_place_order(cls, key: str) -> list[Field]:
    """The fields whose metadata `key` is (place, YAML types), by place: a pipeline section's
    fields in the order its messages list them."""
    return sorted((f for f in fields(cls) if f.metadata.get(key)), key=lambda f: f.metadata[key][0])
