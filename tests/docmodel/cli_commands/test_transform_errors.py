"""``docmodel transform``'s error paths (issue 16): an unknown model, an empty source (no file, an
empty file, blank lines, an empty folder or archive, a table without rows), documents without a
word, and documents without a word of the model's vocabulary. Each is one line on stderr that
names the problem and what to do, with exit status 2, and nothing the user had is changed: the
model, its corpus and an existing output file keep their bytes."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from docmodel.cli import main

THEMES = ["orbit rockets launch nasa moon shuttle", "team games season players goal hockey"]
MIN_DOC_TOKENS = 3


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """An LDA trained through the CLI on a corpus prepared with stemming and a shortest-document
    rule of MIN_DOC_TOKENS tokens."""
    folder = tmp_path_factory.mktemp("transform-errors")
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(THEMES[i % 2].split(), 10)) for i in range(40)]
    pd.DataFrame({"text": texts}).to_csv(folder / "train.csv", index=False)
    assert main(["prepare", str(folder / "train.csv"), "-o", str(folder / "corpus"), "--min-df", "1",
                 "--test-fraction", "0", "--stem", "--min-doc-tokens", str(MIN_DOC_TOKENS)]) == 0
    assert main(["train", str(folder / "corpus"), "-o", str(folder / "model"), "--model", "lda",
                 "--units", "2"]) == 0
    return folder


def snapshot(*folders) -> dict:
    return {p: p.read_bytes() for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()}


def empty_zip(path):
    with zipfile.ZipFile(path, "w"):
        pass


# name -> (how to make the source at path (None: leave it absent), expected message: {path} is the
# path, {name} its file name, {words} the words a document needs: "a word" with prepare's defaults,
# the corpus's least with --corpus)
SOURCES = {
    "missing": (None, "file not found: {path}"),
    "empty.txt": (lambda p: p.write_bytes(b""), "{path} is empty; there are no documents to load"),
    "blank.txt": (lambda p: p.write_text(" \n\n\t\n"), "no documents in {path}: every line is blank"),
    "empty-folder": (lambda p: p.mkdir(), "no documents in {path}: the folder has no files (hidden ones are ignored)"),
    "empty.zip": (empty_zip, "no documents in {path}: the archive holds no files"),
    "header.csv": (lambda p: p.write_text("doc_id,text\n"), "no documents in {name}: the table has a header but no rows"),
    "stop.txt": (
        lambda p: p.write_text("the and of\nit is, 42!\n"),
        "no document of {path} has {words}; give documents with more text (for a table, check --text-column)",
    ),
}


def transform(trained, source, *extra):
    """Run transform into an output file that already holds something; the exit status, stderr
    and whether the model, the corpus and the output were left as they were."""
    out = trained / "scores.csv"
    out.write_text("kept\n")
    before = snapshot(trained / "model", trained / "corpus")
    code = main(["transform", str(extra[0] if extra else trained / "model"), str(source), "-o", str(out),
                 *extra[1:]])
    unchanged = snapshot(trained / "model", trained / "corpus") == before and out.read_text() == "kept\n"
    return code, unchanged


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("docmodel transform: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err.removeprefix("docmodel transform: error: ").rstrip("\n")


@pytest.mark.parametrize("model", ["no-such-model", "no-such-model/model.pt", "corpus"])
def test_an_unknown_model_is_named_with_what_to_do(trained, model, capsys):
    (trained / "new.txt").write_text("rockets launch nasa moon\n")
    code, unchanged = transform(trained, trained / "new.txt", trained / model)
    path = trained / model if model.endswith(".pt") else trained / model / "model.pt"
    assert (code, unchanged) == (2, True)
    assert one_line_error(capsys) == f"model file not found: {path}; train one with 'docmodel train'"


@pytest.mark.parametrize("with_corpus", [False, True])
@pytest.mark.parametrize("name", list(SOURCES))
def test_an_empty_source_is_told_in_one_line(trained, name, with_corpus, capsys):
    make, expected = SOURCES[name]
    path = trained / "sources" / name
    if not path.exists() and make is not None:
        path.parent.mkdir(exist_ok=True)
        make(path)
    extra = [trained / "model", "--corpus", str(trained / "corpus")] if with_corpus else []
    code, unchanged = transform(trained, path, *extra)
    assert (code, unchanged) == (2, True)
    words = (f"{MIN_DOC_TOKENS} words once tokenized, the fewest the model's corpus kept (stop words, numbers and "
             "punctuation do not count)" if with_corpus else
             "a word once tokenized: they are empty or hold only stop words, numbers or punctuation")
    assert one_line_error(capsys) == expected.format(path=path, name=path.name, words=words)


def test_documents_shorter_than_the_corpus_kept_are_told_with_its_least(trained, capsys):
    """Two stemmed words of the vocabulary each: enough for prepare's default, too few for the corpus."""
    (trained / "short.txt").write_text("moon orbit\nthe team goal\n")
    code, unchanged = transform(trained, trained / "short.txt", trained / "model", "--corpus", str(trained / "corpus"))
    assert (code, unchanged) == (2, True)
    assert one_line_error(capsys) == (
        f"no document of {trained / 'short.txt'} has {MIN_DOC_TOKENS} words once tokenized, the fewest the model's "
        "corpus kept (stop words, numbers and punctuation do not count); give documents with more text (for a "
        "table, check --text-column)"
    )
    assert main(["transform", str(trained / "model"), str(trained / "short.txt"), "-o", str(trained / "o.csv")]) == 0


def test_documents_without_a_word_of_the_vocabulary_are_told_with_its_size(trained, capsys):
    (trained / "none.txt").write_text("zebra unicorn quasar\nplatypus aardvark wombat\n")
    code, unchanged = transform(trained, trained / "none.txt", trained / "model", "--corpus", str(trained / "corpus"))
    assert (code, unchanged) == (2, True)
    n_words = len((trained / "model" / "vocab.txt").read_text().split())
    assert one_line_error(capsys) == (
        f"no document of {trained / 'none.txt'} has a word of the model's vocabulary ({n_words} words); check that "
        "they are in the model's language and tokenized as the model's corpus was (with --corpus, check that it "
        "names the corpus the model was trained on)"
    )


def test_documents_left_out_are_counted_by_why(trained, capsys):
    """The run goes on when some documents are left: each reason is one line of the summary."""
    (trained / "mixed.txt").write_text("rockets launching nasa moon\nrockets moon\nzebra unicorn quasar\nthe and\n")
    out = trained / "mixed.csv"
    assert main(["transform", str(trained / "model"), str(trained / "mixed.txt"), "-o", str(out),
                 "--corpus", str(trained / "corpus")]) == 0
    said = capsys.readouterr().out
    assert f"2 documents left out: fewer than {MIN_DOC_TOKENS} words" in said  # "rockets moon", "the and"
    assert "1 document left out: no word of the model's vocabulary" in said
    assert list(pd.read_csv(out)["doc_id"]) == ["line-1"]
