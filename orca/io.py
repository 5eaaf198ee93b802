"""Atomic file writes and append-only JSONL that survives kill -9."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)


class AtomicWriter:
    """A file written in pieces beside its destination and renamed over it by `commit()`,
    so readers see the old file or the whole new one, never part of it: for output too
    large to hold in memory (decontamination's clean copies). `commit()` returns the
    SHA-256 of the bytes written. Call `discard()` in a `finally`: before a commit it
    removes the temporary file, after one it does nothing."""

    def __init__(self, dest: str | Path):
        self.dest = Path(dest)
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(dir=self.dest.parent, prefix=f".{self.dest.name}.", suffix=".tmp")
        self.f = os.fdopen(fd, "wb")
        self.hash = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.f.write(data)
        self.hash.update(data)

    def commit(self) -> str:
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()
        os.chmod(self.tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are meant to be shared
        os.replace(self.tmp, self.dest)
        return self.hash.hexdigest()

    def discard(self) -> None:
        try:
            # a write that failed (a full disk, a file size limit) fails again on close,
            # and the exception being handled is the one that says so
            with contextlib.suppress(OSError):
                self.f.close()
        finally:
            if os.path.exists(self.tmp):
                os.unlink(self.tmp)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` so readers see the old file or the new one, never half."""
    out = AtomicWriter(path)
    try:
        out.write(text.encode("utf-8"))
        out.commit()
    finally:
        out.discard()


def write_json_atomic(path: str | Path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_jsonl_atomic(path: str | Path, rows) -> None:
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def append_jsonl(path: str | Path, rows, *, fsync: bool = True) -> None:
    """Append rows (and fsync, unless `fsync=False`). The one appender of our JSONL files:
    a kill mid-write leaves at most one torn last line; `read_jsonl` ignores it, and the
    next append first cuts it off (`end_torn_tail`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    end_torn_tail(path)
    with open(path, "a", encoding="utf-8") as f:
        f.write(data)
        f.flush()
        if fsync:
            os.fsync(f.fileno())


def end_torn_tail(path: str | Path) -> None:
    """Make an append-only JSONL file end on a line break before appending to it.

    Only the final line can be torn (a writer killed mid-line leaves it without its
    newline). If that tail is a whole JSON object, only the newline was lost: add it.
    Otherwise cut the tail off. Nothing before the last line break is ever touched."""
    path = Path(path)
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
        while pos > 0:  # find the last line break, reading backwards
            step = min(4096, pos)
            f.seek(pos - step)
            nl = f.read(step).rfind(b"\n")
            if nl >= 0:
                start = pos - step + nl + 1
                break
            pos -= step
        else:
            start = 0
        f.seek(start)
        if _parse_object(f.read(size - start)) is not None:
            f.seek(size)
            f.write(b"\n")
        else:
            f.truncate(start)
        f.flush()
        os.fsync(f.fileno())


def _parse_object(raw: bytes):
    """The JSON object on one line, or None when the line is not one (bad JSON, bad
    UTF-8, or JSON that is not an object)."""
    try:
        row = json.loads(raw.decode("utf-8"))
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return None
    return row if isinstance(row, dict) else None


def _line_problem(raw: bytes) -> str:
    """Why a line is not a JSON object, for an error message."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"not UTF-8 text (byte {e.start + 1})"
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        return f"malformed JSON ({e.msg})"
    return "expected a JSON object"


@dataclass
class JsonlRead:
    """What `read_jsonl` found: the rows, plus what it left out and why."""

    rows: list[dict]
    row_lines: list[int] = field(default_factory=list)      # the line number of each row
    skipped_lines: list[int] = field(default_factory=list)  # corrupt complete lines (on_bad="skip")
    torn_tail: bool = False                                   # an unterminated, unparsable last line


def read_jsonl(path: str | Path, *, on_bad: str = "error", what: str = "file") -> JsonlRead:
    """Read an append-only JSONL file of objects (our caches, collection outputs, metrics).

    This is the one reader of files we append to; it never writes (read-only commands
    use it too). Blank lines are ignored. The final line, when it has no trailing
    newline and does not parse, is a torn write from a kill and is left out -- the only
    line that may be. Any other line that is not a JSON object is a corrupt complete
    line: `on_bad="error"` raises UserError naming FILE:LINE; `on_bad="skip"` leaves out
    that line alone (counted in `skipped_lines`) and keeps every line after it.
    A missing file reads as empty."""
    from orca.errors import UserError

    if on_bad not in ("error", "skip"):
        raise ValueError(f"on_bad must be 'error' or 'skip', not {on_bad!r}")
    path = Path(path)
    out = JsonlRead(rows=[])
    if not path.exists():
        return out
    if not path.is_file():
        raise UserError(f"{path}: is a directory, not a file ({what})" if path.is_dir()
                        else f"{path}: {what} is not a file")
    with open(path, "rb") as f:
        raw = f.read()
    lines = raw.split(b"\n")
    # split() leaves b"" after a final newline, or the unterminated tail otherwise
    tail = lines.pop()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        row = _parse_object(line)
        if row is not None:
            out.rows.append(row)
            out.row_lines.append(lineno)
        elif on_bad == "skip":
            out.skipped_lines.append(lineno)
        else:
            raise UserError(f"{path}:{lineno}: {what}: {_line_problem(line)}; the line is complete, so this is "
                            "not a torn write: fix or remove that line and run again") from None
    if tail.strip():
        row = _parse_object(tail)
        if row is not None:  # a whole object whose newline was not written yet
            out.rows.append(row)
            out.row_lines.append(len(lines) + 1)
        else:
            out.torn_tail = True
    return out


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def iter_jsonl_objects(path: str | Path, what: str = "file"):
    """Yield (where, object) for each non-blank line of a user's JSONL file, where
    `where` is "path:line" for error messages; a missing file, malformed JSON or a
    non-object line raises UserError naming the file and line. Reads .gz too."""
    import gzip

    from orca.errors import UserError, missing_file_message

    path = Path(path)
    if not path.is_file():
        raise UserError(missing_file_message(path, what))
    import zlib

    compressed = path.name.endswith(".gz")
    opener = gzip.open if compressed else open
    lineno = 0
    # Bytes, decoded line by line: a bad byte is reported with its line, like bad JSON.
    with opener(path, "rb") as f:
        lines = enumerate(f, 1)
        while True:
            try:
                lineno, line = next(lines)
            except StopIteration:
                return
            except (OSError, EOFError, zlib.error) as e:
                if not compressed:
                    raise
                # not gzip at all, or cut short: gzip says so without naming the file
                raise UserError(f"{path}:{lineno + 1}: corrupt gzip file ({str(e) or type(e).__name__})") from None
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            row = _parse_object(line)
            if row is None:
                raise UserError(f"{where}: {_line_problem(line)}")
            yield where, row


class OneWriter:
    """An exclusive, non-blocking lock that makes a process the only writer of `path`
    (`with OneWriter(path, "data collect"): ...`). Two appenders to one file would each
    skip only what they read at start and ask everything else, so the file would hold
    every answer twice; the second one stops instead, with one line naming the first.

    The lock is a `flock` on a sidecar file `PATH.lock` (the output itself is replaced by
    atomic rewrites, so its inode cannot carry the lock). The kernel drops it when the
    holder exits, kill -9 included: a stale lock file never blocks anyone. The sidecar is
    left in place: removing it could let a third process lock a different inode."""

    def __init__(self, path: str | Path, what: str, lock_path: str | Path | None = None,
                 instead: str = "write to another file"):
        self.path, self.what, self.instead = Path(path), what, instead
        self.lock_path = Path(lock_path) if lock_path else self.path.with_name(self.path.name + ".lock")
        self._fd: int | None = None

    def __enter__(self) -> "OneWriter":
        import fcntl

        from orca.errors import UserError

        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip()
            os.close(fd)
            raise UserError(f"{self.path}: another {self.what} is writing to it"
                            f"{f' (pid {holder})' if holder.isdigit() else ''}; wait until it has finished "
                            f"(then run this command again to resume), or {self.instead}") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def hold(self) -> "OneWriter":
        """Take the lock for as long as this object lives: for a long function whose body
        should not be re-indented under a `with` -- keep it in a local, and the lock goes
        when the function returns or its exception is handled (or the process ends)."""
        return self.__enter__()

    def __del__(self) -> None:
        try:
            self.__exit__()
        except Exception:  # at interpreter exit `os` may be gone; the kernel drops the lock anyway
            pass
