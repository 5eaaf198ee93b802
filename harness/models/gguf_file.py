"""`--model gguf:PATH` and named models: any local GGUF file, run through transformers.

transformers reads GGUF (with the `gguf` package) and dequantizes it to float, but that
takes ~30 s for a 135M model and the loaded model refuses `save_pretrained` ("quantized
... not serializable"). So the first load converts the file into a plain Hugging Face
checkpoint -- its state dict loaded into a plain model built from the same config, plus
the tokenizer with its chat template -- under $ORCA_CACHE_DIR/models/gguf-<sha256>/,
keyed by the file's hash. Later runs load that folder like any `hf:` checkpoint.

The conversion is written to a temporary folder and renamed into place, under a file
lock: a kill mid-conversion leaves no half-made checkpoint, and two runs started at once
convert once.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

from orca.errors import UserError
from orca.io import sha256_file, write_json_atomic

from harness.models.huggingface import make_hf_backend
from harness.models.lmeval_backend import LMEvalBackend
from harness.models.named import NAMED_MODELS, resolve_named_model
from harness.models.registry import register_model, register_name

GGUF_MAGIC = b"GGUF"
SOURCE_FILE = "gguf_source.json"   # written into each converted checkpoint: where it came from


def _import_gguf(spec: str):
    try:
        import gguf
    except ImportError:
        raise UserError(f"--model {spec}: reading GGUF files needs the gguf package "
                        "(install it with: pip install --no-deps gguf)") from None
    return gguf


def check_gguf_file(path: str | Path, spec: str) -> None:
    """A one-line UserError unless `path` is a file that starts like a GGUF file."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"--model {spec}: {path} does not exist")
    if not path.is_file():
        raise UserError(f"--model {spec}: {path} is not a file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise UserError(f"--model {spec}: {path} is not a GGUF file (it does not start with the bytes 'GGUF')")


def read_gguf_header(path: str | Path, spec: str) -> dict:
    """Architecture and quantization of a GGUF file, checking it is whole; a one-line
    UserError for a missing, non-GGUF, truncated or damaged file."""
    path = Path(path)
    check_gguf_file(path, spec)
    gguf = _import_gguf(spec)
    try:
        reader = gguf.GGUFReader(path)
    except Exception as e:  # the reader raises ValueError, IndexError, struct errors... on a cut-off header
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f"--model {spec}: {path} is truncated or damaged (cannot read it as GGUF: {why})") from None
    size = path.stat().st_size
    data_end = max((int(t.data_offset) + int(t.n_bytes) for t in reader.tensors), default=0)
    if not reader.tensors or data_end > size:
        raise UserError(f"--model {spec}: {path} is truncated ({size} bytes; its tensors need {data_end})")

    def field(name):
        f = reader.fields.get(name)
        return f.contents() if f is not None else None

    tensor_types = Counter(t.tensor_type.name for t in reader.tensors)
    file_type = field("general.file_type")
    try:
        quantization = gguf.LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_")
    except (ValueError, TypeError):
        # no (or an unknown) file type field: name it by the commonest type of the weight matrices
        matrices = Counter(t.tensor_type.name for t in reader.tensors if len(t.shape) > 1)
        quantization = (matrices or tensor_types).most_common(1)[0][0]
    return {"architecture": field("general.architecture"), "name": field("general.name"),
            "quantization": quantization, "file_type": file_type,
            "tensor_types": dict(tensor_types.most_common()), "bytes": size}


def converted_dir_for(sha256: str) -> Path:
    from orca.paths import cache_dir

    return cache_dir() / "models" / f"gguf-{sha256[:16]}"


