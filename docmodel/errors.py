"""Errors the model library raises for bad input, with messages that say what to do."""

from sklearn.exceptions import NotFittedError

from corpora.errors import CorpusError


class ModelError(CorpusError):
    """Bad model input: a malformed or unsafe checkpoint, a mismatched vocabulary, a bad setting.

    A subclass of :class:`corpora.CorpusError` so a caller can catch every user-facing error of
    the project with one ``except``.
    """


__all__ = ["ModelError", "NotFittedError"]
