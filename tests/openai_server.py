"""A real OpenAI-compatible chat-completions server on 127.0.0.1 for tests and benchmarks.

Not a patched client: it listens on a TCP port and speaks HTTP/JSON like the API
(`POST /v1/chat/completions`, `GET /v1/models`), so the `openai` package talks to it
unchanged. It enforces requests/min and tokens/min over a sliding window (429 with
`Retry-After`, `retry-after-ms` and an OpenAI-style error body) and injects faults at
configurable rates:

    "500" / "503"   HTTP error with an OpenAI-style body
    "400"           HTTP 400, a request the server refuses (not retried); only through `fault_fn`
    "slow"          answer only after `slow_s` seconds (beyond the client's timeout)
    "drop"          close the socket without any response
    "truncated"     200 with a JSON body cut in half (Content-Length matches the cut)
    "short"         200 announcing the full Content-Length, connection closed mid-body
    "malformed"     200 with valid JSON that lacks `choices`

Faults are drawn from a hash of (seed, query key, attempt number of that query), so
a run is reproducible whatever the arrival order. `fault_fn(messages, model, attempt)`
can force a fault (e.g. a query that always fails).

Answers are deterministic and tied to their query: the content starts with
``ANSWER[<response_key(system, user)>]`` and its length depends on the query and on
the model (models whose name contains "gpt-4" answer 1.5x longer, as in the paper).
A `responder(messages, model) -> str` replaces the default content (e.g. to answer
"(B)" when testing an evaluation backend); `responder(messages, model, request)` also
gets the request body (its `seed`, `temperature`, ...), e.g. to imitate sampling.

    with FakeOpenAIServer(rpm=600, tpm=100_000, faults={"500": 0.05}) as srv:
        client = AsyncOpenAI(base_url=srv.base_url, api_key="x")
        ...
        srv.stats()   # counts of everything the server saw

Standalone (for subprocess tests and bench): ``python tests/openai_server.py --port 0
--rpm 600 --tpm 200000 --window 6 --faults '{"500": 0.02}'`` prints ``URL <base_url>``
on its first line and serves until SIGTERM/SIGINT; ``GET /_stats`` returns the counts.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import inspect
import json
import math
import re
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

FAULT_KINDS = ("500", "503", "slow", "drop", "truncated", "short", "malformed")
DEFAULT_MODELS = ("gpt-3.5-turbo", "gpt-4", "gpt-4o-mini")
_TOKEN_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def count_tokens(text: str) -> int:
    """The server's token count: words and punctuation marks (deliberately not the
    client's chars/4 estimate, so the client has something to learn from `usage`)."""
    return len(_TOKEN_RE.findall(text or ""))


def split_messages(messages: list[dict]) -> tuple[str, str]:
    """(system text, user text) of a chat request; several turns of a role are joined."""
    system = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")
    user = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "user")
    return system, user


def response_key(system: str, user: str) -> str:
    """16-hex key identifying a query; every default answer starts with ANSWER[<key>]."""
    return hashlib.sha256(f"{system}\x00{user}".encode("utf-8")).hexdigest()[:16]


def length_factor(model: str) -> float:
    return 1.5 if "gpt-4" in model.lower() else 1.0


def default_answer(messages: list[dict], model: str) -> str:
    """Deterministic answer: ANSWER[key] followed by filler words; 20..59 words for
    ChatGPT-like models, 1.5x as many for GPT-4-like ones."""
    system, user = split_messages(messages)
    key = response_key(system, user)
    n_words = int(round((20 + int(key, 16) % 40) * length_factor(model)))
    digest = hashlib.sha256(key.encode()).hexdigest()
    words = [f"w{digest[i % 60:i % 60 + 4]}" for i in range(n_words)]
    return f"ANSWER[{key}] " + " ".join(words)


def prompt_token_count(messages: list[dict]) -> int:
    # 4 tokens of framing per message, like the chat format's overhead.
    return sum(4 + count_tokens(str(m.get("content") or "")) for m in messages)


