"""The progress display of the long loops: `orca-eval run`'s requests, teacher
collection, training.

One rule for all of them. `enabled=False` shows nothing; `enabled=None` shows a rich bar
on a terminal and nothing in a log; `enabled=True` shows the bar on a terminal and, in a
log, plain lines (when the loop names its unit: one at the start, then at most one per
`interval` seconds, and one at the end) or else rich's own fallback, the bar printed once
when it stops. Lines by time, not by count: a small run printed one line per request, all
within the same second, and a long one went silent for a tenth of its length.

The plain lines are our own code beside rich because rich has none: a redirected
rich.progress.Progress prints nothing until it stops, so a log of a long run would show
no sign of life.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field


LINE_INTERVAL_S = 30.0


def progress_display(*columns, console=None, enabled: bool | None = None, plain_unit: tuple[str, str] | None = None,
                     interval: float = LINE_INTERVAL_S, before: str = "done before"):
    """A rich.progress.Progress of `columns` on `console` (rich's global console if none), or
    in a log with `enabled=True` and `plain_unit` (e.g. `("requests", "req/s")`) a
    LineProgress (a line at most every `interval` s; `before` names what add_task's
    `completed=` counts, e.g. "from the cache"). Both are used the same way: `with`, or
    start()/stop(); add_task, update."""
    from rich import get_console
    from rich.progress import Progress

    console = console or get_console()
    if enabled is None:
        enabled = console.is_terminal
    if enabled and plain_unit and not console.is_terminal:
        return LineProgress(*plain_unit, console=console, interval=interval, before=before)
    return Progress(*columns, console=console, disable=not enabled, transient=False)


class LineProgress:
    """The part of rich.progress.Progress the loops use, printing plain lines:
    `DESCRIPTION: DONE/TOTAL UNIT (K BEFORE) in S s (RATE RATE_UNIT)`, one when a task is
    added, then at most one per `interval` seconds, and one when it completes. DONE counts
    what was done before (`completed=` at add_task, e.g. answers from the cache) and the
    rate only what this process did."""

    disable = False

    @dataclass
    class _Task:
        description: str
        total: int
        completed: int = 0
        before: int = 0
        start: float = field(default_factory=lambda: time.perf_counter())
        last_line: float = field(default_factory=lambda: time.perf_counter())

    def __init__(self, unit: str, rate_unit: str, console, interval: float = LINE_INTERVAL_S,
                 before: str = "done before"):
        self.unit, self.rate_unit, self.console, self.interval = unit, rate_unit, console, interval
        self.before = before
        self.tasks: list[LineProgress._Task] = []

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, description: str, total: int, completed: int = 0, **fields) -> int:
        t = self._Task(description, total, completed, before=completed)
        self.tasks.append(t)
        self._line(t)
        return len(self.tasks) - 1

    def update(self, task_id: int, advance: int = 0, completed: int | None = None, **fields) -> None:
        t = self.tasks[task_id]
        done_before = t.completed >= t.total
        t.completed = completed if completed is not None else t.completed + advance
        now = time.perf_counter()
        if (t.completed >= t.total and not done_before) or now - t.last_line >= self.interval:
            self._line(t, now)

    def _line(self, t: "LineProgress._Task", now: float | None = None) -> None:
        now = time.perf_counter() if now is None else now
        t.last_line = now
        before = f" ({t.before} {self.before})" if t.before else ""
        if t.completed == t.before:  # nothing new yet (or nothing to do)
            text = f"{t.description}: {t.completed}/{t.total} {self.unit}{before}"
        else:
            el = now - t.start
            text = (f"{t.description}: {t.completed}/{t.total} {self.unit}{before} in {el:.1f} s "
                    f"({(t.completed - t.before) / max(el, 1e-9):.1f} {self.rate_unit})")
        # print(), not console.print(): a log line is never wrapped or marked up by rich
        print(text, file=self.console.file, flush=True)
