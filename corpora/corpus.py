"""The bag-of-words value the models train on, and its on-disk form.

A :class:`Corpus` bundles a CSR count matrix (docs x words), the vocabulary, document ids,
optional labels and optional raw text. A :class:`Dataset` is a train split, an optional test
split sharing one vocabulary, and the summary of how it was prepared. Both are saved as plain
files (``.npz`` without pickle, JSON, Parquet), written atomically.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from corpora.errors import CorpusError
from corpora.vocabulary import Vocabulary

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Corpus:
    """Documents as word counts over a fixed vocabulary.

    Attributes
    ----------
    X : scipy.sparse.csr_matrix, shape (n_docs, n_words)
        Word counts (int32).
    vocabulary : Vocabulary
    doc_ids : tuple of str, length n_docs
    labels : tuple of (str or None), length n_docs, or None when the source has no labels
    texts : tuple of str, length n_docs, or None when raw text is not kept
    """

    X: sp.csr_matrix
    vocabulary: Vocabulary
    doc_ids: tuple[str, ...]
    labels: tuple[str | None, ...] | None = None
    texts: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        X = sp.csr_matrix(self.X)
        if X.dtype != np.int32:
            if X.nnz and (np.any(X.data < 0) or np.any(X.data != np.round(X.data))):
                raise CorpusError("word counts must be non-negative integers")
            X = X.astype(np.int32)
        X.sum_duplicates()
        X.sort_indices()
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "doc_ids", tuple(str(d) for d in self.doc_ids))
        n_docs, n_words = X.shape
        if n_words != len(self.vocabulary):
            raise CorpusError(
                f"count matrix has {n_words} columns but the vocabulary has {len(self.vocabulary)} words"
            )
        if len(self.doc_ids) != n_docs:
            raise CorpusError(f"{len(self.doc_ids)} document ids for {n_docs} documents")
        for name in ("labels", "texts"):
            value = getattr(self, name)
            if value is not None:
                value = tuple(value)
                object.__setattr__(self, name, value)
                if len(value) != n_docs:
                    raise CorpusError(f"{len(value)} {name} for {n_docs} documents")

    @property
    def n_docs(self) -> int:
        return self.X.shape[0]

    @property
    def n_words(self) -> int:
        return self.X.shape[1]

    @property
    def doc_lengths(self) -> np.ndarray:
        """Tokens per document, shape (n_docs,)."""
        return np.asarray(self.X.sum(axis=1)).ravel().astype(np.int64)

    @property
    def n_tokens(self) -> int:
        return int(self.X.sum())

    @property
    def has_labels(self) -> bool:
        return self.labels is not None and any(lab is not None for lab in self.labels)

    def subset(self, index: Sequence[int] | np.ndarray) -> Corpus:
        """The documents at ``index`` (positions), in that order."""
        index = np.asarray(index, dtype=np.int64)
        pick = lambda seq: None if seq is None else tuple(seq[i] for i in index)  # noqa: E731
        return Corpus(
            X=self.X[index],
            vocabulary=self.vocabulary,
            doc_ids=pick(self.doc_ids),
            labels=pick(self.labels),
            texts=pick(self.texts),
        )

    def drop_empty(self) -> tuple[Corpus, int]:
        """This corpus without documents that have no tokens, and how many were dropped."""
        keep = np.flatnonzero(self.doc_lengths > 0)
        if len(keep) == self.n_docs:
            return self, 0
        return self.subset(keep), self.n_docs - len(keep)

    def summary(self) -> dict:
        lengths = self.doc_lengths
        return {
            "n_docs": self.n_docs,
            "n_tokens": self.n_tokens,
            "mean_length": float(lengths.mean()) if len(lengths) else 0.0,
        }

    # --- on-disk form -------------------------------------------------------------------
    def _write(self, folder: Path, name: str) -> None:
        sp.save_npz(folder / f"{name}.npz", self.X, compressed=True)
        table = pd.DataFrame({"doc_id": list(self.doc_ids)})
        if self.labels is not None:
            table["label"] = pd.Series(list(self.labels), dtype="object")
        if self.texts is not None:
            table["text"] = list(self.texts)
        table.to_parquet(folder / f"{name}_docs.parquet", index=False)

    @classmethod
    def _read(cls, folder: Path, name: str, vocabulary: Vocabulary) -> Corpus:
        try:
            X = sp.load_npz(folder / f"{name}.npz")
            table = pd.read_parquet(folder / f"{name}_docs.parquet")
        except FileNotFoundError as exc:
            raise CorpusError(
                f"corpus directory {folder} is incomplete: {Path(exc.filename or name).name} is missing; "
                "prepare it again with 'docmodel prepare'"
            ) from None
        except (ValueError, OSError) as exc:
            raise CorpusError(f"corpus directory {folder}: cannot read split {name!r} ({exc})") from None
        labels = None
        if "label" in table:
            labels = tuple(None if pd.isna(v) else str(v) for v in table["label"])
        texts = tuple(table["text"].astype(str)) if "text" in table else None
        return cls(
            X=X.tocsr(),
            vocabulary=vocabulary,
            doc_ids=tuple(table["doc_id"].astype(str)),
            labels=labels,
            texts=texts,
        )


@dataclass(frozen=True)
class Dataset:
    """A train split, an optional test split over the same vocabulary, and how they were made.

    Attributes
    ----------
    train : Corpus
    test : Corpus or None
    info : dict
        Preparation summary and options (JSON-serialisable). The options of a corpus prepared
        with bigrams hold the phrases it learned (``info["options"]["phrases"]``), so that new
        documents are tokenized as it was; corpora saved before that hold none.
    """

    train: Corpus
    test: Corpus | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.test is not None and self.test.vocabulary != self.train.vocabulary:
            raise CorpusError("train and test splits must share one vocabulary")

    @property
    def vocabulary(self) -> Vocabulary:
        return self.train.vocabulary

    def summary(self) -> dict:
        """The figures ``docmodel prepare`` prints (and writes with ``--json``)."""
        test = self.test
        out = {
            "n_docs_train": self.train.n_docs,
            "n_docs_test": test.n_docs if test is not None else 0,
            "n_words": len(self.vocabulary),
            "n_tokens_train": self.train.n_tokens,
            "n_tokens_test": test.n_tokens if test is not None else 0,
            "n_dropped_empty": int(self.info.get("n_dropped_empty", 0)),
            "mean_length_train": self.train.summary()["mean_length"],
            "mean_length_test": test.summary()["mean_length"] if test is not None else 0.0,
            "has_labels": self.train.has_labels,
        }
        return out

    def save(self, folder: str | Path) -> Path:
        """Write the dataset to ``folder`` atomically (a complete folder or none at all)."""
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            self.vocabulary.save(tmp / "vocab.txt")
            self.train._write(tmp, "train")
            if self.test is not None:
                self.test._write(tmp, "test")
            meta = {
                "format": "docmodel-corpus",
                "format_version": FORMAT_VERSION,
                "splits": ["train"] + (["test"] if self.test is not None else []),
                "summary": self.summary(),
                "info": self.info,
            }
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
            _replace_dir(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Dataset:
        """Read a folder written by :meth:`save`."""
        folder = Path(folder)
        meta_path = folder / "meta.json"
        if not folder.is_dir():
            raise CorpusError(f"corpus directory not found: {folder}; create it with 'docmodel prepare'")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CorpusError(
                f"{folder} is not a prepared corpus (no meta.json); create it with 'docmodel prepare'"
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CorpusError(f"{meta_path} is not valid JSON ({exc}); prepare the corpus again") from None
        if not isinstance(meta, dict) or meta.get("format") != "docmodel-corpus":
            raise CorpusError(f"{meta_path} does not describe a docmodel corpus")
        if meta.get("format_version") != FORMAT_VERSION:
            raise CorpusError(
                f"{folder} has corpus format version {meta.get('format_version')!r}; this docmodel reads "
                f"version {FORMAT_VERSION}. Prepare the corpus again with this version."
            )
        vocabulary = Vocabulary.from_file(folder / "vocab.txt")
        train = Corpus._read(folder, "train", vocabulary)
        test = Corpus._read(folder, "test", vocabulary) if "test" in meta.get("splits", []) else None
        return cls(train=train, test=test, info=meta.get("info", {}))


def _replace_dir(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``; an existing ``target`` is swapped out only once ``new`` is complete."""
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
        os.rmdir(old)
        os.rename(target, old)
        try:
            os.rename(new, target)
        except BaseException:
            os.rename(old, target)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(new, target)
