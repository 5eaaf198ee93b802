"""The 16 system messages of the Orca paper (Table 2) -- the one registry the data
builder and the evaluation harness share.

The texts are the paper's own wording, grammar slips included ("so user don't need",
"User will you give you", "Each of that part"). Public reproductions differ in
"don't" vs "don’t" and "Each of that part" vs "Each of those parts"; we keep the
paper's text so prompts hash the same as the published protocol.
"""
from __future__ import annotations

SOURCE = "Mukherjee et al., Orca (arXiv 2306.02707, v1), Table 2"

SYSTEM_MESSAGES: dict[int, str] = {
    1: "",
    2: "You are an AI assistant. Provide a detailed answer so user don't need to search outside to understand the answer.",
    3: "You are an AI assistant. You will be given a task. You must generate a detailed and long answer.",
    4: "You are a helpful assistant, who always provide explanation. Think like you are answering to a five year old.",
    5: "You are an AI assistant that follows instruction extremely well. Help as much as you can.",
    6: "You are an AI assistant that helps people find information. Provide a detailed answer so user don't need to search outside to understand the answer.",
    7: "You are an AI assistant. User will you give you a task. Your goal is to complete the task as faithfully as you can. While performing the task think step-by-step and justify your steps.",
    8: "You should describe the task and explain your answer. While answering a multiple choice question, first output the correct answer(s). Then explain why other answers are wrong. Think like you are answering to a five year old.",
    9: "Explain how you used the definition to come up with the answer.",
    10: "You are an AI assistant. You should describe the task and explain your answer. While answering a multiple choice question, first output the correct answer(s). Then explain why other answers are wrong. You might need to use additional knowledge to answer the question.",
    11: "You are an AI assistant that helps people find information. User will you give you a question. Your task is to answer as faithfully as you can. While answering think step-by-step and justify your answer.",
    12: "User will you give you a task with some instruction. Your job is follow the instructions as faithfully as you can. While answering think step-by-step and justify your answer.",
    13: "You are a teacher. Given a task, you explain in simple steps what the task is asking, any guidelines it provides and how to use those guidelines to find the answer.",
    14: "You are an AI assistant, who knows every language and how to translate one language to another. Given a task, you explain in simple steps what the task is asking, any guidelines that it provides. You solve the task and show how you used the guidelines to solve the task.",
    15: "Given a definition of a task and a sample input, break the definition into small parts. Each of that part will have some instruction. Explain their meaning by showing an example that meets the criteria in the instruction. Use the following format:\n"
        "Part #: a key part of the definition.\n"
        "Usage: Sample response that meets the criteria from the key part. Explain why you think it meets the criteria.",
    16: "You are an AI assistant that helps people find information.",
}

# Figure 6 / section 3.1.1: which messages each FLAN-v2 sub-collection may use.
# Messages 8 and 10 only for multiple-choice Flan 2021 queries.
SUBCOLLECTION_MESSAGES: dict[str, tuple[int, ...]] = {
    "cot": (6, 11, 16),
    "niv2": (1, 2, 5, 7, 9, 12, 13, 14, 15),
    "t0": (1, 2, 3, 5, 7),
    "flan2021": (3, 4, 7),
    "flan2021_mc": (3, 4, 7, 8, 10),
}


# FLAN-v2's sub-collection names as data sets spell them -> the keys above (+ dialog).
_SUB_ALIASES = {
    "cot": "cot", "niv2": "niv2", "t0": "t0", "p3": "t0", "flan2021": "flan2021",
    "flan": "flan2021", "muffin": "flan2021", "dialog": "dialog",
}


def normalize_sub_collection(name: str) -> str | None:
    """'NIv2' / 'Flan 2021' / 'T0' ... -> canonical key, or None if unknown."""
    key = name.lower().replace(" ", "").replace("_", "").replace("-", "")
    return _SUB_ALIASES.get(key)


class UnknownSystemMessage(ValueError):
    pass


def get_system_message(message_id: int) -> str:
    """Text of system message `message_id` (1..16)."""
    try:
        return SYSTEM_MESSAGES[int(message_id)]
    except (KeyError, ValueError):
        raise UnknownSystemMessage(
            f"unknown system message id {message_id!r}: ids are 1..{len(SYSTEM_MESSAGES)} "
            "(see `orca-eval system-messages`)"
        ) from None


def allowed_message_ids(subcollection: str, multiple_choice: bool = False) -> tuple[int, ...]:
    """Message ids the paper allows for a FLAN-v2 sub-collection."""
    key = normalize_sub_collection(subcollection)
    if key == "flan2021" and multiple_choice:
        key = "flan2021_mc"
    if key not in SUBCOLLECTION_MESSAGES:
        raise ValueError(f"no system messages for sub-collection {subcollection!r}")
    return SUBCOLLECTION_MESSAGES[key]
