"""The report as one self-contained HTML page: a sortable leaderboard per suite with 95%
intervals, the per-task tables, and a drill-down per run with its plots (harness.report.plots).

The page's style and script are the package data files leaderboard.css and leaderboard.js,
inlined into the page so that nothing is fetched when it is opened."""
from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from functools import cache
from importlib.resources import files

from harness.reference import BASELINE_MODEL, round_half_up
from harness.report.build import run_labels
from harness.report.cells import column_header, fmt, published_text, table_rows
from harness.report.model import (CHECK_MARK, DASH, Report, SuiteTable, leaderboard_entries, suite_title,
                                  partial_coverage)
from harness.results import RunResult


@cache
def _asset(name: str) -> str:
    """A file shipped beside this module (package data), e.g. leaderboard.css."""
    return files(__package__).joinpath(name).read_text(encoding="utf-8")


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _html_suite_table(s: SuiteTable) -> str:
    cols = s.columns
    head = "".join(f'<th class="kind-{c.kind}" title="{_e(c.note or c.full_name or c.source)}">'
                   f'{_e(column_header(s, c))}</th>' for c in cols)
    body = []
    for row in table_rows(s):
        cls = "avg" if row.kind == "average" else f"row-{row.kind}"
        tds = []
        for c, text in zip(cols, row.cells):
            classes = [f"kind-{c.kind}"] + (["best"] if c.key in row.best and text not in ("", DASH) else [])
            tip = f' title="variant {_e(c.chosen[row.task])}"' if row.task and row.task in c.chosen else ""
            tds.append(f'<td class="{" ".join(classes)}"{tip}>{_e(text)}</td>')
        body.append(f'<tr class="{cls}" data-task="{_e(row.task or "")}"><td class="task">{_e(row.label)}</td>'
                    + "".join(tds) + "</tr>")
    notes = "".join(f"<li>{_e(n)}</li>" for n in s.notes)
    return (f'<table class="comparison" id="tasks-{_e(s.suite)}"><thead><tr><th class="task">task</th>{head}</tr>'
            f'</thead><tbody>{"".join(body)}</tbody></table><ul class="note">{notes}</ul>')


def _name_cell(c, sort: str, badges: str) -> str:
    """The system cell: a run links to its drill-down and shows its full name on hover."""
    title = f' title="{_e(c.full_name)}"' if c.full_name else ""
    link = f'<a href="#run-{_e(c.run.path.name)}"{title}>{_e(c.label)}</a>' if c.run else _e(c.label)
    return f'<td class="name" data-sort="{_e(sort)}">{link}{badges}</td>'


def _badges(c) -> str:
    out = ""
    if c.partial:
        out += ('<span class="badge partial" title="--limit: a subset of each task\'s examples; not ranked">'
                'partial</span>')
    if c.kind in ("reference", "human"):
        out += f'<span class="badge ref">{_e(c.source)}</span>'
    if c.kind == "human":
        out += '<span class="badge">unranked</span>'
    if c.kind == "run-best":
        out += '<span class="badge" title="chosen on the test data: shown, not ranked">unranked</span>'
    if c.published_check or (c.check and c.kind in ("reference", "human")):
        out += f'<span class="badge check" title="{_e(c.published_check or c.check)}">check</span>'
    return out


def _interval_cell(interval, approximate: bool) -> tuple[str, str]:
    if not interval:
        return DASH, ""
    lo, hi = interval
    return f"{'≈' if approximate else ''}[{fmt(lo)}, {fmt(hi)}]", f"{hi - lo:.4f}"


