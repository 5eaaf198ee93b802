"""Model-output cache: append-only JSONL per model identity, keyed by a hash of
(model, revision, prompt, decoding, seed, repeat). A run killed at any point and
started again finds every finished request here; a re-run is instant."""
from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

from orca.io import append_jsonl, read_jsonl, sha256_text


def request_key(*parts) -> str:
    return sha256_text(json.dumps(parts, ensure_ascii=False, sort_keys=True))


def plain_output(v) -> bool:
    """What any cached output is: generated text, or a finite log-likelihood."""
    return isinstance(v, str) or (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))


class OutputCache:
    def __init__(self, path: str | Path, read: bool = True, valid=plain_output):
        """`valid(v)`: whether a row's value can be an output at all (text, or a finite
        log-likelihood); a row that fails it -- `"v": null`, a list, an object -- is a counted
        skip, like a corrupt line, and its output is computed again. (One file holds both
        modes' outputs, so which of the two a key needs is the runner's to check: `discard`.)

        `read=False` (`--no-cache`): every output is computed again, and the file's entries
        are never replaced -- other runs read them. A fresh output is appended only for a key
        the file lacks; for a key it has, the fresh value lives in this object alone."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._stored: dict[str, object] = {}   # what the file holds
        self.corrupt_lines = 0  # lines left out as corrupt; their outputs are computed again
        with self._locked():
            # A corrupt line costs only its own entry: skipped and counted, never
            # the lines after it (they are other requests' finished outputs).
            found = read_jsonl(self.path, on_bad="skip", what="output cache")
        bad_rows = []
        for line, row in zip(found.row_lines, found.rows):
            if isinstance(row.get("k"), str) and "v" in row and valid(row["v"]):
                self._stored[row["k"]] = row["v"]
            else:
                bad_rows.append(line)
        first_bad = sorted(found.skipped_lines[:1] + bad_rows[:1])[:1]
        self.corrupt_lines += len(found.skipped_lines) + len(bad_rows)
        if self.corrupt_lines and read:
            where = f" (first at line {first_bad[0]})" if first_bad else ""
            print(f"orca-eval: warning: {self.path}: skipped {self.corrupt_lines} corrupt line(s){where}; "
                  "their outputs will be computed again", file=sys.stderr)
        self._data: dict[str, object] = self._stored if read else {}

    def _locked(self):
        """An exclusive lock on the sidecar file PATH.lock, waited for (several processes may
        share a cache); a `flock`, so the kernel drops it when its holder dies."""
        from filelock import FileLock  # imported here: ~30 ms, for commands that open a cache

        return FileLock(self.path.with_suffix(".lock"))

    def discard(self, keys) -> None:
        """Forget these keys (a value of the wrong kind for the request): computed again, and
        the new value, appended later, is the one read from then on."""
        for k in keys:
            self._data.pop(k, None)
            self._stored.pop(k, None)  # so that the recomputed value is appended

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
        new = {k: v for k, v in items.items() if k not in self._stored}
        if new:
            with self._locked():
                append_jsonl(self.path, ({"k": k, "v": v} for k, v in new.items()), fsync=fsync)
            self._stored.update(new)
        self._data.update(items)

    def sync(self) -> None:
        """fsync what `put_many(..., fsync=False)` appended."""
        if self.path.exists():
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

