"""New documents scored with a trained model: any source :func:`corpora.prepare.prepare` reads,
encoded with the model's own vocabulary (tokenized as the model's corpus was), one row per
document with its bound perplexity, its top units and every unit's value.

Shared by ``docmodel transform`` and the app's "Score new documents" page. A corpus prepared with
bigrams saved the phrases it learned in its options: new documents get exactly those (phrases
learned from the new documents would join other pairs and miss the vocabulary). Words outside the
vocabulary are counted; documents left without a word of it are left out and counted (they have
no perplexity). The perplexity is the bound's, ``exp(-log_likelihood_bound / n_tokens)``, as
:meth:`docmodel.base.TopicModel.log_likelihood_bound` estimates it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from corpora.corpus import Corpus
from corpora.errors import CorpusError, NoDocumentsLeft
from corpora.prepare import PrepareOptions, prepare
from corpora.tokenize import TokenizerConfig
from docmodel.errors import ModelError
from docmodel.explain import unit_label
from docmodel.models import model_kind


@dataclass(frozen=True)
class ScoredDocuments:
    """New documents scored with a model.

    Attributes
    ----------
    table : DataFrame, n_docs rows
        ``doc_id``, ``label`` (when the source has labels), ``n_tokens`` (in the vocabulary),
        ``perplexity_bound``, ``top_units`` ("7 · space nasa orbit | 2 · ...") and one column per
        unit, named by the kind's ``export_prefix`` (``q_unit_k`` for an SBN, ``topic_k`` for LDA).
    corpus : Corpus
        The scored documents encoded with the model's vocabulary, in the table's order (with
        their text, for display).
    options : dict
        The tokenizer settings they were tokenized with (``PrepareOptions.to_dict()``, with the
        corpus's phrases when it joined them).
    n_loaded : int
        Documents read from the source.
    n_tokens, n_tokens_outside_vocabulary : int
        Tokens of the scored documents in the model's vocabulary, and tokens outside it.
    n_no_tokens : int
        Documents left out with too few tokens: none at all (empty, or only stop words), or fewer
        than the corpus's ``min_doc_tokens`` when it was prepared with more than 1.
    n_no_vocabulary_word : int
        Documents left out whose tokens are all outside the vocabulary.
    """

    table: pd.DataFrame
    corpus: Corpus
    options: dict
    n_loaded: int
    n_tokens: int
    n_tokens_outside_vocabulary: int
    n_no_tokens: int
    n_no_vocabulary_word: int

    @property
    def n_left_out(self) -> int:
        return self.n_no_tokens + self.n_no_vocabulary_word


def tokenizer_options(saved: Mapping | None = None) -> PrepareOptions:
    """prepare's options for new documents: the tokenizer settings of the model's corpus
    (``Dataset.info["options"]``; None: prepare's defaults), its learned phrases and its
    ``min_doc_tokens``, every document kept in one split. The corpus's vocabulary filters do not
    apply: the model's vocabulary is fixed. Its shortest-document rule does, so that its own test
    posts, read raw, are the documents of its prepared test split.

    Raises
    ------
    CorpusError
        The corpus joined phrases but did not save them (prepared before they were saved).
    """
    names = {f.name for f in fields(TokenizerConfig)}
    given = {k: (tuple(v) if isinstance(v, list) else v) for k, v in (saved or {}).items() if k in names}
    if given.get("bigrams") and given.get("phrases") is None:
        # prepare would learn phrases from the new documents: other pairs than the corpus joined.
        raise CorpusError(
            "the model's corpus was prepared with bigrams, but the phrases it learned were not saved with "
            "it (it was prepared by an older docmodel), so new documents cannot be tokenized as it was; "
            "prepare the corpus again with the same source and options (it then saves its phrases) and "
            "score with that corpus, retraining the model if its vocabulary differs"
        )
    return PrepareOptions(**given, test_fraction=0.0, min_doc_tokens=(saved or {}).get("min_doc_tokens", 1))


def document_table(model, corpus: Corpus, *, top: int = 3, seed: int = 0) -> pd.DataFrame:
    """One row per document: id, label, tokens, bound perplexity, top units, representation.

    Parameters
    ----------
    model : fitted TopicModel
    corpus : Corpus, n_docs documents over the model's vocabulary, none of them empty
    top : int
        Units listed per document in ``top_units``, strongest first.
    seed : int
        Seeds the bound's samples (for kinds that sample it).

    Returns
    -------
    DataFrame, n_docs rows (see :class:`ScoredDocuments`)
    """
    weights = np.asarray(model.transform(corpus.X), dtype=np.float64)  # n_docs, K
    lengths = corpus.doc_lengths.astype(np.float64)
    bound = model.log_likelihood_bound(corpus.X, random_state=seed)
    words = model.top_words(3)
    order = np.argsort(-weights, axis=1, kind="stable")[:, :top]
    kind = model_kind(model)
    table = pd.DataFrame({"doc_id": list(corpus.doc_ids)})
    if corpus.labels is not None:
        table["label"] = list(corpus.labels)
    table["n_tokens"] = lengths.astype(np.int64)
    table["perplexity_bound"] = np.exp(-bound / lengths)
    table["top_units"] = [" | ".join(unit_label(words[k], int(k)) for k in row) for row in order]
    for k in range(weights.shape[1]):
        table[f"{kind.export_prefix}{k}"] = weights[:, k]
    return table


def score_new_documents(
    model,
    source,
    *,
    options: Mapping | None = None,
    top: int = 3,
    seed: int = 0,
    name: str = "the model",
    **loader_kwargs,
) -> ScoredDocuments:
    """Encode the documents of ``source`` with the model's vocabulary and score each one.

    Parameters
    ----------
    model : fitted TopicModel with a ``vocabulary_``
    source : path, LoadedDocuments or sequence of Document
        Anything :func:`corpora.prepare.prepare` reads.
    options : mapping, optional
        Tokenizer settings of the model's corpus (its ``Dataset.info["options"]``, which hold the
        phrases it learned when it was prepared with bigrams); None: prepare's defaults.
    top : int
        Units listed per document (at most the model's ``n_units_``).
    seed : int
        Seeds the bound's samples.
    name : str
        How messages name the model (a path, a model name).
    **loader_kwargs
        Passed to :func:`corpora.loaders.load_documents` (``fmt``, ``text_column``, ...).

    Returns
    -------
    ScoredDocuments

    Raises
    ------
    ModelError
        The model has no vocabulary, or ``top`` is below 1.
    NoDocumentsLeft
        No document has a word of the vocabulary (``reason`` "filtered"), none has a token
        ("too_short") or the source holds none ("no_documents").
    CorpusError
        An unreadable source, or ``options`` of a corpus prepared with bigrams that holds no
        phrases (an older corpus): they are never learned from the new documents.
    """
    if top < 1:
        raise ModelError(f"top must be at least 1, got {top}")
    vocabulary = getattr(model, "vocabulary_", None)
    if vocabulary is None:
        raise ModelError(
            f"{name} holds no vocabulary, so new text cannot be encoded for it; train it on a prepared "
            "corpus ('docmodel train' or the app; or fit it with vocabulary=)"
        )
    prepare_options = tokenizer_options(options)
    try:
        dataset = prepare(source, vocabulary=vocabulary, options=prepare_options, **loader_kwargs)
    except NoDocumentsLeft as exc:
        where = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "the documents"
        if exc.reason == "too_short":  # prepare's message is about a training split and its flags
            least = prepare_options.min_doc_tokens
            raise NoDocumentsLeft(
                f"no document of {where} has a word once tokenized: they are empty or hold only stop words, "
                "numbers or punctuation" if least == 1 else
                f"no document of {where} has {least} words once tokenized, the fewest the model's corpus kept "
                "(stop words, numbers and punctuation do not count)",
                "too_short",
            ) from None
        if exc.reason != "filtered":
            raise
        raise NoDocumentsLeft(
            f"no document of {where} has a word of the model's vocabulary ({len(vocabulary):,} words); "
            "check that they are in the model's language and tokenized as the model's corpus was",
            "filtered",
        ) from None
    split = dataset.info["splits"]["train"]
    corpus = dataset.train
    return ScoredDocuments(
        table=document_table(model, corpus, top=min(top, int(model.n_units_)), seed=seed),
        corpus=corpus,
        options=dict(dataset.info["options"]),
        n_loaded=int(split["n_loaded"]),
        n_tokens=int(split["n_tokens"]),
        n_tokens_outside_vocabulary=int(split.get("n_tokens_outside_vocabulary", 0)),  # 0: bag-of-words input
        n_no_tokens=int(split["n_dropped_short"]),
        n_no_vocabulary_word=int(split["n_dropped_empty"]),
    )
