"""CLI: `models` -- the named models, where each comes from, and GGUF checkpoints converted so far."""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("models", help="list named models (--model NAME) and where each comes from",
                       description="Named models ship inside Python packages; any local GGUF file also "
                       "works as --model gguf:PATH (converted once into the cache).")
    p.set_defaults(func=cmd_models)


def cmd_models(args) -> int:
    from harness.models_gguf import SOURCE_FILE
    from harness.named_models import list_named_models
    from orca.paths import cache_dir

    print("Named models (--model NAME):")
    for m in list_named_models():
        print(f"  {m['name']}: {m['description']} ({m['license']})")
        print(f"    from: {m['source']}")
        if m["path"]:
            print(f"    installed: {m['path']} (version {m['version']})")
        else:
            print(f"    not installed: {m['install']}")
    print("Any local GGUF file: --model gguf:PATH (converted on first use into a plain checkpoint in the cache).")
    converted = sorted((cache_dir() / "models").glob(f"gguf-*/{SOURCE_FILE}"))
    if converted:
        print(f"Converted GGUF checkpoints in {cache_dir() / 'models'}:")
        for src in converted:
            info = json.loads(src.read_text())
            print(f"  {src.parent.name}: {info['gguf_file']} ({info['architecture']}, {info['quantization']})")
    return 0
