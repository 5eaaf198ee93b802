"""The benchmark side of decontamination (orca/decontaminate.py): word normalisation and the
index of every benchmark n-gram, built once and asked per training line (`matches`).

Building and matching stay one class: the screen below works only while both sides use the
same chunk sizes. Reading training files, writing the clean copies and the report are
orca/decontaminate.py's, which imports this module (and so builds the punctuation table).

Speed (bench/decontaminate_throughput.py): a line is first screened with one set lookup
per *aligned chunk* of c = (n + 1) // 2 words (the words 0..c-1, c..2c-1, ...). Any run of
n = 2c - 1 or more words contains one whole aligned chunk, so a line that shares an n-gram
with a benchmark document always has a chunk in the set of the benchmark's c-grams; only
those few lines pay for the exact check of every n-gram. Short documents (L < n words)
get the same screen with c = (L + 1) // 2. N-grams are tuples of interned words: no
string is built per n-gram, and tuples (unlike Python's salted str hashes) pickle to
other processes intact, so the index can be broadcast to `datasets` workers.
"""
from __future__ import annotations

import string
import sys
import unicodedata
from dataclasses import dataclass
from typing import Iterable

from orca.decontaminate_defaults import DEFAULT_N, MIN_N


class DecontaminationInputError(ValueError):
    """A bad training file or option; the message names the file and line (the CLI prints it as one line).

    Defined here, the lowest module that raises it (a bad --n); orca.decontaminate re-exports it."""


# ----------------------------------------------------------------------------- normalisation

def _punctuation_table() -> dict[int, str]:
    # lm-eval deletes string.punctuation (ASCII only) and lower-cases ASCII letters. We keep
    # our own table for two reasons: (1) punctuation becomes a space, not nothing, so
    # "(A)zebra" and "(A) zebra", or "end.Next" and "end. Next", give the same words --
    # with deletion a punctuation or spacing edit glues two words and hides the copy;
    # (2) Unicode punctuation and symbols (curly quotes, dashes, ellipses) that teacher
    # models write where the benchmark has ASCII are collapsed too. Basic plane only: the
    # table is built at import (~30 ms) and str.translate keeps its ASCII fast path.
    table = {ord(c): " " for c in string.punctuation}
    for cp in range(0x80, 0x10000):
        if unicodedata.category(chr(cp))[0] in "PS":
            table[cp] = " "
    return table


_TABLE = _punctuation_table()


def normalize_words(text: str) -> list[str]:
    """Lower case, punctuation and symbols to spaces, split on whitespace."""
    return text.lower().translate(_TABLE).split()


# ----------------------------------------------------------------------------- the benchmark index

@dataclass(frozen=True)
class BenchmarkDocument:
    task: str           # "bbh/navigate"
    doc_id: int | str   # position in the task's test data (the harness's doc_id)
    text: str           # question, passage and options as the model sees them


@dataclass(frozen=True)
class Match:
    task: str
    doc_id: int | str
    ngram: str          # the shared n-gram, normalised words joined by spaces


def _add(table: dict, key: tuple, doc: int, task_of) -> None:
    """table[key] = first doc per task holding key (an int, or a tuple when several tasks do)."""
    have = table.get(key)
    if have is None:
        table[key] = doc
        return
    docs = have if isinstance(have, tuple) else (have,)
    if any(task_of(d) == task_of(doc) for d in docs):
        return
    table[key] = docs + (doc,)


class BenchmarkIndex:
    """Every n-gram of every benchmark document, and the whole text of the short ones."""

    def __init__(self, documents: Iterable[BenchmarkDocument], n: int = DEFAULT_N):
        if not isinstance(n, int) or n < MIN_N:
            raise DecontaminationInputError(f"--n must be an integer >= {MIN_N}, got {n!r}")
        self.n = n
        self.chunk = (n + 1) // 2
        self.docs: list[tuple[str, int | str]] = []
        self.ngrams: dict[tuple, int | tuple] = {}
        self.short: dict[tuple, int | tuple] = {}             # short document words -> docs
        self.short_lengths: list[int] = []
        self._long_chunks: set[tuple] = set()
        self._short_chunks: dict[int, set[tuple]] = {}        # chunk size -> c-grams of short docs
        self.empty_documents = 0
        self.docs_per_task: dict[str, int] = {}
        task_of = self.task_of
        n, c = self.n, self.chunk
        ngrams = self.ngrams
        lengths = set()
        for doc in documents:
            words = tuple(map(sys.intern, normalize_words(doc.text)))
            self.docs_per_task[doc.task] = self.docs_per_task.get(doc.task, 0) + 1
            if not words:
                self.empty_documents += 1
                continue
            index = len(self.docs)
            self.docs.append((doc.task, doc.doc_id))
            if len(words) >= n:
                for gram in zip(*[words[i:] for i in range(n)]):
                    have = ngrams.get(gram)
                    if have is None:  # the common case, inline: ~0.5M n-grams
                        ngrams[gram] = index
                    elif not (type(have) is int and self.docs[have][0] == doc.task):
                        _add(ngrams, gram, index, task_of)
                self._long_chunks.update(zip(*[words[i:] for i in range(c)]))
            else:
                _add(self.short, words, index, task_of)
                lengths.add(len(words))
                sc = (len(words) + 1) // 2
                self._short_chunks.setdefault(sc, set()).update(
                    words[i:i + sc] for i in range(len(words) - sc + 1))
        self.short_lengths = sorted(lengths)

    def task_of(self, doc: int) -> str:
        return self.docs[doc][0]

    @property
    def tasks(self) -> list[str]:
        return list(self.docs_per_task)

    def stats(self) -> dict:
        return {"n": self.n, "documents": len(self.docs) + self.empty_documents,
                "ngrams": len(self.ngrams), "short_documents": sum(1 if isinstance(v, int) else len(v)
                                                                    for v in self.short.values()),
                "short_lengths": self.short_lengths, "empty_documents": self.empty_documents}

    def _screen(self, words: list[str]) -> bool:
        """True when the line may share an n-gram (or a short document) with the benchmark."""
        if len(words) >= self.chunk and not self._long_chunks.isdisjoint(zip(*[iter(words)] * self.chunk)):
            return True
        for size, chunks in self._short_chunks.items():
            if len(words) >= size and not chunks.isdisjoint(zip(*[iter(words)] * size)):
                return True
        return False

    def matches(self, words: list[str]) -> list[Match]:
        """One Match per (benchmark task, shared n-gram) in a normalised line; [] when clean."""
        if not self._screen(words):
            return []
        found: dict[tuple, int | tuple] = {}
        if len(words) >= self.n:
            for gram in zip(*[words[i:] for i in range(self.n)]):
                docs = self.ngrams.get(gram)
                if docs is not None and gram not in found:
                    found[gram] = docs
        for length in self.short_lengths:
            if length > len(words):
                break
            for gram in zip(*[words[i:] for i in range(length)]):
                docs = self.short.get(gram)
                if docs is not None and gram not in found:
                    found[gram] = docs
        out = []
        for gram, docs in found.items():
            for d in (docs if isinstance(docs, tuple) else (docs,)):
                task, doc_id = self.docs[d]
                out.append(Match(task, doc_id, " ".join(gram)))
        return out