def _html_leaderboard(s: SuiteTable) -> str:
    """The ranking: entries with every reference task (model.leaderboard_entries). Headers
    are short so that the table fits a 1280 px window."""
    k = len(s.reference_tasks)
    heads = [("rank", "num"), ("system", "text"), (f"average ({k} tasks)", "num"), ("95% interval", "num"),
             ("official", "num"), (f"vs {BASELINE_MODEL}", "num"), ("tasks", "num"), ("examples", "num"),
             ("published", "num")]
    name_cls = ' class="name"'
    th = "".join(f'<th data-type="{t}"{name_cls if h == "system" else ""}>{_e(h)}</th>' for h, t in heads)
    rows = []
    entries = leaderboard_entries(s)
    for e in entries:
        c = e.column
        cells = [
            (str(e.rank) if e.rank else DASH, str(e.rank) if e.rank else ""),
            (None, c.label),
            (fmt(e.average), f"{e.average:.6f}" if e.average is not None else ""),
            _interval_cell(e.interval, c.approximate_counts),
            (fmt(e.official), f"{e.official:.6f}" if e.official is not None else ""),
            (DASH if e.relative is None else f"{round_half_up(e.relative, 0):.0f} %",
             f"{e.relative:.6f}" if e.relative is not None else ""),
            (f"{e.covered}/{k}", str(e.covered)),
            (DASH if e.examples is None else str(e.examples), "" if e.examples is None else str(e.examples)),
            (published_text(c.published, c.published_check) if c.published else DASH,
             f"{c.published[0]:.6f}" if c.published else ""),
        ]
        tds = [_name_cell(c, sort, _badges(c)) if i == 1 else f'<td data-sort="{_e(sort)}">{_e(text)}</td>'
               for i, (text, sort) in enumerate(cells)]
        rows.append(f'<tr class="kind-{c.kind}" title="{_e(c.kind)}">' + "".join(tds) + "</tr>")
    for src, m in s.suite_only:
        pub = published_text(m.published_average, m.average_check)
        dashes = f'<td data-sort="">{DASH}</td>' * 6
        rows.append(f'<tr class="kind-suite-only" title="{_e(m.note or "")}"><td data-sort="">{DASH}</td>'
                    f'<td class="name" data-sort="{_e(m.name)}">{_e(m.name)}<span class="badge ref">{_e(src)}</span>'
                    f'<span class="badge">published only</span></td>{dashes}'
                    f'<td data-sort="{m.published_average[0]:.6f}">{_e(pub)}</td></tr>')
    return (f'<table class="sortable leaderboard" id="leaderboard-{_e(s.suite)}"><thead><tr>{th}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>{_unranked_note(entries)}')


def _unranked_note(entries) -> str:
    """Why the `--limit` runs in the ranking have no rank (model.leaderboard_entries)."""
    runs = {}  # run label -> its --limit, in ranking order, once per run
    for e in entries:
        if e.column.partial and e.column.kind == "run":
            runs.setdefault(e.column.source, e.column.run.meta.get("limit") if e.column.run else None)
    if not runs:
        return ""
    which = ", ".join(f"{name}: --limit {limit}" if limit else name for name, limit in runs.items())
    return (f'<p class="note unranked">Runs on the first N examples of each task ({_e(which)}) are shown but '
            f'not ranked: their average is over a sample.</p>')


