"""The one error type the text pipeline raises for bad input."""


class CorpusError(ValueError):
    """Bad input to the text pipeline: the message names the problem and what to do."""


class NoDocumentsLeft(CorpusError):
    """No document survived preparation; ``reason`` says why, so that a front end other than the
    CLI (the app) can give advice in its own terms.

    Attributes
    ----------
    reason : {"no_documents", "too_short", "empty_vocabulary", "filtered"}
        The source holds no documents (an empty bag-of-words file, a folder or archive without
        files, a text file of blank lines: the message names the path, which a front end that
        staged the source itself replaces with the user's names); every document had too few
        tokens; the vocabulary built is empty; or documents were left without a vocabulary word.
    """

    def __init__(self, message: str, reason: str = "filtered"):
        super().__init__(message)
        self.reason = reason


class ColumnError(CorpusError):
    """A table column that cannot serve its role. The message is ``problem`` followed by the
    CLI's advice; a front end with other means of choosing columns (the app) gives its own.

    Attributes
    ----------
    problem : str
        What is wrong, naming the file and the column, without advice.
    role : {"text", "label", "id"}
        The role the column was to serve.
    """

    def __init__(self, problem: str, role: str = "text", advice: str = ""):
        super().__init__(problem + advice)
        self.problem = problem
        self.role = role
