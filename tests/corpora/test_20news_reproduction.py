"""The raw 20 Newsgroups tarball, prepared with the NVDM recipe, gives exactly the NVIL/NVDM
benchmark's bags of words (``../shared/data/20news_nvdm/SOURCE.md``).

The released ``test.feat`` has its documents in an unknown order, so the check is on the
multiset of (label, word-count vector) documents; labels are the 20 groups in alphabetical
order, numbered 1..20.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from corpora.bow import load_feat
from corpora.corpus import Corpus, Dataset
from docmodel.cli import main
from tests.conftest import shared_path


def bags(corpus: Corpus, label_of) -> Counter:
    X = corpus.X
    out: Counter = Counter()
    for i in range(corpus.n_docs):
        lo, hi = X.indptr[i], X.indptr[i + 1]
        out[
            (
                label_of(corpus.labels[i]),
                tuple(X.indices[lo:hi].tolist()),
                tuple(X.data[lo:hi].tolist()),
            )
        ] += 1
    return out


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("news")
    code = main(
        [
            "prepare",
            str(shared_path("20news_bydate", "20news-bydate.tar.gz")),
            "--vocab",
            str(shared_path("20news_nvdm", "vocab.new")),
            "--encoding",
            "latin-1",
            "--strip-headers",
            "first-blank-line",
            "--token-pattern",
            "[a-z]+",
            "--stopwords",
            "none",
            "--min-token-length",
            "1",
            "--min-doc-tokens",
            "2",
            "-o",
            str(folder / "corpus"),
            "--json",
            str(folder / "summary.json"),
        ]
    )
    assert code == 0
    return Dataset.load(folder / "corpus"), json.loads((folder / "summary.json").read_text())


@pytest.mark.parametrize(
    ("split", "feat"), [("test", "test.feat"), ("train", "train_rebuilt.feat")]
)
def test_bags_of_words_are_exactly_the_released_ones(prepared, split, feat):
    data, _ = prepared
    corpus = getattr(data, split)
    groups = sorted(set(data.train.labels))
    assert len(groups) == 20
    number = {g: str(k) for k, g in enumerate(groups, start=1)}
    reference = load_feat(shared_path("20news_nvdm", feat), shared_path("20news_nvdm", "vocab.new"))
    assert corpus.vocabulary == reference.vocabulary
    assert bags(corpus, number.__getitem__) == bags(reference, str)


def test_counts_and_drops_follow_the_recipe(prepared):
    data, summary = prepared
    assert [
        summary[k]
        for k in ("n_docs_train", "n_docs_test", "n_words", "n_tokens_train", "n_tokens_test")
    ] == [11268, 7505, 2000, 1128881, 720898]
    splits = data.info["splits"]
    # 18,846 posts; 22 skipped as not text (19 train, 3 test); 23 + 24 with fewer than 2 tokens;
    # 4 training posts with no word of vocab.new.
    assert data.info["n_skipped_files"] == 22
    assert (splits["train"]["n_loaded"], splits["test"]["n_loaded"]) == (11314 - 19, 7532 - 3)
    assert (splits["train"]["n_dropped_short"], splits["test"]["n_dropped_short"]) == (23, 24)
    assert (splits["train"]["n_dropped_empty"], splits["test"]["n_dropped_empty"]) == (4, 0)
    assert data.info["split"] == "source folders (train/test)"
    assert data.train.doc_ids[0] == "20news-bydate-train/alt.atheism/49960"
    assert data.train.texts[0].startswith("From: ")
