"""End to end: real tiny checkpoints -> `run_evaluation` (loglikelihood) -> `orca-eval compare`.

A randomly initialised tiny model is at chance, and a checkpoint at chance cannot get
measurably worse. So the base checkpoint first *memorises* the evaluated subset: a tiny
LLaMA whose output rows for the answer tokens (Yes/No, True/False) are fitted to the
runner's own prompts of these examples (a stand-in for a model that knows the answers).
Then:

- the same checkpoint evaluated again (no output cache)  -> the gate passes (exit 0);
- the checkpoint with Gaussian noise added to its transformer weights (a bad update, seeded)
  -> its accuracy falls to about chance and the gate fails (exit 1).
"""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

TASKS = ("bbh/boolean_expressions", "bbh/navigate", "bbh/sports_understanding", "bbh/web_of_lies")
LIMIT = 30
SYSTEM = "1"  # the paper's empty system message (variant sm1)


def answer_batch(tokenizer, tasks=TASKS, limit=LIMIT):
    """The runner's prompts for the first `limit` examples of each task, split into context
    and continuation the way lm-eval scores them (trailing whitespace of the context moves
    to the continuation). Every choice here continues with one shared token ("\\n") and one
    answer token, so a choice's log-likelihood differs from the others only by the answer
    token's logit at the position after that shared token."""
    import torch

    from harness import extract
    from harness.data import load_task_data
    from harness.prompts import parse_system_variant, user_prompt
    from harness.suites import FIXED_CHOICES, get_task
    from orca.paths import data_dir
    from orca.template import render_for_tokenizer

    system = parse_system_variant(SYSTEM).text
    seqs, choice_ids, gold = [], [], []
    for task in tasks:
        family = get_task(task).family
        choices = FIXED_CHOICES[family]
        for doc in load_task_data(task, str(data_dir())).docs[:limit]:
            context = render_for_tokenizer(tokenizer, user_prompt(task, doc, "orca"), system)
            stripped = context.rstrip()
            n_ctx = len(tokenizer.encode(stripped))
            conts = [tokenizer.encode(stripped + context[len(stripped):] + c)[n_ctx:] for c in choices]
            assert all(len(c) == 2 and c[0] == conts[0][0] for c in conts), conts
            seqs.append(tokenizer.encode(stripped) + [conts[0][0]])
            choice_ids.append([c[1] for c in conts])
            gold.append([extract.is_correct(c, doc["target"], family) for c in choices].index(True))
    ids = torch.full((len(seqs), max(map(len, seqs))), tokenizer.pad_token_id)
    mask = torch.zeros_like(ids)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    last = torch.tensor([len(s) - 1 for s in seqs])
    return ids, mask, last, torch.tensor(choice_ids), torch.tensor(gold)


def answer_features(model, batch):
    """Final hidden state where the answer token is predicted."""
    import torch

    ids, mask, last, _, _ = batch
    with torch.no_grad():
        hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
    return hidden[torch.arange(ids.shape[0]), last]


