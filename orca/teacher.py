"""Asking a teacher model (OpenAI chat-completions API) politely and persistently.

`TeacherClient` wraps `openai.AsyncOpenAI` with the library's own retries switched off,
so one policy applies everywhere:

* client-side pacing of requests/min and tokens/min (GCRA: each request is scheduled at
  its theoretical arrival time, so there are no bursts for a sliding-window server to
  refuse); tokens are estimated before sending and corrected with the server's `usage`,
  and the estimator learns the server's tokens-per-character and answer length;
* bounded concurrency (a semaphore on requests in flight);
* retries with exponential backoff and full jitter on 429 (Retry-After is honoured and
  pauses every sender, not just the one refused), 5xx, timeouts, dropped connections
  and malformed bodies; other 4xx fail at once;
* a request that keeps failing comes back as a failed `TeacherResult` with its reason.

The API key comes only from the environment (OPENAI_API_KEY) and is scrubbed from every
error text this module produces.
"""
from __future__ import annotations

import asyncio
import collections
import math
import os
import random
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

from orca.errors import UserError
from orca.template import chat_messages
from orca.collect_config import check_client_settings

CATCH_UP_S = 0.1
PLACEHOLDER_KEY = "sk-no-key-needed-for-local-server"
_KEY_LIKE = re.compile(r"\b(sk|sess|rk)-[A-Za-z0-9_\-*]{6,}")


def resolve_api_key(base_url: str | None) -> str:
    """OPENAI_API_KEY from the environment; a placeholder for a local server that needs none."""
    key = os.environ.get("OPENAI_API_KEY", "").strip()
    if key:
        return key
    host = urlparse(base_url or "").hostname or ""
    if host in ("127.0.0.1", "localhost", "::1", "0.0.0.0"):
        return PLACEHOLDER_KEY
    raise UserError("OPENAI_API_KEY is not set (the key is read from the environment only; "
                    "a --base-url on localhost needs none)")


def scrub(text: str, secret: str | None) -> str:
    """Remove the API key (and anything key-shaped, and the credentials of any URL) from a message."""
    from orca.redact import redact_text

    if secret and secret != PLACEHOLDER_KEY:
        text = text.replace(secret, "***")
    return _KEY_LIKE.sub(lambda m: m.group(1) + "-***", redact_text(text))


class FatalTeacherError(Exception):
    """The API refuses every request (bad key, unknown model): stop the job, record nothing."""


@dataclass
class TeacherResult:
    ok: bool
    response: str | None = None
    usage: dict | None = None
    finish_reason: str | None = None
    error: str | None = None
    attempts: int = 0


class TokenEstimator:
    """Estimates a request's tokens before sending; learns from the server's `usage`."""

    def __init__(self, completion_guess: int = 256):
        self.tokens_per_char = 0.25          # chars/4 until the server tells us better
        self.completion_mean = float(completion_guess)
        self._n = 0

    def prompt_chars(self, messages: list[dict]) -> int:
        return sum(len(m["content"]) + 16 for m in messages)

    def estimate(self, messages: list[dict], max_tokens: int | None) -> int:
        completion = self.completion_mean if max_tokens is None else min(self.completion_mean, max_tokens)
        return int(math.ceil(self.prompt_chars(messages) * self.tokens_per_char + completion))

    def learn(self, messages: list[dict], usage: dict) -> None:
        chars = self.prompt_chars(messages)
        pt, ct = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if not isinstance(pt, int) or not isinstance(ct, int) or chars <= 0:
            return
        self._n += 1
        # Fast start (plain mean over the first 20 answers), then an EMA that follows drift.
        alpha = max(1.0 / self._n, 0.05)
        self.tokens_per_char += alpha * (pt / chars - self.tokens_per_char)
        self.completion_mean += alpha * (ct - self.completion_mean)


