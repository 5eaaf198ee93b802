"""`--model openai:MODEL`: chat completions from any OpenAI-compatible server.

Our thin async client rather than lm-eval's API models: those do not use the `openai`
package's retry/backoff and give us no bounded concurrency knob per run. The prompt
sent (and cached) is the chat messages as JSON.
"""
from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import os

from orca.errors import UserError
from orca.redact import redact_url
from orca.teacher import TeacherClient
from orca.template import chat_messages

from harness.models.base import Decoding
from harness.models.registry import register_model


# The OpenAI `seed` of the request being sent. A context variable because each request is
# its own asyncio task (with its own copy of the context) while all share one client.
_REQUEST_SEED: contextvars.ContextVar[int | None] = contextvars.ContextVar("orca_request_seed", default=None)


class SeededChatClient(TeacherClient):
    """The client that asks the evaluated model. It is the project's one OpenAI-compatible
    client (orca/teacher.py, named after its first use, collecting teacher answers), here
    sending the current request's `seed` with its sampling parameters (the client reads
    `self.sampling` for every request it sends)."""

    @property
    def sampling(self) -> dict:
        seed = _REQUEST_SEED.get()
        return self._sampling if seed is None else {**self._sampling, "seed": seed}

    @sampling.setter
    def sampling(self, value: dict) -> None:
        self._sampling = value


@register_model("openai", "MODEL")
class OpenAIChatBackend:
    """Chat completions from any OpenAI-compatible server, through the project's one
    API client (orca.teacher.TeacherClient, shared with teacher collection): bounded
    concurrency, optional client-side requests/tokens-per-minute pacing, retries with
    backoff and jitter on 429 (honouring Retry-After), 5xx, timeouts, dropped connections
    and malformed bodies. The key comes from $OPENAI_API_KEY only and is never recorded.
    """

    supports_loglikelihood = False
    rank, world_size = 0, 1
    output_identity = None   # the server's model name is the identity (fingerprint)

    def __init__(self, model: str, spec: str, cfg):
        from orca.teacher import resolve_api_key

        self.model, self.spec, self.cfg = model, spec, cfg
        self.base_url = cfg.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        self._key = resolve_api_key(self.base_url)
        self.shown_url = redact_url(self.base_url)  # what run.json and messages show: no credentials
        self.fingerprint = hashlib.sha256(f"openai|{self.base_url}|{model}".encode()).hexdigest()[:16]
        self.revision = cfg.revision
        self._preflight()

    def describe(self) -> dict:
        return {"spec": self.spec, "backend": "openai", "path": None, "base_url": self.shown_url,
                "revision": self.revision, "fingerprint": self.fingerprint, "chat_template": True}

    def format_prompt(self, user: str, system: str | None) -> str:
        return json.dumps(chat_messages(user, system), ensure_ascii=False)

    def _preflight(self) -> None:
        """Fail before anything is written when the API is unreachable or the key is refused."""
        import openai

        async def ping():
            async with openai.AsyncOpenAI(base_url=self.base_url, api_key=self._key, max_retries=1,
                                          timeout=min(self.cfg.request_timeout, 30)) as client:
                try:
                    await client.models.list()
                except openai.NotFoundError:
                    pass  # some servers (llama.cpp) have no /models; the chat call will tell
        try:
            asyncio.run(ping())
        except openai.APIStatusError as e:
            raise UserError(f"OpenAI-compatible API at {self.shown_url}: HTTP {e.status_code} (model {self.model})") from None
        except openai.APIConnectionError as e:
            why = "timed out" if isinstance(e, openai.APITimeoutError) else "cannot connect"
            raise UserError(f"OpenAI-compatible API at {self.shown_url}: {why}") from None

    per_request_seed = True

    def generate(self, prompts: list[str], decoding: Decoding, seed: int, *, seeds: list[int] | None = None,
                 stop=(), on_result=None) -> list[str]:
        """Every prompt through one client (one rate limiter, one concurrency bound for the
        whole run); each answer goes to `on_result` as it arrives."""
        from orca.teacher import FatalTeacherError as FatalAPIError  # the client's "stop: retrying cannot help"

        async def one(client, i, prompt):
            if decoding.do_sample and seeds is not None:
                _REQUEST_SEED.set(seeds[i])  # this task's own context: no other request sees it
            result = await client.ask_messages(json.loads(prompt))  # the messages format_prompt built
            if result.ok and on_result is not None:
                on_result(i, result.response or "")
            return result

        async def all_():
            async with SeededChatClient(
                    self.model, base_url=self.base_url, rpm=self.cfg.rpm, tpm=self.cfg.tpm,
                    concurrency=self.cfg.concurrency, max_retries=self.cfg.max_retries,
                    timeout_s=self.cfg.request_timeout, temperature=decoding.temperature,
                    top_p=decoding.top_p, max_tokens=decoding.max_new_tokens, seed=seed) as client:
                return await asyncio.gather(*(one(client, i, p) for i, p in enumerate(prompts)))
        try:
            results = asyncio.run(all_())
        except FatalAPIError as e:
            raise UserError(f"OpenAI-compatible API at {self.shown_url}: {e}") from None
        failed = [r for r in results if not r.ok]
        if failed:
            self.partial = {i: r.response for i, r in enumerate(results) if r.ok}
            raise UserError(f"{len(failed)} of {len(results)} API requests failed after retries "
                            f"(last: {failed[-1].error}); answers so far are cached -- run the same command "
                            "again to retry the rest")
        return [r.response or "" for r in results]

    def loglikelihood(self, pairs, *, on_result=None):
        raise UserError("--mode loglikelihood needs log-probabilities of given text; chat APIs do not provide "
                        "them -- use --mode generate")

    def barrier(self) -> None:
        pass

