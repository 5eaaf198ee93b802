"""User-facing errors: the CLI prints them as one line and exits non-zero.

Three kinds of mistakes reach the user as one `orca-eval: error:` line and exit 2:
`UserError` (raised where the code knows what went wrong), and two that can come from
any reader or writer in the project and are translated once, at the top of the CLI
(`user_message_for`): a file that is not UTF-8 text, and an operating-system refusal
about a path (a directory where a file is expected, a full disk, a closed stdout).
Everything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import errno
import io
import os
from pathlib import Path

EXIT_OK = 0
EXIT_FOUND = 1   # a gate failed: a regression, contamination, failed queries left
EXIT_USAGE = 2   # a user mistake: bad input, flag, path or file


class UserError(Exception):
    """A mistake in the user's input (file, flag, data). Printed as one line, exit 2."""

    exit_code = EXIT_USAGE


# ----------------------------------------------------------------- checks that name the mistake

def missing_file_message(path: str | Path, what: str) -> str:
    """"not found" only when nothing is there: a directory given for a file says so."""
    path = Path(path)
    if path.is_dir():
        return f"{path}: is a directory, not a {what}"
    if path.exists():
        return f"{path}: is not a regular file (a {what} is expected)"
    return f"{path}: {what} not found"


def check_output_file(path: str | Path, flag: str) -> None:
    """An output FILE flag must not name a directory, nor sit under a file."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path}: is a directory; give a file name")
    blocker = _file_ancestor(path.parent)
    if blocker is not None:
        raise UserError(f"{flag} {path}: {blocker} is a file, not a directory")


def check_output_dir(path: str | Path, flag: str) -> None:
    """An output DIRECTORY flag must not name a file, nor sit under one."""
    blocker = _file_ancestor(Path(path))
    if blocker is not None:
        raise UserError(f"{flag} {path}: {blocker} is a file, not a directory")


def _file_ancestor(path: Path) -> Path | None:
    """The first existing non-directory on the way to `path` (itself included), if any."""
    for p in [*reversed(path.parents), path]:
        if p.exists() and not p.is_dir():
            return p
        if not p.exists():
            return None
    return None


# JSON's names for a value's type, in "got Y" wording; bool before int (a bool is an int in Python).
_VALUE_TYPE_NAMES = ((type(None), "null"), (bool, "a boolean"), (int, "an integer"), (float, "a number"),
                     (str, "a string"), (list, "a list"), (dict, "an object"))


def type_name(value) -> str:
    """JSON's name for a value's type, for "must be X, got Y" messages."""
    return next((name for t, name in _VALUE_TYPE_NAMES if isinstance(value, t)), type(value).__name__)


_TYPE_WORDS = {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number",
               bool: "true or false", type(None): "null"}


# The field checks every reader of a config or record shares (orca/train_config.py,
# harness/pipeline/config.py, harness/results.py); numbers are then ranged by orca.values.check_number.

def unknown_field(where: str, key: str, known) -> UserError:
    return UserError(f"{where}: unknown field {key!r} (known: {', '.join(known)})")


def missing_field(where: str, key: str) -> UserError:
    return UserError(f"{where}: missing field {key!r}")


def reject_unknown_fields(where: str, obj: dict, known) -> None:
    """UserError naming the first (in sorted order) field of `obj` that `known` lacks."""
    unknown = sorted(set(obj) - set(known))
    if unknown:
        raise unknown_field(where, unknown[0], known)


def is_of_type(value, types) -> bool:
    """The one type rule for values read from JSON or YAML: isinstance, except that a
    boolean is not a number (`true` is an int in Python) unless bool is listed."""
    types = types if isinstance(types, tuple) else (types,)
    return isinstance(value, types) and not (isinstance(value, bool) and bool not in types)


def require(obj: dict, key: str, types, where: str, optional: bool = False, wrong_type=None):
    """`obj[key]` checked against `types`: "missing field" only when absent, otherwise
    "must be X, got Y" (a bool is not accepted as a number; an integer is a number).
    `wrong_type(key, value, types)` words the second message another way (the training
    config names Python types, as its documentation and users know it)."""
    types = types if isinstance(types, tuple) else (types,)
    if key not in obj:
        if optional:
            return None
        raise missing_field(where, key)
    value = obj[key]
    if not is_of_type(value, types + (int,) if float in types else types):  # JSON has one number type
        why = (wrong_type or _json_type_words)(key, value, types)
        raise UserError(f"{where}: {why}")
    return value


def _json_type_words(key: str, value, types: tuple) -> str:
    want = " or ".join(dict.fromkeys(_TYPE_WORDS.get(t, t.__name__) for t in types))
    return f"field {key!r} must be {want}, got {type_name(value)} ({_short(value)})"


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ----------------------------------------------------------------- the CLI's translation

class StdoutError(OSError):
    """A write to standard output failed (a closed pipe or descriptor, a full device)."""


# errno values that describe the user's files, flags or machine, not a bug of ours.
USER_ERRNOS = {
    errno.ENOENT, errno.EISDIR, errno.ENOTDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.EROFS,
    errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.ENAMETOOLONG, errno.ELOOP, errno.EPIPE, errno.EBADF,
    errno.ENOTEMPTY, errno.EXDEV, errno.ETXTBSY, errno.EIO,
}


def user_message_for(exc: BaseException) -> str | None:
    """One line for an exception that is a user's (or their machine's) problem, else None."""
    if isinstance(exc, UnicodeDecodeError):
        return _unicode_message(exc)
    if isinstance(exc, StdoutError):
        return f"cannot write to standard output: {exc.strerror or os.strerror(exc.errno)}"
    if isinstance(exc, OSError) and exc.errno in USER_ERRNOS:
        return _os_message(exc)
    return None


def _files_in_traceback(exc: BaseException):
    """Paths of the files the failing code had open (innermost first), then its `path`
    variables: the name of the file a reader or writer was working on, which Python's
    decode and write errors do not carry."""
    tb, frames = exc.__traceback__, []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for value in frame.f_locals.values():
            name = getattr(value, "name", None) if isinstance(value, (io.IOBase, io.TextIOWrapper)) else None
            if isinstance(name, str) and name not in ("<stdout>", "<stderr>"):
                yield Path(name)
    for frame in reversed(frames):
        value = frame.f_locals.get("path")
        if isinstance(value, (str, os.PathLike)):
            yield Path(value)


def _unicode_message(exc: UnicodeDecodeError) -> str:
    why = f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x})" if exc.object else "not UTF-8 text"
    for path in _files_in_traceback(exc):
        try:
            raw = path.read_bytes()
        except OSError:
            continue
        if path.name.endswith(".gz"):
            return f"{path}: {why} after decompression; save it as UTF-8"
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw.count(b"\n", 0, e.start) + 1
            column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
            return f"{path}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column {column}); save it as UTF-8"
    return f"an input is {why}; save it as UTF-8"


def _os_message(exc: OSError) -> str:
    strerror = exc.strerror or os.strerror(exc.errno)
    if exc.filename is None:
        path = next(_files_in_traceback(exc), None)
        if path is None:
            return strerror
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return f"{path}: cannot write: {strerror} (not written; free space and run again)"
        return f"{path}: {strerror}"
    path = Path(os.fsdecode(exc.filename))
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        blocker = _file_ancestor(path)
        if blocker is not None:
            return f"{blocker}: is a file, not a directory" + (f" (needed for {path})" if blocker != path else "")
    if exc.errno == errno.EISDIR:
        target = Path(os.fsdecode(exc.filename2)) if exc.filename2 else path
        return f"{target}: is a directory, not a file"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"{path}: cannot write: {strerror} (not written; free space and run again)"
    return f"{path}: {strerror}"