def make_memorising_checkpoint(raw_dir, out_dir):
    """Untie the output head and fit the answer tokens' rows so each example's gold choice
    wins by a margin (hinge loss). Returns the fitted accuracy on the features."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(raw_dir)
    model = LlamaForCausalLM.from_pretrained(raw_dir, dtype=torch.float32).eval()
    batch = answer_batch(tok)
    feats, choice_ids, gold = answer_features(model, batch), batch[3], batch[4]
    rows = sorted(set(choice_ids.flatten().tolist()))
    slot = torch.tensor([[rows.index(c) for c in cs] for cs in choice_ids.tolist()])
    start = model.model.embed_tokens.weight.detach()[rows].clone()
    fitted = torch.nn.Parameter(start.clone())
    opt = torch.optim.Adam([fitted], lr=0.05)
    for _ in range(600):
        logits = torch.einsum("nd,ncd->nc", feats, fitted[slot])
        margin = logits.gather(1, gold[:, None]).squeeze(1) - logits.gather(1, 1 - gold[:, None]).squeeze(1)
        loss = torch.relu(2.0 - margin).mean() + 1e-3 * (fitted - start).pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    # an untied head, so the answer tokens' input embeddings (and every prompt) stay as they were
    model.config.tie_word_embeddings = False
    head = model.model.embed_tokens.weight.detach().clone()
    head[rows] = fitted.detach()
    model.lm_head.weight = torch.nn.Parameter(head)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return float((margin > 0).float().mean())


def perturb_weights(src_dir, out_dir, scale=1.0, seed=0):
    """A bad update: Gaussian noise of `scale` x each matrix's own spread on every
    transformer-layer matrix (embeddings, head and norms untouched)."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(src_dir, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.model.layers.named_parameters():
            if p.ndim == 2:
                p.add_(torch.randn(p.shape, generator=gen) * p.std() * scale)
    model.save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(src_dir).save_pretrained(out_dir)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three evaluated runs: base, base again (recomputed), degraded."""
    from harness.runner import RunConfig, run_evaluation
    from orca.tiny import make_tiny_llama

    root = tmp_path_factory.mktemp("compare_e2e")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ORCA_CACHE_DIR", str(root / "cache"))
        # a wider init than the default tiny model, so examples get distinguishable features
        raw = make_tiny_llama(root / "raw", seed=0, initializer_range=0.2)
        fitted_acc = make_memorising_checkpoint(raw, root / "base")
        perturb_weights(root / "base", root / "degraded", scale=1.0, seed=0)

        def evaluate(model_dir, out, use_cache=True):
            cfg = RunConfig(suite=",".join(TASKS), model=f"hf:{model_dir}", system_messages=[SYSTEM], limit=LIMIT,
                            mode="loglikelihood", output=str(root / out), batch_size=32, device="cpu",
                            use_cache=use_cache, progress=False)
            return run_evaluation(cfg)

        yield {
            "fitted_acc": fitted_acc,
            "base": evaluate(root / "base", "run_base"),
            "same": evaluate(root / "base", "run_same", use_cache=False),
            "degraded": evaluate(root / "degraded", "run_degraded"),
            "root": root,
        }


def _accuracies(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())["variants"]["sm1"]
    return {t: s["accuracy"] for t, s in summary["tasks"].items()}, summary["suites"]["bbh"]["accuracy"]


def test_base_checkpoint_is_well_above_chance(runs):
    tasks, suite = _accuracies(runs["base"])
    print(f"fitted {runs['fitted_acc']:.3f}; base run {tasks} macro {suite}")
    assert set(tasks) == set(TASKS)
    assert suite >= 85.0  # the premise of the test: something to lose


def test_gate_passes_the_same_checkpoint_evaluated_again(runs, capsys):
    from harness.cli import main
    from harness.compare.comparison import NO_CHANGE
    from harness.compare.runs import compare_runs

    result = compare_runs(runs["base"], runs["same"])
    assert result.verdict == NO_CHANGE
    assert any(n.startswith("both runs evaluated the same checkpoint") for n in result.notes)
    assert all(t.n == LIMIT and t.lost == 0 and t.gained == 0 for t in result.tasks)
    assert main(["compare", str(runs["base"]), str(runs["same"]), "--fail-on-regression"]) == 0
    capsys.readouterr()


def test_gate_fails_the_degraded_checkpoint(runs, capsys):
    from harness.cli import main

    base_tasks, base_suite = _accuracies(runs["base"])
    deg_tasks, deg_suite = _accuracies(runs["degraded"])
    out = runs["root"] / "compare.json"
    rc = main(["compare", str(runs["base"]), str(runs["degraded"]), "--fail-on-regression", "--format", "json",
               "--out", str(out)])
    report = json.loads(out.read_text())
    (suite,) = report["suites"]
    # The measured numbers, shown by `pytest -s` (and beside a failure); plain print, not
    # capsys.disabled: that wrote them into every `pytest -q` run as stray lines.
    print(f"\ndegraded run {deg_tasks} macro {deg_suite} (base macro {base_suite})")
    for t in report["tasks"]:
        print(f"  {t['task']}: {t['base_accuracy']:.1f} -> {t['cand_accuracy']:.1f} lost {t['lost']} "
              f"gained {t['gained']} p_holm {t['p_adjusted']:.2g} {t['verdict']}")
    print(f"  bbh macro delta {suite['delta']:.1f} CI {suite['ci95']} p_holm {suite['p_adjusted']:.2g}")
    assert rc == 1
    assert "gate failed" in capsys.readouterr().err
    assert report["verdict"] == "regressed"
    assert suite["verdict"] == "regressed" and suite["ci95"][1] < 0
    assert sum(t["verdict"] == "regressed" for t in report["tasks"]) >= 2
    assert not any(t["verdict"] == "improved" for t in report["tasks"])
    # without the flag the same comparison only reports
    assert main(["compare", str(runs["base"]), str(runs["degraded"]), "--format", "markdown"]) == 0
    assert "❌ regressed" in capsys.readouterr().out
