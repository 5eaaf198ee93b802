"""The progress display of the long loops: `orca-eval run`'s requests, teacher
collection, training.

One rule for all of them. `enabled=False` shows nothing; `enabled=None` shows a rich bar
on a terminal and nothing in a log; `enabled=True` shows the bar on a terminal and, in a
log, plain lines (one at every tenth, when the loop names its unit) or else rich's own
fallback, the bar printed once when it stops.

The plain lines are our own code beside rich because rich has none: a redirected
rich.progress.Progress prints nothing until it stops, so a log of a long run would show
no sign of life.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field


def progress_display(*columns, console=None, enabled: bool | None = None, plain_unit: tuple[str, str] | None = None):
    """A rich.progress.Progress of `columns` on `console` (rich's global console if none), or
    in a log with `enabled=True` and `plain_unit` (e.g. `("requests", "req/s")`) a
    LineProgress. Both are used the same way: `with`, or start()/stop(); add_task, update."""
    from rich import get_console
    from rich.progress import Progress

    console = console or get_console()
    if enabled is None:
        enabled = console.is_terminal
    if enabled and plain_unit and not console.is_terminal:
        return LineProgress(*plain_unit, console=console)
    return Progress(*columns, console=console, disable=not enabled, transient=False)


class LineProgress:
    """The part of rich.progress.Progress the loops use, printing a plain line at every
    tenth of a task: `DESCRIPTION: DONE/TOTAL UNIT in S s (RATE RATE_UNIT)`."""

    disable = False

    @dataclass
    class _Task:
        description: str
        total: int
        completed: int = 0
        start: float = field(default_factory=time.perf_counter)

    def __init__(self, unit: str, rate_unit: str, console):
        self.unit, self.rate_unit, self.console = unit, rate_unit, console
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
        self.tasks.append(self._Task(description, total, completed))
        return len(self.tasks) - 1

    def update(self, task_id: int, advance: int = 0, **fields) -> None:
        t = self.tasks[task_id]
        before, t.completed = t.completed, t.completed + advance
        step = max(t.total // 10, 1)
        if t.completed // step != before // step or t.completed == t.total:
            el = time.perf_counter() - t.start
            # print(), not console.print(): a log line is never wrapped or marked up by rich
            print(f"{t.description}: {t.completed}/{t.total} {self.unit} in {el:.1f} s "
                  f"({t.completed / max(el, 1e-9):.1f} {self.rate_unit})", file=self.console.file, flush=True)
