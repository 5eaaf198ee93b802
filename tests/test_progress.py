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


class _Clock:
    """time.perf_counter for orca.progress, advanced by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_log_gets_a_line_at_start_then_one_per_interval_and_at_the_end(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr("orca.progress.time.perf_counter", clock)
    console, buf = _console(terminal=False)
    display = progress_display(TextColumn("{task.description}"), console=console, enabled=True,
                               plain_unit=("requests", "req/s"), interval=30)
    assert isinstance(display, LineProgress)
    with display:
        task = display.add_task("all tasks", total=25)
        for _ in range(25):
            clock.now += 7  # a request every 7 s: a line at most every 30 s
            display.update(task, advance=1)
    lines = buf.getvalue().splitlines()
    assert lines[0] == "all tasks: 0/25 requests"
    assert all(LINE.match(line) for line in lines[1:]), lines
    assert [int(LINE.match(line)[1]) for line in lines[1:]] == [5, 10, 15, 20, 25]


def test_a_small_fast_run_gets_two_lines_not_one_per_request():
    """Before, 25 requests in a log gave 13 lines within the same second."""
    console, buf = _console(terminal=False)
    _show(progress_display(TextColumn("{task.description}"), console=console, enabled=True,
                           plain_unit=("requests", "req/s")), 25)
    lines = buf.getvalue().splitlines()
    assert lines[0] == "all tasks: 0/25 requests" and LINE.match(lines[1]) and len(lines) == 2


def test_work_done_before_counts_in_done_and_total_not_in_the_rate(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr("orca.progress.time.perf_counter", clock)
    console, buf = _console(terminal=False)
    display = progress_display(console=console, enabled=True, plain_unit=("requests", "req/s"),
                               before="from the cache")
    task = display.add_task("all tasks", total=48, completed=44)
    for _ in range(4):
        clock.now += 2
        display.update(task, advance=1)
    assert buf.getvalue().splitlines() == ["all tasks: 44/48 requests (44 from the cache)",
                                           "all tasks: 48/48 requests (44 from the cache) in 8.0 s (0.5 req/s)"]
    console, buf = _console(terminal=False)
    display = progress_display(console=console, enabled=True, plain_unit=("requests", "req/s"),
                               before="from the cache")
    display.add_task("all tasks", total=48, completed=48)
    assert buf.getvalue().splitlines() == ["all tasks: 48/48 requests (48 from the cache)"]


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


def test_run_in_a_log_counts_the_whole_run_cached_answers_included(tiny_checkpoint, data_dir, tmp_path, capsys,
                                                                   monkeypatch):
    """A fresh run, the same run again (all cached: no "0/0"), and a longer one resumed from
    the cache ("3/5 (3 from the cache)", not "0/2")."""
    monkeypatch.setenv("ORCA_CACHE_DIR", str(tmp_path / "cache"))  # other tests' answers would count as cached
    def run(limit, out):
        run_evaluation(RunConfig(suite="bbh/navigate", model=f"hf:{tiny_checkpoint}", limit=limit, max_new_tokens=2,
                                 data_dir=str(data_dir), output=str(tmp_path / out), progress=True))
        return [line for line in capsys.readouterr().out.splitlines() if line.startswith("all tasks:")]

    first = run(3, "a")
    assert first[0] == "all tasks: 0/3 requests"
    assert re.fullmatch(r"all tasks: 3/3 requests in \d+\.\d s \(\d+\.\d req/s\)", first[-1]) and len(first) == 2
    # the same evaluation into a new folder: every answer from the cache (the same folder
    # again would be harness/finished.py's "finished already", with no progress at all)
    assert run(3, "a2") == ["all tasks: 3/3 requests (3 from the cache)"]
    resumed = run(5, "b")
    assert resumed[0] == "all tasks: 3/5 requests (3 from the cache)"
    assert re.fullmatch(r"all tasks: 5/5 requests \(3 from the cache\) in \d+\.\d s \(\d+\.\d req/s\)",
                        resumed[-1])


def test_rank_zero_counts_what_the_other_ranks_append_to_the_shared_cache(tmp_path):
    """Under torchrun each rank computes a slice; rank 0's display counts the whole run."""
    from harness.cache import OutputCache, request_key
    from harness.run_compute import RunProgress
    from harness.run_requests import Request

    keys = [request_key("gen", i) for i in range(8)]
    requests = [Request("sm1", "bbh/navigate", i, 0, f"p{i}", [k]) for i, k in enumerate(keys)]
    rank0 = OutputCache(tmp_path / "c.jsonl")
    rank0.put_many({keys[0]: "cached"})
    counter = RunProgress(requests, OutputCache(tmp_path / "c.jsonl"), world_size=2)
    assert (counter.total, counter.completed) == (8, 1)
    for k in keys[2::2]:  # rank 0's own answers
        counter.add(k)
    OutputCache(tmp_path / "c.jsonl").put_many({k: "x" for k in keys[1::2]})  # rank 1's, in the shared file
    counter.poll(force=True)
    assert counter.completed == 8
