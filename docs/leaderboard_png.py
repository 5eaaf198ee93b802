"""Make docs/leaderboard.png (the README's picture) from an `orca-eval report --format html` page.

    orca-eval report --all --format html --out /tmp/leaderboard.html
    .venv/bin/python docs/leaderboard_png.py /tmp/leaderboard.html docs/leaderboard.png

It stacks the page's per-suite ranking figures (the same PNG bytes the page embeds: every run and
every reference model by like-for-like average, 95 % intervals, partial runs marked) into one
image. No browser needed, unlike a screenshot of the page (docs/reports.md).
"""
from __future__ import annotations

import base64
import io
import re
import sys

from PIL import Image

RANKING = re.compile(r'alt="[^"]* ranking with 95% intervals" src="data:image/png;base64,([^"]+)"')


def main(html_path: str, out_path: str) -> int:
    with open(html_path, encoding="utf-8") as f:
        figures = [Image.open(io.BytesIO(base64.b64decode(m))).convert("RGB") for m in RANKING.findall(f.read())]
    if not figures:
        print(f"{html_path}: no ranking figures (was it made with --no-plots?)", file=sys.stderr)
        return 2
    sheet = Image.new("RGB", (max(f.width for f in figures), sum(f.height for f in figures)), "white")
    y = 0
    for fig in figures:
        sheet.paste(fig, (0, y))
        y += fig.height
    sheet.save(out_path, optimize=True)
    print(f"wrote {out_path}: {len(figures)} suites, {sheet.width}x{sheet.height}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
