"""Answer extraction: a table of realistic model outputs, plus checks against the real data."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from orca.errors import UserError
from harness.extract import (
    FAMILIES, extract_answer, extract_official, is_correct, normalize_target, options_from_agieval,
    options_from_text,
)
from harness.suites import get_suite, get_task

BBH_TASK_FAMILY = {t.name: t.family for t in get_suite("bbh").tasks}   # task -> family, from tasks/bbh/*.yaml
(AGIEVAL_FAMILY,) = {t.family for t in get_suite("agieval").tasks}
from orca.paths import data_dir

# Options of real examples (BBH inputs parsed by options_from_text; AGIEval by options_from_agieval).
OPTS = {
    "tso3": options_from_text(
        "At the end of the semester, Bob has\nOptions:\n(A) Ulysses\n(B) Frankenstein\n(C) Lolita"),
    "ld3": options_from_text(
        "Options:\n(A) The blue jay is the second from the left\n(B) The quail is the second from the left\n"
        "(C) The falcon is the second from the left"),
    "disamb": options_from_text(
        "Options:\n(A) The patient had a skin condition\n(B) The specialist had a skin condition\n(C) Ambiguous"),
    "movie": options_from_text(
        "Find a movie similar to Batman, The Mask, The Fugitive, Pretty Woman:\nOptions:\n(A) The Front Page\n"
        "(B) Maelstrom\n(C) The Lion King\n(D) Lamerica"),
    "movie_quirk": options_from_text(
        "Options:\n(A) Monsters\n(B) Inc\n(C) Children of the Night\n(D) The Incredible Shrinking Man\n"
        "(E) Town & Country"),
    "date": options_from_text(
        "Options:\n(A) 12/11/1937\n(B) 12/25/1937\n(C) 01/04/1938\n(D) 12/04/1937\n(E) 12/25/2006\n(F) 07/25/1937"),
    "geo": options_from_text(
        "Options:\n(A) circle\n(B) heptagon\n(C) hexagon\n(D) kite\n(E) line\n(F) octagon\n(G) pentagon\n"
        "(H) rectangle\n(I) sector\n(J) triangle"),
    "colors": options_from_text("Options:\n" + "\n".join(
        f"({chr(65 + i)}) {w}" for i, w in enumerate(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
            "sixteen".split()))),
    "hyper": options_from_text(
        "Options:\n(A) midsize old grey Brazilian sweater\n(B) midsize grey Brazilian old sweater"),
    "snarks": options_from_text("Options:\n(A) Yeah, war is pacifying\n(B) Yeah, peace is pacifying"),
    "ruin": options_from_text("Options:\n(A) ruin man\n(B) rains man\n(C) rain men\n(D) rainmman"),
    "aqua": options_from_agieval(["(A)5(√3 + 1)", "(B)6(√3 + √2)", "(C)7(√3 – 1)", "(D)8(√3 – 2)",
                                  "(E)None of these"]),
    "satm": options_from_agieval(["(A)2", "(B)4", "(C)9", "(D)10"]),
    "lsat": options_from_agieval([
        "(A)Mon. morning: Helen; Mon. afternoon: Robert", "(B)Mon. morning: Irving; Mon. afternoon: Olivia",
        "(C)Mon. morning: Lenore; Mon. afternoon: Helen", "(D)Mon. morning: Nina; Mon. afternoon: Helen",
        "(E)Mon. morning: Olivia; Mon. afternoon: Nina"]),
    None: None,
}

TRACK_COT = (
    "Let's track the books. At the start: Alice has Ulysses, Bob has Frankenstein, Claire has Lolita.\n"
    "1. Claire and Bob swap: Bob has Lolita, Claire has Frankenstein.\n"
    "2. Bob and Alice swap: Bob has Ulysses, Alice has Lolita.\n"
    "3. Claire and Bob swap: Bob has Frankenstein, Claire has Ulysses.\n"
    "So the answer is (B).")

GPT4_LD3 = (
    "To solve this, let's analyze the statements one by one.\n\n1. **The falcon is to the right of the blue jay.** "
    "This means the blue jay is somewhere to the left of the falcon.\n2. **The blue jay is to the right of the "
    "quail.** So the quail is to the left of the blue jay.\n\nPutting these together, the order from left to right "
    "is:\n\n- Quail\n- Blue jay\n- Falcon\n\nNow let's check each option:\n\n- (A) The blue jay is the second from "
    "the left - **correct**, the blue jay is in the middle.\n- (B) The quail is the second from the left - incorrect, "
    "the quail is the leftmost.\n- (C) The falcon is the second from the left - incorrect, the falcon is the "
    "rightmost.\n\n**Answer: (A)**")
BOOL_COT = (
    "Let's break it down:\n\n1. `not ( True )` evaluates to `False`.\n2. `False and ( True )` evaluates to `False`, "
    "because `and` requires both operands to be True.\n\nTherefore, the expression `not ( True ) and ( True )` "
    "evaluates to **False**.")
ARITH_COT = (
    "Let's solve the expression step by step.\n\nFirst, the left parentheses: -1 + 2 + 9 * 5. Multiplication first: "
    "9 * 5 = 45. Then -1 + 2 + 45 = 46.\n\nNext, the right parentheses: -2 + -4 + -4 * -7. Multiplication first: "
    "-4 * -7 = 28. Then -2 + -4 + 28 = 22.\n\nFinally, 46 - 22 = 24.\n\nThe answer is 24.")
DYCK_COT = (
    "We should process each input one by one and keep track of the stack configuration.\n0: empty stack\n"
    "1: [ ; stack: [\n2: { ; stack: [ {\n3: [ ; stack: [ { [\n4: ] ; stack: [ {\nNow, we have reached the end. "
    "The final stack is \"[ {\".\nWe will need to pop out \"{\", \"[\" one by one in that order.\n"
    "So, we need \"}\", \"]\". So the answer is } ].")
LIES_COT = (
    "Let's go step by step.\n- Sherrie tells the truth.\n- Vernell says Sherrie tells the truth. Since Sherrie tells "
    "the truth, Vernell tells the truth.\n- Alexis says Vernell lies. Since Vernell tells the truth, Alexis lies.\n"
    "- Michaela says Alexis tells the truth. Since Alexis lies, Michaela lies.\n- Elanor says Michaela tells the "
    "truth. Since Michaela lies, Elanor lies.\n\nSo the answer is No.")

# (family, options, output, robust, official)
CASES = [
    # --- multiple choice: the letter in its common forms ---
    ("mc", "tso3", "(B)", "B", "B"),
    ("mc", "tso3", "B)", "B", "B"),
    ("mc", "tso3", "B.", "B", "B"),
    ("mc", "tso3", "Answer: B", "B", "A"),
    ("mc", "tso3", "The answer is B.", "B", "B"),
    ("mc", "tso3", "The correct answer is option B, Frankenstein.", "B", "B"),
    ("mc", "tso3", "**B**", "B", "B"),
    ("mc", "tso3", "$\\boxed{B}$", "B", "B"),
    ("mc", "tso3", "B", "B", "B"),
    ("mc", "tso3", " Frankenstein", "B", "F"),
    ("mc", "tso3", "At the end of the semester, Bob has Frankenstein.", "B", "A"),
    ("mc", "tso3", TRACK_COT, "B", "A"),
    ("mc", "ld3", "Option A is wrong because the blue jay is to the right of the quail. Option C is wrong "
                  "because the falcon is the rightmost. So the answer is (B).", "B", "A"),
    ("mc", "ld3", "The blue jay is the second from the left.\n\nThe order from left to right is: quail, "
                  "blue jay, falcon.", "A", None),
    ("mc", "ld3", "**Answer: (C) The falcon is the second from the left**\n\n- The falcon is to the right "
                  "of the blue jay.\n- The blue jay is to the right of the quail.", "C", "A"),
    ("mc", "ld3", "The answer is A because the blue jay is in the middle.", "A", "A"),
    ("mc", "ld3", "A", "A", "A"),
    ("mc", "ld3", "I would choose (C).", "C", "C"),
    ("mc", "ld3", "Options A and C are both wrong; (B) is correct.", "B", "A"),
    ("mc", "disamb", "(B) The specialist had a skin condition\n\nExplanation: (A) is incorrect because the "
                     "patient was referred. (C) is incorrect because the pronoun is not ambiguous.", "B", "B"),
    ("mc", "disamb", "Based on the information given, the answer is (A) The patient had a skin condition.",
     "A", "B"),
    ("mc", "disamb", "The answer is not (A). The answer is (C) Ambiguous.", "C", "A"),
    ("mc", "disamb", "Ambiguous", "C", "A"),
    ("mc", "movie", "A person who likes Batman and The Mask would probably enjoy The Lion King.", "C", "A"),
    ("mc", "movie", "I think the answer is (D) Lamerica.", "D", "D"),
    ("mc", "movie", "I think it's The Lion King, because it is a family movie like the others.", "C", None),
    ("mc", "movie", "The best option is C.", "C", "C"),
    ("mc", "movie", "Option (B) is the most reasonable choice here.", "B", "B"),
    ("mc", "date", "Christmas Eve is 12/24/1937, so tomorrow is 12/25/1937. The answer is (B).", "B", "C"),
    ("mc", "date", "Final answer: (E) 12/25/2006", "E", "F"),
    ("mc", "date", "Tomorrow is 12/25/1937.", "B", None),
    ("mc", "geo", "This SVG path draws a kite. The answer is (D).", "D", "G"),
    ("mc", "geo", "(I) sector", "I", "I"),
    ("mc", "geo", "It is a heptagon, because the path has seven distinct vertices.", "B", "I"),
    ("mc", "colors", "After removing the notebooks, there are three grey objects left. So the answer is (D).",
     "D", "A"),
    ("mc", "colors", "three", "D", None),
    ("mc", "hyper", "Sentence (A) has the correct adjective order: size, age, color, origin.", "A", "A"),
    ("mc", "ruin", "The humorous edit is 'ruin man' (A).", "A", "A"),
    ("mc", "ruin", "ruin man", "A", None),
    ("mc", "movie_quirk", "So the answer is Monsters, Inc.", "Monsters, Inc", None),
    ("mc", "aqua", "Answer Choices: (A) 5(√3 + 1) (B) 6(√3 + √2) (C) 7(√3 – 1) (D) 8(√3 – 2) (E) None of "
                   "these\nA: Among A through E, the answer is D", "D", "A"),
    ("mc", "aqua", "Answer Choices: (A) 5(√3 + 1) (B) 6(√3 + √2) (C) 7(√3 – 1) (D) 8(√3 – 2) (E) None of "
                   "these\n\nD", "D", "A"),
    ("mc", "aqua", " D", "D", "D"),
    ("mc", "aqua", " (E) None of these", "E", "E"),
    ("mc", "aqua", "None of these.", "E", None),
    ("mc", "satm", "The value of x is 10.", "D", None),
    ("mc", "satm", "Since k = 3, (x-1)/3 = 3, so x - 1 = 9 and x = 10. The answer is D.", "D", "D"),
    ("mc", "lsat", "The correct answer is (C). The schedule satisfies every condition: (A) puts Robert on "
                   "Monday afternoon, which violates rule 2; (B) ...", "C", "C"),
    ("mc", "lsat", "C is the correct answer, since only in that schedule does Helen report after Lenore.",
     "C", "C"),
    # --- multiple choice: unparseable ---
    ("mc", "satm", "E", None, "E"),
    ("mc", "ld3", "It could be either A or B.", None, "A"),
    ("mc", "ld3", "(A) or (C)", None, "A"),
    ("mc", "hyper", "Neither (A) nor (B) is correct.", None, "A"),
    ("mc", "lsat", "Both (A) and (D) could be true.", None, "B"),
    ("mc", "ld3", "I'm sorry, but I cannot determine the answer without more information.", None, None),
    ("mc", "disamb", "As an AI language model, I cannot decide who had the skin condition.", None, "A"),
    ("mc", "ld3", "", None, None),
    ("mc", "ld3", "<unk><unk><unk>", None, None),
    ("mc", "ld3", "the the the of of , , 2 2 2 .", None, None),
    ("mc", "ld3", "B2B2 zzz qqq", None, "B"),
    ("mc", "aqua", "Among A through E, the answer is", None, "A"),
    ("mc", "ld3", "Let's think step by step.", None, None),
    ("mc", None, "I think so.", None, None),
    # --- True / False ---
    ("true_false", None, "False", "False", "False"),
    ("true_false", None, "not ( True ) and ( True ) is False.", "False", "True"),
    ("true_false", None, "Let's evaluate step by step. not ( True ) = False. False and ( True ) = False. So the "
                         "answer is False.", "False", "True"),
    ("true_false", None, "The expression evaluates to **True**.", "True", "True"),
    ("true_false", None, "the answer is false", "False", None),
    ("true_false", None, "\\boxed{\\text{True}}", "True", "True"),
    ("true_false", None, "True and False is False, so not False is True. Therefore the whole expression is True.",
     "True", "True"),
    ("true_false", None, "It could be True or False depending on the order of operations.", None, "True"),
    ("true_false", None, "True or False", None, "True"),
    # --- Yes / No ---
    ("yes_no", None, "No, the sentence is not plausible. Elias Lindholm is a hockey player, and 'beat the "
                     "buzzer' is a basketball phrase.", "No", "No"),
    ("yes_no", None, "The sentence is plausible because Joao Moutinho is a soccer player.", "Yes", None),
    ("yes_no", None, "There is no reason to doubt it; the sentence is plausible.", "Yes", "No"),
    ("yes_no", None, "Take 1 step backward: (0, -1). Take 9 steps left: (-9, -1). ... We end at (-3, 0), which "
                     "is not the starting point. So the answer is No.", "No", "No"),
    ("yes_no", None, "Sherrie tells the truth. Vernell tells the truth. Alexis lies. Michaela lies. Elanor lies. "
                     "Therefore, Elanor does not tell the truth.", "No", None),
    ("yes_no", None, "Yes. The black wire touching the battery caused the short circuit.", "Yes", "Yes"),
    ("yes_no", None, "**Yes**", "Yes", "Yes"),
    ("yes_no", None, "Yes and no. It depends on how you define causation.", None, "Yes"),
    ("yes_no", None, "I cannot answer that question as it requires speculation.", None, None),
    # --- valid / invalid ---
    ("valid_invalid", None, "The argument is deductively invalid.", "invalid", "invalid"),
    ("valid_invalid", None, "invalid", "invalid", "invalid"),
    ("valid_invalid", None, "The argument is not valid, because the conclusion does not follow from the premises.",
     "invalid", "valid"),
    ("valid_invalid", None, "Valid. The conclusion follows from the premises by contraposition.", "valid", None),
    ("valid_invalid", None, "Premise 1 is valid and premise 2 is valid, but the argument as a whole is invalid. So "
                            "the answer is invalid.", "invalid", "valid"),
    ("valid_invalid", None, "It is either valid or invalid; I am not sure.", None, "valid"),
    # --- numbers ---
    ("number", None, "24", "24", "24"),
    ("number", None, "So the answer is -42.", "-42", "-42"),
    ("number", None, "the result is -42", "-42", "-42"),
    ("number", None, "You have eight musical instruments.", "8", None),
    ("number", None, "Let's solve: (-1 + 2 + 9 * 5) = 46. (-2 + -4 + -4 * -7) = 22. 46 - 22 = 24.", "24", "-1"),
    ("number", None, "I have 3 apples and 5 oranges, so 8 fruits in total.", "8", "3"),
    ("number", None, "I have a flute (1), a piano (2), a trombone (3), a violin (4), an accordion (5), a clarinet "
                     "(6), a drum (7), and a trumpet (8). Total: 8 musical instruments.", "8", "1"),
    ("number", None, "-11,520", "-11520", "-11"),
    ("number", None, "**Answer:** 15", "15", "15"),
    ("number", None, "The answer is twelve.", "12", None),
    ("number", None, "8\n\nExplanation: a flute, a piano, a trombone, a violin, an accordion, a clarinet, a drum and "
                     "a trumpet are instruments; 2 lamps and 4 stoves are not.", "8", "8"),
    ("number", None, "It is either 7 or 8.", None, "7"),
    ("number", None, "I don't know.", None, None),
    ("number", None, "The the the the", None, None),
    # --- dyck ---
    ("dyck", None, "] ) }", "] ) }", "] ) }"),
    ("dyck", None, "The answer is ] ) }.", "] ) }", "] ) }"),
    ("dyck", None, "])}", "] ) }", "] ) }"),
    ("dyck", None, "To close the sequence, we need: > ]", "> ]", "> ]"),
    ("dyck", None, "We use a stack. Read [ : stack [ . Read ( : stack [ ( . The input ends, so we close ( then [. "
                   "So the answer is ) ].", ") ]", "["),
    ("dyck", None, "The completed sequence is `[ [ ] ]`.", "[ [ ] ]", "[ [ ] ]"),
    ("dyck", None, "<unk>", None, "<"),
    ("dyck", None, "I'm not sure how to close this sequence.", None, None),
    # --- word lists ---
    ("word_list", None, "apple banana cherry", "apple banana cherry", "apple banana cherry"),
    ("word_list", None, "The sorted list is: apple, banana, and cherry.", "apple banana cherry",
     "the sorted list is apple banana and cherry"),
    ("word_list", None, "Sorted:\n1. apple\n2. banana\n3. cherry", "apple banana cherry", "sorted"),
    ("word_list", None, "The words in alphabetical order are apple, banana, cherry.", "apple banana cherry",
     "the words in alphabetical order are apple banana cherry"),
    ("word_list", None, "Here are the words sorted alphabetically:\n\nbarn damp delmarva dot drumhead\n",
     "barn damp delmarva dot drumhead", "here are the words sorted alphabetically"),
    ("word_list", None, "Sorted: can't it&t o'connell you've", "can't it&t o'connell you've",
     "sorted can't it&t o'connell you've"),
    ("word_list", None, "I'm sorry, I cannot sort these words.", None, "i'm sorry i cannot sort these words"),
    ("word_list", None, "<unk> <s> ###", None, "<unk> <s> ###"),
    ("word_list", None, "", None, None),
    # --- longer and harder outputs ---
    ("mc", "ld3", GPT4_LD3, "A", "B"),
    ("mc", "ld3", "The answer could be A, but B is also possible.", None, "A"),
    ("mc", "ld3", "A) The blue jay is the second from the left\nB) The quail is the second from the left\n"
                  "C) The falcon is the second from the left", None, "A"),
    ("mc", "tso3", "Alice has Lolita, Bob has Frankenstein, Claire has Ulysses.", None, "A"),
    ("mc", "ld3", "Hi! How can I help you today?", None, None),
    ("mc", "ld3", "### Response:\n(B)", "B", "B"),
    ("mc", "satm", "x = 10, which is choice D.", "D", "D"),
    ("mc", "satm", "The answer is 10, so D.", "D", "D"),
    ("mc", "ld3", "B is wrong. C is wrong. So A.", "A", "B"),
    ("mc", "ld3", "As A is false, and B is false, C must be correct.", "C", "A"),
    ("mc", "ld3", "Choice: B", "B", "C"),
    ("mc", "ld3", "The answer is a bit tricky.", None, None),
    ("mc", "ld3", "A good answer requires care.", None, "A"),
    ("mc", "tso3", "Hmm, I think B?", None, "B"),
    ("true_false", None, BOOL_COT, "False", "True"),
    ("true_false", None, "not ( ( not not True ) ) is", None, "True"),
    ("yes_no", None, "Yes, the sentence is plausible. Joao Moutinho is a professional soccer player, and catching a "
                     "screen pass is something a player could do.", "Yes", "Yes"),
    ("yes_no", None, LIES_COT, "No", "No"),
    ("yes_no", None, "Based on the instructions, you would not return to the starting point.", "No", None),
    ("yes_no", None, "Most people would say yes, because the black wire was supposed to touch the battery.",
     "Yes", "Yes"),
    ("yes_no", None, "Implausible.", "No", None),
    ("number", None, ARITH_COT, "24", "-1"),
    ("number", None, "Let's list the musical instruments: flute, piano, trombone, violin, accordion, clarinet, drum, "
                     "trumpet. The stoves and lamps are not instruments. That makes 8 musical instruments.", "8", "8"),
    ("dyck", None, DYCK_COT, "} ]", "["),
    ("dyck", None, "To complete it we add `)` and then `]`, giving ) ].", ") ]", ")"),
    ("word_list", None, "To sort the words alphabetically, compare the first letters: bootlegging (b), indifferent "
                        "(i), trainman (t).\n\nSorted list: bootlegging indifferent trainman",
     "bootlegging indifferent trainman",
     "to sort the words alphabetically compare the first letters bootlegging b indifferent i trainman t"),
    ("word_list", None, "apple\nbanana\ncherry", "apple banana cherry", "apple"),
    # --- exact (fallback) ---
    ("exact", None, "The answer is Paris.", "paris", "the answer is paris"),
    ("exact", None, "  ", None, None),
]

# --- commitment (issue 11): one answer in the final statement; no bare mention in a loop or ---
# --- in the middle of a long or cut-off text. Each row is judged by hand.                  ---
LD3_CUT = (
    "Let's analyze each statement. The falcon is to the right of the blue jay, so the blue jay is left of the "
    "falcon. Option (A) says the blue jay is the second from the left. To check this we need the position of the "
    "quail relative to the blue jay. The quail is to the left of the blue jay, which means the order from left to "
    "right starts with the quail and then")
LD3_LONG_END = (
    "The falcon is to the right of the blue jay, and the blue jay is to the right of the quail. Reading the "
    "birds from left to right we get the quail, then the blue jay, then the falcon, so the falcon is the "
    "rightmost bird and the quail is the leftmost one. I think (A) fits best.")
LD3_LONG_MIDDLE = (
    "Option (A) looks promising at first. The falcon is to the right of the blue jay, and the blue jay is to "
    "the right of the quail. Reading the birds from left to right we get the quail, then the blue jay, then "
    "the falcon, so the falcon is the rightmost bird and the quail is the leftmost one.")
BOOL_CUT = (
    "Let's evaluate the expression step by step. First, not True is False. Then, False or False is False. Next we "
    "look at the right-hand side, which is ( True and not False ). We know not False is True, so True and True is "
    "True. Now we combine the two parts: False and")
LIES_CUT = (
    "Let's go step by step. Fidel lies. Jerry says Fidel tells the truth. Since Fidel lies, Jerry lies. Vina says "
    "Jerry tells the truth. Since Jerry lies, Vina lies. Millicent says Vina lies. Since Vina lies, Millicent tells "
    "the truth. Raymond says Millicent lies. Since Millicent tells the truth, Raymond")
NAV_CUT = (
    "Take 3 steps: (0, 3). Turn around. Take 5 steps: (0, -2). Take 2 steps: (0, 0). Are we back at the starting "
    "point? Let's double-check: we started at (0, 0), took 3 steps forward to (0, 3), turned around, took 5 steps "
    "to (0, -2), then 2 steps to")
FALLACY_CUT = (
    "Let's look at the premises. Premise 1: Every fan of Real Madrid is a fan of Chelsea. Premise 2: Being a fan "
    "of Chelsea is necessary for being a fan of Liverpool. The conclusion says every fan of Real Madrid is a fan of "
    "Liverpool. From premise 1, a fan of Real Madrid is a fan of Chelsea, and an argument of this form is valid "
    "only if")
ARITH_CUT = (
    "Let's compute step by step, doing multiplication before addition and subtraction inside each pair of "
    "parentheses. First, the left parentheses: -3 * 4 = -12, and then -12 + 7 = -5. Now the right "
    "parentheses: 8 - -2 = 10, and 10 * 3 = 30. Now we need to compute -5 - 30, which is")
DYCK_CUT = (
    "We need to close the sequence.\n< [ {\nThe stack after reading each symbol is: < then [ then { and we have "
    "to pop them in the reverse order, which means that we first pop the curly bracket, then the square bracket "
    "and finally")
WORDS_CUT = (
    "To sort these words, we look at the first letter of each word: zebra (z), apple (a), mango (m), kiwi (k), and "
    "then we compare the second letters where two words share a first letter. Then we order them: apple comes "
    "first, then kiwi, then")

NEW_CASES = [
    # multiple choice: two options in the final statement, restated options, loops, cut-off text
    ("mc", "ld3", "So the answer is (A) and (B).", None, "A"),
    ("mc", "snarks", "Both (A) and (B) are sarcastic.", None, "B"),
    ("mc", "ld3", "The answer is either (B) or (C).", None, "B"),
    ("mc", "snarks", "(A) and (B) are both sarcastic, but (A) is more obviously so.", None, "A"),
    ("mc", "ld3", "The answer is (B). The quail is the second from the left, because the blue jay is to its right.",
     "B", "B"),
    ("mc", "ld3", "(C) The falcon is the second from the left. So the answer is (C).", "C", "C"),
    ("mc", "tso3", "So the answer is (B) Frankenstein.", "B", "B"),
    ("mc", "movie", "The answer is (C), not (A), because The Lion King is a family film.", "C", "C"),
    ("mc", "ld3", "The answer is (A) or possibly (C).", None, "A"),
    ("mc", "ld3", "The answer is A, B.", None, "A"),
    ("mc", "date", "The answer is (B) 12/25/1937 or (D) 12/04/1937.", None, "B"),
    ("mc", "lsat", "The answer is (B) Mon. morning: Irving; Mon. afternoon: Olivia.", "B", "B"),
    ("mc", "geo", "The answer is (D) kite. (A) circle and (B) heptagon are wrong.", "D", "D"),
    ("mc", "ld3", "I would choose (B) or (C).", None, "B"),
    ("mc", "ld3", "**(A)** and **(C)**", None, "A"),
    ("mc", "ld3", "The answer is (A). The answer is (B). " * 8, None, "A"),
    ("mc", "ld3", "So the answer is (B). " * 10, "B", "B"),
    ("mc", "ld3", LD3_CUT, None, "A"),
    ("mc", "ld3", "The blue jay is to the right of the quail. " + "The falcon is to the right of the blue jay (A). " * 8,
     None, "A"),
    ("mc", "ld3", LD3_LONG_END, "A", "A"),
    ("mc", "ld3", LD3_LONG_MIDDLE, None, "A"),
    ("mc", "ld3", "Probably (C).", "C", "C"),
    ("mc", "ld3", "A\n" * 20, None, "A"),
    ("mc", "ld3", "(A) " * 30, None, "A"),
    ("mc", "aqua", "Among A through E, the answer is (C) 7(√3 – 1) or (D) 8(√3 – 2).", None, "A"),
    ("mc", "satm", "The answer is (C) 9, since 3 squared is 9 and (A) 2 is too small.", "C", "C"),
    ("mc", "lsat", "The answer is (D). Answer (A) fails rule 1, (B) fails rule 2.", "D", "D"),
    ("mc", "disamb", "The answer is (A) The patient had a skin condition, and not (B).", "A", "A"),
    ("mc", "snarks", "(B) Yeah, peace is pacifying", "B", "B"),
    ("mc", "ld3", "The answer could be (A) as well as (B).", None, "A"),
    ("mc", "ld3", "The correct answer is (B) and (B) only.", "B", "B"),
    ("mc", "movie_quirk", "Answer: Monsters, Inc", "Monsters, Inc", "A"),
    # a letter with another option's text names two options (seen from SmolLM2-135M)
    ("mc", "ruin", "(C) rainmman", None, "C"),
    ("mc", "date", "(C) 12/25/1937\n\nThe correct answer is (D) 12/25/1937.", None, "C"),
    ("mc", "geo", "The correct answer is (I) sector.", "I", "I"),
    # True / False
    ("true_false", None, "So the answer is True and False.", None, "True"),
    ("true_false", None, "The answer is False, not True.", "False", "False"),
    ("true_false", None, "not ( False ) = True. True and True = True. True or False = True. " * 6, None, "False"),
    ("true_false", None, "= not False and True and False " * 30, None, "False"),
    ("true_false", None, BOOL_CUT, None, "True"),
    ("true_false", None, "True. not ( False ) is True, and True or False is True.", "True", "True"),
    ("true_false", None, "**False**\n\nnot ( True ) is False, and False and anything is False.", "False", "False"),
    # Yes / No
    ("yes_no", None, "The answer is No, the sentence is plausible.", None, "No"),
    ("yes_no", None, "So the answer is Yes and No.", None, "Yes"),
    ("yes_no", None, "No " * 100, None, "No"),
    ("yes_no", None, "Yes, yes, yes, yes, yes, yes, yes, yes, yes, yes, yes, yes, yes, yes", None, "Yes"),
    ("yes_no", None, "The answer is yes, because there is no reason to doubt that the wire caused it.", "Yes", "Yes"),
    ("yes_no", None, "So, Sherrie tells the truth and Elanor lies. So the answer is No.", "No", "No"),
    ("yes_no", None, LIES_CUT, None, None),
    ("yes_no", None, NAV_CUT, None, None),
    ("yes_no", None, "Yes. The sentence is plausible. " * 6, None, "Yes"),
    ("yes_no", None, "The answer is not plausible.", "No", None),
    ("yes_no", None, "The sentence \"Elias Lindholm beat the buzzer\" is not entirely plausible.", "No", None),
    # valid / invalid
    ("valid_invalid", None, "The answer is valid or invalid depending on the premises.", None, "valid"),
    ("valid_invalid", None, "So the argument is valid, not invalid.", "valid", "valid"),
    ("valid_invalid", None, "The argument is deductively valid. " * 8, None, "valid"),
    ("valid_invalid", None, FALLACY_CUT, None, "valid"),
    ("valid_invalid", None, "Answer: invalid, because the conclusion does not follow; a valid argument would need a "
                            "third premise.", "invalid", "invalid"),
    ("valid_invalid", None, "Invalid. The argument affirms the consequent, which is a classic fallacy, so it cannot be "
                            "valid.", "invalid", "valid"),
    # numbers
    ("number", None, "The answer is 7 or 8.", None, "7"),
    ("number", None, "The answer is 46 - 22 = 24.", "24", "46"),
    ("number", None, "So the answer is 8, since 3 + 5 = 8.", "8", "8"),
    ("number", None, "The answer is 8 (3 apples and 5 oranges).", "8", "8"),
    ("number", None, "The total is 12 or 13, depending on whether the piano counts.", None, "12"),
    ("number", None, "= 5 + 5 = 10 = 5 + 5 = 10 = 5 + 5 = 10 = 5 + 5 = 10 = 5 + 5 = 10", None, "5"),
    ("number", None, ARITH_CUT, None, "-3"),
    ("number", None, "8 8 8 8 8 8 8 8 8 8 8 8 8 8", None, "8"),
    ("number", None, "So the total number of vegetables is 2 + 3 + 1 = 6.", "6", "2"),
    ("number", None, "The answer is 3, not 4.", "3", "3"),
    ("number", None, "I count 5 fruits. Wait, I missed the plum, so there are 6 fruits.", "6", "5"),
    ("number", None, "The answer is twelve or thirteen.", None, None),
    # dyck
    ("dyck", None, "The answer is ) ] or ] ).", None, ") ]"),
    ("dyck", None, "[ ( " * 6, None, "[ ( [ ( [ ( [ ( [ ( [ ("),
    ("dyck", None, DYCK_CUT, None, "< [ {"),
    ("dyck", None, "So the answer is } ] >.", "} ] >", "} ] >"),
    ("dyck", None, "The answer is } ]. The full sequence would then be [ { } ].", "} ]", "} ]"),
    # word lists
    ("word_list", None, "Sorted: apple banana cherry or apple cherry banana", None,
     "sorted apple banana cherry or apple cherry banana"),
    ("word_list", None, "apple banana " * 10, None, " ".join(["apple banana"] * 10)),
    ("word_list", None, "The sorted list is: bat, cat, dog.", "bat cat dog", "the sorted list is bat cat dog"),
    ("word_list", None, "Sorted list: apple, banana, cherry\n\nSorted list: apple, banana, cherry", "apple banana cherry",
     "sorted list apple banana cherry"),
    ("word_list", None, WORDS_CUT, None, " ".join(w.strip(".,:()").lower() for w in WORDS_CUT.split())),
    ("word_list", None, "The answer is apple banana cherry.", "apple banana cherry", "the answer is apple banana cherry"),
    ("word_list", None, "Sorted alphabetically:\n- apple\n- banana\n- cherry", "apple banana cherry",
     "sorted alphabetically"),
    ("dyck", None, "] ) } ] ) } ] ) } ] ) }", None, "] ) } ] ) } ] ) } ] ) }"),
    ("dyck", None, "Answer: ) ]\n\nThe first ( must be closed by ) and the [ by ].", ") ]", ") ]"),
]
CASES += NEW_CASES


def test_commitment_table_covers_every_answer_family():
    assert len(NEW_CASES) >= 60
    assert {c[0] for c in NEW_CASES} == set(FAMILIES) - {"exact"}
    assert sum(c[3] is None for c in NEW_CASES) >= 30  # hedges, loops and cut-off texts are unparsed


def _case_id(case):
    family, opts, text, *_ = case
    return f"{family}-{opts}-{text[:30]!r}"


@pytest.mark.parametrize("family,opts,text,robust,official", CASES, ids=[_case_id(c) for c in CASES])
def test_robust_table(family, opts, text, robust, official):
    assert extract_answer(text, family, OPTS[opts]) == robust


@pytest.mark.parametrize("family,opts,text,robust,official", CASES, ids=[_case_id(c) for c in CASES])
def test_official_table(family, opts, text, robust, official):
    assert extract_official(text, family, OPTS[opts]) == official


def test_table_is_large_and_covers_every_family():
    assert len(CASES) >= 80
    assert sum(c[3] is None for c in CASES) >= 12
    assert {c[0] for c in CASES} == set(FAMILIES)
    # the two extractors must disagree somewhere, or the table does not show the difference
    assert sum(c[3] != c[4] for c in CASES) >= 30


# ----------------------------------------------------------------------------------------------
# Normalisation and scoring
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("target,family,normal", [
    ("(B)", "mc", "B"), (" b ", "mc", "B"), ("[C]", "mc", "C"), ("B.", "mc", "B"),
    ("Monsters, Inc", "mc", "monsters, inc"),
    ("true", "true_false", "True"), ("FALSE", "true_false", "False"),
    ("yes", "yes_no", "Yes"), ("No.", "yes_no", "No"), ("Invalid", "valid_invalid", "invalid"),
    ("-42.0", "number", "-42"), ("1,000", "number", "1000"), ("+7", "number", "7"), ("eight", "number", "8"),
    ("])}", "dyck", "] ) }"), ("]  )", "dyck", "] )"),
    ("Apple  Pear,  fig", "word_list", "apple pear fig"),
    ("  Paris. ", "exact", "paris"),
])
def test_normalize_target(target, family, normal):
    assert normalize_target(target, family) == normal
    assert normalize_target(normal, family) == normal  # idempotent


@pytest.mark.parametrize("extracted,target,family,expected", [
    ("B", "(B)", "mc", True), ("C", "(B)", "mc", False), (None, "(B)", "mc", False),
    ("(B)", "(B)", "mc", True), ("B", "Monsters, Inc", "mc", False),
    ("Monsters, Inc", "Monsters, Inc", "mc", True),
    ("Yes", "yes", "yes_no", True), ("No", "yes", "yes_no", False),
    ("True", "True", "true_false", True), ("False", "True", "true_false", False),
    ("valid", "invalid", "valid_invalid", False),
    ("24", "24", "number", True), ("-24", "24", "number", False),
    ("] ) }", "] ) }", "dyck", True), ("] )", "] ) }", "dyck", False), ("[ ] ) }", "] ) }", "dyck", False),
    ("apple banana", "apple  banana", "word_list", True), ("banana apple", "apple banana", "word_list", False),
])
def test_is_correct(extracted, target, family, expected):
    assert is_correct(extracted, target, family) is expected


def test_unknown_family_and_task_are_user_errors():
    with pytest.raises(UserError, match="unknown answer family 'letters'"):
        extract_answer("B", "letters")
    with pytest.raises(UserError, match="bbh/nonexistent"):
        get_task("bbh/nonexistent")
    assert get_task("agieval/lsat-ar").family == "mc"
    assert get_task("bbh/navigate").family == "yes_no"


def test_none_text_is_unparsed():
    assert extract_answer(None, "mc") is None
    assert extract_official(None, "number") is None


# ----------------------------------------------------------------------------------------------
# Options parsing
# ----------------------------------------------------------------------------------------------

def test_options_from_text():
    text = "Which is the oldest penguin?\nOptions:\n(A) Louis\n(B) Bernard\n(C) Vincent"
    assert options_from_text(text) == {"A": "Louis", "B": "Bernard", "C": "Vincent"}
    assert options_from_text("Did it cause it?\nOptions:\n- Yes\n- No") is None
    assert options_from_text("((-1 + 2) * 3) =") is None


def test_options_from_agieval_handles_irregular_logiqa_markers():
    assert options_from_agieval(["(A)2", "(B)4", "(C)9", "(D)10"]) == {"A": "2", "B": "4", "C": "9", "D": "10"}
    assert options_from_agieval(["A No dangshen", "B No Shouwu", "C x", "D y"])["A"] == "No dangshen"
    assert options_from_agieval(["A? Many buy homes", "B? Turnover", "(C)x", "(D)y"])["B"] == "Turnover"
    odd = options_from_agieval(["When the land in City A.B was listed", "(B)b", "(C)c", "When the land in D.B"])
    assert odd == {"A": "When the land in City A.B was listed", "B": "b", "C": "c", "D": "When the land in D.B"}
    # letters out of order in the data keep the letter they were given
    assert list(options_from_agieval(["(A)a", "(C)c", "(B)b", "(D)d"])) == ["A", "C", "B", "D"]
    assert options_from_agieval(None) is None
    with pytest.raises(UserError, match="list of strings"):
        options_from_agieval("(A)x (B)y")


# ----------------------------------------------------------------------------------------------
# Against the real data
# ----------------------------------------------------------------------------------------------

def _data() -> Path:
    root = data_dir()
    if not (root / "bbh").is_dir():
        pytest.skip(f"no data at {root}")
    return root


def _bbh_tasks():
    return sorted(p.stem for p in (_data() / "bbh").glob("*.json"))


def test_bbh_task_family_covers_exactly_the_27_files():
    assert sorted(BBH_TASK_FAMILY) == _bbh_tasks()
    assert len(BBH_TASK_FAMILY) == 27
    assert set(BBH_TASK_FAMILY.values()) <= set(FAMILIES)


def _spoken(target: str, family: str) -> list[str]:
    """Ways a model would state the gold answer."""
    if family == "mc":
        return [f"So the answer is {target}.", target, f"Answer: {target.strip('()')}",
                f"The correct answer is option {target.strip('()')}."]
    if family == "dyck":
        return [f"So the answer is {target}.", target, target.replace(" ", ""), f"Answer: `{target}`"]
    if family == "word_list":
        return [f"So the answer is {target}.", target, "Sorted: " + ", ".join(target.split()),
                "\n".join(f"{i}. {w}" for i, w in enumerate(target.split(), 1))]
    return [f"So the answer is {target}.", target, f"Answer: **{target}**"]


@pytest.mark.parametrize("task", sorted(BBH_TASK_FAMILY))
def test_every_bbh_target_is_recovered(task):
    family = BBH_TASK_FAMILY[task]
    examples = json.loads((_data() / "bbh" / f"{task}.json").read_text())["examples"]
    assert examples
    text_checked = 0
    for ex in examples:
        target, options = ex["target"], options_from_text(ex["input"])
        assert is_correct(normalize_target(target, family), target, family), target
        if family == "mc" and target.startswith("("):
            assert options and target[1] in options, ex["input"][-200:]
        if family == "mc" and not target.startswith("("):
            # BBH's three split-option targets ("Monsters, Inc" = "(A) Monsters" + "(B) Inc")
            assert options and "," in target
        for said in _spoken(target, family):
            if family == "mc" and not target.startswith("(") and said not in (target, f"So the answer is {target}."):
                continue  # a split-option target can only be stated as its text
            got = extract_answer(said, family, options)
            assert is_correct(got, target, family), (said, got, target)
        if not (family == "mc" and not target.startswith("(")):
            assert is_correct(extract_official(target, family, options), target, family), target
        if family == "mc" and options and target.startswith("("):
            body = options[target[1]]
            if list(options.values()).count(body) == 1:  # the option's text, stated without its letter
                got = extract_answer(f"The answer is {body}.", family, options)
                assert got == target[1], (body, got, options)
                text_checked += 1
    if family == "mc":
        assert text_checked >= 0.9 * len(examples)


@pytest.mark.parametrize("task", sorted(t for t in BBH_TASK_FAMILY if t != "word_sorting"))
def test_echoing_the_bbh_prompt_is_not_an_answer(task):
    """Small models often repeat the question; that must not read as an answer (word_sorting's
    echo reads as an unsorted word list instead, scored wrong)."""
    family = BBH_TASK_FAMILY[task]
    examples = json.loads((_data() / "bbh" / f"{task}.json").read_text())["examples"]
    answered = [ex["input"][-80:] for ex in examples for echo in (ex["input"], f"Q: {ex['input']}\nA:")
                if extract_answer(echo, family, options_from_text(ex["input"])) is not None]
    assert len(answered) <= 0.02 * len(examples), answered[:3]


AGIEVAL_TASKS = {"aqua-rat": 5, "logiqa-en": 4, "lsat-ar": 5, "lsat-lr": 5, "lsat-rc": 5, "sat-math": 4,
                 "sat-en": 4, "sat-en-without-passage": 4}


@pytest.mark.parametrize("task,n_options", sorted(AGIEVAL_TASKS.items()))
def test_every_agieval_label_is_recovered(task, n_options):
    path = _data() / "agieval" / "v1" / f"{task}.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert AGIEVAL_FAMILY == "mc"
    stated_by_text = 0
    for row in rows:
        options, label = options_from_agieval(row["options"]), row["label"]
        assert len(options) == n_options and label in options, row["options"]
        for said in (f"({label})", f" {label}", f"The answer is {label}.", f"Among A through E, the answer is {label}"):
            assert extract_answer(said, "mc", options) == label, said
        for said in (f"({label})", f" {label}."):
            assert extract_official(said, "mc", options) == label, said
        body = options[label]
        if body and list(options.values()).count(body) == 1:
            got = extract_answer(f"The answer is {body}", "mc", options)
            assert got == label, (body, got)
            stated_by_text += 1
    assert stated_by_text >= 0.95 * len(rows)
    # the AGIEval prompt echoed back without an answer is unparsed, not option A
    echoed = [row for row in rows if extract_answer(
        f"{row['passage'] or ''}\nQ: {row['question']} Answer Choices: {' '.join(row['options'])}\n"
        "A: Among A through E, the answer is", "mc", options_from_agieval(row["options"])) is not None]
    assert len(echoed) <= 0.01 * len(rows)


# ----------------------------------------------------------------------------------------------
# Speed
# ----------------------------------------------------------------------------------------------

def test_ten_thousand_outputs_extract_fast():
    cases = [(c[0], OPTS[c[1]], c[2]) for c in CASES]
    batch = [cases[i % len(cases)] for i in range(10_000)]
    start = time.perf_counter()
    for family, options, text in batch:
        extract_answer(text, family, options)
    elapsed = time.perf_counter() - start
    # well under a second on an idle core; the bound leaves room for a busy shared machine
    assert elapsed < 4.0, f"10,000 robust extractions took {elapsed:.2f} s"
