"""Learned phrases ("new_york") as plain data: learned once, saved with a corpus, applied as saved.

gensim's ``Phrases`` (Mikolov et al., "Distributed Representations of Words and Phrases and
their Compositionality", 2013) learns which adjacent word pairs to join on the *training*
documents. Only what it learned is kept, each phrase (the joined token) with its score: a
corpus stores that list in its JSON options, and :func:`join_phrases` applies it to any tokens
exactly as gensim's ``FrozenPhrases`` applies its ``phrasegrams``, so that new documents are
tokenized as the corpus was without learning again and without pickling a gensim object.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable

from corpora.errors import CorpusError

DELIMITER = "_"
"""What joins the two tokens of a phrase (gensim's ``delimiter``)."""


def learn_phrases(
    sentences: Iterable[list[str]], *, min_count: int, threshold: float
) -> tuple[tuple[str, float], ...]:
    """The phrases gensim's ``Phrases`` finds in ``sentences``, with their scores.

    Parameters
    ----------
    sentences : iterable of list of str
        The training documents' tokens (without phrases).
    min_count, threshold : int, float
        gensim ``Phrases`` settings: a pair must occur at least ``min_count`` times and score
        above ``threshold``.

    Returns
    -------
    tuple of (str, float)
        ``(phrase, score)`` pairs such as ``("new_york", 52.3)``, highest score first (ties
        alphabetically): gensim's ``Phrases.export_phrases()`` as plain data.
    """
    from gensim.models.phrases import Phrases

    model = Phrases(sentences, min_count=min_count, threshold=threshold, delimiter=DELIMITER)
    found = ((phrase, float(score)) for phrase, score in model.export_phrases().items())
    return tuple(sorted(found, key=lambda item: (-item[1], item[0])))


def check_phrases(value: object) -> tuple[tuple[str, float], ...]:
    """``value`` as a tuple of ``(phrase, score)`` pairs, or a CorpusError naming the bad entry.

    Accepts what :func:`learn_phrases` returns and its JSON form (a list of ``[phrase, score]``
    lists).
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise CorpusError(
            f"phrases must be a list of [phrase, score] pairs such as ['new_york', 52.3], got {value!r}"
        )
    out = []
    for item in value:
        pair = tuple(item) if isinstance(item, (list, tuple)) else ()
        if len(pair) != 2:
            raise CorpusError(
                f"phrases must be a list of [phrase, score] pairs such as ['new_york', 52.3]; got {item!r}"
            )
        phrase, score = pair
        if not isinstance(phrase, str) or DELIMITER not in phrase[1:-1]:
            raise CorpusError(
                f"a phrase must be two tokens joined by {DELIMITER!r} (such as 'new_york'), got {phrase!r}"
            )
        if isinstance(score, bool) or not isinstance(score, (int, float)) or math.isnan(score):
            raise CorpusError(f"the score of phrase {phrase!r} must be a number, got {score!r}")
        out.append((phrase, float(score)))
    return tuple(out)


def join_phrases(tokens: list[str], phrases: Container[str]) -> list[str]:
    """``tokens`` with each adjacent pair that forms one of ``phrases`` joined into one token.

    Pairs are taken greedily from the left, as gensim's ``FrozenPhrases`` (without connector
    words) does: in "a b c" with both "a_b" and "b_c" phrases, "a_b" is joined and "c" stays.

    Parameters
    ----------
    tokens : list of str
    phrases : container of str
        The joined forms (``"new_york"``); see :func:`learn_phrases`.

    Returns
    -------
    list of str
    """
    out: list[str] = []
    start: str | None = None  # the previous token, not yet emitted: it may begin a phrase
    for word in tokens:
        if start is None:
            start = word
            continue
        phrase = start + DELIMITER + word
        if phrase in phrases:
            out.append(phrase)
            start = None
        else:
            out.append(start)
            start = word
    if start is not None:
        out.append(start)
    return out
