"""Text pipeline: raw documents -> tokens -> a frozen vocabulary -> sparse bag-of-words.

This package never imports torch (a test checks it), so it stays light enough for the
command line and the app to load quickly.
"""

from corpora.corpus import Corpus, Dataset
from corpora.documents import Document
from corpora.errors import CorpusError
from corpora.vocabulary import Vocabulary

__all__ = ["Corpus", "CorpusError", "Dataset", "Document", "Vocabulary"]
