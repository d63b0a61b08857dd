"""Bag-of-words matrices: built from token ids, and read from ``.feat`` and Matrix Market files.

The ``.feat`` format is the one of the NVDM/NVIL 20 Newsgroups data (Miao et al., "Neural
Variational Inference for Text Processing", 2016; Mnih & Gregor, 2014): one document per line,
``label id:count id:count ...``, ids 1-based into a ``vocab.new`` file (one word per line,
optionally followed by other columns). Documents without tokens are skipped and counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from corpora.corpus import Corpus
from corpora.errors import CorpusError
from corpora.vocabulary import Vocabulary

_MAX_COUNT = np.iinfo(np.int32).max
# After the label: whitespace-separated id:count pairs of unsigned integers, or nothing.
_FEAT_PAIRS = re.compile(r"(?:\d+:\d+(?:\s+\d+:\d+)*)?\s*")


@dataclass(frozen=True)
class BowFile:
    """A bag-of-words file as read: the corpus without empty documents, and how many there were.

    Attributes
    ----------
    corpus : Corpus
    n_dropped_empty : int
        Documents (lines, rows) with no tokens, left out of ``corpus``.
    """

    corpus: Corpus
    n_dropped_empty: int


def bag_of_words(ids: np.ndarray, lengths: np.ndarray, n_columns: int) -> sp.csr_matrix:
    """Count matrix from documents given as consecutive runs of token ids.

    Parameters
    ----------
    ids : numpy.ndarray of int, shape (n_tokens,)
        Column ids of all tokens, document after document; each in ``0 .. n_columns - 1``.
    lengths : numpy.ndarray of int, shape (n_docs,)
        Tokens per document (sums to ``n_tokens``).
    n_columns : int

    Returns
    -------
    scipy.sparse.csr_matrix of int32, shape (n_docs, n_columns)
        Canonical (sorted, summed) counts.
    """
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    X = sp.csr_matrix(
        (np.ones(len(ids), dtype=np.int32), np.asarray(ids, dtype=np.int32), indptr),
        shape=(len(lengths), n_columns),
    )
    X.sum_duplicates()
    return X


def remap_columns(X: sp.csr_matrix, column_map: np.ndarray, n_columns: int) -> sp.csr_matrix:
    """Move column ``j`` of ``X`` to ``column_map[j]``, dropping columns mapped to -1.

    Parameters
    ----------
    X : scipy.sparse.csr_matrix, shape (n_docs, n_old)
    column_map : numpy.ndarray of int, shape (n_old,)
        New column of each old one (distinct where not -1), or -1 to drop it.
    n_columns : int
        Number of new columns.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n_docs, n_columns)
    """
    cols = np.asarray(column_map, dtype=np.int32)[X.indices]
    keep = cols >= 0
    # Kept entries per row from a running count of kept entries at the row boundaries.
    kept_before = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(keep, out=kept_before[1:])
    indptr = kept_before[X.indptr]
    out = sp.csr_matrix((X.data[keep], cols[keep], indptr), shape=(X.shape[0], n_columns))
    out.sort_indices()
    return out


def _read_text(path: Path, what: str) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CorpusError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise CorpusError(f"{what} {path} is a folder, not a file") from None
    except OSError as exc:
        raise CorpusError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_feat(path: str | Path, vocabulary: Vocabulary) -> BowFile:
    """Read a ``.feat`` file (``label id:count ...`` per line, ids 1-based into ``vocabulary``).

    Lines without any ``id:count`` pair are skipped and counted. A word id repeated on a line
    has its counts added.

    Parameters
    ----------
    path : str or Path
    vocabulary : Vocabulary
        Word ``k`` (0-based) is id ``k + 1`` in the file.

    Returns
    -------
    BowFile
        ``corpus.X`` has shape (n_docs, len(vocabulary)); labels are the first column as
        strings; document ids are ``"<file stem>-<line number>"``.

    Raises
    ------
    CorpusError
        With ``file:line`` and the problem: a missing label, a token that is not ``id:count``,
        a non-integer id or count, a negative or zero count, an id outside ``1..n_words``.
    """
    path = Path(path)
    text = _read_text(path, "bag-of-words file")
    labels: list[str] = []
    line_numbers: list[int] = []
    n_pairs: list[int] = []
    rests: list[str] = []
    n_empty = 0
    fullmatch = _FEAT_PAIRS.fullmatch
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.split(None, 1)
        if not parts:
            n_empty += 1
            continue
        rest = parts[1] if len(parts) > 1 else ""
        if ":" in parts[0] or not fullmatch(rest):
            raise CorpusError(f"{path}:{lineno}: {_describe_bad_feat_line(parts[0], rest)}")
        n = rest.count(":")
        if n == 0:
            n_empty += 1
            continue
        labels.append(parts[0])
        line_numbers.append(lineno)
        n_pairs.append(n)
        rests.append(rest)
    numbers = np.fromstring(" ".join(rests).replace(":", " "), dtype=np.int64, sep=" ")
    ids, counts = numbers[0::2], numbers[1::2]
    n_words = len(vocabulary)
    for bad, problem in (
        (
            ids > n_words,
            lambda i, c: (
                f"word id {i} is out of range: the vocabulary has {n_words} words (ids 1..{n_words})"
            ),
        ),
        (ids < 1, lambda i, c: f"word id {i} is out of range: ids are 1-based (1..{n_words})"),
        (counts < 1, lambda i, c: f"count {c} for word id {i}: counts must be positive integers"),
        (counts > _MAX_COUNT, lambda i, c: f"count {c} for word id {i} is too large"),
    ):
        if bad.any():
            first = int(np.argmax(bad))
            doc = int(np.searchsorted(np.cumsum(n_pairs), first, side="right"))
            raise CorpusError(f"{path}:{line_numbers[doc]}: {problem(ids[first], counts[first])}")
    indptr = np.zeros(len(n_pairs) + 1, dtype=np.int64)
    np.cumsum(n_pairs, out=indptr[1:])
    X = sp.csr_matrix(
        (counts.astype(np.int32), (ids - 1).astype(np.int32), indptr), shape=(len(n_pairs), n_words)
    )
    corpus = Corpus(
        X=X,
        vocabulary=vocabulary,
        doc_ids=tuple(f"{path.stem}-{n}" for n in line_numbers),
        labels=tuple(labels),
    )
    return BowFile(corpus, n_empty)


def _describe_bad_feat_line(label: str, rest: str) -> str:
    if ":" in label:
        return f"line starts with {label!r}; expected a label, then id:count pairs"
    for token in rest.split():
        word_id, colon, count = token.partition(":")
        if not colon:
            return f"{token!r} is not an id:count pair"
        if not word_id.isdigit():
            return f"word id {word_id!r} in {token!r} is not a positive integer"
        if count.startswith("-") and count[1:].isdigit():
            return f"negative count {count} for word id {word_id}: counts must be positive integers"
        if not count.isdigit():
            return f"count {count!r} for word id {word_id} is not an integer"
    return f"cannot parse {rest[:60]!r}; expected whitespace-separated id:count pairs"


def read_mtx(path: str | Path, vocabulary: Vocabulary) -> BowFile:
    """Read a Matrix Market count matrix (docs x words) over ``vocabulary``.

    A matrix of shape (n_words, n_docs), i.e. whose *rows* match the vocabulary length while
    its columns do not, is taken to be words x docs and transposed. A square matrix is read as
    docs x words. Rows (documents) without tokens are skipped and counted.

    Parameters
    ----------
    path : str or Path
    vocabulary : Vocabulary

    Returns
    -------
    BowFile
        ``corpus.X`` has shape (n_docs, len(vocabulary)); no labels; document ids are
        ``"<file stem>-<row number>"`` (1-based, counted before empty rows are skipped).
    """
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"bag-of-words file not found: {path}")
    try:
        M = scipy.io.mmread(path)
    except (ValueError, OSError, IndexError, TypeError) as exc:
        raise CorpusError(f"{path} is not a readable Matrix Market file ({exc})") from None
    M = sp.csr_matrix(M)
    if np.iscomplexobj(M.data):
        raise CorpusError(f"{path}: counts must be non-negative integers, not complex numbers")
    n_words = len(vocabulary)
    if M.shape[1] != n_words:
        if M.shape[0] != n_words:
            raise CorpusError(
                f"{path}: matrix of shape {M.shape[0]} x {M.shape[1]} matches neither docs x words nor "
                f"words x docs for a vocabulary of {n_words} words"
            )
        M = M.T.tocsr()
    if M.nnz and (np.any(M.data < 0) or np.any(M.data != np.round(M.data))):
        raise CorpusError(f"{path}: counts must be non-negative integers")
    if M.nnz and M.data.max() > _MAX_COUNT:
        raise CorpusError(f"{path}: count {M.data.max()} is too large")
    M = M.astype(np.int32)
    M.eliminate_zeros()
    lengths = np.diff(M.indptr)
    keep = np.flatnonzero(lengths > 0)
    corpus = Corpus(
        X=M[keep],
        vocabulary=vocabulary,
        doc_ids=tuple(f"{path.stem}-{i + 1}" for i in keep),
    )
    return BowFile(corpus, int(M.shape[0] - len(keep)))


def load_feat(path: str | Path, vocab_path: str | Path) -> Corpus:
    """Read a ``.feat`` file with its vocabulary file; see :func:`read_feat`.

    Returns
    -------
    Corpus
        X of shape (n_docs, n_words), documents without tokens left out.
    """
    return read_feat(path, Vocabulary.from_file(vocab_path)).corpus


def load_mtx(path: str | Path, vocab_path: str | Path) -> Corpus:
    """Read a Matrix Market file (docs x words, or words x docs: then transposed) with its
    vocabulary file; see :func:`read_mtx`.

    Returns
    -------
    Corpus
        X of shape (n_docs, n_words), documents without tokens left out.
    """
    return read_mtx(path, Vocabulary.from_file(vocab_path)).corpus
