"""Zero-shot prompts, checked against the real data, and system-message variants."""
import pytest

from harness.data import load_task_data
from orca.errors import UserError
from harness.prompts import parse_system_variant, user_prompt
from orca.system_messages import SYSTEM_MESSAGES
from orca.template import render_prompt


def test_agieval_orca_prompt_has_passage_question_and_every_option(data_dir):
    docs = load_task_data("agieval/lsat-rc", str(data_dir)).docs
    doc = docs[0]
    p = user_prompt("agieval/lsat-rc", doc)
    assert p.startswith(doc["passage"].strip())
    assert f"Q: {doc['question']} Answer Choices: " in p
    for opt in doc["options"]:
        assert opt in p
    # zero-shot: no exemplar, no CoT trigger, no answer leak
    assert "step by step" not in p.lower() and "Among A through" not in p
    assert p.count("Q: ") == 1


def test_agieval_official_prompt_matches_agieval_zero_shot_form(data_dir):
    doc = load_task_data("agieval/sat-math", str(data_dir)).docs[0]
    p = user_prompt("agieval/sat-math", doc, "agieval")
    assert p.endswith("\nA: Among A through D, the answer is") or p.endswith("\nA: Among A through E, the answer is")
    last = "ABCDEFG"[len(doc["options"]) - 1]
    assert p.endswith(f"Among A through {last}, the answer is")
    no_passage = load_task_data("agieval/sat-en-without-passage", str(data_dir)).docs[0]
    assert user_prompt("agieval/sat-en-without-passage", no_passage, "agieval").startswith("Q: ")


def test_bbh_prompts_are_the_input_itself(data_dir):
    doc = load_task_data("bbh/navigate", str(data_dir)).docs[3]
    assert user_prompt("bbh/navigate", doc) == doc["input"]
    assert user_prompt("bbh/navigate", doc, "agieval") == f"Q: {doc['input']}\nA:"


def test_system_variants():
    assert parse_system_variant("1").name == "sm1" and parse_system_variant("1").text == ""
    assert parse_system_variant("sm7").text == SYSTEM_MESSAGES[7]
    assert parse_system_variant("none").text is None
    custom = parse_system_variant("Answer with a letter.")
    assert custom.name.startswith("custom-") and custom.text == "Answer with a letter."
    # literal text equal to a registry message is that message
    assert parse_system_variant(SYSTEM_MESSAGES[16]).name == "sm16"
    with pytest.raises(UserError, match="unknown system message id 17"):
        parse_system_variant("17")
    with pytest.raises(UserError, match="cannot read"):
        parse_system_variant("@/nonexistent/file.txt")


def test_system_variant_from_file(tmp_path):
    f = tmp_path / "sys.txt"
    f.write_text("Be brief.\n")
    v = parse_system_variant(f"@{f}")
    assert v.text == "Be brief." and v.name.startswith("custom-")


def test_plain_template_distinguishes_none_from_empty():
    assert render_prompt("Q", None) == "### User:\nQ\n\n### Assistant:\n"
    assert render_prompt("Q", "") == "### System:\n\n\n### User:\nQ\n\n### Assistant:\n"
    assert render_prompt("Q", "S").startswith("### System:\nS\n\n### User:\nQ")


def test_the_16_messages_match_the_reference_file():
    # Transcribed from ../shared/reference/orca-paper.md; check the registry against it.
    from pathlib import Path
    ref = (Path(__file__).resolve().parents[2] / "shared" / "reference" / "orca-paper.md")
    if not ref.exists():
        pytest.skip("reference file not present")
    text = ref.read_text()
    assert len(SYSTEM_MESSAGES) == 16 and SYSTEM_MESSAGES[1] == ""
    for mid in range(2, 17):
        first_line = SYSTEM_MESSAGES[mid].split("\n")[0]
        assert f"{mid}. {first_line}" in text, mid


def test_chat_models_get_the_system_message_through_their_chat_template(data_dir):
    from orca.template import render_for_tokenizer
    from orca.tiny import load_tokenizer_with_pad

    tok = load_tokenizer_with_pad(data_dir / "tokenizer")
    assert render_for_tokenizer(tok, "Q?", "S.") == render_prompt("Q?", "S.")  # base model: plain template
    tok.chat_template = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
                         "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    assert render_for_tokenizer(tok, "Q?", "S.") == "<|system|>S.<|end|><|user|>Q?<|end|><|assistant|>"
    assert render_for_tokenizer(tok, "Q?", None) == "<|user|>Q?<|end|><|assistant|>"
