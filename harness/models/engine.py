"""Continuous-batching generation for Hugging Face causal LMs (`hf:`, `gguf:`, named models).

Why our own loop and not `model.generate` (what lm-eval's HFLM runs) or transformers'
`generate_batch`:
- A static batch runs until its longest answer ends. With a 512-token budget one rambling
  answer keeps 15 finished rows computing padding; measured on SmolLM2-135M (bf16, CPU,
  BBH) the static loop made 69 useful tokens/s.
- transformers' continuous batching (`generate_batch`, paged cache) recovers part of that
  (90 tokens/s at 512, but it lost to the static loop at 128 tokens on CPU): its paged
  scheduler, per-step host bookkeeping and block tables are built for GPUs.
- Here a finished answer leaves its row at once and a waiting prompt takes it. Each row
  owns a fixed slot of one preallocated KV store (no paging, no copying of the cache per
  step); the attention of every layer reads the rows' slots through one registered
  attention function (`orca_slots`), so the model's own modules (projections, RoPE, norms,
  MLP) run unchanged, in the dtype the model was loaded in.

Semantics are lm-eval's `HFLM.generate_until`, so the cached outputs mean the same thing:
the prompt is encoded as HFLM encodes it (left-truncated to max_length - max_new_tokens);
a row ends at an EOS token of the generation config, at `max_new_tokens`, or when a stop
string appears in the decoded text of its last tokens (one `batch_decode` for all rows per
step, special tokens kept, as lm-eval's stop criterion looks); the answer is the decoded
text (special tokens skipped) cut at the first stop string.

Greedy decoding equals one-at-a-time `model.generate` up to floating-point rounding
(batched matrix shapes round differently); tests/test_engine.py measures it. Sampling uses
one generator per request, seeded from (seed, task, doc_id, repeat): a sampled output does
not depend on which requests shared its batch.

Memory: the KV store holds `slots x (longest prompt + max_new_tokens)` positions of every
layer's keys and values, allocated once; `slots` is `--batch-size`, or chosen so that the
store stays within `kv_budget_bytes` (default: a quarter of free memory, at most 8 GiB on
CPU; half of free GPU memory on CUDA), capped at AUTO_SLOTS for the device (the measured
throughput knee: more rows only lengthen each step once the weights' reads are shared).

Models covered: decoder-only models whose attention layers call transformers' attention
interface with a `layer_idx` and have no sliding window (`ENGINE_MODEL_TYPES`). Anything
else goes through lm-eval's HFLM unchanged (`engine_unsupported_reason`).
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

# model_type values whose attention is a plain full-causal layer through the attention
# interface (checked in tests on llama; the others share the same attention module).
ENGINE_MODEL_TYPES = ("llama", "mistral", "qwen2", "qwen3")
# Rows per step when --batch-size is not given, by device type (bench/eval_throughput.py,
# SmolLM2-135M: CPU throughput flattens past 64 rows, where the KV reads outgrow the shared
# weight reads; a GPU keeps gaining far longer).
AUTO_SLOTS = {"cpu": 64, "cuda": 256}
PREFILL_TOKENS = 4096   # tokens per prefill forward: bounds the activation memory of admissions
ATTENTION_NAME = "orca_slots"


def engine_unsupported_reason(model) -> str | None:
    """None when the engine can run `model`, else why not (it then goes through HFLM)."""
    cfg = model.config
    if getattr(cfg, "is_encoder_decoder", False):
        return "encoder-decoder model"
    if cfg.model_type not in ENGINE_MODEL_TYPES:
        return f"model type {cfg.model_type!r} is not one of {', '.join(ENGINE_MODEL_TYPES)}"
    if getattr(cfg, "sliding_window", None) and getattr(cfg, "use_sliding_window", True):
        return "sliding-window attention"
    if getattr(cfg, "final_logit_softcapping", None):
        return "final logit soft-capping"
    return None


class SlotKV:
    """Keys and values of every layer for `slots` rows of up to `length` positions each.

    Row r holds its sequence at positions 0..len_r-1 of slot r; active rows are always
    slots 0..n-1 (a finished row's slot is filled by moving the last row into it), so the
    attention of a step reads one view `[:n, :, :width]` of each layer's store, no gather."""

    def __init__(self, n_layers: int, slots: int, kv_heads: int, head_dim: int, length: int, dtype, device):
        import torch

        shape = (slots, kv_heads, length, head_dim)
        self.k = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.v = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.slots, self.length = slots, length
        self.nbytes = 2 * n_layers * self.k[0].numel() * self.k[0].element_size()
        # what the next forward writes: ("prefill", first_row) or ("decode", n, lens, width)
        self.plan: tuple = ()

    @staticmethod
    def bytes_per_slot(config, length: int, dtype) -> int:
        import torch

        kv_heads, head_dim = _kv_geometry(config)
        size = torch.tensor([], dtype=dtype).element_size()
        return 2 * config.num_hidden_layers * kv_heads * length * head_dim * size

    def write(self, layer: int, key, value):
        """Store this forward's new keys/values of `layer`; return what attention reads."""
        if self.plan[0] == "prefill":
            first = self.plan[1]
            rows, n = slice(first, first + key.shape[0]), key.shape[2]
            self.k[layer][rows, :, :n] = key
            self.v[layer][rows, :, :n] = value
            return key, value   # a prefill attends within its own (causal) tokens only
        _, n, rows, lens, width = self.plan
        self.k[layer][rows, :, lens] = key[:, :, 0]
        self.v[layer][rows, :, lens] = value[:, :, 0]
        return self.k[layer][:n, :, :width], self.v[layer][:n, :, :width]

    def move(self, src: int, dst: int, n_pos: int) -> None:
        for store in (self.k, self.v):
            for t in store:
                t[dst, :, :n_pos] = t[src, :, :n_pos]


def _kv_geometry(config) -> tuple[int, int]:
    """(key/value heads, head size) of a decoder config."""
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return getattr(config, "num_key_value_heads", None) or config.num_attention_heads, head_dim


def _slot_attention(module, query, key, value, attention_mask, kv_slots: SlotKV | None = None, **kwargs):
    """The registered attention function: writes the step's keys/values into the slot
    store, then transformers' own SDPA attention (it folds GQA heads for one-token queries
    instead of repeating the keys) over the rows' slots."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if kv_slots is not None:
        key, value = kv_slots.write(module.layer_idx, key, value)
    return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)


def _register_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(ATTENTION_NAME, _slot_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION_NAME, sdpa_mask)  # prefill: the ordinary causal mask


@dataclass
class EngineStats:
    """What a generate call did, recorded in run.json (execution.engine)."""
    slots: int = 0
    kv_cache_bytes: int = 0
    prompts: int = 0
    prompt_tokens: int = 0
    new_tokens: int = 0
    steps: int = 0
    prefills: int = 0
    truncated_prompts: int = 0
    hit_max_new_tokens: int = 0
    prefill_seconds: float = 0.0
    seconds: float = 0.0

    def to_json(self) -> dict:
        out = dict(self.__dict__)
        out["seconds"] = round(self.seconds, 2)
        out["prefill_seconds"] = round(self.prefill_seconds, 2)
        out["new_tokens_per_s"] = round(self.new_tokens / self.seconds, 1) if self.seconds else None
        out["examples_per_s"] = round(self.prompts / self.seconds, 3) if self.seconds else None
        return out


@dataclass
class _Row:
    index: int                 # position in the caller's prompt list
    length: int                # positions filled in its slot
    tokens: list = field(default_factory=list)
    generator: object = None   # per-request sampling generator


class GenerationEngine:
    """Generate for many prompts at once; see the module docstring."""

    def __init__(self, model, tokenizer, *, encode, max_length: int, eos_token_ids, device,
                 batch_size: int | None = None, kv_budget_bytes: int | None = None):
        self.model, self.tokenizer, self.encode = model, tokenizer, encode
        self.max_length, self.device = max_length, device
        self.eos = set(eos_token_ids)
        self.batch_size, self.kv_budget_bytes = batch_size, kv_budget_bytes
        self.stats = EngineStats()
        _register_attention()
        # plain SDPA whenever no slot store is passed (loglikelihood, HFLM on the same model)
        model.set_attn_implementation(ATTENTION_NAME)

    # -- sizing ---------------------------------------------------------------------------------
    def kv_budget(self) -> int:
        """Bytes the KV store may take: --batch-size rules when given; else this."""
        if self.kv_budget_bytes is not None:
            return self.kv_budget_bytes
        import torch

        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            return free // 2
        try:
            import psutil
            available = psutil.virtual_memory().available
        except ImportError:  # pragma: no cover - psutil comes with accelerate
            available = 8 << 30
        return min(available // 4, 8 << 30)

    def choose_slots(self, length: int, n_prompts: int) -> int:
        per_slot = SlotKV.bytes_per_slot(self.model.config, length, self.model.dtype)
        if self.batch_size:
            return max(1, min(self.batch_size, n_prompts))
        fit = max(1, self.kv_budget() // per_slot)
        return max(1, min(fit, AUTO_SLOTS.get(self.device.type, 64), n_prompts))

    # -- one call -------------------------------------------------------------------------------
    def generate(self, prompts: list[str], *, max_new_tokens: int, stop: list[str], temperature: float = 0.0,
                 top_p: float = 1.0, seeds: list[int] | None = None, on_result=None) -> list[str]:
        import torch

        t0 = time.perf_counter()
        results: list[str | None] = [None] * len(prompts)
        if not prompts:
            return []
        max_ctx = self.max_length - max_new_tokens
        encoded, truncated = [], 0
        for p in prompts:
            ids = self.encode(p)
            if len(ids) > max_ctx:  # HFLM keeps the last max_ctx tokens
                ids = ids[-max_ctx:]
                truncated += 1
            encoded.append(ids or [self.tokenizer.eos_token_id or 0])
        length = max(len(e) for e in encoded) + max_new_tokens
        slots = self.choose_slots(length, len(prompts))
        kv = SlotKV(self.model.config.num_hidden_layers, slots, *_kv_geometry(self.model.config), length,
                    self.model.dtype, self.device)
        self.stats = EngineStats(slots=slots, kv_cache_bytes=kv.nbytes, prompts=len(prompts),
                                 prompt_tokens=sum(map(len, encoded)), truncated_prompts=truncated)
        stop = [s for s in stop if s]
        window = 2 * max((len(self.tokenizer.encode(s, add_special_tokens=False)) for s in stop), default=0) + 4
        sampling = temperature > 0
        # longest first, as lm-eval orders its queue: the largest store need shows at once,
        # and rows admitted together have similar lengths (little prefill padding)
        queue = deque(sorted(range(len(prompts)), key=lambda i: -len(encoded[i])))
        rows: list[_Row] = []

        def pick(logits) -> list[int]:
            if not sampling:
                return logits.argmax(-1).tolist()
            probs = _nucleus_probs(logits.float() / temperature, top_p)
            return [int(torch.multinomial(probs[j], 1, generator=r.generator)) for j, r in enumerate(rows_now)]

        def finish(j: int) -> None:
            row = rows[j]
            text = self.tokenizer.decode(row.tokens, skip_special_tokens=True)
            for term in stop:   # lm-eval's postprocess_generated_text
                text = text.split(term)[0]
            results[row.index] = text
            self.stats.new_tokens += len(row.tokens)
            if on_result is not None:
                on_result(row.index, text)

        def ended(row: _Row, tail_text: str | None) -> bool:
            if row.tokens[-1] in self.eos:
                return True
            if len(row.tokens) >= max_new_tokens:
                self.stats.hit_max_new_tokens += 1
                return True
            if row.length >= length:  # the slot is full (only with a max_length override)
                return True
            return tail_text is not None and any(s in tail_text for s in stop)

        def retire(done: list[int]) -> None:
            """Finish rows `done` and keep the active rows contiguous (last row moves in)."""
            for j in sorted(done, reverse=True):
                finish(j)
                last = len(rows) - 1
                if j != last:
                    kv.move(last, j, rows[last].length)
                    rows[j] = rows[last]
                rows.pop()

        def check(new_rows: list[_Row]) -> list[bool]:
            tails = (self.tokenizer.batch_decode([r.tokens[-window:] for r in new_rows], skip_special_tokens=False)
                     if stop else [None] * len(new_rows))
            return [ended(r, t) for r, t in zip(new_rows, tails)]

        with torch.inference_mode():
            while queue or rows:
                # admit waiting prompts into free slots, a prefill forward at a time
                free = slots - len(rows)
                if queue and (free >= max(1, slots // 8) or not rows or free >= len(queue)):
                    take = [queue.popleft() for _ in range(min(free, len(queue)))]
                    for chunk in _chunks_by_tokens(take, encoded, PREFILL_TOKENS):
                        new = [_Row(i, len(encoded[i])) for i in chunk]
                        if sampling:
                            for r in new:
                                r.generator = torch.Generator(device=self.device)
                                r.generator.manual_seed(seeds[r.index] if seeds else 0)
                        rows_now = new
                        first = len(rows)
                        t_prefill = time.perf_counter()
                        logits = self._prefill([encoded[i] for i in chunk], kv, first)
                        self.stats.prefill_seconds += time.perf_counter() - t_prefill
                        for r, t in zip(new, pick(logits)):
                            r.tokens.append(t)
                        rows.extend(new)
                        done = [first + k for k, e in enumerate(check(new)) if e]
                        retire(done)
                    continue
                # one decode step for every active row
                n = len(rows)
                rows_now = rows
                lens = torch.tensor([r.length for r in rows], device=self.device)
                width = int(lens.max()) + 1
                kv.plan = ("decode", n, torch.arange(n, device=self.device), lens, width)
                mask = (torch.arange(width, device=self.device)[None, :] <= lens[:, None])[:, None, None, :]
                inp = torch.tensor([[r.tokens[-1]] for r in rows], device=self.device)
                out = self.model(input_ids=inp, position_ids=lens[:, None], attention_mask=mask,
                                 use_cache=False, kv_slots=kv)
                self.stats.steps += 1
                for r, t in zip(rows, pick(out.logits[:, -1])):
                    r.length += 1
                    r.tokens.append(t)
                retire([j for j, e in enumerate(check(rows)) if e])
        self.stats.seconds = time.perf_counter() - t0
        return results  # type: ignore[return-value]

    def _prefill(self, seqs: list[list[int]], kv: SlotKV, first: int):
        """Run the new prompts (right-padded: a causal model's real positions never see
        the padding after them) into slots first..; the logits of each prompt's last token."""
        import torch

        width = max(map(len, seqs))
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs], device=self.device)
        kv.plan = ("prefill", first)
        hidden = self.model.get_decoder()(input_ids=ids, use_cache=False, kv_slots=kv).last_hidden_state
        last = hidden[torch.arange(len(seqs), device=self.device),
                      torch.tensor([len(s) - 1 for s in seqs], device=self.device)]
        self.stats.prefills += 1
        return self.model.get_output_embeddings()(last)


def _chunks_by_tokens(indices: list[int], encoded: list[list[int]], budget: int):
    """Consecutive groups whose padded size (rows x longest) stays within `budget` tokens."""
    chunk, longest = [], 0
    for i in indices:
        n = len(encoded[i])
        if chunk and max(longest, n) * (len(chunk) + 1) > budget:
            yield chunk
            chunk, longest = [], 0
        chunk.append(i)
        longest = max(longest, n)
    if chunk:
        yield chunk


def _nucleus_probs(logits, top_p: float):
    """Probabilities after top-p filtering, as transformers' TopPLogitsWarper keeps tokens
    (ascending sort, drop the cumulative mass <= 1 - top_p, keep at least one)."""
    import torch

    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=False, dim=-1)
        cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        drop = cum <= (1 - top_p)
        drop[..., -1:] = False
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return torch.softmax(logits, dim=-1)
