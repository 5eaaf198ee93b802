"""CLI: `models` -- the named models, where each comes from, and GGUF checkpoints converted so far."""
from __future__ import annotations

import json
import textwrap

WIDTH = 80  # whatever the terminal: lines wrap at spaces; a path, one word, is never broken


def _say(text: str, indent: int = 0, more: int = 0) -> None:
    print(textwrap.fill(text, WIDTH, initial_indent=" " * indent, subsequent_indent=" " * (indent + more),
                        break_long_words=False, break_on_hyphens=False))


def register(sub) -> None:
    p = sub.add_parser("models", help="list named models (--model NAME) and where each comes from",
                       description="Named models ship inside Python packages; any local GGUF file also "
                       "works as --model gguf:PATH (converted once into the cache).")
    p.set_defaults(func=cmd_models)


def cmd_models(args) -> int:
    from harness.models.gguf_file import SOURCE_FILE
    from harness.models.named import list_named_models
    from orca.paths import cache_dir

    print("Named models (--model NAME):")
    for m in list_named_models():
        print(f"  {m['name']}")
        _say(f"{m['description']} ({m['license']})", 4)
        _say(f"from: {m['source']}", 4, 2)
        if m["path"]:
            _say(f"installed (version {m['version']}):", 4)
            _say(str(m["path"]), 6)
        else:
            _say(f"not installed: {m['install']}", 4, 2)
    _say("Any local GGUF file: --model gguf:PATH (converted on first use into a plain checkpoint in the cache).",
         0, 2)
    converted = sorted((cache_dir() / "models").glob(f"gguf-*/{SOURCE_FILE}"))
    if converted:
        _say(f"Converted GGUF checkpoints in {cache_dir() / 'models'}:", 0, 2)
        for src in converted:
            info = json.loads(src.read_text())
            print(f"  {src.parent.name}")
            _say(f"{info['gguf_file']} ({info['architecture']}, {info['quantization']})", 4, 2)
    return 0
