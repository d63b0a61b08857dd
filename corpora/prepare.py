"""Raw documents (or bag-of-words files) -> a :class:`~corpora.corpus.Dataset` ready to train on.

:func:`prepare` loads the documents, splits them into train and test, tokenizes them
(:mod:`corpora.tokenize`), builds a frozen vocabulary on the *training* split only (or uses a
given one), and counts words into CSR matrices with array operations (:mod:`corpora.bow`).

With the options of the NVDM recipe (``../shared/data/20news_nvdm/SOURCE.md``) and its
``vocab.new``, the raw 20 Newsgroups "bydate" tarball gives exactly the bags of words of the
NVIL/NVDM benchmark files::

    PrepareOptions(strip_headers="first-blank-line", token_pattern="[a-z]+",
                   stopwords="none", min_token_length=1, min_doc_tokens=2)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from corpora.bow import bag_of_words, read_feat, read_mtx, remap_columns
from corpora.corpus import Corpus, Dataset
from corpora.documents import Document
from corpora.errors import CorpusError, NoDocumentsLeft
from corpora.loaders import LoadedDocuments, detect_format, load_documents, split_of
from corpora.tokenize import Tokenizer, TokenizerConfig, _check_int
from corpora.vocabulary import Vocabulary

log = logging.getLogger(__name__)

BOW_FORMATS = ("feat", "mtx")
DEFAULT_TEST_FRACTION = 0.2
_MAX_LISTED_SKIPS = 1000


@dataclass(frozen=True)
class PrepareOptions(TokenizerConfig):
    """Every setting of :func:`prepare`: the tokenizer's (see :class:`TokenizerConfig`) and these.

    Attributes
    ----------
    min_df : int
        Keep words that occur in at least this many training documents.
    max_df : float
        Keep words that occur in at most this fraction of training documents (those kept by
        ``min_doc_tokens``).
    max_words : int or None
        Vocabulary size: the most frequent words (total count in the training split; ties
        alphabetically) after the document-frequency filters. None: no limit.
    min_doc_tokens : int
        Drop documents with fewer tokens than this *before* vocabulary filtering (step 4 of
        the NVDM recipe). Documents left without tokens after vocabulary filtering are always
        dropped too.
    test_fraction : float or None
        Share of the documents held out at random (seeded) as the test split. None (default):
        the source's own split when it has one (a folder or tarball holding both
        ``20news-bydate-train`` and ``20news-bydate-test``), otherwise 0.2. 0 keeps every
        document in the training split. Ignored when an explicit test source is given.
    seed : int
        Seed of the random split.
    keep_text : bool
        Keep each document's raw text in the corpus (for display).

    The defaults (english stop words, ``min_df=2``, ``max_df=0.95``, 2,000 words) suit topic
    models on ordinary collections, from the 300 short Lee news stories to 20 Newsgroups.
    """

    min_df: int = 2
    max_df: float = 0.95
    max_words: int | None = 2000
    min_doc_tokens: int = 1
    test_fraction: float | None = None
    seed: int = 0
    keep_text: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_int("min_df", self.min_df, 1)
        if (
            isinstance(self.max_df, bool)
            or not isinstance(self.max_df, (int, float))
            or not 0 < self.max_df <= 1
        ):
            raise CorpusError(f"max_df must be a fraction in (0, 1], got {self.max_df!r}")
        if self.max_words is not None:
            _check_int("max_words", self.max_words, 1)
        _check_int("min_doc_tokens", self.min_doc_tokens, 1)
        if self.test_fraction is not None and (
            isinstance(self.test_fraction, bool)
            or not isinstance(self.test_fraction, (int, float))
            or not 0 <= self.test_fraction < 1
        ):
            raise CorpusError(f"test_fraction must be in [0, 1), got {self.test_fraction!r}")
        _check_int("seed", self.seed, 0)
        if not isinstance(self.keep_text, bool):
            raise CorpusError(f"keep_text must be true or false, got {self.keep_text!r}")

    @property
    def tokenizer_config(self) -> TokenizerConfig:
        """The tokenizer part of these options."""
        return TokenizerConfig(**{f.name: getattr(self, f.name) for f in fields(TokenizerConfig)})

    def to_dict(self) -> dict:
        """The options as plain JSON values (``phrases``: a list of ``[phrase, score]`` lists)."""
        out = asdict(self)
        out["extra_stopwords"] = list(self.extra_stopwords)
        if self.phrases is not None:
            out["phrases"] = [list(pair) for pair in self.phrases]
        return out


def prepare(
    source: str | os.PathLike | LoadedDocuments | Sequence[Document],
    *,
    test: str | os.PathLike | LoadedDocuments | Sequence[Document] | None = None,
    vocabulary: Vocabulary | str | os.PathLike | None = None,
    options: PrepareOptions | None = None,
    **loader_kwargs,
) -> Dataset:
    """Build a train/test :class:`Dataset` from raw documents or bag-of-words files.

    Parameters
    ----------
    source : path, named source, LoadedDocuments or sequence of Document
        Anything :func:`corpora.loaders.load_documents` reads, or a ``.feat`` / ``.mtx``
        bag-of-words file (then the tokenizer and vocabulary-filter options do not apply and
        the vocabulary is the file's: ``vocabulary``, or ``vocab.new`` beside the file).
    test : same kinds as ``source``, optional
        Explicit test documents (of the same kind as ``source``).
    vocabulary : Vocabulary or path, optional
        A fixed vocabulary: tokens outside it are dropped and no vocabulary is built.
    options : PrepareOptions, optional
    **loader_kwargs
        Passed to :func:`~corpora.loaders.load_documents` (``fmt``, ``text_column``,
        ``label_column``, ``id_column``, ``encoding``, ...).

    Returns
    -------
    Dataset
        ``train`` and ``test`` (None when there is no test split) over one vocabulary;
        ``info`` records the source, options, split, skipped files and dropped documents
        (``n_dropped_short``: fewer than ``min_doc_tokens`` tokens; ``n_dropped_empty``: no
        token left in the vocabulary; totals and per split under ``splits``). With
        ``bigrams``, ``info["options"]["phrases"]`` holds the phrases applied: those learned on
        the training split, or ``options.phrases`` when given (then nothing is learned, as for
        new documents tokenized like a saved corpus).

    Raises
    ------
    CorpusError
        For unreadable sources, bad options, or when no document is left after filtering.
    """
    options = options if options is not None else PrepareOptions()
    if isinstance(vocabulary, (str, os.PathLike)):
        vocabulary = Vocabulary.from_file(vocabulary)
    fmt = _source_format(source, loader_kwargs.get("fmt"))
    test_fmt = None if test is None else _source_format(test, loader_kwargs.get("fmt"))
    if test_fmt is not None and (fmt in BOW_FORMATS) != (test_fmt in BOW_FORMATS):
        raise CorpusError(
            f"the source is {fmt!r} but the test source is {test_fmt!r}: give both as raw documents "
            "or both as bag-of-words files"
        )
    info: dict = {
        "source": _describe(source),
        "test_source": None if test is None else _describe(test),
        "format": fmt,
        "options": options.to_dict(),
    }
    if fmt in BOW_FORMATS:
        columns = [k for k in ("text_column", "label_column", "id_column") if loader_kwargs.get(k)]
        if columns:
            flags = ", ".join("--" + k.replace("_", "-") for k in columns)
            raise CorpusError(
                f"{flags} only applies to tables, but {info['source']} is a bag-of-words file ({fmt})"
            )
        return _prepare_bow(source, fmt, test, test_fmt, vocabulary, options, info)
    return _prepare_text(source, test, vocabulary, options, info, loader_kwargs)


def _source_format(source, fmt: str | None) -> str:
    if not isinstance(source, (str, os.PathLike)):
        return "documents"
    if fmt is not None:
        return fmt  # checked by the reader
    return detect_format(source)  # raises "file not found" for a missing path


def _describe(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, LoadedDocuments):
        return source.source or "documents"
    return "documents"


def _load(source, loader_kwargs: dict) -> LoadedDocuments:
    if isinstance(source, LoadedDocuments):
        return source
    if isinstance(source, (str, os.PathLike)):
        return load_documents(source, **loader_kwargs)
    docs = tuple(source)
    if not all(isinstance(d, Document) for d in docs):
        raise CorpusError("documents must be corpora.Document values (id, text, label)")
    return LoadedDocuments(docs, (), "documents")


def _split(
    loaded: LoadedDocuments, test: LoadedDocuments | None, options: PrepareOptions
) -> tuple[list[Document], list[Document] | None, str]:
    docs = list(loaded.documents)
    if test is not None:
        return docs, list(test.documents), "test source"
    if options.test_fraction is None:
        splits = [split_of(d.id) for d in docs]
        if "train" in splits and "test" in splits:
            train = [d for d, s in zip(docs, splits) if s == "train"]
            held = [d for d, s in zip(docs, splits) if s == "test"]
            others = len(docs) - len(train) - len(held)
            if others:
                raise CorpusError(
                    f"{loaded.source} holds a train and a test folder but also {others} documents in "
                    "neither; give --test-fraction to split all documents at random instead"
                )
            return train, held, "source folders (train/test)"
    fraction = DEFAULT_TEST_FRACTION if options.test_fraction is None else options.test_fraction
    held = _held_out(len(docs), fraction, options.seed)
    if held is None:
        return docs, None, "none"
    train = [d for d, h in zip(docs, held) if not h]
    return (
        train,
        [d for d, h in zip(docs, held) if h],
        f"random ({fraction:g}, seed {options.seed})",
    )


def _held_out(n_docs: int, fraction: float, seed: int) -> np.ndarray | None:
    """Boolean mask, shape (n_docs,), of a seeded random test split; None when it is empty.

    At least one document stays on each side when ``fraction > 0`` and there are two or more.
    """
    n_test = int(round(fraction * n_docs))
    if fraction > 0 and n_docs >= 2:
        n_test = min(max(n_test, 1), n_docs - 1)
    if n_test == 0:
        return None
    held = np.zeros(n_docs, dtype=bool)
    held[np.random.default_rng(seed).permutation(n_docs)[:n_test]] = True
    return held


def _prepare_text(source, test, vocabulary, options, info, loader_kwargs) -> Dataset:
    loaded = _load(source, loader_kwargs)
    loaded_test = None if test is None else _load(test, loader_kwargs)
    skipped = list(loaded.skipped) + (list(loaded_test.skipped) if loaded_test is not None else [])
    train_docs, test_docs, split = _split(loaded, loaded_test, options)
    log.info(
        "loaded %d documents (%d files skipped); split %s: %d train, %d test",
        len(loaded) + (len(loaded_test) if loaded_test is not None else 0),
        len(skipped),
        split,
        len(train_docs),
        len(test_docs or ()),
    )
    info["split"] = split
    info["n_skipped_files"] = len(skipped)
    info["skipped_files"] = [list(pair) for pair in skipped[:_MAX_LISTED_SKIPS]]

    tokenizer = Tokenizer(options.tokenizer_config)
    if options.bigrams:
        if options.phrases is None:
            tokenizer = tokenizer.fit_phrases(d.text for d in train_docs)
            # Saved with the options, so that new documents get these phrases, never new ones.
            info["options"] = replace(options, phrases=tokenizer.config.phrases).to_dict()
            info["bigram_phrases"] = "learned from the training split"
        else:
            info["bigram_phrases"] = "given"
        info["n_bigram_phrases"] = len(tokenizer.config.phrases)
    groups = [train_docs] + ([test_docs] if test_docs is not None else [])
    encoded = tokenizer.encode([[d.text for d in docs] for docs in groups])
    n_types = len(encoded.types)
    log.info("tokenized: %d distinct tokens", n_types)

    # Step 4 of the NVDM recipe: drop short documents before any vocabulary filtering.
    matrices, kept_docs, n_short = [], [], []
    for docs, ids, lengths in zip(groups, encoded.ids, encoded.lengths):
        X = bag_of_words(ids, lengths, n_types)
        keep = np.flatnonzero(lengths >= options.min_doc_tokens)
        matrices.append(X[keep])
        kept_docs.append([docs[i] for i in keep])
        n_short.append(len(docs) - len(keep))

    if vocabulary is None:
        X = matrices[0]
        term_counts = np.asarray(X.sum(axis=0)).ravel()
        doc_counts = np.bincount(X.indices, minlength=n_types)
        vocabulary = Vocabulary.from_counts(
            encoded.types,
            term_counts.tolist(),
            doc_counts.tolist(),
            X.shape[0],
            min_df=options.min_df,
            max_df=options.max_df,
            max_words=options.max_words,
        )
        info["vocabulary"] = "built from the training split"
    else:
        info["vocabulary"] = "given"
    type_to_word = np.array(
        [vocabulary.id(t) if t in vocabulary else -1 for t in encoded.types], dtype=np.int32
    )

    log.info("vocabulary: %d words (%s)", len(vocabulary), info["vocabulary"])
    names = ("train", "test")
    corpora_, info["splits"] = [], {}
    for name, docs, X, short in zip(names, kept_docs, matrices, n_short):
        outside = int(X[:, np.flatnonzero(type_to_word < 0)].sum())
        X = remap_columns(X, type_to_word, len(vocabulary))
        corpus, n_empty = Corpus(
            X=X,
            vocabulary=vocabulary,
            doc_ids=tuple(d.id for d in docs),
            labels=tuple(d.label for d in docs) if any(d.label is not None for d in docs) else None,
            texts=tuple(d.text for d in docs) if options.keep_text else None,
        ).drop_empty()
        corpora_.append(corpus)
        info["splits"][name] = _split_info(len(docs) + short, short, n_empty, corpus)
        info["splits"][name]["n_tokens_outside_vocabulary"] = outside
    return _finish(corpora_, info, explicit_test=test is not None)


def _prepare_bow(source, fmt, test, test_fmt, vocabulary, options, info) -> Dataset:
    if not isinstance(source, (str, os.PathLike)) or (
        test is not None and not isinstance(test, (str, os.PathLike))
    ):
        raise CorpusError("bag-of-words sources must be file paths")
    if vocabulary is None:
        beside = Path(source).with_name("vocab.new")
        if not beside.is_file():
            raise CorpusError(
                f"{source} is a bag-of-words file ({fmt}) and needs its vocabulary: give --vocab "
                "(one word per line, line k = word id k)"
            )
        vocabulary = Vocabulary.from_file(beside)
    read = {"feat": read_feat, "mtx": read_mtx}
    files = [read[fmt](source, vocabulary)]
    if test is not None:
        files.append(read[test_fmt](test, vocabulary))
    info["vocabulary"] = "from the bag-of-words vocabulary file"
    info["note"] = "bag-of-words input: the tokenizer options and vocabulary filters do not apply"
    info["n_skipped_files"] = 0
    info["skipped_files"] = []
    if test is not None:
        info["split"] = "test source"
        corpora_ = [f.corpus for f in files]
    else:
        corpus = files[0].corpus
        fraction = DEFAULT_TEST_FRACTION if options.test_fraction is None else options.test_fraction
        held = _held_out(corpus.n_docs, fraction, options.seed)
        if held is not None:
            corpora_ = [corpus.subset(np.flatnonzero(~held)), corpus.subset(np.flatnonzero(held))]
            info["split"] = f"random ({fraction:g}, seed {options.seed})"
        else:
            corpora_ = [corpus]
            info["split"] = "none"
    # The files' empty lines count as empty documents; then min_doc_tokens applies.
    empties = (
        [f.n_dropped_empty for f in files] if test is not None else [files[0].n_dropped_empty, 0]
    )
    info["splits"] = {}
    out = []
    for name, corpus, n_empty in zip(("train", "test"), corpora_, empties):
        keep = np.flatnonzero(corpus.doc_lengths >= options.min_doc_tokens)
        short = corpus.n_docs - len(keep)
        corpus = corpus.subset(keep) if short else corpus
        out.append(corpus)
        info["splits"][name] = _split_info(corpus.n_docs + short + n_empty, short, n_empty, corpus)
    return _finish(out, info, explicit_test=test is not None)


def _split_info(n_loaded: int, n_short: int, n_empty: int, corpus: Corpus) -> dict:
    return {
        "n_loaded": int(n_loaded),
        "n_dropped_short": int(n_short),
        "n_dropped_empty": int(n_empty),
        "n_docs": corpus.n_docs,
        "n_tokens": corpus.n_tokens,
    }


def _finish(corpora_: list[Corpus], info: dict, *, explicit_test: bool) -> Dataset:
    splits = info["splits"]
    info["n_dropped_short"] = sum(s["n_dropped_short"] for s in splits.values())
    info["n_dropped_empty"] = sum(s["n_dropped_empty"] for s in splits.values())
    train = corpora_[0]
    if train.n_docs == 0:
        raise _nothing_left("training", splits["train"], train, info)
    test = corpora_[1] if len(corpora_) > 1 else None
    if test is not None and test.n_docs == 0:
        if explicit_test:
            raise _nothing_left("test", splits["test"], test, info)
        test = None
        info["split"] = f"{info['split']}; no test document left"
    return Dataset(train=train, test=test, info=info)


def _nothing_left(split: str, counts: dict, corpus: Corpus, info: dict) -> NoDocumentsLeft:
    options = info["options"]
    if counts["n_loaded"] == 0:  # an empty bag-of-words file: the figures below would say nothing
        source = info["source"] if split == "training" else info["test_source"]
        return NoDocumentsLeft(f"no documents: {source} holds no documents", "no_documents")
    msg = (
        f"no documents left after filtering: of {counts['n_loaded']} {split} documents, "
        f"{counts['n_dropped_short']} had fewer than {options['min_doc_tokens']} tokens and "
        f"{counts['n_dropped_empty']} had no word in the vocabulary ({len(corpus.vocabulary)} words)"
    )
    if counts["n_dropped_short"] == counts["n_loaded"]:
        return NoDocumentsLeft(
            msg + "; no document has enough tokens: check --token-pattern, --min-token-length, "
            "--stopwords, --min-doc-tokens and the text column",
            "too_short",
        )
    if len(corpus.vocabulary) == 0 and info.get("vocabulary", "").startswith("built"):
        if options["min_df"] == 1:  # nothing left to lower: only --max-df can help
            advice = f"; the vocabulary is empty: raise --max-df (now {options['max_df']:g})"
        else:
            advice = f"; the vocabulary is empty: lower --min-df (now {options['min_df']}) or raise --max-df"
        return NoDocumentsLeft(msg + advice, "empty_vocabulary")
    return NoDocumentsLeft(
        msg + "; check the vocabulary, --token-pattern, --stopwords, --min-token-length and the text column",
        "filtered",
    )
