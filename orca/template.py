"""The plain Orca-style prompt template, shared by training and evaluation.

Base models (no chat template in their tokenizer) see the conversation as

    ### System:
    {system}

    ### User:
    {user}

    ### Assistant:
    {response}</s>

The System block is left out entirely when there is no system message (variant
`none`); the empty message of the paper (id 1) keeps the block with an empty body,
so the two variants really differ. Models with a chat template use that instead.
"""
from __future__ import annotations

SYSTEM_HEADER = "### System:\n"
USER_HEADER = "### User:\n"
ASSISTANT_HEADER = "### Assistant:\n"


def render_prompt(user: str, system: str | None) -> str:
    """Prompt text up to (and including) the assistant header."""
    parts = []
    if system is not None:
        parts.append(f"{SYSTEM_HEADER}{system}\n\n")
    parts.append(f"{USER_HEADER}{user}\n\n{ASSISTANT_HEADER}")
    return "".join(parts)


def chat_messages(user: str, system: str | None) -> list[dict]:
    """The same conversation as chat messages: the one builder for chat templates, the
    OpenAI evaluation backend and teacher collection. `None` means no system turn; ""
    (the paper's message 1) an empty system turn, as in `render_prompt`."""
    messages = []
    if system is not None:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": user})
    return messages


def render_for_tokenizer(tokenizer, user: str, system: str | None) -> str:
    """Prompt text for a Hugging Face tokenizer: its chat template if it has one,
    else the plain Orca template."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            chat_messages(user, system), tokenize=False, add_generation_prompt=True
        )
    return render_prompt(user, system)
