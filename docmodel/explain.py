"""Explanations of fitted models for people: which unit explains each word, the documents a
unit is most sure about, and a 2-D map of units.

* Word attribution. For the SBN (Mnih & Gregor 2014) each word token is drawn from
  ``softmax(U h + b_v)``; when unit k is on it adds ``U[w, k]`` to word w's logit. A word is
  credited to the unit, among those the inference network switches on (q(h_k=1|x) > 0.5), with
  the largest ``q_k * U[w, k]``; a word no such unit pushes up is credited to none. For LDA
  (Blei, Ng & Jordan 2003) a word goes to the topic with the largest responsibility
  ``theta_k * beta[k, w]``.
* Unit map. Each unit is the distribution over words that it adds to a document (the model's
  ``word_distributions()``: for the SBN the probability the unit adds in the documents that switch
  it on, not the bias-dominated ``softmax(b_v + U[:, k])``; LDA's topic ``beta_k``); units are
  placed in 2-D by metric MDS on their Jensen-Shannon distances (base 2, so distances lie in
  [0, 1]), in the manner of LDAvis (Sievert & Shirley 2014). Units that add the same words land
  together; units that add different words lie far apart.
* Token spans. Where the words of a raw text are, so an app can colour them: the tokenizer of
  :mod:`corpora.tokenize` applied in place (without learned phrases).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping, Sequence
from dataclasses import fields

import numpy as np
import scipy.sparse as sp

from corpora.tokenize import Tokenizer, TokenizerConfig, strip_header_block
from corpora.vocabulary import Vocabulary
from docmodel.base import TopicModel
from docmodel.counts import check_counts
from docmodel.errors import ModelError
from docmodel.models import model_kind


def word_attribution(model: TopicModel, x_row, *, threshold: float | None = None) -> np.ndarray:
    """The unit (or topic) that best explains each word of one document.

    Parameters
    ----------
    model : fitted SBNTopicModel or LDATopicModel
    x_row : sparse or array, shape (1, n_words) or (n_words,)
        The document's word counts.
    threshold : float, optional
        For kinds that credit words to units that are on (the SBN): units whose ``transform``
        exceeds this are candidates (default: the kind's ``active_threshold``). When no unit is
        above it, every unit is a candidate (weighted by its q).

    Returns
    -------
    ndarray of int, shape (n_words,)
        For each word of the vocabulary that occurs in the document, the index of the unit that
        explains it; -1 for words absent from the document or that no candidate unit pushes up.
    """
    x = _one_row(x_row, model)
    present = x.indices
    out = np.full(x.shape[1], -1, dtype=np.int64)
    if len(present) == 0:
        return out
    weights = np.asarray(model.transform(x), dtype=np.float64)[0]  # K
    scores = np.asarray(model.unit_word(), dtype=np.float64)[:, present]  # K, n_present
    kind = model_kind(model)
    if kind.attribution == "on-units":
        candidates = weights > (kind.active_threshold if threshold is None else threshold)
        if not candidates.any():
            candidates[:] = True
        scores = np.where(candidates[:, None], weights[:, None] * scores, -np.inf)
    else:
        scores = weights[:, None] * scores
    best = np.argmax(scores, axis=0)
    explained = scores[best, np.arange(len(present))] > 0
    out[present[explained]] = best[explained]
    return out


def unit_word_distributions(model: TopicModel) -> np.ndarray:
    """What each unit adds to a document, as a distribution over words, shape (n_units, n_words),
    rows summing to one: the model's ``word_distributions()`` (see :mod:`docmodel.topwords`)."""
    P = np.asarray(model.word_distributions(), dtype=np.float64)
    return P / P.sum(axis=1, keepdims=True)


def js_distances(distributions: np.ndarray) -> np.ndarray:
    """Pairwise Jensen-Shannon distances (base 2, in [0, 1]) between rows.

    Parameters
    ----------
    distributions : ndarray, shape (n_units, n_words)
        Each row a probability distribution.

    Returns
    -------
    ndarray, shape (n_units, n_units)
        Symmetric, zero on the diagonal.
    """
    P = np.asarray(distributions, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] == 0:
        raise ModelError(f"expected a units x words matrix of distributions, got shape {P.shape}")
    P = P / P.sum(axis=1, keepdims=True)
    K = P.shape[0]
    D = np.zeros((K, K))
    # JS(p, q) = (KL(p || m) + KL(q || m)) / 2 with m = (p + q) / 2; 0 log 0 = 0.
    with np.errstate(divide="ignore", invalid="ignore"):
        logP = np.where(P > 0, np.log(P), 0.0)
        for i in range(K - 1):
            M = (P[i] + P[i + 1 :]) / 2  # K-i-1, V
            logM = np.where(M > 0, np.log(M), 0.0)
            kl_i = (P[i] * (logP[i] - logM)).sum(axis=1)
            kl_j = (P[i + 1 :] * (logP[i + 1 :] - logM)).sum(axis=1)
            D[i, i + 1 :] = np.sqrt(np.clip((kl_i + kl_j) / (2 * np.log(2)), 0.0, 1.0))
    return D + D.T


def unit_map(distributions: np.ndarray, *, random_state: int = 0) -> np.ndarray:
    """2-D coordinates of units laid out by metric MDS on their Jensen-Shannon distances.

    Parameters
    ----------
    distributions : ndarray, shape (n_units, n_words)
        Rows of :func:`unit_word_distributions`, possibly of several models stacked (they must
        share a vocabulary).
    random_state : int

    Returns
    -------
    ndarray, shape (n_units, 2)
    """
    D = js_distances(distributions)
    n = D.shape[0]
    if n <= 2:
        return np.column_stack([np.arange(n) * (D[0, -1] if n == 2 else 0.0), np.zeros(n)])
    from sklearn.manifold import MDS

    params = inspect.signature(MDS).parameters
    kwargs = {"n_components": 2, "random_state": random_state}
    if "metric_mds" in params:  # scikit-learn >= 1.8 renamed the options
        kwargs.update(metric="precomputed", init="classical_mds")
    else:
        kwargs.update(dissimilarity="precomputed", n_init=4)
    return MDS(**kwargs).fit_transform(D)


def unit_on(model: TopicModel, doc_unit: np.ndarray) -> np.ndarray:
    """Whether each unit is on in each document, shape (n_docs, n_units): ``doc_unit`` (the
    model's ``transform``) above the model's ``active_threshold``."""
    return np.asarray(doc_unit) > model.active_threshold


def unit_label(words: Sequence[str], unit: int, n: int = 3) -> str:
    """A short name for a unit: its number and first ``n`` top words, e.g. ``"7 · space nasa orbit"``."""
    return f"{unit} · {' '.join(list(words)[:n])}"


def label_purity(on: np.ndarray, labels: Sequence) -> tuple[np.ndarray, list]:
    """For each unit, the most common label among the documents that switch it on, and its share.

    Parameters
    ----------
    on : ndarray of bool, shape (n_docs, n_units)
        See :func:`unit_on`.
    labels : sequence, length n_docs
        Document labels (None for an unlabelled document, which is left out).

    Returns
    -------
    purity : ndarray, shape (n_units,)
        Share of the unit's labelled on-documents that carry its most common label (NaN for a
        unit on in no labelled document).
    majority : list of str or None
        That label, per unit.
    """
    on = np.asarray(on, dtype=bool)
    labels = list(labels)
    if on.ndim != 2 or on.shape[0] != len(labels):
        raise ModelError(f"need one label per document: {len(labels)} labels for {on.shape[0]} documents")
    known = np.array([lab is not None for lab in labels], dtype=bool)
    names = sorted({str(lab) for lab in labels if lab is not None})
    index = {name: i for i, name in enumerate(names)}
    codes = np.array([index[str(lab)] if lab is not None else -1 for lab in labels])
    purity = np.full(on.shape[1], np.nan)
    majority: list = [None] * on.shape[1]
    for k in range(on.shape[1]):
        mine = codes[on[:, k] & known]
        if len(mine):
            counts = np.bincount(mine, minlength=len(names))
            purity[k] = counts.max() / len(mine)
            majority[k] = names[int(counts.argmax())]
    return purity, majority


def top_documents(doc_unit: np.ndarray, unit: int, n: int = 10) -> np.ndarray:
    """Positions of the ``n`` documents with the highest weight on ``unit``, strongest first.

    Parameters
    ----------
    doc_unit : ndarray, shape (n_docs, n_units)
        q(h_k=1|x) (SBN) or topic proportions (LDA).
    """
    doc_unit = np.asarray(doc_unit)
    if not 0 <= unit < doc_unit.shape[1]:
        raise ModelError(f"unit must be between 0 and {doc_unit.shape[1] - 1}, got {unit}")
    order = np.argsort(-doc_unit[:, unit], kind="stable")
    return order[:n]


def token_spans(text: str, options: Mapping | None, vocabulary: Vocabulary) -> list[tuple[int, int, int]]:
    """Where the vocabulary's words occur in a raw text, as the corpus tokenizer finds them.

    Applies the tokenizer settings a corpus was prepared with (``Dataset.info["options"]``)
    to the text in place: header stripping is honoured; quote, URL and e-mail stripping and
    learned phrases are not (those words are simply found, or not, where they stand).

    Parameters
    ----------
    text : str
    options : mapping or None
        Tokenizer (or :class:`corpora.prepare.PrepareOptions`) settings; None for the defaults.
    vocabulary : Vocabulary

    Returns
    -------
    list of (start, end, word_id)
        Character spans into ``text``, in order, of tokens that are vocabulary words.
    """
    config = _tokenizer_config(options)
    tokenizer = Tokenizer(config)
    body = strip_header_block(text, config.strip_headers)
    offset = len(text) - len(body) if text.endswith(body) else 0
    lowered = text.lower() if config.lowercase else text
    searched = lowered if len(lowered) == len(text) else text  # lower() may change lengths
    pattern = re.compile(config.token_pattern)
    group = 1 if pattern.groups else 0
    spans = []
    for match in pattern.finditer(searched, offset):
        start, end = match.span(group)
        if start < 0:
            continue
        word = tokenizer.normalize(match.group(group))
        word_id = vocabulary.id(word) if word is not None else None
        if word_id is not None:
            spans.append((start, end, word_id))
    return spans


def attributed_segments(
    text: str, spans: Sequence[tuple[int, int, int]], word_unit: np.ndarray
) -> list[tuple[str, int]]:
    """Cut a text into pieces labelled with the unit that explains them (-1: none).

    Parameters
    ----------
    text : str
    spans : sequence of (start, end, word_id), in order (see :func:`token_spans`)
    word_unit : ndarray of int, shape (n_words,)
        See :func:`word_attribution`.

    Returns
    -------
    list of (str, int)
        Consecutive pieces that join back into ``text``.
    """
    pieces, at = [], 0
    for start, end, word_id in spans:
        unit = int(word_unit[word_id])
        if unit < 0 or start < at:
            continue
        if start > at:
            pieces.append((text[at:start], -1))
        pieces.append((text[start:end], unit))
        at = end
    if at < len(text):
        pieces.append((text[at:], -1))
    return pieces


def _tokenizer_config(options: Mapping | None) -> TokenizerConfig:
    options = dict(options or {})
    names = {f.name for f in fields(TokenizerConfig)}
    kwargs = {k: v for k, v in options.items() if k in names}
    if "extra_stopwords" in kwargs:
        kwargs["extra_stopwords"] = tuple(kwargs["extra_stopwords"] or ())
    kwargs["bigrams"] = False
    return TokenizerConfig(**kwargs)


def _one_row(x_row, model: TopicModel) -> sp.csr_matrix:
    if not sp.issparse(x_row):
        x_row = np.asarray(x_row)
        if x_row.ndim == 1:
            x_row = x_row[None, :]
    x = check_counts(x_row, model.n_words_)
    if x.shape[0] != 1:
        raise ModelError(f"expected one document, got {x.shape[0]}")
    return x
