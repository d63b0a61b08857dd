"""Text -> tokens: optional cleaning, a token regex, stop words, stemming and learned phrases.

The steps, in order (each optional step is off unless its option is set):

1. strip e-mail/news headers (``strip_headers``), quoted lines and attributions
   (``strip_quotes``), URLs, e-mail addresses and stand-alone numbers;
2. lowercase (on by default);
3. tokens are the matches of ``token_pattern``;
4. a token is dropped when it is shorter than ``min_token_length``, longer than
   ``max_token_length`` or a stop word (checked case-insensitively, on the word *before*
   stemming);
5. stemming with NLTK's Snowball stemmer for English (Porter, "An algorithm for suffix
   stripping", 1980, revised as Snowball), which needs no downloaded data;
6. phrases ("new_york") learned by gensim's ``Phrases`` (Mikolov et al., "Distributed
   Representations of Words and Phrases and their Compositionality", 2013) on the
   *training* documents only, then applied unchanged to every document. The learned phrases
   are part of the config (``TokenizerConfig.phrases``, plain data; see
   :mod:`corpora.phrases`), so a corpus's saved options tokenize new documents as it was.

Steps 4 and 5 depend only on the token's string, so :meth:`Tokenizer.encode` applies them
once per distinct token type rather than once per token: that, with counting in NumPy, is
what keeps the pipeline as fast as scikit-learn's ``CountVectorizer``.

The settings of the NVDM 20 Newsgroups recipe (``../shared/data/20news_nvdm/SOURCE.md``) are
``strip_headers="first-blank-line"``, ``token_pattern="[a-z]+"``, ``stopwords="none"``,
``min_token_length=1``.
"""

from __future__ import annotations

import functools
import re
from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from corpora.errors import CorpusError
from corpora.phrases import check_phrases, join_phrases, learn_phrases

HEADER_MODES = ("off", "auto", "first-blank-line")
STOPWORD_LISTS = ("none", "english")

DEFAULT_TOKEN_PATTERN = r"(?u)\b(?!(?<=[^\W\d_]['’])(?i:s|t|d|m|ve|ll|re)\b)[^\W\d_]+\b"
"""Whole words made of letters only (any script), without the tails of English contractions
and possessives: ``mp3``, ``x11`` and ``1993`` give no token; ``I've``, ``we'll``, ``don't`` and
``John's`` give ``i``, ``we``, ``don`` and ``john``; ``O'Brien`` gives ``o`` and ``brien``."""

# A blank line: "\n\n", or a line holding only a carriage return (CRLF files).
_BLANK_LINE = re.compile(r"\n\r?\n")
_HEADER_LINE = re.compile(r"[!-9;-~]+:(?:[ \t]|\r?$)")
_QUOTE_LINES = re.compile(
    r"^[ \t]*\|?[ \t]*>.*$"  # "> quoted", "|> quoted"
    r"|^.*\b(?:writes|wrote):[ \t]*\r?$"  # "... writes:" attribution
    r"|^[ \t]*In article <.*$",  # "In article <id@host>, someone ..."
    re.MULTILINE,
)
_URL = re.compile(r"(?:\b(?:https?|ftp)://|\bwww\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)*\b")


