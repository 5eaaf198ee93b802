"""Model-output cache: append-only JSONL per model identity, keyed by a hash of
(model, revision, prompt, decoding, seed, repeat). A run killed at any point and
started again finds every finished request here; a re-run is instant."""
from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from harness.io import read_jsonl_tolerant, sha256_text


def request_key(*parts) -> str:
    return sha256_text(json.dumps(parts, ensure_ascii=False, sort_keys=True))


class OutputCache:
    def __init__(self, path: str | Path, read: bool = True):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._data: dict[str, object] = {}
        if read:
            with self._locked():
                for row in read_jsonl_tolerant(self.path):
                    self._data[row["k"]] = row["v"]

    def _locked(self):
        lock_path = self.path.with_suffix(".lock")

        class _Lock:
            def __enter__(s):
                s.fd = os.open(lock_path, os.O_CREAT | os.O_RDWR)
                fcntl.flock(s.fd, fcntl.LOCK_EX)

            def __exit__(s, *exc):
                fcntl.flock(s.fd, fcntl.LOCK_UN)
                os.close(s.fd)
        return _Lock()

    def get(self, key: str):
        return self._data.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def put_many(self, items: dict[str, object], fsync: bool = True) -> None:
        """Append under a file lock (several processes may share a cache), then fsync.

        `fsync=False` is for results written one by one as a model produces them: once
        write() returns, the line is in the kernel's page cache and survives a kill -9 of
        this process; only a power loss could drop it (then it is recomputed, and a torn
        line is skipped). `sync()` makes them durable at the end of the call; an fsync per
        result cost a fifth of a CPU run."""
        if not items:
            return
        data = "".join(json.dumps({"k": k, "v": v}, ensure_ascii=False) + "\n" for k, v in items.items())
        with self._locked():
            _drop_torn_tail(self.path)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(data)
                f.flush()
                if fsync:
                    os.fsync(f.fileno())
        self._data.update(items)

    def sync(self) -> None:
        """fsync what `put_many(..., fsync=False)` appended."""
        if self.path.exists():
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _drop_torn_tail(path: Path) -> None:
    """A writer killed mid-line leaves a tail without a newline: cut it off so the next
    append starts on a clean line (reads skip it anyway)."""
    if not path.exists():
        return
    with open(path, "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        pos = size
        while pos > 0:
            step = min(4096, pos)
            f.seek(pos - step)
            block = f.read(step)
            nl = block.rfind(b"\n")
            if nl >= 0:
                f.truncate(pos - step + nl + 1)
                return
            pos -= step
        f.truncate(0)
