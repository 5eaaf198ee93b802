"""Which backend answers which `--model` spec: filled by the backend modules as they are imported.

In the manner of lm-eval's `@register_model`: each backend module registers its own
prefix (`hf:PATH` is the prefix "hf") or whole names (`default`, the named models), and
harness/models/__init__.py imports them all. A new backend is one new module and one
import line, not a new branch in `make_backend`.
"""
from __future__ import annotations

from collections.abc import Callable

# prefix -> (what follows the colon, as errors name it; factory(rest, spec, cfg) -> backend)
BACKENDS: dict[str, tuple[str, Callable]] = {}
# a whole spec that names one model -> factory(spec, cfg) -> backend
NAMED: dict[str, Callable] = {}


def register_model(prefix: str, metavar: str):
    """Decorate the factory (a function or a class) of the backend for `--model PREFIX:METAVAR`."""
    def add(factory):
        if prefix in BACKENDS:
            raise ValueError(f"model backend {prefix!r} registered twice")
        BACKENDS[prefix] = (metavar, factory)
        return factory
    return add


def register_name(name: str, factory: Callable) -> None:
    """`--model NAME` for one model known by name."""
    if name in NAMED:
        raise ValueError(f"model name {name!r} registered twice")
    NAMED[name] = factory
