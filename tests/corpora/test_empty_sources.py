"""A source that holds no document at all (a folder or archive without files, a text file of
blank lines) is a :class:`NoDocumentsLeft` with reason "no_documents": the CLI prints its message,
which names the path; the app, which staged the upload under a path of its own, tells it with the
names the user uploaded (``tests/app/pages/test_score_page_empty_uploads.py``)."""

from __future__ import annotations

import tarfile
import zipfile

import pytest

from corpora.errors import NoDocumentsLeft
from corpora.loaders import load_documents
from corpora.prepare import prepare


def empty_folder(path):
    path.mkdir()
    (path / ".hidden").write_text("not a document")


def empty_zip(path):
    with zipfile.ZipFile(path, "w"):
        pass


def empty_tar(path):
    with tarfile.open(path, "w:gz"):
        pass


@pytest.mark.parametrize(("name", "make", "problem"), [
    ("folder", empty_folder, "the folder has no files (hidden ones are ignored)"),
    ("blank.txt", lambda p: p.write_text("\n \n\t\n"), "every line is blank"),
    ("none.zip", empty_zip, "the archive holds no files"),
    ("none.tar.gz", empty_tar, "the archive holds no files"),
])
@pytest.mark.parametrize("read", [load_documents, prepare])
def test_a_source_without_documents_says_so_with_its_reason(tmp_path, name, make, problem, read):
    path = tmp_path / name
    make(path)
    with pytest.raises(NoDocumentsLeft) as err:
        read(path)
    assert err.value.reason == "no_documents"
    assert str(err.value) == f"no documents in {path}: {problem}"