@dataclass(frozen=True)
class TokenizerConfig:
    """How text becomes tokens (validated on construction).

    Attributes
    ----------
    lowercase : bool
        Lowercase the text before matching ``token_pattern``.
    strip_headers : {"off", "auto", "first-blank-line"}
        "auto" removes everything up to and including the first blank line, but only when
        all lines before it are header lines (``Name: value``) or indented continuation
        lines, with at least two header lines (or one, when it is the only line).
        "first-blank-line" removes everything up to the first blank line unconditionally (the
        20 Newsgroups recipe); a text without a blank line is left whole. ``True`` and
        ``False`` are accepted for "auto" and "off".
    strip_quotes : bool
        Remove quoted lines (starting with ``>`` or ``|>``) and attribution lines
        (``... writes:``, ``In article <...>``).
    strip_urls, strip_emails : bool
        Remove URLs (``http://``, ``https://``, ``ftp://``, ``www.``) and e-mail addresses.
    strip_numbers : bool
        Remove stand-alone numbers (digits, optionally with ``.`` or ``,`` separators). The
        default token pattern never yields numbers anyway; this matters with patterns such
        as ``\\w+``.
    token_pattern : str
        Regular expression; every match is a token (with one capturing group, the group).
        The default, :data:`DEFAULT_TOKEN_PATTERN`, matches whole words of letters.
    stopwords : {"english", "none"}
        "english" is scikit-learn's ``ENGLISH_STOP_WORDS`` together with gensim's
        ``STOPWORDS`` (337 words).
    extra_stopwords : tuple of str
        More words to drop (compared case-insensitively).
    stem : bool
        Replace each token by its Snowball (English) stem. The stem is lowercase.
    min_token_length, max_token_length : int, int or None
        Token length limits in characters, before stemming.
    bigrams : bool
        Join frequent word pairs into one token ``first_second`` with gensim ``Phrases``
        learned on the training documents (see :meth:`Tokenizer.fit_phrases`).
    bigram_min_count, bigram_threshold : int, float
        gensim ``Phrases`` settings (its defaults): a pair must occur at least
        ``bigram_min_count`` times and score above ``bigram_threshold`` with the
        Mikolov et al. score ``(count(ab) - min_count) * n_types / (count(a) * count(b))``.
    phrases : tuple of (str, float), or None
        The learned phrases, each as the token it becomes (``"new_york"``) with its score (see
        :func:`corpora.phrases.learn_phrases`); applied, and never learned again, when
        ``bigrams`` is set. None: not learned yet (:meth:`Tokenizer.fit_phrases`, which
        :func:`corpora.prepare.prepare` calls on the training split, fills it in). A list of
        ``[phrase, score]`` lists (the JSON form) is accepted.
    """

    lowercase: bool = True
    strip_headers: str = "off"
    strip_quotes: bool = False
    strip_urls: bool = False
    strip_emails: bool = False
    strip_numbers: bool = False
    token_pattern: str = DEFAULT_TOKEN_PATTERN
    stopwords: str = "english"
    extra_stopwords: tuple[str, ...] = ()
    stem: bool = False
    min_token_length: int = 2
    max_token_length: int | None = None
    bigrams: bool = False
    bigram_min_count: int = 5
    bigram_threshold: float = 10.0
    phrases: tuple[tuple[str, float], ...] | None = None

    def __post_init__(self) -> None:
        if self.strip_headers is True or self.strip_headers is False:
            object.__setattr__(self, "strip_headers", "auto" if self.strip_headers else "off")
        for name in (
            "lowercase",
            "strip_quotes",
            "strip_urls",
            "strip_emails",
            "strip_numbers",
            "stem",
            "bigrams",
        ):
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)):
                raise CorpusError(f"{name} must be true or false, got {value!r}")
        if self.strip_headers not in HEADER_MODES:
            raise CorpusError(
                f"strip_headers must be one of {', '.join(HEADER_MODES)}; got {self.strip_headers!r}"
            )
        if self.stopwords not in STOPWORD_LISTS:
            raise CorpusError(
                f"stopwords must be one of {', '.join(STOPWORD_LISTS)}; got {self.stopwords!r}"
            )
        extra = self.extra_stopwords
        if isinstance(extra, str) or not all(isinstance(w, str) for w in extra):
            raise CorpusError(f"extra_stopwords must be a sequence of words, got {extra!r}")
        object.__setattr__(self, "extra_stopwords", tuple(w.strip() for w in extra if w.strip()))
        if not isinstance(self.token_pattern, str) or not self.token_pattern:
            raise CorpusError(
                f"token_pattern must be a non-empty regular expression, got {self.token_pattern!r}"
            )
        try:
            pattern = re.compile(self.token_pattern)
        except re.error as exc:
            raise CorpusError(
                f"token_pattern {self.token_pattern!r} is not a valid regular expression: {exc}"
            ) from None
        if pattern.groups > 1:
            raise CorpusError(
                f"token_pattern {self.token_pattern!r} has {pattern.groups} capturing groups; use at most one "
                "(write (?:...) for a group that should not capture)"
            )
        _check_int("min_token_length", self.min_token_length, 1)
        if self.max_token_length is not None:
            _check_int("max_token_length", self.max_token_length, self.min_token_length)
        _check_int("bigram_min_count", self.bigram_min_count, 1)
        if isinstance(self.bigram_threshold, bool) or not isinstance(
            self.bigram_threshold, (int, float)
        ):
            raise CorpusError(f"bigram_threshold must be a number, got {self.bigram_threshold!r}")
        if self.phrases is not None:
            object.__setattr__(self, "phrases", check_phrases(self.phrases))