class RateLimiter:
    """Client-side requests/min and tokens/min pacing (GCRA, no bursts) with a shared pause."""

    def __init__(self, rpm: float | None, tpm: float | None, headroom: float = 0.98):
        # Pacing exactly at the limit leaves no margin for network jitter against a server
        # that counts over a sliding window; a 2% margin avoids most 429s for 2% of speed.
        self.req_interval = 0.0 if not rpm else 60.0 / (rpm * headroom)
        self.tok_interval = 0.0 if not tpm else 60.0 / (tpm * headroom)
        self._req_tat = 0.0   # theoretical arrival time of the next request
        self._tok_tat = 0.0
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self, n_tokens: int) -> None:
        """Wait for this request's slot; FIFO among waiters."""
        async with self._lock:
            while True:
                now = time.monotonic()
                start = max(self._req_tat, self._tok_tat, self._paused_until)
                if start <= now:
                    break
                await asyncio.sleep(start - now)
            # Waking late (a busy CPU, a slow event loop) must not push every later slot
            # back -- that alone costs a few % of the rate -- so lateness up to one request
            # interval (at most CATCH_UP_S) is made up. More would allow bursts after idle
            # moments, which a sliding-window server refuses.
            catch_up = min(self.req_interval, CATCH_UP_S) if self.req_interval else CATCH_UP_S
            self._req_tat = max(self._req_tat, now - catch_up) + self.req_interval
            self._tok_tat = max(self._tok_tat, now - catch_up) + n_tokens * self.tok_interval

    def correct(self, delta_tokens: int) -> None:
        """Charge (or refund, if negative) the difference between estimate and real usage."""
        self._tok_tat += delta_tokens * self.tok_interval

    def refund_request(self) -> None:
        self._req_tat -= self.req_interval

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)


@dataclass
class TeacherStats:
    requests: int = 0
    ok: int = 0
    failed: int = 0
    retries: int = 0
    rate_limited: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasons: collections.Counter = field(default_factory=collections.Counter)


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None, charged: bool = True):
        super().__init__(reason)
        self.reason, self.retry_after, self.charged = reason, retry_after, charged


