"""The named sources: gensim's Lee corpus, and scikit-learn's 20 Newsgroups download (never
fetched here: scikit-learn's fetcher is replaced by a fake)."""

from __future__ import annotations

import urllib.error

import pytest

from corpora.errors import CorpusError
from corpora.loaders import fetch_20newsgroups_documents, load_documents, load_lee
from tests.corpora.loader_files import write


def test_lee_corpus():
    loaded = load_lee()
    # lee_background.cor has 300 lines; `wc -l` says 299 because the last has no newline
    assert len(loaded) == 300
    assert loaded.documents[0].id == "lee-0001" and loaded.documents[-1].id == "lee-0300"
    assert loaded.documents[0].text.startswith("Hundreds of people have been forced")
    assert all(d.label is None for d in loaded) and loaded.source == "lee"
    assert load_documents("lee").documents == loaded.documents


class FakeBunch:
    def __init__(self, subset):
        split = f"20news-bydate-{subset}"
        self.data = ["post two", "post one"]
        self.target = [1, 0]
        self.target_names = ["alt.atheism", "sci.space"]
        self.filenames = [
            f"/home/u/scikit_learn_data/{split}/sci.space/2",
            f"/x/{split}/alt.atheism/1",
        ]


def test_20newsgroups_maps_sklearn_output(monkeypatch):
    from sklearn import datasets

    calls = []

    def fake_fetch(**kwargs):
        calls.append(kwargs)
        return FakeBunch(kwargs["subset"])

    monkeypatch.setattr(datasets, "fetch_20newsgroups", fake_fetch)
    loaded = load_documents("20newsgroups:test")
    assert calls[0]["subset"] == "test" and calls[0]["download_if_missing"] is True
    assert [(d.id, d.text, d.label) for d in loaded] == [
        ("20news-bydate-test/alt.atheism/1", "post one", "alt.atheism"),
        ("20news-bydate-test/sci.space/2", "post two", "sci.space"),
    ]
    assert loaded.source == "20newsgroups:test"
    assert fetch_20newsgroups_documents().source == "20newsgroups:train"


@pytest.mark.parametrize(
    "error", [urllib.error.URLError("no route to host"), OSError("network unreachable")]
)
def test_20newsgroups_offline_error_says_what_to_do(monkeypatch, error):
    from sklearn import datasets

    def offline(**kwargs):
        raise error

    monkeypatch.setattr(datasets, "fetch_20newsgroups", offline)
    with pytest.raises(
        CorpusError,
        match=r"needs the internet.*download the archive yourself and run "
        r"'docmodel prepare path/to/20news-bydate.tar.gz'",
    ):
        load_documents("20newsgroups")


def test_20newsgroups_unknown_subset():
    with pytest.raises(
        CorpusError, match="unknown 20 Newsgroups subset 'dev'; use one of train, test, all"
    ):
        load_documents("20newsgroups:dev")


def test_a_real_path_wins_over_a_named_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "lee" / "a.txt", "my own lee")
    assert [d.id for d in load_documents("lee")] == ["a.txt"]
