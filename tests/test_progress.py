"""The one progress display (orca/progress.py) of `run`, teacher collection and training:
a rich bar on a terminal, plain lines in a log, nothing when disabled."""
from __future__ import annotations

import io
import re

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn

from harness.runner import RunConfig, run_evaluation
from orca.progress import LineProgress, progress_display

LINE = re.compile(r"^all tasks: (\d+)/25 requests in \d+\.\d s \(\d+\.\d req/s\)$")


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=terminal, width=100, color_system=None), buf


def _show(display, total: int) -> None:
    with display:
        task = display.add_task("all tasks", total=total)
        for _ in range(total):
            display.update(task, advance=1)


def test_a_log_gets_a_plain_line_at_every_tenth():
    console, buf = _console(terminal=False)
    display = progress_display(TextColumn("{task.description}"), console=console, enabled=True,
                               plain_unit=("requests", "req/s"))
    assert isinstance(display, LineProgress)
    _show(display, 25)
    lines = buf.getvalue().splitlines()
    assert all(LINE.match(line) for line in lines), lines
    # every 2 (25 // 10) requests, and the last one
    assert [int(LINE.match(line)[1]) for line in lines] == [*range(2, 25, 2), 25]


def test_a_terminal_gets_the_rich_bar():
    console, buf = _console(terminal=True)
    display = progress_display(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                               console=console, enabled=True, plain_unit=("requests", "req/s"))
    assert not isinstance(display, LineProgress)
    _show(display, 5)
    assert "all tasks" in buf.getvalue() and "5/5" in buf.getvalue()
    assert "requests in" not in buf.getvalue()


def test_disabled_shows_nothing_even_on_a_terminal():
    for terminal in (True, False):
        console, buf = _console(terminal)
        display = progress_display(MofNCompleteColumn(), console=console, enabled=False,
                                   plain_unit=("requests", "req/s"))
        _show(display, 5)
        assert buf.getvalue() == ""


def test_default_is_a_bar_on_a_terminal_only():
    """Training and collection without --progress: the bar on a terminal, nothing in a log."""
    console, buf = _console(terminal=False)
    display = progress_display(MofNCompleteColumn(), console=console)
    assert display.disable
    _show(display, 5)
    assert buf.getvalue() == ""
    console, buf = _console(terminal=True)
    display = progress_display(MofNCompleteColumn(), console=console)
    assert not display.disable
    _show(display, 5)
    assert "5/5" in buf.getvalue()


def test_asked_for_in_a_log_without_a_line_format_prints_the_bar_once():
    """`collect --progress` into a pipe: rich's own fallback, the final bar once."""
    console, buf = _console(terminal=False)
    display = progress_display(TextColumn("{task.description}"), MofNCompleteColumn(), console=console,
                               enabled=True)
    _show(display, 5)
    assert buf.getvalue().count("5/5") == 1 and "all tasks" in buf.getvalue()


def test_run_in_a_log_prints_plain_progress_lines(tiny_checkpoint, data_dir, tmp_path, capsys):
    run_evaluation(RunConfig(suite="bbh/navigate", model=f"hf:{tiny_checkpoint}", limit=3, max_new_tokens=2,
                             data_dir=str(data_dir), use_cache=False, output=str(tmp_path / "run"), progress=True))
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("all tasks:")]
    assert lines and re.fullmatch(r"all tasks: 3/3 requests in \d+\.\d s \(\d+\.\d req/s\)", lines[-1]), lines
    assert [int(re.match(r"all tasks: (\d+)/", line)[1]) for line in lines] == [1, 2, 3]