class TeacherClient:
    """Async chat-completions client with rate limits, retries and recorded failures."""

    def __init__(self, model: str, *, base_url: str | None = None, rpm: float | None = None,
                 tpm: float | None = None, concurrency: int = 16, max_retries: int = 8,
                 timeout_s: float = 120.0, backoff_base_s: float = 1.0, backoff_max_s: float = 60.0,
                 temperature: float | None = None, top_p: float | None = None,
                 max_tokens: int | None = None, seed: int = 0, completion_guess: int = 256):
        from openai import AsyncOpenAI  # imported here so `orca-eval --help` stays fast

        check_client_settings(rpm=rpm, tpm=tpm, concurrency=concurrency, max_retries=max_retries)
        self.model = model
        self._key = resolve_api_key(base_url)
        self._client = AsyncOpenAI(api_key=self._key, base_url=base_url, max_retries=0,
                                   timeout=timeout_s)
        self.limiter = RateLimiter(rpm, tpm)
        self.estimator = TokenEstimator(completion_guess if max_tokens is None
                                        else min(completion_guess, max_tokens))
        self._sem = asyncio.Semaphore(concurrency)
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self.backoff_base_s, self.backoff_max_s = backoff_base_s, backoff_max_s
        self.sampling = {k: v for k, v in (("temperature", temperature), ("top_p", top_p),
                                           ("max_tokens", max_tokens)) if v is not None}
        self._rng = random.Random(seed)
        self.stats = TeacherStats()

    def __repr__(self) -> str:  # never show the key
        return f"TeacherClient(model={self.model!r})"

    async def close(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> "TeacherClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def _backoff(self, attempt: int) -> float:
        cap = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        return self._rng.uniform(0, cap)  # full jitter: spreads retries of a burst of failures

    async def ask(self, system: str | None, query: str) -> TeacherResult:
        """One answer to (system, query), or a failed result naming the last reason.
        `None` sends no system turn; "" (the paper's message 1) an empty one."""
        return await self.ask_messages(chat_messages(query, system))

    async def ask_messages(self, msgs: list[dict]) -> TeacherResult:
        """One answer to these chat messages (built by `orca.template.chat_messages`)."""
        import openai

        attempt = 0
        while True:
            attempt += 1
            est = self.estimator.estimate(msgs, self.sampling.get("max_tokens"))
            try:
                async with self._sem:
                    await self.limiter.acquire(est)
                    self.stats.requests += 1
                    result = await self._once(msgs, est)
                result.attempts = attempt
                self.stats.ok += 1
                return result
            except _Retryable as e:
                reason, retry_after = e.reason, e.retry_after
                if not e.charged:
                    self.limiter.correct(-est)
            except openai.APIStatusError as e:
                status = e.status_code
                if status in (401, 403) or (status == 404):
                    raise FatalTeacherError(scrub(f"HTTP {status}: {e.message}", self._key)) from None
                self.stats.failed += 1
                reason = scrub(f"HTTP {status}: {e.message}", self._key)
                self.stats.reasons[f"http_{status}"] += 1
                return TeacherResult(ok=False, error=reason, attempts=attempt)
            self.stats.reasons[reason.split(":")[0]] += 1
            if attempt > self.max_retries:
                self.stats.failed += 1
                return TeacherResult(ok=False, attempts=attempt, error=scrub(
                    f"gave up after {attempt} attempts; last: {reason}", self._key))
            self.stats.retries += 1
            delay = self._backoff(attempt)
            if retry_after is not None:
                self.limiter.pause(retry_after)
                delay = retry_after + self._rng.uniform(0, min(1.0, retry_after))
            await asyncio.sleep(delay)

    async def _once(self, msgs: list[dict], est: int) -> TeacherResult:
        import openai

        try:
            # httpx's timeout bounds each read, not the whole answer: a server that trickles
            # bytes could hold a request for far longer. wait_for bounds the request in all.
            completion = await asyncio.wait_for(self._client.chat.completions.create(
                model=self.model, messages=msgs, **self.sampling), self.timeout_s)
        except asyncio.TimeoutError:
            raise _Retryable("timeout") from None
        except openai.RateLimitError as e:
            if e.code == "insufficient_quota":  # a 429 that waiting does not fix
                raise FatalTeacherError(scrub(f"HTTP 429 insufficient_quota: {e.message}", self._key)) from None
            self.stats.rate_limited += 1
            self.limiter.refund_request()  # the server did not count it
            raise _Retryable(f"429 rate limited: {e.message}", _retry_after(e.response),
                             charged=False) from None
        except openai.InternalServerError as e:
            raise _Retryable(f"{e.status_code} server error", _retry_after(e.response),
                             charged=False) from None
        except openai.APIStatusError as e:
            if e.status_code in (408, 409) or e.status_code >= 500:
                raise _Retryable(f"{e.status_code} server error", None, charged=False) from None
            raise
        except openai.APITimeoutError:
            raise _Retryable("timeout") from None
        except openai.APIConnectionError as e:
            cause = type(e.__cause__).__name__ if e.__cause__ else "connection error"
            raise _Retryable(f"connection: {cause}") from None
        except (ValueError, openai.APIResponseValidationError) as e:  # JSONDecodeError is a ValueError
            raise _Retryable(f"malformed body: {type(e).__name__}") from None
        choices = getattr(completion, "choices", None)
        usage = getattr(completion, "usage", None)
        content = choices[0].message.content if choices and choices[0].message else None
        if content is None or usage is None:
            raise _Retryable("malformed body: no choices/content/usage")
        usage_d = {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                   "total_tokens": usage.total_tokens}
        self.limiter.correct(int(usage.total_tokens or 0) - est)
        self.estimator.learn(msgs, usage_d)
        self.stats.prompt_tokens += int(usage.prompt_tokens or 0)
        self.stats.completion_tokens += int(usage.completion_tokens or 0)
        return TeacherResult(ok=True, response=content, usage=usage_d,
                             finish_reason=choices[0].finish_reason)


def _retry_after(response) -> float | None:
    """Seconds from `retry-after-ms` or `Retry-After` (seconds or HTTP date); None if absent."""
    if response is None:
        return None
    headers = response.headers
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / scale)
        except ValueError:
            from email.utils import parsedate_to_datetime
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                continue
    return None

