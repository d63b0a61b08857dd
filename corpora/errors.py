"""The one error type the text pipeline raises for bad input."""


class CorpusError(ValueError):
    """Bad input to the text pipeline: the message names the problem and what to do."""