def convert_gguf(path: str | Path, sha256: str, spec: str, log=None) -> tuple[Path, dict]:
    """The plain checkpoint of the GGUF file at `path` (hash `sha256`) and the file's
    header, converting it on first use. Later calls read the header recorded with the
    conversion: the reader is slow on large vocabularies (seconds per parse)."""
    path = Path(path)
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    final = converted_dir_for(sha256)
    if not final.is_dir() or _damage(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        from filelock import FileLock

        with FileLock(final.parent / f".{final.name}.lock"):  # one converter per file; others wait for it
            damage = _damage(final) if final.is_dir() else None
            if damage:
                # A converted checkpoint cut short (a full disk, a copy, a kill during a
                # cache clean-up) failed on every later run and was never converted again.
                log(f"orca-eval: warning: {final}: damaged ({damage}); converting {path.name} again")
                aside = final.parent / f".{final.name}.damaged-{os.getpid()}"
                os.rename(final, aside)
                shutil.rmtree(aside, ignore_errors=True)
            if not final.is_dir():  # else another process converted it while we waited
                _convert_atomically(path, sha256, final, spec, log)
    source = json.loads((final / SOURCE_FILE).read_text())
    return final, {k: source[k] for k in HEADER_FIELDS}


def _damage(final: Path) -> str | None:
    """Why a converted checkpoint in the cache cannot be used as it is (None: it can)."""
    from orca.checkpointing import safetensors_problem

    try:
        source = json.loads((final / SOURCE_FILE).read_text())
        json.loads((final / "config.json").read_text())
    except (OSError, ValueError) as e:
        return f"{type(e).__name__} reading its records"
    if not isinstance(source, dict) or any(k not in source for k in HEADER_FIELDS):
        return f"{SOURCE_FILE} incomplete"
    weights = sorted(final.glob("*.safetensors"))
    if not weights:
        return "no weights"
    for f in weights:
        problem = safetensors_problem(f)
        if problem:
            return f"{f.name}: {problem}"
    return None


HEADER_FIELDS = ("architecture", "name", "quantization", "file_type", "tensor_types", "bytes")


def _convert_atomically(path: Path, sha256: str, final: Path, spec: str, log) -> None:
    for stale in final.parent.glob(f".{final.name}.tmp-*"):  # left by a killed conversion (we hold the lock)
        shutil.rmtree(stale, ignore_errors=True)
    header = read_gguf_header(path, spec)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    t0 = time.perf_counter()
    try:
        _convert_into(path, tmp, spec, header)
        write_json_atomic(tmp / SOURCE_FILE, {"gguf_file": str(path), "sha256": sha256, **header,
                                              "converted_in_s": round(time.perf_counter() - t0, 1)})
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # said after the fact, so that a file transformers cannot load gets one line, the error
    log(f"converted {path.name} ({header['architecture']}, {header['quantization']}) in "
        f"{time.perf_counter() - t0:.1f} s into {final} (first use only; later runs load that)")


@contextlib.contextmanager
def _no_dequantization_bar():
    """transformers draws a tqdm bar per GGUF load straight from tqdm (not through its logging,
    which the CLI silences); in a log it is a screenful of carriage returns."""
    import functools

    import transformers.modeling_gguf_pytorch_utils as gguf_utils

    bar = getattr(gguf_utils, "tqdm", None)
    if bar is not None:
        gguf_utils.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        if bar is not None:
            gguf_utils.tqdm = bar


def _convert_into(path: Path, out: Path, spec: str, header: dict) -> None:
    import copy

    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    where = dict(pretrained_model_name_or_path=str(path.parent), gguf_file=path.name)
    cannot = (f"--model {spec}: transformers {transformers.__version__} cannot load GGUF architecture "
              f"{header['architecture']!r} of {path}")
    try:  # an unsupported architecture fails while reading the config, before dequantizing
        with _no_dequantization_bar():
            quantized = AutoModelForCausalLM.from_pretrained(**where, dtype=torch.float32)
    except (ValueError, KeyError, NotImplementedError) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f"{cannot} ({why})") from None
    tokenizer = AutoTokenizer.from_pretrained(**where)

    config = copy.deepcopy(quantized.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the plain copy holds ordinary float weights
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(quantized.state_dict(), strict=True)
    plain.generation_config = copy.deepcopy(quantized.generation_config)
    plain.eval()
    # Guard against a silently different model: both must give the same logits.
    ids = torch.tensor([tokenizer("The answer is (B).")["input_ids"][:16] or [0]])
    with torch.no_grad():
        diff = (quantized(ids).logits - plain(ids).logits).abs().max().item()
    if diff > 1e-4:
        raise RuntimeError(f"GGUF conversion of {path}: the plain model's logits differ by {diff:g}")
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)


class GGUFBackend(LMEvalBackend):
    """An `hf:` backend on the converted checkpoint that records the GGUF file it came from.
    Its fingerprint (the output cache key) is the GGUF file's hash."""

    def __init__(self, hf: LMEvalBackend, spec: str, gguf: dict, named: dict | None):
        super().__init__(hf.lm, spec, "gguf", hf.path, hf.tokenizer, hf.revision, dtype=hf.dtype,
                         batch_size=hf.batch_size)
        self.gguf, self.named = gguf, named
        self.fingerprint = gguf["sha256"][:16]

    def describe(self) -> dict:
        out = super().describe() | {"gguf": self.gguf}
        if self.named:
            out["named_model"] = self.named
        return out


@register_model("gguf", "PATH")
def make_gguf_backend(path_str: str, spec: str, cfg, named: dict | None = None) -> GGUFBackend:
    path = Path(path_str).expanduser().resolve()
    check_gguf_file(path, spec)
    sha256 = sha256_file(path)
    hf_dir, header = convert_gguf(path, sha256, spec)
    hf = make_hf_backend(str(hf_dir), spec, cfg)
    # the file name only: its sha256 (and for a named model the package and version) says which
    # file it was; where it lay (site-packages, a download folder) is this machine's business
    return GGUFBackend(hf, spec, {"file": path.name, "sha256": sha256, **header}, named)


def make_named_backend(name: str, cfg) -> GGUFBackend:
    path, named = resolve_named_model(name)
    return make_gguf_backend(str(path), name, cfg, named=named)


for _name in NAMED_MODELS:  # every named model is a GGUF file inside a package (named.py)
    register_name(_name, make_named_backend)
