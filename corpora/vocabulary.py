"""A frozen vocabulary: word ids never change once built.

Built from the training documents only (document-frequency filters, then the most frequent
words), or read from a file so that new documents can be scored by an existing model.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path

from corpora.errors import CorpusError


@dataclass(frozen=True)
class Vocabulary:
    """An ordered, immutable list of words; word ``i`` has id ``i`` (0-based).

    Attributes
    ----------
    words : tuple of str
        The words, in id order.
    """

    words: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        words = tuple(self.words)
        object.__setattr__(self, "words", words)
        index = {w: i for i, w in enumerate(words)}
        if len(index) != len(words):
            dup = next(w for w, c in Counter(words).items() if c > 1)
            raise CorpusError(f"vocabulary has the word {dup!r} more than once; each word must be unique")
        object.__setattr__(self, "_index", index)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self._index

    def __iter__(self):
        return iter(self.words)

    def id(self, word: str) -> int | None:
        """Id of ``word``, or None if it is not in the vocabulary."""
        return self._index.get(word)

    @property
    def index(self) -> dict[str, int]:
        """Word -> id mapping (a copy: the vocabulary stays frozen)."""
        return dict(self._index)

    @classmethod
    def build(
        cls,
        token_docs: Iterable[Sequence[str]],
        *,
        min_df: int = 1,
        max_df: float = 1.0,
        max_words: int | None = None,
    ) -> Vocabulary:
        """Build a vocabulary from tokenised (training) documents.

        Parameters
        ----------
        token_docs : iterable of sequences of str
            Tokens of each document.
        min_df : int
            Keep words that occur in at least this many documents.
        max_df : float
            Keep words that occur in at most this fraction of documents (0 < max_df <= 1).
        max_words : int or None
            Keep at most this many words, the most frequent (total count) first; ties are
            broken alphabetically so the result is deterministic.

        Returns
        -------
        Vocabulary
            Words ordered by decreasing total count, then alphabetically.
        """
        term_count: Counter[str] = Counter()
        doc_count: Counter[str] = Counter()
        n_docs = 0
        for tokens in token_docs:
            n_docs += 1
            term_count.update(tokens)
            doc_count.update(set(tokens))
        words = list(term_count)
        return cls.from_counts(
            words,
            [term_count[w] for w in words],
            [doc_count[w] for w in words],
            n_docs,
            min_df=min_df,
            max_df=max_df,
            max_words=max_words,
        )

    @classmethod
    def from_counts(
        cls,
        words: Sequence[str],
        term_counts: Sequence[int],
        doc_counts: Sequence[int],
        n_docs: int,
        *,
        min_df: int = 1,
        max_df: float = 1.0,
        max_words: int | None = None,
    ) -> Vocabulary:
        """Build a vocabulary from per-word counts over ``n_docs`` (training) documents.

        The same selection as :meth:`build`, for callers that count with arrays.

        Parameters
        ----------
        words : sequence of str, length n_types
            Distinct candidate words.
        term_counts, doc_counts : sequences of int, length n_types
            Total occurrences of each word, and the number of documents it occurs in.
        n_docs : int
            Number of documents counted.
        min_df, max_df, max_words
            As in :meth:`build`.

        Returns
        -------
        Vocabulary
            Words ordered by decreasing total count, then alphabetically.
        """
        if isinstance(min_df, bool) or not isinstance(min_df, Integral) or min_df < 1:
            raise CorpusError(f"min_df must be an integer of at least 1, got {min_df!r}")
        if isinstance(max_df, bool) or not isinstance(max_df, Real) or not 0.0 < max_df <= 1.0:
            raise CorpusError(f"max_df must be a fraction in (0, 1], got {max_df!r}")
        if max_words is not None and (
            isinstance(max_words, bool) or not isinstance(max_words, Integral) or max_words < 1
        ):
            raise CorpusError(
                f"max_words must be an integer of at least 1 (or None for no limit), got {max_words!r}"
            )
        if not len(words) == len(term_counts) == len(doc_counts):
            raise CorpusError(
                f"{len(words)} words, {len(term_counts)} term counts and "
                f"{len(doc_counts)} document counts differ in length"
            )
        max_doc_count = max_df * n_docs
        kept = [k for k, df in enumerate(doc_counts) if min_df <= df <= max_doc_count]
        kept.sort(key=lambda k: (-term_counts[k], words[k]))
        if max_words is not None:
            kept = kept[:max_words]
        return cls(tuple(words[k] for k in kept))

    @classmethod
    def from_file(cls, path: str | Path) -> Vocabulary:
        """Read a vocabulary file: one word per line, optionally followed by other columns.

        Line ``k`` (1-based) is word id ``k - 1``. This reads ``vocab.new`` files
        (``word count``) as well as plain word lists.
        """
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise CorpusError(f"vocabulary file not found: {path}") from None
        except OSError as exc:
            raise CorpusError(f"cannot read vocabulary file {path}: {exc.strerror}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        words = []
        # Only "\n" ends a line and only spaces and tabs separate columns, so a word holding
        # another Unicode separator (possible with a custom token pattern) reads back intact.
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for lineno, line in enumerate(lines, start=1):
            parts = [p for p in re.split(r"[ \t]+", line.strip(" \t\r")) if p]
            if not parts:
                raise CorpusError(f"{path}:{lineno}: empty line in vocabulary file; expected one word per line")
            words.append(parts[0])
        if not words:
            raise CorpusError(f"vocabulary file {path} is empty; expected one word per line")
        try:
            return cls(tuple(words))
        except CorpusError as exc:
            raise CorpusError(f"{path}: {exc}") from None

    def save(self, path: str | Path) -> None:
        """Write one word per line (UTF-8), readable by :meth:`from_file`."""
        Path(path).write_text("".join(w + "\n" for w in self.words), encoding="utf-8")