def _html_partial_coverage(s: SuiteTable, entries) -> str:
    """Runs lacking some reference tasks, each beside the references' averages over its own tasks."""
    if not entries:
        return ""
    k = len(s.reference_tasks)
    names = []
    for e in entries:
        names += [n for n, _ in e.references if n not in names]
    heads = (["system", "covers", "its average", "95% interval"]
             + names)
    name_cls = ' class="name"'
    th = "".join(f"<th{name_cls if h == 'system' else ''}>{_e(h)}</th>" for h in heads)
    rows = []
    for e in entries:
        c = e.column
        ci, _ = _interval_cell(e.interval, False)
        refs = dict(e.references)
        tip = ", ".join(s.labels[t] for t in e.tasks)
        tds = [_name_cell(c, c.label, _badges(c)),
               f'<td title="{_e(tip)}">{len(e.tasks)} of {k}</td>', f"<td>{_e(fmt(e.average))}</td>",
               f"<td>{_e(ci)}</td>"] + [f"<td>{_e(fmt(refs.get(n)))}</td>" for n in names]
        rows.append(f'<tr class="kind-{c.kind}">' + "".join(tds) + "</tr>")
    return (f'<h3>{_e(suite_title(s.suite))}: runs covering part of the suite (not ranked)</h3>'
            f'<p class="meta">Each is compared on the tasks it has only: its average over them beside every '
            f'reference model\'s average over the same tasks.</p>'
            f'<table class="partial-coverage" id="partial-{_e(s.suite)}"><thead><tr>{th}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _html_ablation(ab, uri: str | None) -> str:
    from harness.report.ablation import header, method_note, table_cells

    anchor = f"ablation-{_e(ab.run)}-{_e(ab.suite)}".replace(" ", "_")
    if not ab.rows:
        return f'<h3 id="{anchor}">{_e(ab.title)}</h3><p class="note">{_e("; ".join(ab.notes))}</p>'
    th = "".join(f"<th>{_e(h)}</th>" for h in header(ab))
    body = "".join(f'<tr class="verdict-{_e(cells[-1].split()[0])}"><td class="task">{_e(cells[0])}</td>'
                   + "".join(f"<td>{_e(x)}</td>" for x in cells[1:]) + "</tr>" for cells in table_cells(ab))
    fig = (f'<figure><img class="plot" alt="{_e(ab.title)}: accuracy per system message with 95% intervals" '
           f'src="{uri}"><figcaption>{_e(ab.title)}: accuracy per system message, 95% Wilson intervals'
           f'</figcaption></figure>') if uri else ""
    notes = "".join(f"<li>{_e(n)}</li>" for n in [method_note(ab)] + ab.notes)
    return (f'<h3 id="{anchor}">{_e(ab.title)}</h3>{fig}<table class="ablation" id="{anchor}-table"><thead><tr>{th}'
            f'</tr></thead><tbody>{body}</tbody></table><ul class="note">{notes}</ul>')


def _system_message_text(variant: dict | None) -> str:
    if not variant:
        return "(not recorded)"
    text = variant.get("system_message")
    if text is None:
        return "(no system turn)"
    return "(empty system message)" if text == "" else repr(text)


def _html_run_details(run: RunResult, label: str, comp: Report, images: dict) -> str:
    meta = run.meta
    model = meta.get("model", {})
    facts = [("model", model.get("spec") or model.get("path")), ("backend", model.get("backend")),
             ("revision", model.get("revision")), ("mode", meta.get("mode")), ("prompt style", meta.get("prompt_style")),
             ("decoding", json.dumps(meta["decoding"]) if meta.get("decoding") else None), ("seed", meta.get("seed")), ("repeats", meta.get("repeats")),
             ("limit", meta.get("limit")), ("git commit", meta.get("git_commit")),
             ("started", meta.get("started_at")), ("finished", meta.get("finished_at")), ("directory", str(run.path))]
    dl = "".join(f"<li><b>{_e(k)}</b>: <code>{_e(v)}</code></li>" for k, v in facts if v not in (None, "", {}))
    variants = meta.get("variants", {})
    vlist = "".join(f"<li><code>{_e(v)}</code>: {_e(_system_message_text(variants.get(v)))}</li>" for v in run.variants)
    imgs = "".join(f'<figure><img class="plot" alt="{_e(alt)}" src="{uri}"><figcaption>{_e(alt)}</figcaption></figure>'
                   for alt, uri in images.get(label, []))
    tables = []
    for variant in run.variants:
        rows = []
        for task, t in sorted(run.summary["variants"][variant]["tasks"].items()):
            ci = t.get("ci95") or [None, None]
            n_total = t.get("n_total")
            rows.append(
                f'<tr><td class="task">{_e(task)}</td><td>{_e(t.get("n"))}'
                f'{"" if n_total in (None, t.get("n")) else f" / {_e(n_total)}"}</td><td>{_e(t.get("correct", DASH))}</td>'
                f'<td data-sort="{t["accuracy"]}">{fmt(t["accuracy"], 2)}</td>'
                f'<td>[{fmt(ci[0], 2)}, {fmt(ci[1], 2)}]</td><td>{fmt(t.get("accuracy_official"), 2)}</td>'
                f'<td>{fmt(t.get("unparsed_rate"), 2)}</td><td>{fmt(t.get("accuracy_std"), 2)}</td></tr>')
        suites = run.summary["variants"][variant].get("suites", {})
        stext = ", ".join(f"{k}: {fmt(v.get('accuracy'), 2)} ({fmt(v.get('accuracy_official'), 2)}) over "
                          f"{v.get('n_tasks')} tasks" for k, v in suites.items())
        tid = f"detail-{_e(run.path.name)}-{_e(variant)}"
        tables.append(
            f'<h4>variant <code>{_e(variant)}</code> <span class="meta">{_e(stext)}</span></h4>'
            f'<table class="sortable detail" id="{tid}"><thead><tr><th data-type="text">task</th>'
            f'<th data-type="num">n</th><th data-type="num">correct</th><th data-type="num">accuracy %</th>'
            f'<th data-type="text">95% Wilson</th><th data-type="num">official %</th>'
            f'<th data-type="num">unparsed %</th><th data-type="num">std over repeats</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')
    partial = '<span class="badge partial">partial</span>' if run.is_partial() else ""
    return (f'<details class="run" id="run-{_e(run.path.name)}"><summary>{_e(label)}{partial} '
            f'<span class="meta">{_e(model.get("spec", ""))} · {len(run.variants)} variant(s)</span></summary>'
            f'<ul class="meta">{dl}</ul><p>System messages:</p><ul class="meta">{vlist}</ul>{imgs}'
            f'{"".join(tables)}</details>')


def render_html(comp: Report, title: str = "orca-eval leaderboard", plots: bool = True,
                generated_at: str | None = None) -> str:
    """One self-contained HTML page: ranking per suite with intervals, per-task tables,
    per-run drill-down with system-message sensitivity and per-task bar plots.
    Inline CSS/JS, images as data: URIs; nothing is fetched when it is opened."""
    images: dict[str, list[tuple[str, str]]] = {}
    ranking_imgs: dict[str, str] = {}
    partial_imgs: dict[str, str] = {}
    ablation_imgs: dict[int, str | None] = {}
    if plots:
        from harness.report import plots as P
        labels = run_labels(comp.runs)
        for i, run in enumerate(comp.runs):
            label = labels[i]
            items = []
            sens = P.sensitivity_png(comp, i)
            if sens:
                items.append((f"{label}: suite average per system-message variant", P.data_uri(sens)))
            for s in comp.suites:
                png, variant = P.task_bars_png(s, i)
                if png:
                    items.append((f"{label} ({variant}) per {suite_title(s.suite)} task against "
                                  f"the reference models", P.data_uri(png)))
            images[label] = items
        for s in comp.suites:
            png = P.ranking_png(s, leaderboard_entries(s))
            if png:
                ranking_imgs[s.suite] = P.data_uri(png)
            png = P.partial_coverage_png(s, partial_coverage(s))
            if png:
                partial_imgs[s.suite] = P.data_uri(png)
        for ab in comp.ablations:
            png = P.ablation_png(ab)
            ablation_imgs[id(ab)] = P.data_uri(png) if png else None

    generated_at = generated_at or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    css = _asset("leaderboard.css")
    parts = [f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
             f'<meta name="viewport" content="width=device-width, initial-scale=1">'
             f'<style>\n{css}</style></head><body>',
             f'<h1>{_e(title)}</h1><p class="meta">Generated {_e(generated_at)} · {len(comp.runs)} run(s) · '
             f'reference: {_e(", ".join(r.name for r in comp.references) or "none")}. Click a column header to sort.</p>']
    nav = "".join(f'<a href="#suite-{_e(s.suite)}">{_e(suite_title(s.suite))}</a>' for s in comp.suites)
    nav += '<a href="#ablation">ablation</a>' if comp.ablations else ""
    parts.append(f"<nav>{nav}<a href=\"#runs\">runs</a><a href=\"#method\">method</a></nav>")
    for n in comp.notes:
        parts.append(f'<p class="note"><span class="badge partial">partial</span> {_e(n)}</p>')
    if comp.renamed:
        items = "".join(f"<li><b>{_e(a)}</b>: <code>{_e(b)}</code></li>" for a, b in comp.renamed)
        parts.append(f'<p class="note">Run names shortened for the tables:</p><ul class="note legend">{items}</ul>')
    for s in comp.suites:
        name = suite_title(s.suite)
        parts.append(f'<section id="suite-{_e(s.suite)}"><h2>{_e(name)}: ranking by average</h2>'
                     f'<p class="meta">{_e(s.title)}</p>{_html_leaderboard(s)}')
        if s.suite in ranking_imgs:
            parts.append(f'<figure><img class="plot" alt="{_e(name)} ranking with 95% intervals" '
                         f'src="{ranking_imgs[s.suite]}"><figcaption>{_e(name)} averages with 95% intervals'
                         f'</figcaption></figure>')
        partial = partial_coverage(s)
        parts.append(_html_partial_coverage(s, partial))
        if s.suite in partial_imgs:
            parts.append(f'<figure><img class="plot" alt="{_e(name)} runs covering part of the suite against the '
                         f'references on the same tasks" src="{partial_imgs[s.suite]}"><figcaption>{_e(name)}: '
                         f'runs covering part of the suite, each against the references on its own tasks'
                         f'</figcaption></figure>')
        parts.append(f"<h3>{_e(name)} per task</h3>{_html_suite_table(s)}</section>")
    if comp.ablations:
        parts.append('<section id="ablation"><h2>System-message ablation</h2>')
        parts.extend(_html_ablation(ab, ablation_imgs.get(id(ab))) for ab in comp.ablations)
        parts.append("</section>")
    parts.append('<section id="runs"><h2>Runs</h2>')
    labels = run_labels(comp.runs)
    for i, run in enumerate(comp.runs):
        parts.append(_html_run_details(run, labels[i], comp, images))
    if not comp.runs:
        parts.append('<p class="note">No runs.</p>')
    parts.append("</section>")
    cites = "".join(f"<li><code>{_e(r.name)}</code>: {_e(r.citation)}{' (' + _e(r.url) + ')' if r.url else ''}</li>"
                    for r in comp.references)
    parts.append(
        '<section id="method"><h2>Method</h2><ul class="note">'
        "<li>Averages are unweighted means over the reference's task set (BBH: the paper's 23 tasks), the same set "
        "for every row. Only entries with every one of those tasks are ranked, and of runs only full ones: a "
        "--limit run (the first N examples of each task) is listed, sorted by its average and marked partial, "
        "but gets no rank. A run covering part of the suite is listed below the ranking, compared on its own "
        "tasks with the references' averages over the same tasks.</li>"
        "<li>95% interval of a run's average: the tasks are independent binomials, so the variance of the mean is "
        "the sum of the per-task variances p̃(1−p̃)/n (p̃: Agresti-Coull adjusted proportion) over K²; "
        "interval = mean ± 1.96·sd. "
        "Reference intervals (≈) assume the published accuracy over the full public test set.</li>"
        "<li>best-SM: per task the best of the run's variants (the paper's Table 9 view), chosen on the test data: "
        "optimistic, no interval.</li>"
        "<li>Official extractor: the paper's answer rule (first capital letter for AGIEval); robust extractor: "
        "ours. Both are recorded for every example.</li>"
        f"<li>{CHECK_MARK} / check: a published figure whose source could not be confirmed twice.</li>"
        f"</ul><p>References:</p><ul class=\"note\">{cites}</ul></section>")
    js = _asset("leaderboard.js")
    parts.append(f"<script>\n{js}</script></body></html>\n")
    return "".join(parts)