def _unit(seed: int, key: str, attempt: int, salt: str) -> float:
    h = hashlib.sha256(f"{seed}|{key}|{attempt}|{salt}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


class _Limiter:
    """Sliding-window counts of requests and tokens (limit per window = per-minute * window/60)."""

    def __init__(self, rpm: float | None, tpm: float | None, window_s: float):
        self.window_s = window_s
        self.req_limit = None if rpm is None else max(1.0, rpm * window_s / 60.0)
        self.tok_limit = None if tpm is None else max(1.0, tpm * window_s / 60.0)
        self.requests: collections.deque[float] = collections.deque()
        self.tokens: collections.deque[tuple[float, int]] = collections.deque()
        self.tokens_in_window = 0

    def _expire(self, now: float) -> None:
        while self.requests and now - self.requests[0] >= self.window_s:
            self.requests.popleft()
        while self.tokens and now - self.tokens[0][0] >= self.window_s:
            self.tokens_in_window -= self.tokens.popleft()[1]

    def admit(self, now: float, n_tokens: int) -> tuple[bool, str, float]:
        """(admitted, which limit refused, seconds until it could be admitted)."""
        self._expire(now)
        if self.req_limit is not None and len(self.requests) + 1 > self.req_limit:
            return False, "requests", self.requests[0] + self.window_s - now
        if (self.tok_limit is not None and self.tokens
                and self.tokens_in_window + n_tokens > self.tok_limit):
            # Wait until enough old tokens leave the window.
            need, freed, wait = self.tokens_in_window + n_tokens - self.tok_limit, 0, self.window_s
            for t, n in self.tokens:
                freed += n
                if freed >= need:
                    wait = t + self.window_s - now
                    break
            return False, "tokens", wait
        self.requests.append(now)
        self.charge(now, n_tokens)
        return True, "", 0.0

    def charge(self, now: float, n_tokens: int) -> None:
        if n_tokens:
            self.tokens.append((now, n_tokens))
            self.tokens_in_window += n_tokens


class FakeOpenAIServer:
    """OpenAI chat-completions server on 127.0.0.1 with rate limits and fault injection."""

    def __init__(self, rpm: float | None = None, tpm: float | None = None,
                 faults: dict[str, float] | None = None,
                 responder: Callable[[list[dict], str], str] | None = None,
                 *, seed: int = 0, window_s: float = 60.0, slow_s: float = 5.0,
                 latency_s: float = 0.0, api_key: str | None = None,
                 fault_fn: Callable[[list[dict], str, int], str | None] | None = None,
                 models: tuple[str, ...] = DEFAULT_MODELS, port: int = 0, quiet: bool = True):
        faults = dict(faults or {})
        unknown = set(faults) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        if sum(faults.values()) > 1.0:
            raise ValueError("fault rates add up to more than 1")
        self.faults = faults
        self.responder = responder
        self.fault_fn = fault_fn
        self.seed = seed
        self.slow_s = slow_s
        self.latency_s = latency_s
        self.api_key = api_key
        self.models = models
        self.quiet = quiet
        self.rpm, self.tpm, self.window_s = rpm, tpm, window_s
        self._limiter = _Limiter(rpm, tpm, window_s)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset_stats()

    # ---- lifecycle -------------------------------------------------------------
    def start(self) -> "FakeOpenAIServer":
        handler = type("Handler", (_Handler,), {"server_state": self})
        self._httpd = _QuietServer(("127.0.0.1", self._port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-openai",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping on a "slow" fault
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "FakeOpenAIServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # ---- counters ----------------------------------------------------------------
    def reset_stats(self) -> None:
        with self._lock:
            self._stats = {
                "requests": 0,            # every POST to chat/completions
                "ok": 0,                  # complete, well-formed 200 answers
                "rate_limited": 0,        # 429s
                "rate_limited_requests": 0,
                "rate_limited_tokens": 0,
                "unauthorized": 0,
                "bad_request": 0,
                "faults": {k: 0 for k in (*FAULT_KINDS, "400")},
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "first_ok_at": None,       # time.monotonic() of the server process
                "last_ok_at": None,
                "first_admitted_at": None,  # first/last request that passed the rate limit
                "last_admitted_at": None,
            }
            self._completions: collections.Counter[str] = collections.Counter()
            self._attempts: collections.Counter[str] = collections.Counter()

    def stats(self) -> dict:
        """Snapshot of everything seen; `completions_per_key` counts well-formed answers
        per response_key, `attempts_per_key` every request per key."""
        with self._lock:
            out = json.loads(json.dumps(self._stats))
            out["completions_per_key"] = dict(self._completions)
            out["attempts_per_key"] = dict(self._attempts)
        return out

    # ---- request handling (called from handler threads) -----------------------------
    def _bump(self, name: str, sub: str | None = None) -> None:
        with self._lock:
            if sub is None:
                self._stats[name] += 1
            else:
                self._stats[name][sub] += 1

    def _choose_fault(self, messages: list[dict], model: str, key: str, attempt: int) -> str | None:
        if self.fault_fn is not None:
            forced = self.fault_fn(messages, model, attempt)
            if forced is not None:
                return forced
        u, acc = _unit(self.seed, key, attempt, "fault"), 0.0
        for kind in FAULT_KINDS:
            acc += self.faults.get(kind, 0.0)
            if u < acc:
                return kind
        return None

    def handle_chat(self, h: "_Handler", body: bytes) -> None:
        self._bump("requests")
        if self.api_key is not None and h.headers.get("Authorization") != f"Bearer {self.api_key}":
            self._bump("unauthorized")
            return h.send_json(401, _error("Incorrect API key provided.", "invalid_request_error",
                                           "invalid_api_key"))
        try:
            req = json.loads(body)
            messages, model = req["messages"], req["model"]
            if not isinstance(messages, list) or not isinstance(model, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            self._bump("bad_request")
            return h.send_json(400, _error("Invalid request body: need 'model' and 'messages'.",
                                           "invalid_request_error", None))
        system, user = split_messages(messages)
        key = response_key(system, user)
        prompt_tokens = prompt_token_count(messages)

        # Admission charges the prompt; the answer's tokens are charged once it exists
        # (so the responder only runs for admitted requests).
        with self._lock:
            self._attempts[key] += 1
            attempt = self._attempts[key]
            ok, which, wait = self._limiter.admit(time.monotonic(), prompt_tokens)
            if not ok:
                self._stats["rate_limited"] += 1
                self._stats[f"rate_limited_{which}"] += 1
            else:
                now = time.monotonic()
                self._stats["first_admitted_at"] = self._stats["first_admitted_at"] or now
                self._stats["last_admitted_at"] = now
        if not ok:
            wait = max(wait, 0.001)
            limit = self.rpm if which == "requests" else self.tpm
            msg = (f"Rate limit reached for {model} on {which} per min: Limit {limit}. "
                   f"Please try again in {wait:.3f}s.")
            return h.send_json(429, _error(msg, which, "rate_limit_exceeded"), headers={
                "Retry-After": str(max(1, math.ceil(wait))),
                "retry-after-ms": str(int(math.ceil(wait * 1000))),
                "x-should-retry": "true",
            })

        responder = self.responder or default_answer
        # a responder taking a third argument gets the request body (seed, temperature, ...)
        extra = (req,) if len(inspect.signature(responder).parameters) >= 3 else ()
        content = responder(messages, model, *extra)
        completion_tokens = count_tokens(content)
        finish_reason = "stop"
        max_tokens = req.get("max_completion_tokens") or req.get("max_tokens")
        if isinstance(max_tokens, int) and completion_tokens > max_tokens:
            content = " ".join(_TOKEN_RE.findall(content)[:max_tokens])
            completion_tokens, finish_reason = count_tokens(content), "length"
        with self._lock:
            self._limiter.charge(time.monotonic(), completion_tokens)

        fault = self._choose_fault(messages, model, key, attempt)
        if fault is not None:
            self._bump("faults", fault)
        if self.latency_s:
            self._stopping.wait(self.latency_s)
        if fault in ("500", "503"):
            return h.send_json(int(fault), _error("The server had an error while processing your "
                                                  "request.", "server_error", None))
        if fault == "400":
            return h.send_json(400, _error("This request was refused.", "invalid_request_error", None))
        if fault == "drop":
            return h.drop()
        if fault == "slow":
            self._stopping.wait(self.slow_s)

        payload = {
            "id": f"chatcmpl-{key}-{attempt}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": finish_reason, "logprobs": None}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }
        if fault == "malformed":
            payload = {"id": payload["id"], "object": "chat.completion", "model": model}
        raw = json.dumps(payload).encode()
        if fault == "truncated":
            return h.send_raw(200, raw[: len(raw) // 2])
        if fault == "short":
            return h.send_raw(200, raw[: len(raw) // 2], content_length=len(raw), close=True)
        h.send_raw(200, raw)
        if fault is None:  # a slow answer arrives after the client gave up: not a completion
            with self._lock:
                now = time.monotonic()
                self._stats["ok"] += 1
                self._stats["prompt_tokens"] += prompt_tokens
                self._stats["completion_tokens"] += completion_tokens
                self._stats["first_ok_at"] = self._stats["first_ok_at"] or now
                self._stats["last_ok_at"] = now
                self._completions[key] += 1


class _QuietServer(ThreadingHTTPServer):
    """Clients that time out or give up close their sockets mid-request; with fault
    injection that is expected, not an error worth a traceback on stderr (which would
    also land in the output of the tests that check stderr is one clean line)."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def _error(message: str, type_: str, code: str | None) -> dict:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class _Handler(BaseHTTPRequestHandler):
    server_state: FakeOpenAIServer
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep test output clean
        if not self.server_state.quiet:
            super().log_message(fmt, *args)

    def send_raw(self, status: int, body: bytes, headers: dict | None = None,
                 content_length: int | None = None, close: bool = False) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) if content_length is None else content_length))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if close:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. timed out on a slow answer)
        if close:
            self.close_connection = True
            self._hard_close()

    def send_json(self, status: int, obj, headers: dict | None = None) -> None:
        self.send_raw(status, json.dumps(obj).encode(), headers)

    def drop(self) -> None:
        self.close_connection = True
        self._hard_close()

    def _hard_close(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _read_body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_POST(self):
        body = self._read_body()
        path = self.path.split("?")[0].rstrip("/")
        if path.endswith("/chat/completions"):
            return self.server_state.handle_chat(self, body)
        self.send_json(404, _error(f"Unknown path {path}", "invalid_request_error", None))

    def do_GET(self):
        path = self.path.split("?")[0].rstrip("/")
        st = self.server_state
        if path.endswith("/models"):
            return self.send_json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in st.models]})
        if path.endswith("/_stats"):
            return self.send_json(200, st.stats())
        self.send_json(404, _error(f"Unknown path {path}", "invalid_request_error", None))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Fake OpenAI chat-completions server on 127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--rpm", type=float, default=None)
    p.add_argument("--tpm", type=float, default=None)
    p.add_argument("--window", type=float, default=60.0, help="sliding window in seconds")
    p.add_argument("--faults", default="{}", help='JSON, e.g. {"500": 0.02, "drop": 0.01}')
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--slow-s", type=float, default=5.0)
    p.add_argument("--latency-s", type=float, default=0.0)
    p.add_argument("--api-key", default=None)
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args(argv)
    srv = FakeOpenAIServer(rpm=a.rpm, tpm=a.tpm, faults=json.loads(a.faults), seed=a.seed,
                           window_s=a.window, slow_s=a.slow_s, latency_s=a.latency_s,
                           api_key=a.api_key, port=a.port, quiet=not a.verbose)
    srv.start()
    print(f"URL {srv.base_url}", flush=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    stats = srv.stats()
    srv.stop()
    stats.pop("completions_per_key"), stats.pop("attempts_per_key")
    print(json.dumps(stats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
