"""A benchmark suite as one object: what the YAML says (harness/suites/taskyaml.py) and what
only code can say, each in one place.

A `Suite` subclass (one module per suite: agieval.py, bbh.py) states its
- data layout (`data_files`, `read_file`) and document validation (`validate_doc`);
- prompt styles (`prompts`: one function per name in PROMPT_STYLES);
- target field and lettered options per example (`target_field`, `doc_options`);
- loglikelihood choices (`loglikelihood_choices`);
- the field a predictions file may match an example by (`match_field`);
- the text decontamination checks training data against (`document_text`);
- display name and place in reports (`title`, `order`).

A `Task` is one task of a suite, as the harness passes it around: its YAML definition
(family, stop sequences, budget) bound to its suite, so nothing looks a task up again by
name or asks which suite a key starts with.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from orca.errors import UserError
from harness.paths import TASKS_DIR
from harness.suites.taskyaml import read_suite

# Prompt styles every suite writes (the --prompt-style choices, in this order):
# - `orca` (default): the Orca paper's zero-shot protocol -- the question with its options as
#   the user turn, no exemplars, no "let's think step by step"; the model answers freely and
#   the answer is extracted from its text.
# - `agieval`: AGIEval's official zero-shot form, for numbers comparable with the AGIEval
#   paper (each suite's matching form).
# The system message is added by the model backend (orca/template.py or the chat template).
PROMPT_STYLES = ("orca", "agieval")

# Answer families whose answers are fixed words (--mode loglikelihood scores these choices).
FIXED_CHOICES = {"true_false": ["True", "False"], "yes_no": ["Yes", "No"], "valid_invalid": ["valid", "invalid"]}


@dataclass(frozen=True)
class Task:
    key: str                 # "bbh/navigate": how files and run.json name it
    lm_name: str             # "orca_bbh_navigate" (lm-eval's task name)
    family: str              # answer family: "yes_no"
    until: tuple[str, ...]   # stop sequences
    max_gen_toks: int        # default generation budget
    path: Path               # the task's YAML file
    suite: Suite = field(compare=False, repr=False)

    def __str__(self) -> str:
        return self.key

    @property
    def name(self) -> str:
        """The bare task name: "navigate"."""
        return self.key.split("/", 1)[1]

    def target(self, doc: dict):
        return doc[self.suite.target_field]

    def options(self, doc: dict) -> dict[str, str] | None:
        """Letter -> option text, where the example has lettered options."""
        return self.suite.doc_options(doc)

    def prompt(self, doc: dict, style: str = "orca") -> str:
        return self.suite.prompt(doc, style)

    def loglikelihood_choices(self, doc: dict) -> tuple[list[str], list[str]] | None:
        return self.suite.loglikelihood_choices(self, doc)

    def document_text(self, doc: dict) -> str:
        return self.suite.document_text(doc)


class Suite:
    """One benchmark. Subclasses set the class attributes and the data/prompt methods."""

    name: str                        # folder under tasks/ and prefix of its task keys
    title: str                       # display name in reports: "AGIEval"
    order: int = 99                  # place among suites in reports (then by name)
    target_field: str                # the example's gold answer
    match_field: str                 # `score`: a prediction's `input` is matched against this field
    prompts: dict                    # style -> function(doc) -> user turn
    check_targets: bool = False      # refuse examples whose target no answer can match

    def __init__(self, tasks_dir: str | Path = TASKS_DIR):
        self.tasks_dir = Path(tasks_dir)

    def __repr__(self) -> str:
        return f"<suite {self.name} ({self.tasks_dir / self.name})>"

    @cached_property
    def tasks(self) -> list[Task]:
        """This suite's tasks in its group file's order (tasks_dir/<name>/_<name>.yaml)."""
        return [Task(d.key, d.lm_name, d.family, d.until, d.max_gen_toks, d.path, self)
                for d in read_suite(self.tasks_dir / self.name)]

    # ------------------------------------------------------------------ data

    def data_files(self, root: str | Path, name: str) -> list[Path]:
        """Where task `name`'s file may be under a data folder, the layout reported first."""
        raise NotImplementedError

    def rows(self, path: str | Path):
        """(where, raw example) for each example of one data file, `where` naming it in errors."""
        raise NotImplementedError

    def read_file(self, path: str | Path) -> list[dict]:
        """The validated examples of one data file (none is an error)."""
        path = Path(path)
        docs = [self.validate_doc(row, where) for where, row in self.rows(path)]
        if not docs:
            raise UserError(f"{path}: no examples")
        return docs

    def validate_doc(self, row, where: str) -> dict:
        """One example as the harness keeps it; a wrong one is a UserError naming `where`."""
        raise NotImplementedError

    def load(self, task: Task, root: str | Path) -> tuple[list[dict], Path]:
        """One task's examples from a data folder, and the file they came from."""
        root = Path(root)
        candidates = self.data_files(root, task.name)
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            raise UserError(f"{task.key}: data file not found under {root} "
                            f"(looked for {candidates[0].relative_to(root)})")
        return self.read_file(path), path

    # ------------------------------------------------------------------ per example

    def doc_options(self, doc: dict) -> dict[str, str] | None:
        """Letter -> option text, where the example has lettered options."""
        return None

    def prompt(self, doc: dict, style: str = "orca") -> str:
        if style not in PROMPT_STYLES:
            raise UserError(f"unknown prompt style {style!r}; choose from {', '.join(PROMPT_STYLES)}")
        return self.prompts[style](doc)

    def loglikelihood_choices(self, task: Task, doc: dict) -> tuple[list[str], list[str]] | None:
        """(labels, continuations) --mode loglikelihood scores, or None: a free-form answer."""
        if task.family in FIXED_CHOICES:
            labels = choices = FIXED_CHOICES[task.family]
            return labels, choices
        opts = task.options(doc) if task.family == "mc" else None
        if opts:
            return [f"({k})" for k in opts], [f"({k}) {v}" for k, v in opts.items()]
        return None

    def document_text(self, doc: dict) -> str:
        """What could leak into training data: the example without its answer."""
        raise NotImplementedError