def _check_int(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise CorpusError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise CorpusError(f"{name} must be at least {low}, got {value}")


@functools.cache
def english_stopwords() -> frozenset[str]:
    """scikit-learn's ``ENGLISH_STOP_WORDS`` together with gensim's ``STOPWORDS``."""
    from gensim.parsing.preprocessing import STOPWORDS
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | frozenset(STOPWORDS)


def strip_header_block(text: str, mode: str) -> str:
    """``text`` without its header block (see :attr:`TokenizerConfig.strip_headers`)."""
    if mode == "off":
        return text
    blank = _BLANK_LINE.search(text)
    if blank is None:
        return text
    if mode == "auto":
        # Every line must be a header ("Name: value", RFC 5322 field names) or an indented
        # continuation, with at least two headers (one when the block is a single line).
        n_headers = 0
        lines = text[: blank.start()].split("\n")
        for line in lines:
            if _HEADER_LINE.match(line):
                n_headers += 1
            elif line[:1] not in (" ", "\t"):
                return text
        if n_headers < min(2, len(lines)):
            return text
    return text[blank.end() :]


@dataclass(frozen=True)
class EncodedTexts:
    """Tokens of several groups of texts (e.g. train and test), over one list of token types.

    Attributes
    ----------
    types : tuple of str, length n_types
        The distinct tokens; ``ids`` index into it.
    ids : tuple of numpy.ndarray
        One int32 array per group, shape (n_tokens_in_group,): the documents' tokens, one
        document after the other.
    lengths : tuple of numpy.ndarray
        One int64 array per group, shape (n_docs_in_group,): tokens per document.
    """

    types: tuple[str, ...]
    ids: tuple[np.ndarray, ...]
    lengths: tuple[np.ndarray, ...]


class Tokenizer:
    """Turns text into tokens according to a :class:`TokenizerConfig`.

    Parameters
    ----------
    config : TokenizerConfig
        With ``bigrams`` set, its ``phrases`` are joined; without them (None), :meth:`fit_phrases`
        must learn them first.
    """

    def __init__(self, config: TokenizerConfig | None = None) -> None:
        self.config = config = config if config is not None else TokenizerConfig()
        # The joined forms, looked up per adjacent pair as gensim's FrozenPhrases does.
        self._phrases = None if config.phrases is None else frozenset(p for p, _ in config.phrases)
        self._findall = re.compile(config.token_pattern).findall
        steps = []
        if config.strip_headers != "off":
            steps.append(lambda text: strip_header_block(text, config.strip_headers))
        if config.strip_quotes:
            steps.append(lambda text: _QUOTE_LINES.sub("", text))
        for flag, regex in (
            (config.strip_urls, _URL),
            (config.strip_emails, _EMAIL),
            (config.strip_numbers, _NUMBER),
        ):
            if flag:
                steps.append(lambda text, regex=regex: regex.sub(" ", text))
        if config.lowercase:
            steps.append(str.lower)
        self._steps = tuple(steps)
        stop = english_stopwords() if config.stopwords == "english" else frozenset()
        self.stopwords = frozenset(w.lower() for w in stop | set(config.extra_stopwords))
        self._stemmer = None
        if config.stem:
            from nltk.stem.snowball import SnowballStemmer

            self._stemmer = SnowballStemmer("english").stem
        self._cache: dict[str, str | None] = {}

    def clean(self, text: str) -> str:
        """The text after the stripping steps and lowercasing."""
        for step in self._steps:
            text = step(text)
        return text

    def raw_tokens(self, text: str) -> list[str]:
        """All matches of the token pattern in the cleaned text (no filtering, no stemming)."""
        return self._findall(self.clean(text))

    def normalize(self, token: str) -> str | None:
        """The final form of one raw token (stemmed), or None when it is filtered out."""
        try:
            return self._cache[token]
        except KeyError:
            pass
        cfg = self.config
        out: str | None = token
        if len(token) < cfg.min_token_length or (
            cfg.max_token_length is not None and len(token) > cfg.max_token_length
        ):
            out = None
        elif token.lower() in self.stopwords:
            out = None
        elif self._stemmer is not None:
            out = self._stemmer(token)
        self._cache[token] = out
        return out

    def tokenize(self, text: str) -> list[str]:
        """The tokens of one text, with every configured step (phrases included).

        Raises
        ------
        CorpusError
            When ``bigrams`` is set but the config holds no phrases (none learned yet).
        """
        normalize = self.normalize
        tokens = [t for t in map(normalize, self.raw_tokens(text)) if t is not None]
        if self.config.bigrams:
            tokens = self._apply_phrases(tokens)
        return tokens

    def _apply_phrases(self, tokens: list[str]) -> list[str]:
        if self._phrases is None:
            raise CorpusError(
                "bigrams=True needs phrases learned from training documents: call fit_phrases first "
                "(or give the saved ones as TokenizerConfig.phrases)"
            )
        return join_phrases(tokens, self._phrases)

    def fit_phrases(self, texts: Iterable[str]) -> Tokenizer:
        """A tokenizer like this one with phrases learned from ``texts`` (training texts only).

        Parameters
        ----------
        texts : iterable of str
            The training documents' raw text.

        Returns
        -------
        Tokenizer
            A new tokenizer whose config holds the learned phrases (any phrases this one held
            are replaced) and whose :meth:`tokenize` joins them with ``_``.
        """
        base = Tokenizer(self._unigram_config())
        base._cache = self._cache
        cfg = self.config
        phrases = learn_phrases(
            [base.tokenize(t) for t in texts],
            min_count=cfg.bigram_min_count,
            threshold=cfg.bigram_threshold,
        )
        fitted = Tokenizer(replace(cfg, phrases=phrases))
        fitted._cache = self._cache  # the phrases change nothing per token
        return fitted

    def _unigram_config(self) -> TokenizerConfig:
        return replace(self.config, bigrams=False, phrases=None)

    def encode(self, groups: Sequence[Sequence[str]]) -> EncodedTexts:
        """Tokenize groups of texts into integer ids over one shared list of token types.

        Gives the same tokens as :meth:`tokenize` on each text, but without phrases the
        length/stop-word/stemming steps run once per distinct raw token, and tokens are
        stored as int32 ids rather than strings.

        Parameters
        ----------
        groups : sequence of sequences of str
            E.g. ``[train_texts, test_texts]``.

        Returns
        -------
        EncodedTexts
        """
        if self.config.bigrams:
            return self._encode_with_phrases(groups)
        raw_index: defaultdict[str, int] = defaultdict()
        raw_index.default_factory = raw_index.__len__  # a new raw token gets the next id
        get_id = raw_index.__getitem__
        findall, clean = self._findall, self.clean
        raw_ids, raw_lengths = [], []
        for texts in groups:
            ids = array("i")
            lengths = np.zeros(len(texts), dtype=np.int64)
            for k, text in enumerate(texts):
                tokens = findall(clean(text))
                ids.extend(map(get_id, tokens))
                lengths[k] = len(tokens)
            raw_ids.append(
                np.frombuffer(ids, dtype=np.int32) if len(ids) else np.zeros(0, np.int32)
            )
            raw_lengths.append(lengths)
        # Normalise each distinct raw token once; several raw tokens may share one stem.
        index: dict[str, int] = {}
        raw_to_final = np.full(len(raw_index), -1, dtype=np.int32)
        for raw_id, token in enumerate(raw_index):
            final = self.normalize(token)
            if final is not None:
                raw_to_final[raw_id] = index.setdefault(final, len(index))
        out_ids, out_lengths = [], []
        for ids, lengths in zip(raw_ids, raw_lengths):
            mapped = raw_to_final[ids]
            dropped = np.flatnonzero(mapped < 0)
            # Documents of the dropped tokens, from the run boundaries (no per-token doc index).
            ends = np.cumsum(lengths)
            doc_of_dropped = np.searchsorted(ends, dropped, side="right")
            out_ids.append(np.delete(mapped, dropped))
            out_lengths.append(lengths - np.bincount(doc_of_dropped, minlength=len(lengths)))
        return EncodedTexts(tuple(index), tuple(out_ids), tuple(out_lengths))

    def _encode_with_phrases(self, groups: Sequence[Sequence[str]]) -> EncodedTexts:
        index: defaultdict[str, int] = defaultdict()
        index.default_factory = index.__len__
        get_id = index.__getitem__
        out_ids, out_lengths = [], []
        for texts in groups:
            ids = array("i")
            lengths = np.zeros(len(texts), dtype=np.int64)
            for k, text in enumerate(texts):
                tokens = self.tokenize(text)
                ids.extend(map(get_id, tokens))
                lengths[k] = len(tokens)
            out_ids.append(
                np.frombuffer(ids, dtype=np.int32).copy() if len(ids) else np.zeros(0, np.int32)
            )
            out_lengths.append(lengths)
        return EncodedTexts(tuple(index), tuple(out_ids), tuple(out_lengths))
