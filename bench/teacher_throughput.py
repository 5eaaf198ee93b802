"""Teacher collection throughput against the fake OpenAI server's rate limit.

Starts tests/openai_server.py as a subprocess (600 requests/min over a 10 s sliding
window, 0.2 s latency, a few 500s), collects --seconds worth of queries with
`orca.collect.collect` at --rpm 600, and reports the achieved rate as a fraction of the
limit (goal >= 0.95), the 429s provoked, and lost and duplicated queries (goal 0 and 0).
Baseline in the same run: the plain `openai` client (its own retries, no pacing, same
concurrency) on a fresh server with the same limit.

    .venv/bin/python bench/teacher_throughput.py [--rpm 600] [--seconds 33]

Last line: one JSON object of the figures.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orca.collect import collect, load_queries  # noqa: E402


def start_server(args) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, str(REPO / "tests" / "openai_server.py"), "--port", "0",
           "--rpm", str(args.rpm), "--tpm", str(args.tpm), "--window", str(args.window),
           "--latency-s", str(args.latency), "--faults", json.dumps({"500": args.fault_rate}),
           "--seed", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("URL "):
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc, line[4:]


def server_stats(base_url: str) -> dict:
    with urllib.request.urlopen(base_url + "/_stats", timeout=10) as r:
        return json.load(r)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def write_queries(path: Path, n: int, tag: str) -> Path:
    path.write_text("".join(json.dumps({"id": f"{tag}{i}", "system_message_id": 1 + i % 16,
                                        "query": f"[{tag}] Explain step by step why {i} * 7 = {i * 7}."}) + "\n"
                            for i in range(n)))
    return path


def lost_and_duplicated(queries: Path, out: Path) -> tuple[int, int]:
    ids = {q.id for q in load_queries(queries)}
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    ok_ids = [r["id"] for r in rows if r["status"] == "ok"]
    return len(ids - set(ok_ids)), len(ok_ids) - len(set(ok_ids))


async def naive_baseline(base_url: str, queries: Path, model: str, concurrency: int) -> dict:
    """What the plain client does: as fast as `concurrency` allows, the library's retries."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="sk-local", timeout=30)
    sem = asyncio.Semaphore(concurrency)
    ok = failed = 0

    async def one(q):
        nonlocal ok, failed
        async with sem:
            try:
                await client.chat.completions.create(model=model, messages=[
                    {"role": "system", "content": q.system}, {"role": "user", "content": q.query}])
                ok += 1
            except Exception:
                failed += 1

    start = time.monotonic()
    await asyncio.gather(*(one(q) for q in load_queries(queries)))
    elapsed = time.monotonic() - start
    await client.close()
    return {"ok": ok, "failed": failed, "elapsed_s": elapsed}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rpm", type=float, default=600)
    p.add_argument("--tpm", type=float, default=150_000)
    p.add_argument("--window", type=float, default=10.0, help="server's sliding window, seconds")
    p.add_argument("--seconds", type=float, default=30.0, help="wall time the main run should take")
    p.add_argument("--baseline-seconds", type=float, default=12.0)
    p.add_argument("--latency", type=float, default=0.2)
    p.add_argument("--fault-rate", type=float, default=0.01, help="share of answers that are 500s")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--model", default="gpt-3.5-turbo")
    args = p.parse_args()
    n = int(args.rpm / 60 * args.seconds)
    n_base = int(args.rpm / 60 * args.baseline_seconds)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # Baseline: plain client, no pacing.
        proc, url = start_server(args)
        try:
            bq = write_queries(tmp / "base.jsonl", n_base, "b")
            base = asyncio.run(naive_baseline(url, bq, args.model, args.concurrency))
            bst = server_stats(url)
        finally:
            stop(proc)
        base_rate = base["ok"] / base["elapsed_s"] * 60 / args.rpm

        proc, url = start_server(args)
        try:
            queries = write_queries(tmp / "q.jsonl", n, "q")
            out = tmp / "out.jsonl"
            start = time.monotonic()
            s = collect(queries, out, args.model, base_url=url, rpm=args.rpm, tpm=args.tpm,
                        concurrency=args.concurrency, max_retries=8, timeout_s=30,
                        backoff_base_s=0.5, backoff_max_s=10, progress=False)
            elapsed = time.monotonic() - start
            st = server_stats(url)
        finally:
            stop(proc)
        lost, duplicated = lost_and_duplicated(queries, out)

    # Achieved rate: requests the server admitted per minute, from the first admitted
    # request to the last (n requests span n-1 intervals). The wall-clock figure also
    # counts client start-up (~0.3 s) and the last answer's latency.
    accepted = st["requests"] - st["rate_limited"]
    span = st["last_admitted_at"] - st["first_admitted_at"]
    achieved_rpm = (accepted - 1) / span * 60
    figures = {
        "limit_rpm": args.rpm,
        "queries": n,
        "elapsed_s": round(elapsed, 2),
        "achieved_rpm": round(achieved_rpm, 1),
        "achieved_fraction_of_limit": round(achieved_rpm / args.rpm, 4),
        "wall_fraction_of_limit": round(accepted / elapsed * 60 / args.rpm, 4),
        "answers_wall_fraction_of_limit": round(s.ok / elapsed * 60 / args.rpm, 4),
        "rate_limited_429s": st["rate_limited"],
        "server_500s": st["faults"]["500"],
        "retries": s.teacher.retries,
        "ok": s.ok,
        "failed": s.failed,
        "lost": lost,
        "duplicated": duplicated,
        "baseline_naive_fraction_of_limit": round(base_rate, 4),
        "baseline_naive_429s": bst["rate_limited"],
        "baseline_naive_failed": base["failed"],
        "ratio_vs_baseline_429s": round(st["rate_limited"] / max(1, bst["rate_limited"]), 4),
    }
    print(f"limit {args.rpm:.0f} requests/min; {n} queries in {elapsed:.1f}s")
    print(f"orca collector: {figures['achieved_rpm']:.0f}/min accepted "
          f"({figures['achieved_fraction_of_limit']:.3f} of the limit), {st['rate_limited']} x 429, "
          f"{s.ok} ok, {s.failed} failed, lost {lost}, duplicated {duplicated}")
    print(f"naive openai client (baseline): {base_rate:.3f} of the limit in answers, "
          f"{bst['rate_limited']} x 429, {base['failed']} failed of {n_base}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
